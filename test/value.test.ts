// The value codec: exact round trips, canonical bytes, and agreement with the
// kernel's validator (every value the host writes, the kernel accepts).
import { describe, expect, it, beforeAll } from "vitest";
import fc from "fast-check";
import { init, encodeValue, decodeValue, GSet, TrellisError } from "../dist/host/index.node.js";
import type { Value } from "../dist/host/index.node.js";

beforeAll(async () => { await init(); });

const runs = Number(process.env.TRELLIS_RUNS ?? 1000);
const value: fc.Arbitrary<Value> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    fc.constant(null), fc.boolean(), fc.maxSafeInteger(), fc.integer(), fc.double(),
    fc.constantFrom(-(2 ** 53 - 1), 2 ** 53 - 1, -(2 ** 52) - 1, 2 ** 52 + 1, 0, -0, 1e300, -Infinity, NaN),
    fc.string(), fc.string({ unit: "grapheme" }), fc.uint8Array({ maxLength: 8 }),
    fc.array(tie("v"), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 4 }), tie("v"), { maxKeys: 4 }),
  ),
})).v;

const noNegZero = (v: Value): Value =>
  Object.is(v, -0) ? 0
    : Array.isArray(v) ? v.map(noNegZero)
    : v !== null && typeof v === "object" && !(v instanceof Uint8Array)
      ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, noNegZero(x)]))
      : v;

describe("value codec", () => {
  it("decode(encode(v)) equals v, and encode is stable", () => {
    fc.assert(fc.property(value, (v) => {
      const b = encodeValue(v);
      const back = decodeValue(b);
      expect(back).toEqual(noNegZero(v)); // -0 is written as the integer 0
      expect(encodeValue(back)).toEqual(b);
    }), { numRuns: runs });
  });

  it("every safe integer survives, the extremes included", () => {
    for (const n of [2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 52 + 1, -(2 ** 52) - 1, -(2 ** 52) - 3, 2 ** 53 - 3]) {
      expect(decodeValue(encodeValue(n))).toBe(n);
    }
    fc.assert(fc.property(fc.maxSafeInteger(), (n) => decodeValue(encodeValue(n)) === n), { numRuns: runs });
  });

  it("the kernel accepts every value the host writes, as one element", () => {
    const s = new GSet("r");
    try {
      fc.assert(fc.property(value, (v) => {
        s.add(v);
        expect(s.has(v)).toBe(true);
      }), { numRuns: runs });
      const copy = GSet.decode(s.encode());
      expect(copy.size).toBe(s.size);
      copy.dispose();
    } finally { s.dispose(); }
  });

  it("the kernel rejects a second encoding of an equal value", () => {
    // 1 written as float64 (tag 4) instead of an integer (tag 3): not canonical.
    const asFloat = new Uint8Array([4, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
    const state = new Uint8Array([0x54, 0x52, 1, 8, 1, asFloat.length, ...asFloat]);
    expect(() => GSet.decode(state)).toThrow(TrellisError);
    try { GSet.decode(state); } catch (e) { expect((e as TrellisError).code).toBe("BAD_VALUE"); }
  });

  it("unsupported values are TypeErrors", () => {
    for (const bad of [undefined, () => 1, new Map(), new Date(0), Symbol("x"), 1n]) {
      expect(() => encodeValue(bad as unknown as Value)).toThrow(TypeError);
    }
  });
});
