// Format version 3 (docs/format.md, "User values"): the value encoding is
// order-preserving, so byte order (the order every kernel keeps) is the values'
// natural order; every non-canonical form is refused; versions 1 and 2, with
// their old values, decode, re-sort and re-encode as version 3.
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  init, decodeState, encodeValue, decodeValue, AWSet, GMap, GSet, GCounter, IVar, LWWRegister, MVRegister, ORSet,
  TopK, TrellisError,
} from "../dist/host/index.node.js";
import type { Value } from "../dist/host/index.node.js";
import { compareBytes, concatAll as join, hex, varint } from "./util/bytes.js";
import { compactV1 } from "./model/compact.js";
import { encodeValueV1, legacyOf, modernOf } from "./model/legacy.js";
import { v1Layout } from "../dist/host/crdt/layout.js";

beforeAll(async () => { await init(); });

const runs = Number(process.env.TRELLIS_RUNS ?? 2000);

// ---- the natural order, written independently of the codec -----------------------

const rank = (v: Value): number =>
  v === null ? 0 : v === false ? 1 : v === true ? 2 : typeof v === "number" ? 3 : typeof v === "string" ? 4
    : v instanceof Uint8Array ? 5 : Array.isArray(v) ? 6 : 7;

const sign = (x: number): number => (x < 0 ? -1 : x > 0 ? 1 : 0);

function seq<T>(a: ArrayLike<T>, b: ArrayLike<T>, cmp: (x: T, y: T) => number): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) { const c = cmp(a[i], b[i]); if (c !== 0) return c; }
  return sign(a.length - b.length);
}

const codePoints = (s: string): number[] => Array.from(s, (c) => c.codePointAt(0)!);
const byCodePoint = (a: string, b: string): number => seq(codePoints(a), codePoints(b), (x, y) => sign(x - y));

// null < false < true < numbers (numerically, −0 = 0, NaN last) < strings (by
// code point) < bytes < arrays (element by element) < objects (key, value
// pairs in key order, pair by pair); a proper prefix first.
function natural(a: Value, b: Value): number {
  const ra = rank(a), rb = rank(b);
  if (ra !== rb) return sign(ra - rb);
  switch (ra) {
    case 3: {
      const x = a as number, y = b as number;
      if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1;
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 4: return byCodePoint(a as string, b as string);
    case 5: return seq(a as Uint8Array, b as Uint8Array, (x, y) => sign(x - y));
    case 6: return seq(a as Value[], b as Value[], natural);
    case 7: {
      const pairs = (o: Value) => Object.keys(o as object).sort(byCodePoint).map((k) => [k, (o as Record<string, Value>)[k]] as const);
      return seq(pairs(a), pairs(b), (p, q) => byCodePoint(p[0], q[0]) || natural(p[1], q[1]));
    }
  }
  return 0;
}

const noNegZero = (v: Value): Value =>
  Object.is(v, -0) ? 0
    : Array.isArray(v) ? v.map(noNegZero)
    : v !== null && typeof v === "object" && !(v instanceof Uint8Array)
      ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, noNegZero(x)]))
      : v;

// Strings of any code point (astral ones and NUL included), no lone surrogates.
const char = fc.oneof(
  fc.constantFrom("\u0000", "a", "b", "\u007f", "\u0080", "é", "\uffff", "😀", "\u{10ffff}", "\u0000\u00ff"),
  fc.integer({ min: 0, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c)),
);
const text = fc.array(char, { maxLength: 6 }).map((cs) => cs.join(""));
const number = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 2.5, -2.5, 10, Infinity, -Infinity, NaN, Number.MIN_VALUE, -Number.MIN_VALUE,
    Number.MAX_VALUE, -Number.MAX_VALUE, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 1e-300, 0.1),
  fc.integer({ min: -1000, max: 1000 }), fc.maxSafeInteger(), fc.double(),
);
const value: fc.Arbitrary<Value> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    fc.constantFrom(null, true, false), number, text, fc.uint8Array({ maxLength: 5 }),
    fc.array(tie("v"), { maxLength: 3 }),
    fc.dictionary(text, tie("v"), { maxKeys: 3 }),
  ),
})).v;

describe("user values: byte order is natural order", () => {
  it("for random values a, b: compare(encode(a), encode(b)) = natural(a, b), and decode(encode(v)) = v", () => {
    fc.assert(fc.property(value, value, (a, b) => {
      const ea = encodeValue(a), eb = encodeValue(b);
      expect(sign(compareBytes(ea, eb))).toBe(natural(a, b));
      expect(decodeValue(ea)).toEqual(noNegZero(a));
      expect(hex(encodeValue(decodeValue(eb)))).toBe(hex(eb));
    }), { numRuns: runs });
  });

  it("the worked examples of docs/format.md", () => {
    const cases: [Value, string][] = [
      [null, "01"], [false, "02"], [true, "03"],
      [0, "0500"], [-0, "0500"], [1, "057ff0"], [5, "058114"], [-1, "04800f"], [2.5, "058104"],
      [Infinity, "05fff0"], [NaN, "05fff8"],
      ["", "0600"], ["aa", "06616100"], ["a\u0000b", "066100ff6200"],
      [new Uint8Array([0, 1]), "0700ff0100"], [[], "0800"], [[1, "x"], "08057ff006780000"], [{ b: 1, a: [] }, "090661000800066200057ff000"],
    ];
    for (const [v, h] of cases) expect(hex(encodeValue(v)), String(v)).toBe(h);
  });

  it("sets list their elements in natural order, and maps their keys by code point", () => {
    const els: Value[] = [10, -1, 2.5, "b", "aa"];
    for (const S of [GSet, AWSet, ORSet] as const) {
      const s = new S<Value>("r");
      try {
        for (const e of els) s.add(e);
        expect(s.values()).toEqual([-1, 2.5, 10, "aa", "b"]);
        const back = S.decode(s.encode(), "r2");
        expect(back.values()).toEqual([-1, 2.5, 10, "aa", "b"]);
        back.dispose();
      } finally { s.dispose(); }
    }
    const m = new GMap<number>("r", GCounter);
    try {
      // UTF-16 order would put U+FFFF after the astral character; code point order puts it first.
      for (const k of ["😀", "\uffff", "b", "aa", "a", "", "é"]) m.update(k, GCounter.ops.increment(1));
      expect(m.keys()).toEqual(["", "a", "aa", "b", "é", "\uffff", "😀"]);
    } finally { m.dispose(); }
    const t = new TopK<Value>("r", 10);
    try {
      for (const id of [3, -3, "x", 0]) t.add(id, 7); // ties rank by id ascending
      expect(t.value.map((e) => e.id)).toEqual([-3, 0, 3, "x"]);
    } finally { t.dispose(); }
  });
});

// ---- refusals ------------------------------------------------------------------------

// A version 3 IVar holding one value, whatever its bytes (a register's value
// is written whole; a sorted list's keys are front-coded, "Sorted keys").
const ivarOf = (el: number[]) => compactV1(Uint8Array.from([0x54, 0x52, 1, 5, 1, ...varint(el.length), ...el]));

describe("non-canonical values are refused and change nothing", () => {
  const bad: [string, number[]][] = [
    ["a number padded with a zero final group", [5, 0x81, 0x00]],
    ["zero in two bytes", [5, 0x01, 0x00]],
    ["negative zero", [4, 0xff]],
    ["a negative number padded", [4, 0x7e, 0xff]],
    ["a NaN other than the one", [5, 0xff, 0xf1, 0x02]],
    ["a negative NaN", [4, 0x00, 0x07]],
    ["a number with more set on its last byte", [5, 0x81]],
    ["a number of 10 bytes", [5, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2]],
    ["a string without terminator", [6, 0x61]],
    ["a string that is not UTF-8", [6, 0xff, 0x00]],
    ["an overlong NUL", [6, 0xc0, 0x80, 0x00]],
    ["a surrogate", [6, 0xed, 0xa0, 0x80, 0x00]],
    ["an escape inside a character", [6, 0xe2, 0x00, 0xff, 0x82, 0x00]],
    ["an array without end", [8, 1]],
    ["an object key that is not a string", [9, 5, 0, 1, 0]],
    ["object keys out of order", [9, 6, 0x62, 0, 1, 6, 0x61, 0, 1, 0]],
    ["a repeated object key", [9, 6, 0x61, 0, 1, 6, 0x61, 0, 1, 0]],
    ["tag 0", [0]],
    ["an unknown tag", [10]],
    ["two values", [1, 1]],
  ];
  it.each(bad)("%s: BAD_VALUE", (_what, el) => {
    const s = new IVar<Value>("r");
    try {
      s.set("kept");
      const before = hex(s.encode());
      let err: unknown;
      try { s.merge(ivarOf(el)); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(TrellisError);
      expect((err as TrellisError).code).toBe("BAD_VALUE");
      expect(hex(s.encode())).toBe(before);
      expect(() => decodeState(ivarOf(el), "x")).toThrow(/BAD_VALUE/);
      expect(() => decodeValue(Uint8Array.from(el))).toThrow(TrellisError);
    } finally { s.dispose(); }
  });

  it("the host's decoder refuses what the kernel refuses", () => {
    for (const [, el] of bad) {
      let ok = true;
      try { decodeValue(Uint8Array.from(el)); } catch { ok = false; }
      expect(ok, hex(Uint8Array.from(el))).toBe(false);
    }
  });
});

// ---- versions 1 and 2 ---------------------------------------------------------------------

const te = new TextEncoder();
const old = (v: Value): number[] => { const b = encodeValueV1(v); return [...varint(b.length), ...b]; };
const rep = (r: string): number[] => [...varint(te.encode(r).length), ...te.encode(r)];
const byOld = (a: Value, b: Value) => compareBytes(encodeValueV1(a), encodeValueV1(b));

describe("versions 1 and 2 decode, re-sort and re-encode as version 3", () => {
  it("a v1 GSet in old byte order lists in natural order and merges with v3 to equal bytes", () => {
    const els: Value[] = [10, -1, 2.5, "b", "aa", null, [1, "x"], { k: [true] }, new Uint8Array([0, 9])];
    const v1 = Uint8Array.from([0x54, 0x52, 1, 8, els.length, ...[...els].sort(byOld).flatMap(old)]);
    const a = GSet.decode(v1, "r");
    const b = new GSet<Value>("r");
    try {
      for (const e of els) b.add(e);
      expect(a.values()).toEqual(b.values());
      expect(a.values().slice(0, 6)).toEqual([null, -1, 2.5, 10, "aa", "b"]);
      expect(hex(a.encode())).toBe(hex(b.encode()));
      expect(a.encode()[2]).toBe(3);
      expect(b.merge(v1)).toBe(false);
      expect(a.merge(b.encode())).toBe(false);
    } finally { a.dispose(); b.dispose(); }
  });

  it("nested maps, TopK and registers from v1 and v2 fixtures", () => {
    // GMap<GMap<GCounter>> {"b": {10: {A: 1}, -1: {A: 2}}, "aa": {"x": {B: 3}}}, keys in old order at both levels
    const inner = (es: [Value, string, number][]) => [es.length, ...[...es].sort((x, y) => byOld(x[0], y[0])).flatMap(([k, r, n]) => [...old(k), 1, ...rep(r), n])];
    const outer: [Value, number[]][] = [["b", inner([[10, "A", 1], [-1, "A", 2]])], ["aa", inner([["x", "B", 3]])]];
    const v1 = Uint8Array.from([0x54, 0x52, 1, 12, 12, 1, outer.length, ...[...outer].sort((x, y) => byOld(x[0], y[0])).flatMap(([k, b]) => [...old(k), ...b])]);
    const m = new GMap<Map<Value, number>>("A", GMap.of(GCounter));
    const m2 = new GMap<Map<Value, number>>("B", GMap.of(GCounter));
    try {
      m.update("b", GMap.ops.update(10, GCounter.ops.increment(1)));
      m.update("b", GMap.ops.update(-1, GCounter.ops.increment(2)));
      m2.update("aa", GMap.ops.update("x", GCounter.ops.increment(3)));
      m.merge(m2);
      const want = hex(m.encode());
      for (const version of [1, 2] as const) {
        const bytes = version === 1 ? v1 : legacyOf(v1Expanded(v1), 2);
        expect(bytes[2]).toBe(version);
        const d = decodeState(bytes, "me");
        try {
          expect(hex(d.encode())).toBe(want);
          expect([...(d.value as Map<Value, Map<Value, number>>).keys()]).toEqual(["aa", "b"]);
          expect([...(d.value as Map<Value, Map<Value, number>>).get("b")!.keys()]).toEqual([-1, 10]);
        } finally { d.dispose(); }
        const x = new GMap<Map<Value, number>>("C", GMap.of(GCounter));
        try {
          x.merge(m.encode());
          expect(x.merge(bytes)).toBe(false); // the same content
          expect(hex(x.encode())).toBe(want);
        } finally { x.dispose(); }
      }
    } finally { m.dispose(); m2.dispose(); }

    // TopK(3) {("b", 5), (10, 5), (-1, 1)}: ids in old order
    const tk = Uint8Array.from([0x54, 0x52, 1, 15, 3, 3, ...([["b", 5], [10, 5], [-1, 1]] as [Value, number][]).sort((x, y) => byOld(x[0], y[0])).flatMap(([id, s]) => [...old(id), s])]);
    const t = TopK.decode(tk, "r");
    try {
      expect(t.value).toEqual([{ id: 10, score: 5 }, { id: "b", score: 5 }, { id: -1, score: 1 }]);
      const u = new TopK<Value>("r", 3).add("b", 5).add(10, 5).add(-1, 1);
      expect(hex(t.encode())).toBe(hex(u.encode()));
      u.dispose();
    } finally { t.dispose(); }

    // registers: IVar, LWWRegister, MVRegister hold one value each, rewritten in place
    const iv = IVar.decode(Uint8Array.from([0x54, 0x52, 1, 5, 1, ...old({ n: -2.5, s: "é\u0000" })]), "r");
    const lww = LWWRegister.decode(Uint8Array.from([0x54, 0x52, 1, 6, 1, 7, ...rep("w"), ...old([1, null])]), "r");
    const mv = MVRegister.decode(Uint8Array.from([0x54, 0x52, 1, 7, 1, ...rep("w"), 1, 0, 1, ...rep("w"), 1, ...old(-7)]), "r");
    try {
      expect(iv.value).toEqual({ n: -2.5, s: "é\u0000" });
      expect(lww.value).toEqual([1, null]);
      expect(mv.value).toEqual([-7]);
      const iv3 = new IVar<Value>("r"); iv3.set({ n: -2.5, s: "é\u0000" });
      expect(hex(iv.encode())).toBe(hex(iv3.encode()));
      iv3.dispose();
    } finally { iv.dispose(); lww.dispose(); mv.dispose(); }
  });

  it("refuses legacy bytes that were not canonical in their own version, changing nothing", () => {
    const s = new GSet<Value>("r");
    try {
      s.add(1);
      const before = hex(s.encode());
      const cases: [number[], string][] = [
        [[0x54, 0x52, 1, 8, 2, ...old(10), ...old(-1)], "NONCANONICAL"],      // old order broken (zigzag 20 > 1)
        [[0x54, 0x52, 1, 8, 2, ...old("a"), ...old("a")], "NONCANONICAL"],    // repeated
        [[0x54, 0x52, 1, 8, 1, 9, 4, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0], "BAD_VALUE"], // 1 as a float64
        [[0x54, 0x52, 1, 8, 1, 2, 5, 1], "BAD_VALUE"],                        // a truncated old string
        [[0x54, 0x52, 1, 8, 1, 3, 5, 1, 0xff], "BAD_VALUE"],                  // not UTF-8
        [[0x54, 0x52, 1, 8, 1, ...old("x"), 0], "TRAILING"],
      ];
      for (const [b, code] of cases) {
        expect(() => s.merge(Uint8Array.from(b)), hex(Uint8Array.from(b))).toThrow(code);
        expect(hex(s.encode())).toBe(before);
      }
      // A string of NULs doubles when escaped: past 2^20 bytes it is too large.
      const nuls = encodeValueV1("\u0000".repeat(600_000));
      expect(() => s.merge(join([[0x54, 0x52, 1, 8, 1], varint(nuls.length), nuls]))).toThrow("TOO_LARGE");
      expect(hex(s.encode())).toBe(before);
    } finally { s.dispose(); }
  });

  it("a large v1 AWSet is re-sorted in n log n, and a v2 one agrees", () => {
    // 50,000 elements mixing numbers and strings: old order (tag, then
    // length-prefixed payloads) and natural order differ throughout.
    const els: Value[] = [];
    for (let i = 0; i < 25_000; i++) els.push(i * 37 - 400_000, "e" + ((i * 7919) % 100_000));
    const s = new AWSet<Value>("w");
    try {
      s.batch((t) => { for (const e of els) t.add(e); });
      const v3 = s.encode();
      const layout = v1Expanded(v3);
      const t0 = performance.now();
      for (const v of [1, 2] as const) {
        const d = decodeState(legacyOf(layout, v), "x");
        try { expect(hex(d.encode(), 1e9)).toBe(hex(v3, 1e9)); } finally { d.dispose(); }
      }
      expect(performance.now() - t0).toBeLessThan(20_000);
    } finally { s.dispose(); }
  });
});

// The expanded layout (version byte 1, version 3 values) of a state: a v1
// state's values rewritten (test/model/legacy.ts), or a v3 state's table,
// base and front-coded keys written out (v1Layout).
function v1Expanded(b: Uint8Array): Uint8Array {
  if (b[2] === 1) return modernOf(b);
  const x = v1Layout(b).slice();
  x[2] = 1;
  return x;
}
