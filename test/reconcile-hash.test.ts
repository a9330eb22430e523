// The synchronous SHA-256 of reconciliation fingerprints
// (host/replication/reconcile-hash.ts) against node:crypto: the FIPS test
// vectors, every length around the block and length-field boundaries, and
// random inputs.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createHash } from "node:crypto";
import { sha256, sha256Words32 } from "../dist/host/replication/reconcile-hash.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const ref = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("reconciliation sha-256", () => {
  it("matches the FIPS 180-4 examples", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(hex(sha256(enc("")))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(hex(sha256(enc("abc")))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hex(sha256(enc("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))).toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  });

  it("matches node:crypto at every length from 0 to 300 bytes (block and padding boundaries)", () => {
    for (let n = 0; n <= 300; n++) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 131 + n) & 0xff);
      expect(hex(sha256(b)), `length ${n}`).toBe(ref(b));
    }
  });

  it("the one-block path for 32-byte ids gives the same digest, at any offset", () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 100 }), fc.nat(68), (b, o) => {
      const off = Math.min(o, b.length - 32);
      const words = new Uint32Array(8);
      sha256Words32(b, off, words);
      const bytes = new Uint8Array(32);
      const v = new DataView(bytes.buffer);
      words.forEach((w, i) => v.setUint32(i * 4, w));
      return hex(bytes) === ref(b.subarray(off, off + 32));
    }), { numRuns: 300 });
  });

  it("matches node:crypto on random inputs", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => hex(sha256(b)) === ref(b)), { numRuns: 500 });
  });
});
