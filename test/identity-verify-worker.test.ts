// Ed25519 verification in batches on a worker thread (host/identity/
// verify-worker.ts). It must answer exactly as WebCrypto does (valid, bad
// signature, wrong key, altered data), give admission the same typed error,
// survive its worker dying (the checks still answered, by WebCrypto, never
// unchecked), and stay out of a browser's way (no import a bundler resolves).
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { GCounter, init } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import { verifyRaw } from "../dist/host/identity/ed25519.js";
import { _setVerifyWorker, _verifyWorker } from "../dist/host/identity/verify-worker.js";
import { TrustError, TrustLedger, admit, signEnvelope, verifyEnvelope } from "../dist/host/trust/index.js";

let alice: Identity, mallory: Identity;
beforeAll(async () => {
  await init();
  alice = await Identity.generate();
  mallory = await Identity.generate();
});
afterEach(async () => { await _setVerifyWorker(true); });

async function envelope(by: Identity, as: string, n: number) {
  const g = new GCounter(alice.replicaId());
  g.increment(n);
  const signer = { did: as, sign: (d: Uint8Array) => by.sign(d), verify: by.verify.bind(by) };
  return signEnvelope(signer, { author: as, seq: 1, links: [], items: [{ variable: "g", delta: g.takeDelta() }] });
}

describe("the worker verifier", () => {
  it("answers as WebCrypto does, batch by batch, on valid and altered signatures, keys and data", async () => {
    const data = Uint8Array.from({ length: 300 }, (_, i) => i * 7);
    const sig = await alice.sign(data);
    const cases: [Uint8Array, Uint8Array, Uint8Array][] = [[alice.publicKey, data, sig], [mallory.publicKey, data, sig], [alice.publicKey, data.subarray(1), sig]];
    for (let i = 0; i < 40; i++) {
      const s = sig.slice(); s[i % 64] ^= 1 << (i % 8);
      const d = data.slice(); d[(i * 13) % d.length] ^= 0x10;
      cases.push([alice.publicKey, data, s], [alice.publicKey, d, sig]);
    }
    // One turn: every check in one batch.
    const viaWorker = await Promise.all(cases.map(([p, d, s]) => verifyRaw(p, d, s)));
    expect(_verifyWorker()).toBeTruthy();
    const viaWebCrypto = await Promise.all(cases.map(([p, d, s]) => verifyRaw(p, d, s, "webcrypto")));
    expect(viaWorker).toEqual(viaWebCrypto);
    expect(viaWorker[0]).toBe(true);
    expect(viaWorker.filter(Boolean)).toHaveLength(1);
  });

  it("agrees with WebCrypto on random keys, signatures and data", async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.uint8Array({ maxLength: 64 }),
      async (p, s, d) => { expect(await verifyRaw(p, d, s)).toBe(await verifyRaw(p, d, s, "webcrypto")); }), { numRuns: 100 });
  });

  it("a badly signed envelope is refused with BAD_SIGNATURE, worker on or off", async () => {
    const honest = await envelope(alice, alice.did, 1);
    const forged = await envelope(mallory, alice.did, 2);
    for (const on of [true, false]) {
      await _setVerifyWorker(on);
      expect(await verifyEnvelope(honest)).toBe(true);
      expect(await verifyEnvelope(forged)).toBe(false);
      const l = new TrustLedger();
      const r = await admit(l, forged.bytes);
      expect(r.status).toBe("rejected");
      if (r.status === "rejected") { expect(r.error).toBeInstanceOf(TrustError); expect(r.error.code).toBe("BAD_SIGNATURE"); }
      expect(l.size).toBe(0);
      expect((await admit(l, honest.bytes)).status).toBe("admitted");
      expect(_verifyWorker() ? "worker" : "webcrypto").toBe(on ? "worker" : "webcrypto");
    }
  });

  it("checks in flight when the worker dies are answered by WebCrypto, not dropped or passed", async () => {
    const data = new Uint8Array(100).fill(3);
    const sig = await alice.sign(data);
    const bad = sig.slice(); bad[5] ^= 1;
    await verifyRaw(alice.publicKey, data, sig); // the worker exists
    const w = _verifyWorker()!;
    const pending = [verifyRaw(alice.publicKey, data, sig), verifyRaw(alice.publicKey, data, bad)];
    await w._kill();
    expect(await Promise.all(pending)).toEqual([true, false]);
    expect(w.dead).toBe(true);
    // Later checks go to WebCrypto (the dead worker is not used again).
    expect(await verifyRaw(alice.publicKey, data, sig)).toBe(true);
    expect(await verifyRaw(alice.publicKey, data, bad)).toBe(false);
  });

  it("malformed input is false without reaching the worker", async () => {
    const data = new Uint8Array(10);
    expect(await verifyRaw(alice.publicKey, data, new Uint8Array(63))).toBe(false);
    expect(await verifyRaw(alice.publicKey.subarray(1), data, new Uint8Array(64))).toBe(false);
    expect(await verifyRaw(alice.publicKey, "nope" as unknown as Uint8Array, new Uint8Array(64))).toBe(false);
  });

  it("has no import a browser bundler would have to resolve", () => {
    for (const f of ["verify-worker.js", "ed25519.js"]) {
      const src = readFileSync(new URL(`../dist/host/identity/${f}`, import.meta.url), "utf8");
      expect(src).not.toMatch(/(from|import\()\s*["']node:/);
    }
  });
});
