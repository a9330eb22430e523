// Quick checks for PNCounter, MaxInt, IVar, LWWRegister, GSet, TwoPSet and
// TopK: kernel against plain-TS model byte for byte, the lattice laws on
// states from random 3-replica histories, delta mutators, and the types'
// preconditions and edge cases. (test/laws.ts runs the long law suite.)
import { beforeAll, describe, expect, it } from "vitest";
import { asV3 } from "./model/legacy.js";
import { v1Layout } from "../dist/host/crdt/layout.js";
import fc from "fast-check";
import {
  init, decodeState, GMap, GSet, IVar, LWWRegister, MaxInt, PNCounter, TopK, TrellisError, TwoPSet,
} from "../dist/host/index.node.js";
import type { Crdt } from "../dist/host/index.node.js";
import { encodeModel } from "./model/common.js";
import type { Fixture } from "./fixtures/fixture.js";
import { fixture as pn } from "./fixtures/pncounter.js";
import { fixture as mx } from "./fixtures/maxint.js";
import { fixture as iv } from "./fixtures/ivar.js";
import { fixture as lww } from "./fixtures/lwwregister.js";
import { fixture as gs } from "./fixtures/gset.js";
import { fixture as tp } from "./fixtures/twopset.js";
import { fixture as tk } from "./fixtures/topk.js";
import { topkModel } from "./model/topk.js";

beforeAll(async () => { await init(); });

type C = Crdt<unknown>;
type AnyFixture = Fixture<C, unknown, unknown>;
const RUNS = 200;
const NAMES = ["r0", "r1", "r2"];

type Step<O> = { op: O; at: number } | { to: number; from: number; bytes: boolean };

const stepArb = <O>(f: Fixture<C, unknown, O>): fc.Arbitrary<Step<O>> => fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: f.op, at: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ to: fc.nat(2), from: fc.nat(2), bytes: fc.boolean() }) },
);

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

// Runs a history on 3 replicas and 3 model states, checking bytes after every
// step and that each op's delta d satisfies m(x) = x ⊔ d.
function run(f: AnyFixture, steps: Step<unknown>[], live: C[]) {
  const cs = NAMES.map((n) => { const c = f.make(n); live.push(c); return c; });
  const ms = NAMES.map(() => f.model.bottom());
  for (const s of steps) {
    if ("op" in s) {
      const c = cs[s.at];
      c.takeDelta();
      const before = c.clone(); live.push(before);
      f.apply(c, s.op);
      ms[s.at] = f.model.apply(ms[s.at], s.op, NAMES[s.at]);
      const expectGrow = !c.leq(before);
      const grew = before.merge(c.takeDelta());
      expect(hex(before.encode())).toBe(hex(c.encode()));
      expect(grew).toBe(expectGrow);
    } else {
      const [x, y] = [cs[s.to], cs[s.from]];
      const expectGrow = !y.leq(x);
      const grew = x.merge(s.bytes ? y.encode() : y);
      expect(grew).toBe(expectGrow);
      ms[s.to] = f.model.join(ms[s.to], ms[s.from]);
    }
    const i = "op" in s ? s.at : s.to;
    expect(hex(cs[i].encode())).toBe(hex(encodeModel(f.model, ms[i])));
  }
  return { cs, ms };
}

function dispose(live: C[]) { for (const c of live) c.dispose(); live.length = 0; }

function joined(a: C, b: C, live: C[]): C { const x = a.clone(); live.push(x); x.merge(b); return x; }
const same = (a: C, b: C) => hex(a.encode()) === hex(b.encode());

function suite(fx: unknown) {
  const f = fx as AnyFixture;
  const histories = fc.array(stepArb(f), { maxLength: 24 });
  describe(f.name, () => {
    it("kernel and model agree byte for byte; replicas converge in any merge order", () => {
      fc.assert(fc.property(histories, fc.array(fc.tuple(fc.nat(2), fc.nat(2)), { maxLength: 6 }), (steps, extra) => {
        const live: C[] = [];
        try {
          const { cs, ms } = run(f, steps, live);
          // Random extra merges, then every replica merges the others in its own order.
          for (const [to, from] of extra) { cs[to].merge(cs[from]); ms[to] = f.model.join(ms[to], ms[from]); }
          const all = ms.reduce((a, b) => f.model.join(a, b));
          const snapshot = cs.map((c) => c.clone()); live.push(...snapshot);
          for (let i = 0; i < 3; i++) {
            const order = i === 0 ? [1, 2] : i === 1 ? [2, 0] : [1, 0];
            for (const j of order) cs[i].merge(snapshot[j]);
            expect(hex(cs[i].encode())).toBe(hex(encodeModel(f.model, all)));
            expect(f.value(cs[i])).toEqual(f.model.value(all));
          }
        } finally { dispose(live); }
      }), { numRuns: RUNS });
    });

    it("join is commutative, associative, idempotent; leq and the changed flag agree with join", () => {
      fc.assert(fc.property(histories, (steps) => {
        const live: C[] = [];
        try {
          const { cs: [a, b, c], ms } = run(f, steps, live);
          expect(same(joined(a, b, live), joined(b, a, live))).toBe(true);
          expect(same(joined(joined(a, b, live), c, live), joined(a, joined(b, c, live), live))).toBe(true);
          const aa = a.clone(); live.push(aa);
          expect(aa.merge(a)).toBe(false);
          expect(same(aa, a)).toBe(true);
          for (const [x, y] of [[a, b], [b, a], [a, c], [c, b]]) {
            const xy = joined(x, y, live);
            expect(x.leq(y)).toBe(same(xy, y));
            expect(x.leq(xy) && y.leq(xy)).toBe(true);
            const x2 = x.clone(); live.push(x2);
            expect(x2.merge(y)).toBe(!y.leq(x));
          }
          expect(hex(joined(a, b, live).encode())).toBe(hex(encodeModel(f.model, f.model.join(ms[0], ms[1]))));
          const bot = f.make("z"); live.push(bot);
          expect(bot.leq(a)).toBe(true);
          expect(a.leq(bot)).toBe(a.isBottom);
        } finally { dispose(live); }
      }), { numRuns: RUNS });
    });

    it("decompose joins back with no redundant part; delta(a, b) ⊔ b = a ⊔ b; decode(encode(x)) = x", () => {
      fc.assert(fc.property(histories, (steps) => {
        const live: C[] = [];
        try {
          const { cs: [a, b, c] } = run(f, steps, live);
          for (const x of [a, b, c]) {
            const parts = x.decompose(); live.push(...parts);
            const acc = f.make("z"); live.push(acc);
            for (const p of parts) {
              expect(p.isBottom).toBe(false);
              const again = p.decompose(); live.push(...again);
              expect(again.length).toBe(1);
              expect(same(again[0], p)).toBe(true);
              acc.merge(p);
            }
            expect(same(acc, x)).toBe(true);
            if (parts.length <= 16) {
              for (let i = 0; i < parts.length; i++) {
                const rest = f.make("z"); live.push(rest);
                parts.forEach((p, j) => { if (j !== i) rest.merge(p); });
                expect(same(rest, x)).toBe(false);
              }
            }
            const back = decodeState(x.encode()); live.push(back as C);
            expect(same(back as C, x)).toBe(true);
            expect(f.value(back as C)).toEqual(f.value(x));
          }
          for (const [x, y] of [[a, b], [b, c], [c, a], [a, a]]) {
            const d = x.delta(y); live.push(d);
            expect(d.leq(x)).toBe(true);
            expect(same(joined(d, y, live), joined(x, y, live))).toBe(true);
            // Only strictly inflating parts: nothing of d is already below y.
            const dp = d.decompose(); live.push(...dp);
            for (const p of dp) expect(p.leq(y)).toBe(false);
          }
        } finally { dispose(live); }
      }), { numRuns: RUNS });
    });
  });
}

// A k above the kernel's one-by-one join threshold (8), so bulk joins run too.
const tk12 = { ...tk, name: "TopK(12)", make: (r: string) => new TopK(r, 12), model: topkModel(12) };

for (const f of [pn, mx, iv, lww, gs, tp, tk, tk12]) suite(f);

// Decoding is canonical: any input the kernel accepts re-encodes to the same
// bytes; anything else is a TrellisError, never a trap.
describe("mutated encodings", () => {
  for (const fx of [pn, mx, iv, lww, gs, tp, tk, tk12]) {
    const f = fx as unknown as AnyFixture;
    it(f.name, () => {
      fc.assert(fc.property(fc.array(fc.record({ op: f.op, at: fc.nat(2) }), { maxLength: 12 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.nat(3)), { minLength: 1, maxLength: 4 }), (steps, edits) => {
          const live: C[] = [];
          try {
            const { cs } = run(f, steps, live);
            const x = cs[0]; x.merge(cs[1]); x.merge(cs[2]);
            const b = Array.from(x.encode());
            for (const [at, v, kind] of edits) {
              const i = at % (b.length + 1);
              if (kind === 0 && i < b.length) b[i] = v;
              else if (kind === 1) b.splice(i, 0, v);
              else if (kind === 2 && i < b.length) b.splice(i, 1);
              else b.length = Math.min(b.length, i);
            }
            const input = Uint8Array.from(b);
            let y: C | undefined;
            try { y = decodeState(input) as C; } catch (e) {
              expect(e).toBeInstanceOf(TrellisError);
              expect((e as TrellisError).code).not.toBe("KERNEL_TRAP");
              return;
            }
            live.push(y);
            // versions 1 and 2 (a mutated version byte) re-encode as version 3
            expect(hex(y.encode())).toBe(hex(asV3(input, v1Layout)));
          } finally { dispose(live); }
        }), { numRuns: RUNS });
    });
  }
});

// ---- edge cases and preconditions -----------------------------------------

const hdr = (...spec: number[]) => [0x54, 0x52, 1, ...spec];
const code = (f: () => unknown): string | undefined => {
  try { f(); } catch (e) { if (e instanceof TrellisError) return e.code; throw e; }
  return undefined;
};
// The elements "a" and "b" as kernels store them: length-prefixed value bytes.
const A = [3, 5, 1, 0x61], B = [3, 5, 1, 0x62];
const decodes = (bytes: number[]) => code(() => decodeState(Uint8Array.from(bytes)).dispose());

describe("PNCounter", () => {
  it("counts below zero and encodes the value as a zigzag varint", () => {
    const a = new PNCounter("a"), b = new PNCounter("b");
    a.increment(3); b.decrement(10); a.merge(b);
    expect(a.value).toBe(-7);
    b.increment(20);
    expect(b.value).toBe(10);
    expect(PNCounter.decode(a.encode()).value).toBe(-7);
  });
  it("clamps a value beyond the i64 range", () => {
    const max = [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]; // 2^64 − 2, the largest count
    expect(PNCounter.decode(Uint8Array.from(hdr(2, 1, 1, 0x61, ...max, 0))).value).toBe(2 ** 63);
    expect(PNCounter.decode(Uint8Array.from(hdr(2, 0, 1, 1, 0x61, ...max))).value).toBe(-(2 ** 63));
  });
  it("rejects zero entries and unsorted replicas", () => {
    expect(decodes(hdr(2, 0, 0))).toBeUndefined();
    expect(decodes(hdr(2, 0, 1, 1, 0x61, 0))).toBe("INVALID");
    expect(decodes(hdr(2, 2, 1, 0x62, 1, 1, 0x61, 1, 0))).toBe("NONCANONICAL");
    expect(decodes(hdr(2, 0))).toBe("TRUNCATED");
    expect(decodes(hdr(2, 0, 0, 0))).toBe("TRAILING");
  });
  it("rejects a count whose next increment would wrap, and an empty replica id", () => {
    const top = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]; // 2^64 − 1
    expect(decodes(hdr(2, 1, 1, 0x61, ...top, 0))).toBe("OVERFLOW");
    expect(decodes(hdr(2, 0, 1, 1, 0x61, ...top))).toBe("OVERFLOW");
    expect(decodes(hdr(2, 1, 0, 5, 0))).toBe("INVALID");
    expect(decodes(hdr(2, 0, 1, 0, 5))).toBe("INVALID");
  });
});

describe("MaxInt", () => {
  it("keeps the max; a smaller set gives a bottom delta", () => {
    const m = new MaxInt("a");
    m.set(5); m.takeDelta(); m.set(3);
    expect(m.value).toBe(5);
    expect(decodeState(m.takeDelta()).isBottom).toBe(true);
    m.set(2 ** 50);
    expect(m.value).toBe(2 ** 50);
    expect(() => m.set(-1)).toThrow(RangeError);
  });
  it("rejects a padded varint", () => {
    expect(decodes(hdr(3, 0x85, 0))).toBe("NONCANONICAL");
  });
});

describe("IVar", () => {
  it("refuses a second, different assignment locally", () => {
    const v = new IVar<string>("a");
    expect(v.value).toBeUndefined();
    v.set("x");
    v.set("x");
    expect(code(() => v.set("y"))).toBe("PRECONDITION");
    expect(v.value).toBe("x");
  });
  it("concurrent different assignments converge to the byte-greater value", () => {
    const a = new IVar<string>("a"), b = new IVar<string>("b");
    a.set("apple"); b.set("banana");
    const ab = a.clone(); ab.merge(b);
    const ba = b.clone(); ba.merge(a);
    expect(ab.value).toBe("banana");
    expect(ba.value).toBe("banana");
    expect(a.merge(b)).toBe(true);
    expect(b.merge(a)).toBe(false);
  });
  it("rejects a bad presence flag", () => {
    expect(decodes(hdr(5, 2))).toBe("INVALID");
    expect(decodes(hdr(5, 1, 1, 0))).toBeUndefined();
  });
});

describe("LWWRegister", () => {
  it("inside a map, a replica's later write wins even within one millisecond", () => {
    const m = new GMap("a", LWWRegister);
    try {
      // "b" > "a" in byte order: with equal timestamps the earlier write would win.
      m.update("k", LWWRegister.ops.set("b"));
      m.update("k", LWWRegister.ops.set("a"));
      expect(m.get("k")).toBe("a");
    } finally { m.dispose(); }
  });

  it("setAfter writes at max(timestamp, current + 1); set with a timestamp competes", () => {
    const r = new LWWRegister("a");
    try {
      r.set("x", 10);
      r.setAfter("y", 3);
      expect([r.value, r.timestamp]).toEqual(["y", 11]);
      r.set("z", 5); // an explicit, older timestamp loses
      expect(r.value).toBe("y");
      r.setAfter("w", 20);
      expect([r.value, r.timestamp]).toEqual(["w", 20]);
    } finally { r.dispose(); }
  });

  it("refuses a timestamp whose setAfter would wrap, an empty replica id, and writes past 2^64 − 2", () => {
    const ts = (b0: number) => [b0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    const x = [3, 5, 1, 0x78]; // the element "x"
    expect(decodes(hdr(6, 1, ...ts(0xff), 1, 0x62, ...x))).toBe("OVERFLOW");
    expect(decodes(hdr(6, 1, 5, 0, ...x))).toBe("INVALID");
    expect(decodes(hdr(6, 1, ...ts(0xfe), 1, 0x62, ...x))).toBeUndefined(); // 2^64 − 2: the largest
    const r = LWWRegister.decode(Uint8Array.from(hdr(6, 1, ...ts(0xfe), 1, 0x62, ...x)), "a");
    try {
      const before = Array.from(r.encode());
      expect(() => r.setAfter("y", 1)).toThrow(/OVERFLOW/);
      expect(Array.from(r.encode())).toEqual(before);
      expect(r.value).toBe("x");
    } finally { r.dispose(); }
  });

  it("own writes are ordered even within one millisecond", () => {
    const r = new LWWRegister<number>("a");
    for (let i = 0; i < 50; i++) r.set(i);
    expect(r.value).toBe(49);
    const t = r.timestamp!;
    r.set(100, 1); // an explicit old timestamp loses
    expect(r.value).toBe(49);
    expect(r.timestamp).toBe(t);
    expect(r.writer).toBe("a");
  });
  it("equal timestamps: the greater replica, then the greater value bytes, wins in any order", () => {
    const a = new LWWRegister<string>("a"), b = new LWWRegister<string>("b");
    a.set("zzz", 7); b.set("aaa", 7);
    const ab = a.clone(); ab.merge(b);
    const ba = b.clone(); ba.merge(a);
    expect(ab.value).toBe("aaa");
    expect(ab.equals(ba)).toBe(true);
    const a1 = new LWWRegister<string>("x"), a2 = new LWWRegister<string>("x");
    a1.set("m", 7); a2.set("n", 7);
    a1.merge(a2); a2.merge(a1);
    expect(a1.value).toBe("n");
    expect(a2.value).toBe("n");
  });
  it("ops.set defaults to the wall clock", () => {
    const before = Date.now();
    const r = new LWWRegister("a");
    r.set("v");
    expect(r.timestamp!).toBeGreaterThanOrEqual(before);
    expect(r.timestamp!).toBeLessThanOrEqual(Date.now());
  });
  it("rejects a bad flag and an over-long replica", () => {
    expect(decodes(hdr(6, 3))).toBe("INVALID");
    const long = [0x80, 0x02, ...new Array(256).fill(0x61)];
    expect(decodes(hdr(6, 1, 1, ...long, 1, 0))).toBe("TOO_LARGE");
  });
});

describe("GSet", () => {
  it("offers has and size", () => {
    const s = new GSet<string>("a");
    s.add("x").add("y").add("x");
    expect(s.has("x")).toBe(true);
    expect(s.has("z")).toBe(false);
    expect(s.size).toBe(2);
  });
  it("rejects unsorted and repeated elements", () => {
    expect(decodes(hdr(8, 2, ...B, ...A))).toBe("NONCANONICAL");
    expect(decodes(hdr(8, 2, ...A, ...A))).toBe("NONCANONICAL");
    expect(decodes(hdr(8, 2, 1, 0, ...A))).toBeUndefined();
    expect(decodes(hdr(8, 0x7f, 0))).toBe("TOO_LARGE");
  });
});

describe("TwoPSet", () => {
  it("remove requires presence; a removed element never comes back", () => {
    const a = new TwoPSet<string>("a"), b = new TwoPSet<string>("b");
    expect(code(() => a.remove("x"))).toBe("PRECONDITION");
    a.add("x"); b.merge(a);
    a.remove("x");
    expect(a.has("x")).toBe(false);
    a.add("x");
    expect(a.has("x")).toBe(false);
    expect(code(() => a.remove("x"))).toBe("PRECONDITION");
    b.add("x"); b.add("y"); // concurrent re-add loses to the tombstone
    b.merge(a);
    expect(b.values()).toEqual(["y"]);
    expect(b.size).toBe(1);
  });
  it("the kernel keeps a tombstone for a never-added element", () => {
    // adds: {}; removes: {"a"} (element bytes are the value codec's: 5 1 'a')
    const t = TwoPSet.decode<string>(Uint8Array.from(hdr(9, 0, 1, 3, 5, 1, 0x61)));
    t.add("a");
    expect(t.has("a")).toBe(false);
    expect(t.value).toEqual([]);
  });
  it("rejects an element both added and removed", () => {
    expect(decodes(hdr(9, 1, ...A, 1, ...A))).toBe("NONCANONICAL");
    expect(decodes(hdr(9, 1, ...A, 1, ...B))).toBeUndefined();
  });
});

describe("TopK", () => {
  it("ranks by score, ties by id bytes; keeps each id's best score", () => {
    const t = new TopK<string>("a", 3);
    t.add("c", 5).add("b", 5).add("a", 1).add("d", 9).add("a", 2).add("c", 4);
    expect(t.value).toEqual([{ id: "d", score: 9 }, { id: "b", score: 5 }, { id: "c", score: 5 }]);
    t.add("a", 5); // ties with b and c, and "a" < "b": it enters, c leaves
    expect(t.value).toEqual([{ id: "d", score: 9 }, { id: "a", score: 5 }, { id: "b", score: 5 }]);
    t.add("c", 5); // ranks below the last entry: no change, bottom delta
    t.takeDelta();
    t.add("c", 5);
    expect(decodeState(t.takeDelta()).isBottom).toBe(true);
    expect(t.k).toBe(3);
  });
  it("merging local top-k lists gives the global top-k", () => {
    const devices = [0, 1, 2].map((i) => new TopK<string>(`d${i}`, 2));
    devices[0].add("ann", 10).add("bob", 7);
    devices[1].add("bob", 12).add("cat", 3);
    devices[2].add("dan", 11).add("ann", 1);
    const global = new TopK<string>("g", 2);
    for (const d of devices) global.merge(d.encode());
    expect(global.value).toEqual([{ id: "bob", score: 12 }, { id: "dan", score: 11 }]);
  });
  it("spec carries k; bad k is a RangeError; different k do not mix", () => {
    expect(TopK.of(5)).toEqual({ tag: 15, k: 5 });
    expect(() => TopK.of(0)).toThrow(RangeError);
    expect(() => new TopK("a", 65537)).toThrow(RangeError);
    const t = TopK.decode(new TopK("a", 7).encode());
    expect(t.k).toBe(7);
    expect(code(() => new TopK("a", 2).merge(new TopK("b", 3)))).toBe("TYPE_MISMATCH");
  });
  it("bulk joins (more than 8 entries) agree with the untruncated model", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 9 })), { maxLength: 60 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 9 })), { maxLength: 60 }), (k, xs, ys) => {
        const m = topkModel(k);
        const a = new TopK<number>("a", k), b = new TopK<number>("b", k);
        let ma = m.bottom(), mb = m.bottom();
        for (const [id, score] of xs) { a.add(id, score); ma = m.apply(ma, { id, score }, "a"); }
        for (const [id, score] of ys) { b.add(id, score); mb = m.apply(mb, { id, score }, "b"); }
        const before = a.encode();
        const grew = a.merge(b);
        const want = encodeModel(m, m.join(ma, mb));
        expect(hex(a.encode())).toBe(hex(want));
        expect(grew).toBe(hex(before) !== hex(want));
        expect(a.value).toEqual(m.value(m.join(ma, mb)));
        expect(a.size).toBe(Math.min(k, new Set([...xs, ...ys].map(([id]) => id)).size));
        a.dispose(); b.dispose();
      }), { numRuns: RUNS });
  });
  it("rejects more than k entries and unsorted ids", () => {
    expect(decodes(hdr(15, 1, 2, ...A, 1, ...B, 1))).toBe("INVALID");
    expect(decodes(hdr(15, 2, 2, ...B, 1, ...A, 1))).toBe("NONCANONICAL");
    expect(decodes(hdr(15, 2, 2, ...A, 0, ...B, 0))).toBeUndefined();
  });
});
