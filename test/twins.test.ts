// The bench's same-algorithm twins (bench/twins/flat*.ts, issue 10 item 10)
// are honest only if they compute what the kernels compute. Random histories
// over six replicas are run on the kernel; every state and delta they pass
// through is collected, and for pairs of them the twin must decode and
// re-encode the kernel's bytes unchanged, and join them to the kernel's
// result byte for byte (and report the same "grew").
import { beforeAll, describe, expect, it } from "vitest";
import { init, AWMap, AWSet, EWFlag, GCounter, GMap, GSet, IVar, LWWRegister, MaxInt, MVRegister, ORSet, PNCounter, Pair, TopK, TwoPSet, decodeState as kernelDecode } from "../dist/host/index.node.js";
import { compactV1 } from "./model/compact.js";
import { Prng } from "./util/prng.js";
import { hex } from "./util/bytes.js";
import { v1Layout } from "../dist/host/crdt/layout.js";
import { awsetFlat } from "../bench/twins/flat-awset.js";
import { ewflagFlat, mvregisterFlat } from "../bench/twins/flat-causalfun.js";
import { orsetFlat } from "../bench/twins/flat-orset.js";
import { lwwmapFlat } from "../bench/twins/flat-lwwmap.js";
import { awmapGCounterFlat } from "../bench/twins/flat-awmap.js";
import { pairFlat } from "../bench/twins/flat-pair.js";
import { ivarFlat, lwwregisterFlat, maxintFlat } from "../bench/twins/flat-single.js";
import { topkFlat } from "../bench/twins/flat-topk.js";
import { gcounter, gset, pncounter, twopset } from "../bench/twins/flat.js";

// The twins speak the expanded layout: format v1's (replica ids inline, whole
// timestamps and keys, version byte 1) with version 3's user values, as the
// kernels parse inside; the kernel writes v3 (docs/format.md). So every kernel
// state and delta is shown to them, and compared with theirs, in that layout
// (v1Layout is the kernel's expansion, in TS), and every twin state reaches
// the kernel as v3 through the TS compaction (test/model/compact.ts): a real
// v1 state holds the old values, which the kernel rewrites.
const asV3 = (b: Uint8Array): Uint8Array => (b.length > 2 && b[2] === 1 ? compactV1(b) : b);
const decodeState = (b: Uint8Array, r: string) => kernelDecode(asV3(b), r);
const asV1 = (b: Uint8Array): Uint8Array => {
  const x = v1Layout(b);
  if (x === b) return b;
  const c = x.slice(); c[2] = 1;
  return c;
};
beforeAll(async () => {
  await init();
  for (const C of [AWMap, AWSet, EWFlag, GCounter, GMap, GSet, IVar, LWWRegister, MaxInt, MVRegister, ORSet, PNCounter, Pair, TopK, TwoPSet]) {
    for (const m of ["encode", "takeDelta", "merge"] as const) {
      let o: any = C.prototype;
      while (o && !Object.prototype.hasOwnProperty.call(o, m)) o = Object.getPrototypeOf(o);
      if (!o || o[`__v1_${m}`]) continue;
      const f = o[m];
      o[m] = m === "merge"
        ? function (this: unknown, x: unknown) { return f.call(this, x instanceof Uint8Array ? asV3(x) : x); }
        : function (this: unknown, ...a: unknown[]) { return asV1(f.apply(this, a)); };
      o[`__v1_${m}`] = true;
    }
  }
});

// merge: the streamed join from canonical bytes (the kernel's merge(bytes)), where a twin has it.
interface Twin<S> { decode(b: Uint8Array): S; encode(s: S): Uint8Array; joinInto(a: S, b: S): boolean; merge?(a: S, bytes: Uint8Array): boolean }
interface Handle { encode(): Uint8Array; takeDelta(): Uint8Array; merge(x: Uint8Array): boolean; dispose(): void }

// fastPath: whether a twin state took the join path for a small delta (AWSet's dot index).
interface Case { twin: Twin<any>; make(r: string): Handle; step(s: Handle, rng: Prng): void; steps: number; fastPath?(s: any): boolean }

const cases: Record<string, Case> = {
  // The first same-algorithm twins (bench/twins/flat.ts): deltas and whole
  // states, so joins take both the point-update and the streaming-merge paths.
  GSet: {
    twin: gset, steps: 60, make: (r) => new GSet<string>(r),
    step(s, rng) { (s as GSet<string>).add("e" + rng.int(80)); },
  },
  TwoPSet: {
    twin: twopset, steps: 60, make: (r) => new TwoPSet<string>(r),
    step(s, rng) {
      const t = s as TwoPSet<string>, e = "e" + rng.int(40);
      if (rng.int(3) < 2 || !t.has(e)) t.add(e); else t.remove(e);
    },
  },
  GCounter: {
    twin: gcounter, steps: 40, make: (r) => new GCounter(r),
    step(s, rng) { (s as GCounter).increment(1 + rng.int(5)); },
  },
  PNCounter: {
    twin: pncounter, steps: 40, make: (r) => new PNCounter(r),
    step(s, rng) { const c = s as PNCounter; if (rng.int(2) === 0) c.increment(1 + rng.int(5)); else c.decrement(1 + rng.int(5)); },
  },
  // 60 elements: states pass 32 live ones, so small deltas take the dot-index path.
  AWSet: {
    twin: awsetFlat, steps: 120, make: (r) => new AWSet<string>(r), fastPath: (s) => s.index !== null,
    step(s, rng) {
      const a = s as AWSet<string>, k = rng.int(8), e = "e" + rng.int(60);
      if (k < 5) a.add(e); else if (k < 7) a.remove(e); else if (rng.int(20) === 0) a.clear(); else a.add(e);
    },
  },
  EWFlag: {
    twin: ewflagFlat, steps: 25, make: (r) => new EWFlag(r),
    step(s, rng) { const f = s as EWFlag; if (rng.int(2) === 0) f.enable(); else f.disable(); },
  },
  MVRegister: {
    twin: mvregisterFlat, steps: 25, make: (r) => new MVRegister<string>(r),
    step(s, rng) { const m = s as MVRegister<string>; if (rng.int(4) < 3) m.set("v" + rng.int(6)); else m.clear(); },
  },
  ORSet: {
    twin: orsetFlat, steps: 80, make: (r) => new ORSet<string>(r),
    step(s, rng) { const o = s as ORSet<string>, e = "e" + rng.int(30); if (rng.int(3) < 2) o.add(e); else o.remove(e); },
  },
  // Few timestamps and values, so ties go to the replica id, then the value.
  "GMap<LWWRegister>": {
    twin: lwwmapFlat, steps: 80, make: (r) => new GMap<unknown>(r, LWWRegister),
    step(s, rng) {
      (s as GMap<unknown>).update("k" + rng.int(40), LWWRegister.ops.set("v" + rng.int(4), 1 + rng.int(5)));
    },
  },
  // 50 keys: the presence passes 32 live keys (the dot-index path), and a
  // removed key's counter stays, hidden, in the values.
  "AWMap<GCounter>": {
    twin: awmapGCounterFlat, steps: 100, make: (r) => new AWMap<unknown>(r, GCounter),
    fastPath: (s) => s.presence.index !== null,
    step(s, rng) {
      const m = s as AWMap<unknown>, k = "k" + rng.int(50);
      if (rng.int(4) < 3) m.update(k, GCounter.ops.increment(1 + rng.int(3))); else m.remove(k);
    },
  },
  "Pair<GCounter, GSet>": {
    twin: pairFlat, steps: 60, make: (r) => new Pair<unknown, unknown>(r, GCounter, GSet),
    step(s, rng) {
      const p = s as Pair<unknown, unknown>;
      if (rng.int(2) === 0) p.updateFirst(GCounter.ops.increment(1 + rng.int(3))); else p.updateSecond(GSet.ops.add("e" + rng.int(40)));
    },
  },
  MaxInt: {
    twin: maxintFlat, steps: 20, make: (r) => new MaxInt(r),
    step(s, rng) { (s as MaxInt).set(rng.int(1000)); },
  },
  IVar: {
    twin: ivarFlat, steps: 20, make: (r) => new IVar<string>(r),
    // Each replica assigns once (a second, different value is refused); replicas differ.
    step(s, rng) { const v = s as IVar<string>; if (v.value === undefined) v.set("v" + rng.int(50)); },
  },
  // Few timestamps and values: ties go to the replica id, then the value.
  LWWRegister: {
    twin: lwwregisterFlat, steps: 20, make: (r) => new LWWRegister<string>(r),
    step(s, rng) { (s as LWWRegister<string>).set("v" + rng.int(4), 1 + rng.int(3)); },
  },
  // k = 10 over 40 ids with few scores: evictions, rank ties broken by id,
  // and whole states of more than 8 entries (the merge path).
  "TopK(10)": {
    twin: topkFlat(10), steps: 60, make: (r) => new TopK<string>(r, 10),
    step(s, rng) { const t = s as TopK<string>; for (let i = rng.int(3); i >= 0; i--) t.add("id" + rng.int(40), rng.int(8)); },
  },
};

// The states and deltas one random history passes through, as bytes.
function history(c: Case, seed: number): Uint8Array[] {
  const rng = new Prng(seed);
  // Six replicas: more writers than the twins' tables start with room for.
  const reps = ["a", "b", "c", "d", "e", "f"].map((r) => c.make(r));
  const seen: Uint8Array[] = [];
  try {
    for (let t = 0; t < c.steps; t++) {
      const i = rng.int(reps.length), j = rng.int(reps.length);
      c.step(reps[i], rng);
      const d = reps[i].takeDelta();
      if (t % 7 === 0) seen.push(d);
      if (i !== j && rng.int(2) === 0) reps[j].merge(d);
      if (i !== j && rng.int(6) === 0) reps[j].merge(reps[i].encode());
      if (t % 11 === 0) seen.push(reps[i].encode());
    }
    for (const r of reps) seen.push(r.encode());
  } finally { for (const r of reps) r.dispose(); }
  return seen;
}

describe("same-algorithm twins agree with the kernels byte for byte", () => {
  for (const [name, c] of Object.entries(cases)) {
    it(`${name}: decode/encode round trip and joins of seeded random histories`, () => {
      let joins = 0, grew = 0, fast = 0;
      for (let seed = 1; seed <= 12; seed++) {
        const states = history(c, seed);
        const rng = new Prng(1000 + seed);
        for (const s of states) expect(hex(c.twin.encode(c.twin.decode(s))), `${name} round trip, seed ${seed}`).toBe(hex(s));
        for (let q = 0; q < 40; q++) {
          const x = states[rng.int(states.length)], y = states[rng.int(states.length)];
          const k = decodeState(x, "z");
          try {
            const kg = k.merge(y);
            const t = c.twin.decode(x);
            const tg = c.twin.joinInto(t, c.twin.decode(y));
            expect(hex(c.twin.encode(t)), `${name} join, seed ${seed}`).toBe(hex(k.encode()));
            expect(tg, `${name} grew, seed ${seed}`).toBe(kg);
            joins++;
            if (kg) grew++;
            if (c.fastPath?.(t)) fast++;
            // And again: idempotent on both sides.
            expect(c.twin.joinInto(t, c.twin.decode(y)), `${name} idempotent, seed ${seed}: ${hex(x)} ⊔ ${hex(y)}`).toBe(false);
            if (c.twin.merge) {
              // Streamed from the bytes: the same state and the same answer.
              const m = c.twin.decode(x);
              expect(c.twin.merge(m, y), `${name} merge grew, seed ${seed}`).toBe(kg);
              expect(hex(c.twin.encode(m)), `${name} merge, seed ${seed}`).toBe(hex(k.encode()));
              // A body cut short or with a byte more is refused, and changes nothing.
              for (const bad of [y.subarray(0, y.length - 1), Uint8Array.from([...y, 0])]) {
                expect(() => c.twin.merge!(m, bad)).toThrow();
                expect(hex(c.twin.encode(m))).toBe(hex(k.encode()));
              }
            }
          } finally { k.dispose(); }
        }
      }
      // The histories must exercise joins that change something.
      expect(joins).toBe(12 * 40);
      expect(grew).toBeGreaterThan(joins / 4);
      if (c.fastPath) expect(fast).toBeGreaterThan(10);
    });
  }

  // Larger states than the histories reach: every table grows many times over.
  it("larger states (thousands of elements, two writers, removals) join as the kernels", () => {
    const N = 3000;
    const built: [string, Twin<any>, Handle, Handle][] = [];
    const aw = [new AWSet<string>("a"), new AWSet<string>("b")] as const;
    aw[0].batch((t) => { for (let i = 0; i < N; i++) t.add("e" + i); });
    aw[1].batch((t) => { for (let i = N / 2; i < 1.5 * N; i++) t.add("e" + i); });
    aw[1].merge(aw[0].encode());
    aw[1].batch((t) => { for (let i = 0; i < N; i += 3) t.remove("e" + i); });
    built.push(["AWSet", awsetFlat, aw[0], aw[1]]);
    const os = [new ORSet<string>("a"), new ORSet<string>("b")] as const;
    os[0].batch((t) => { for (let i = 0; i < N; i++) t.add("e" + i); });
    os[1].batch((t) => { for (let i = N / 2; i < 1.5 * N; i++) t.add("e" + i); });
    os[1].merge(os[0].encode());
    os[1].batch((t) => { for (let i = 0; i < N; i += 3) t.remove("e" + i); });
    built.push(["ORSet", orsetFlat, os[0], os[1]]);
    const gm = [new GMap<unknown>("a", LWWRegister), new GMap<unknown>("b", LWWRegister)] as const;
    gm[0].batch((t) => { for (let i = 0; i < N; i++) t.update("k" + i, LWWRegister.ops.set("a" + i, 10 + (i % 7))); });
    gm[1].batch((t) => { for (let i = N / 2; i < 1.5 * N; i++) t.update("k" + i, LWWRegister.ops.set("b" + i, 10 + (i % 5))); });
    built.push(["GMap<LWWRegister>", lwwmapFlat, gm[0], gm[1]]);
    const am = [new AWMap<unknown>("a", GCounter), new AWMap<unknown>("b", GCounter)] as const;
    am[0].batch((t) => { for (let i = 0; i < N; i++) t.update("k" + i, GCounter.ops.increment(1 + (i % 4))); });
    am[1].batch((t) => { for (let i = N / 2; i < 1.5 * N; i++) t.update("k" + i, GCounter.ops.increment(1)); });
    built.push(["AWMap<GCounter>", awmapGCounterFlat, am[0], am[1]]);
    const ts = [new TwoPSet<string>("a"), new TwoPSet<string>("b")] as const;
    ts[0].batch((t) => { for (let i = 0; i < N; i++) t.add("e" + i); });
    ts[1].merge(ts[0].encode());
    ts[1].batch((t) => { for (let i = 0; i < N; i += 4) t.remove("e" + i); for (let i = N; i < 1.5 * N; i++) t.add("e" + i); });
    built.push(["TwoPSet", twopset, ts[0], ts[1]]);
    try {
      for (const [name, twin, a, b] of built) {
        const ab = a.encode(), bb = b.encode();
        for (const [x, y] of [[ab, bb], [bb, ab]]) {
          const k = decodeState(x, "z");
          try {
            const kg = k.merge(y);
            const t = twin.decode(x);
            expect(hex(twin.encode(t)), name).toBe(hex(x));
            expect(twin.joinInto(t, twin.decode(y)), name).toBe(kg);
            expect(hex(twin.encode(t)), name).toBe(hex(k.encode()));
            if (twin.merge) {
              const m = twin.decode(x);
              expect(twin.merge(m, y), name).toBe(kg);
              expect(hex(twin.encode(m)), name).toBe(hex(k.encode()));
            }
          } finally { k.dispose(); }
        }
      }
    } finally { for (const [, , a, b] of built) { a.dispose(); b.dispose(); } }
  });

  it("the AWSet twin compacts its element table after mass removals, as the kernel, and still agrees", () => {
    const a = new AWSet<string>("a");
    try {
      a.batch((t) => { for (let i = 0; i < 3000; i++) t.add("e" + i); });
      const full = a.encode();
      a.batch((t) => { for (let i = 0; i < 2500; i++) t.remove("e" + i); });
      const thin = a.encode();
      a.batch((t) => { for (let i = 3000; i < 3100; i++) t.add("e" + i); });
      const more = a.encode();
      const s = awsetFlat.decode(full);
      expect(awsetFlat.joinInto(s, awsetFlat.decode(thin))).toBe(true);
      expect(s.elems.count - s.live).toBe(2500); // removed, still interned
      expect(awsetFlat.merge(s, more)).toBe(true);
      expect(s.elems.count).toBe(600); // compacted before the join: 500 live, then 100 new
      expect(hex(awsetFlat.encode(s))).toBe(hex(more));
    } finally { a.dispose(); }
  });

  it("the AWSet twin meets an element of many concurrent dots (sorted, searched) as the kernel", () => {
    const reps = Array.from({ length: 12 }, (_, i) => new AWSet<string>("r" + i));
    try {
      for (const r of reps) { r.add("x"); r.add("y" + r.replica); }
      const c = reps[0].clone(), all = reps[0].clone();
      try {
        c.merge(reps[1]);
        for (const r of reps) all.merge(r);
        const cb = c.encode(), ab = all.encode();
        c.merge(ab);
        for (const [x, y] of [[cb, ab], [ab, cb]]) {
          const k = decodeState(x, "z");
          try {
            k.merge(y);
            const t = awsetFlat.decode(x);
            awsetFlat.joinInto(t, awsetFlat.decode(y));
            expect(hex(awsetFlat.encode(t))).toBe(hex(k.encode()));
            const m = awsetFlat.decode(x);
            awsetFlat.merge(m, y);
            expect(hex(awsetFlat.encode(m))).toBe(hex(k.encode()));
          } finally { k.dispose(); }
        }
        expect(hex(c.encode())).toBe(hex(all.encode()));
      } finally { c.dispose(); all.dispose(); }
    } finally { for (const r of reps) r.dispose(); }
  });

  it("the AWSet twin refuses what the kernel refuses: a byte more, a dot outside the context, one dot on two elements", () => {
    const a = new AWSet<string>("a");
    try {
      a.add("x"); a.add("y"); // context a:2; x has dot (a, 1), y (a, 2), y's last
      const good = a.encode();
      expect(good[good.length - 1]).toBe(2);
      expect(hex(awsetFlat.encode(awsetFlat.decode(good)))).toBe(hex(good));
      const outside = Uint8Array.from(good); outside[outside.length - 1] = 3;
      const twice = Uint8Array.from(good); twice[twice.length - 1] = 1;
      for (const bad of [Uint8Array.from([...good, 0]), outside, twice]) {
        expect(() => decodeState(bad, "z")).toThrow();
        expect(() => awsetFlat.decode(bad)).toThrow();
        const s = awsetFlat.decode(good);
        expect(() => awsetFlat.merge(s, bad)).toThrow();
        expect(hex(awsetFlat.encode(s))).toBe(hex(good));
      }
    } finally { a.dispose(); }
  });
});
