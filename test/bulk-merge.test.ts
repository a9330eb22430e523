// Bulk joins of large states (issue 10, item 2): GCounter, PNCounter, GSet and
// TwoPSet merge two large states by one streaming pass over their sorted
// entries, but a state that took small deltas (point updates through a hash
// index, appended out of order) is merged through a sorted index. The
// differential tests use 5 replicas, so their counters never leave the point
// path; this file drives the merge paths against the plain-TS models with
// seeded random states of hundreds to thousands of parts: ids and elements of
// every length class (the short-ASCII fast paths, words compared 8 bytes at a
// time, two-byte length prefixes, non-ASCII), merged from handles and from
// bytes, into states in order and out of order.
import { beforeAll, describe, expect, it } from "vitest";
import { init, GCounter, GSet, PNCounter, TwoPSet } from "../dist/host/index.node.js";
import type { Crdt } from "../dist/host/index.node.js";
import { encodeValue, Value } from "../host/crdt/value.js";
import { Model, bin, encodeModel } from "./model/common.js";
import { gcounterModel } from "./model/gcounter.js";
import { pncounterModel } from "./model/pncounter.js";
import { gsetModel } from "./model/gset.js";
import { twopsetModel } from "./model/twopset.js";
import { hex } from "./util/bytes.js";

beforeAll(async () => { await init(); });

// Seeded PRNG (mulberry32): every run draws the same states.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

// A string of one of the length classes the kernels treat differently.
function word(r: () => number, i: number): string {
  const k = Math.floor(r() * 6);
  if (k === 0) return "r" + i;                                     // short ASCII (< 8 bytes mostly)
  if (k === 1) return "replica-" + String(i).padStart(6, "0");     // ≥ 8 bytes: word compares
  if (k === 2) return "é" + i + "ü";                               // non-ASCII: the UTF-8 check
  if (k === 3) return "x".repeat(130 + (i % 5)) + i;               // two-byte length prefix
  if (k === 4) return String.fromCharCode(0x61 + (i % 3)) + i;     // shared prefixes
  return "k" + String(i).padStart(3, "0");
}

const utf8 = (s: string): string => bin(new TextEncoder().encode(s));

function counterMap(r: () => number, n: number, pool: number): Map<string, number> {
  const m = new Map<string, number>();
  while (m.size < n) { const i = Math.floor(r() * pool); m.set(utf8(word(rng(i), i)), 1 + Math.floor(r() * 1000)); }
  return m;
}

function elementSet(r: () => number, n: number, pool: number): Set<string> {
  const s = new Set<string>();
  while (s.size < n) {
    const i = Math.floor(r() * pool);
    const v: Value = i % 7 === 0 ? i * 3 : word(rng(i), i); // a few numbers among the strings
    s.add(bin(encodeValue(v)));
  }
  return s;
}

interface Case<S> {
  name: string;
  model: Model<S, unknown>;
  T: { decode(b: Uint8Array, replica?: string): K };
  big(r: () => number, n: number): S;
  small(r: () => number): S; // at most 8 parts: a delta the kernel applies point by point
}
type K = Crdt<any>; // each case is one type; the merges never mix them

const cases: Case<any>[] = [
  {
    name: "GCounter", model: gcounterModel, T: GCounter,
    big: (r, n) => counterMap(r, n, n * 3),
    small: (r) => counterMap(r, 1 + Math.floor(r() * 8), 20000),
  },
  {
    name: "PNCounter", model: pncounterModel, T: PNCounter,
    big: (r, n) => ({ p: counterMap(r, n, n * 3), n: counterMap(r, n >> 2, n) }),
    small: (r) => (r() < 0.5 ? { p: counterMap(r, 1 + Math.floor(r() * 4), 20000), n: new Map() } : { p: new Map(), n: counterMap(r, 1 + Math.floor(r() * 4), 20000) }),
  },
  {
    name: "GSet", model: gsetModel, T: GSet,
    big: (r, n) => elementSet(r, n, n * 3),
    small: (r) => elementSet(r, 1 + Math.floor(r() * 8), 20000),
  },
  {
    name: "TwoPSet", model: twopsetModel, T: TwoPSet,
    big: (r, n) => { const a = elementSet(r, n, n * 3); const rm = new Set([...a].filter(() => r() < 0.2)); return { a, r: rm }; },
    small: (r) => ({ a: elementSet(r, 1 + Math.floor(r() * 4), 20000), r: new Set<string>() }),
  },
];

const enc = <S>(c: Case<S>, s: S): Uint8Array => encodeModel(c.model, s);
const join = <S>(c: Case<S>, a: S, b: S): S => c.model.join(a, b) as S;
const eq = (a: Uint8Array, b: Uint8Array) => expect(hex(a, 1 << 20)).toBe(hex(b, 1 << 20));

describe.each(cases)("$name: bulk joins agree with the model", (c) => {
  for (const [seed, n, m] of [[1, 600, 900], [2, 2000, 300], [3, 40, 3000]] as const) {
    it(`seed ${seed}: ${n} ⊔ ${m} parts, in order and after out-of-order point updates, from a handle and from bytes`, () => {
      const r = rng(seed * 7919);
      let A = c.big(r, n);
      const B = c.big(r, m);
      for (const outOfOrder of [false, true]) {
        const ka = c.T.decode(enc(c, A), "t");
        let model = A;
        if (outOfOrder) {
          // Small deltas go through the hash index and append out of order.
          for (let d = 0; d < 40; d++) {
            const s = c.small(r);
            const before = enc(c, model);
            model = join(c, model, s);
            expect(ka.merge(enc(c, s))).toBe(hex(before) !== hex(enc(c, model)));
          }
          eq(ka.encode(), enc(c, model));
        }
        const want = join(c, model, B);
        const grows = hex(enc(c, want)) !== hex(enc(c, model));
        const kb = c.T.decode(enc(c, B), "t");
        const viaHandle = ka.clone();
        const viaBytes = ka.clone();
        expect(viaHandle.merge(kb)).toBe(grows);
        expect(viaBytes.merge(enc(c, B))).toBe(grows);
        eq(viaHandle.encode(), enc(c, want));
        eq(viaBytes.encode(), enc(c, want));
        // The order and delta agree with the join, whichever side is out of order.
        expect(kb.leq(viaHandle)).toBe(true);
        expect(ka.leq(viaBytes)).toBe(true);
        expect(viaHandle.leq(kb)).toBe(hex(enc(c, join(c, B, want))) === hex(enc(c, B)));
        const d = viaHandle.delta(kb);
        const back = kb.clone();
        back.merge(d);
        eq(back.encode(), enc(c, want));
        // A second join of the same is no change; joining the other way round agrees.
        expect(viaHandle.merge(kb)).toBe(false);
        expect(kb.merge(ka)).toBe(hex(enc(c, want)) !== hex(enc(c, B)));
        eq(kb.encode(), enc(c, want));
        for (const k of [ka, kb, viaHandle, viaBytes, d, back]) k.dispose();
        if (outOfOrder) A = model;
      }
    });
  }

  it("a bad body changes nothing, even after the good part of it was merged in", () => {
    const r = rng(99);
    const A = c.big(r, 500);
    const ka = c.T.decode(enc(c, A), "t");
    for (let d = 0; d < 20; d++) ka.merge(enc(c, c.small(r))); // out of order
    const before = ka.encode();
    const B = enc(c, c.big(r, 800));
    // Cut short, or with a byte after its end: both found only after the
    // whole body was streamed through the merge.
    const trailing = new Uint8Array(B.length + 1);
    trailing.set(B);
    for (const bad of [B.subarray(0, B.length - 3), trailing]) {
      expect(() => ka.merge(bad)).toThrow();
      eq(ka.encode(), before);
    }
    ka.dispose();
  });
});
