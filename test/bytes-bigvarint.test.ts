// ByteReader.bigVarint reads the low 49 bits as a Number before any BigInt
// (mint lists call it per item). The reference below is the former
// BigInt-per-byte reader: both must agree on every input, valid or not,
// including values above 2^53 and the 10-byte limit.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ByteReader, ByteWriter } from "../dist/host/crdt/bytes.js";

function reference(buf: Uint8Array): { v?: bigint; pos?: number; code?: string } {
  let v = 0n, shift = 0n, pos = 0;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) return { code: "TRUNCATED" };
    const b = buf[pos++];
    v |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return { v, pos };
    shift += 7n;
  }
  return { code: "TOO_LARGE" };
}

function actual(buf: Uint8Array): { v?: bigint; pos?: number; code?: string } {
  const r = new ByteReader(buf);
  try { const v = r.bigVarint(); return { v, pos: r.pos }; } catch (e) { return { code: (e as { code?: string }).code ?? "untyped" }; }
}

describe("ByteReader.bigVarint", () => {
  it("equals the BigInt-per-byte reader on arbitrary bytes (valid, truncated, overlong)", () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 12 }), (buf) => {
      expect(actual(buf)).toEqual(reference(buf));
    }), { numRuns: 5000 });
  });

  it("round-trips values of every width up to 64 bits, across 2^49 and 2^53", () => {
    const edges = [0n, 1n, 127n, 128n, (1n << 49n) - 1n, 1n << 49n, (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, (1n << 63n) + 12345n, (1n << 64n) - 1n];
    fc.assert(fc.property(fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom(...edges)), (v) => {
      const w = new ByteWriter();
      w.varint(v);
      const bytes = w.finish();
      expect(actual(bytes)).toEqual({ v, pos: bytes.length });
      expect(reference(bytes)).toEqual({ v, pos: bytes.length });
    }), { numRuns: 3000 });
  });

  it("keeps the 10-byte limit and the 70-bit reach of the former reader", () => {
    const max70 = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    expect(actual(max70)).toEqual({ v: (1n << 70n) - 1n, pos: 10 });
    expect(actual(new Uint8Array(11).fill(0x80))).toEqual({ code: "TOO_LARGE" });
    expect(actual(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80]))).toEqual({ code: "TRUNCATED" });
  });
});
