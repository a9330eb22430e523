// EWFlag, MVRegister, ORSet, GMap, AWMap, Pair: kernels against their models
// (byte for byte), the lattice laws on states built by random histories on
// three replicas, and the semantics each type promises.
import { describe, expect, it, beforeAll, afterEach } from "vitest";
import fc from "fast-check";
import {
  init, AWMap, AWSet, Crdt, EWFlag, GCounter, GMap, MVRegister, ORSet, Pair, TrellisError, decodeState,
} from "../dist/host/index.node.js";
import type { Value } from "../dist/host/index.node.js";
import { encodeModel } from "./model/common.js";
import type { Fixture } from "./fixtures/fixture.js";
import { fixture as ewflag } from "./fixtures/ewflag.js";
import { fixture as mvregister } from "./fixtures/mvregister.js";
import { fixture as orset } from "./fixtures/orset.js";
import { fixture as gmapGCounter } from "./fixtures/gmap-gcounter.js";
import { fixture as awmapGCounter } from "./fixtures/awmap-gcounter.js";
import { fixture as awmapAWSet } from "./fixtures/awmap-awset.js";
import { fixture as awmapAWMap } from "./fixtures/awmap-awmap-mvregister.js";
import { fixture as pair } from "./fixtures/pair-gcounter-awset.js";
import { fixture as awset } from "./fixtures/awset.js";

beforeAll(async () => { await init(); });

// Every instance a test makes, disposed after it.
let live: Crdt<unknown>[] = [];
const track = <T extends Crdt<unknown>>(x: T): T => { live.push(x); return x; };
afterEach(() => { for (const x of live) x.dispose(); live = []; });

const RUNS = 200;
const REPLICAS = ["r0", "r1", "r2"];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFixture = Fixture<Crdt<any>, any, any>;
type Step = { op: unknown; at: number } | { from: number; to: number };

const stepsArb = (f: AnyFixture) => fc.array(fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: f.op, at: fc.nat(2) }) as fc.Arbitrary<Step> },
  { weight: 1, arbitrary: fc.record({ from: fc.nat(2), to: fc.nat(2) }) as fc.Arbitrary<Step> },
), { maxLength: 14 });

// Runs a history on three kernel replicas and three model replicas side by side.
function run(f: AnyFixture, steps: Step[]) {
  const cs = REPLICAS.map((r) => track(f.make(r)));
  let ms = REPLICAS.map(() => f.model.bottom());
  for (const s of steps) {
    if ("op" in s) { f.apply(cs[s.at], s.op); ms[s.at] = f.model.apply(ms[s.at], s.op, REPLICAS[s.at]); }
    else if (s.from !== s.to) {
      // Ship a delta, as replication would, rather than the full state.
      cs[s.to].merge(cs[s.from].delta(track(cs[s.to].clone())).encode());
      ms = ms.map((m, i) => (i === s.to ? f.model.join(m, ms[s.from]) : m));
    }
  }
  return { cs, ms };
}

const bytes = (x: Crdt<unknown>) => x.encode();
const same = (x: Uint8Array, y: Uint8Array) => Buffer.from(x).equals(Buffer.from(y));
function joined<T extends Crdt<unknown>>(a: T, b: T): T { const x = track(a.clone()); x.merge(b); return x; }

function lawsFor(f: AnyFixture) {
  describe(f.name, () => {
    it("model and kernel agree byte for byte, merged in any order", () => {
      fc.assert(fc.property(stepsArb(f), fc.array(fc.nat(2), { minLength: 3, maxLength: 6 }), (steps, order) => {
        const { cs, ms } = run(f, steps);
        for (let i = 0; i < 3; i++) {
          expect(bytes(cs[i])).toEqual(encodeModel(f.model, ms[i]));
          expect(f.value(cs[i])).toEqual(f.model.value(ms[i]));
        }
        // Every replica receives the others in a random order (with repeats): all converge.
        const finals = REPLICAS.map((_, i) => {
          const x = track(cs[i].clone());
          for (const j of order) x.merge(cs[j]);
          for (let j = 0; j < 3; j++) x.merge(cs[j]);
          return x;
        });
        let m = ms[0];
        for (const j of [...order].reverse()) m = f.model.join(m, ms[j]);
        m = f.model.join(f.model.join(m, ms[1]), ms[2]);
        for (const x of finals) expect(bytes(x)).toEqual(encodeModel(f.model, m));
        expect(f.value(finals[0])).toEqual(f.model.value(m));
      }), { numRuns: RUNS });
    });

    it("join laws, leq, decompose, delta and the codec", () => {
      fc.assert(fc.property(stepsArb(f), (steps) => {
        const { cs: [a, b, c] } = run(f, steps);
        // commutative, associative, idempotent
        expect(bytes(joined(a, b))).toEqual(bytes(joined(b, a)));
        expect(bytes(joined(joined(a, b), c))).toEqual(bytes(joined(a, joined(b, c))));
        expect(bytes(joined(a, a))).toEqual(bytes(a));
        // merge reports change exactly when the bytes change
        const x = track(a.clone());
        const grew = x.merge(b);
        expect(grew).toBe(!same(bytes(x), bytes(a)));
        // leq agrees with join: a ⊑ b iff a ⊔ b = b
        const ab = joined(a, b);
        expect(a.leq(ab)).toBe(true);
        expect(b.leq(ab)).toBe(true);
        expect(a.leq(b)).toBe(same(bytes(ab), bytes(b)));
        expect(b.leq(a)).toBe(same(bytes(ab), bytes(a)));
        // decompose: parts join back to a, each part ≤ a, none redundant
        const parts = a.decompose().map(track);
        const back = track(f.make("r0"));
        for (const p of parts) { back.merge(p); expect(p.leq(a)).toBe(true); expect(p.isBottom).toBe(false); }
        expect(bytes(back)).toEqual(bytes(a));
        if (parts.length <= 12) {
          for (let i = 0; i < parts.length; i++) {
            const rest = track(f.make("r0"));
            parts.forEach((p, j) => { if (j !== i) rest.merge(p); });
            expect(parts[i].leq(rest)).toBe(false);
          }
        }
        // delta(a, b) ⊔ b = a ⊔ b, and a delta of a state below b is bottom
        expect(bytes(joined(track(a.delta(b)), b))).toEqual(bytes(ab));
        expect(track(a.delta(ab)).isBottom).toBe(true);
        // decode(encode(x)) = x
        for (const s of [a, b, c, ab]) {
          const d = track(decodeState(bytes(s)));
          expect(bytes(d)).toEqual(bytes(s));
          expect(d.leq(s) && s.leq(d)).toBe(true);
        }
      }), { numRuns: RUNS });
    });
  });
}

// AWSet is here because AWMap's presence is one (and shares its delta).
describe("lattice laws and models", () => {
  for (const f of [ewflag, mvregister, orset, gmapGCounter, awmapGCounter, awmapAWSet, awmapAWMap, pair, awset] as AnyFixture[]) lawsFor(f);
});

describe("semantics", () => {
  it("EWFlag: a concurrent enable wins over a disable; an observed one loses", () => {
    const a = track(new EWFlag("a").enable());
    const b = track(a.clone("b"));
    b.disable();
    a.enable();
    expect(joined(a, b).value).toBe(true);
    const c = track(joined(a, b));
    c.disable();
    expect(joined(c, a).value).toBe(false);
    expect(track(new EWFlag("x")).value).toBe(false);
  });

  it("MVRegister keeps concurrent values, sorted, and a later set replaces them", () => {
    const a = track(new MVRegister<Value>("a").set("x"));
    const b = track(new MVRegister<Value>("b").set(2));
    const c = track(new MVRegister<Value>("c").set("x")); // the same value twice shows once
    const m = joined(joined(a, b), c);
    expect(m.values()).toEqual([2, "x"]);
    m.set("z");
    expect(m.values()).toEqual(["z"]);
    expect(joined(m, a).values()).toEqual(["z"]);
    m.clear();
    expect(m.values()).toEqual([]);
  });

  it("ORSet: a remove only removes the tokens it observed", () => {
    const a = track(new ORSet<Value>("a").add("x").add("y"));
    const b = track(a.clone("b"));
    b.remove("x");
    a.add("x"); // concurrent: a new token
    const m = joined(a, b);
    expect(m.values()).toEqual(["x", "y"]);
    expect(m.has("x")).toBe(true);
    m.remove("x");
    expect(joined(m, a).has("x")).toBe(false);
    expect(m.size).toBe(1);
    // tokens stay as tombstones: the state still grows
    expect(m.isBottom).toBe(false);
  });

  it("AWMap: an update concurrent with a remove wins; the remove clears what it saw of a causal value", () => {
    const a = track(new AWMap<Value[]>("a", AWSet));
    a.update("k", AWSet.ops.add("old"));
    const b = track(a.clone("b"));
    b.remove("k");
    expect(b.has("k")).toBe(false);
    a.update("k", AWSet.ops.add("new"));
    const m = joined(a, b);
    expect(m.has("k")).toBe(true);
    expect(m.get("k")).toEqual(["new"]);
    // a remove that saw every update removes the key
    m.remove("k");
    expect(m.size).toBe(0);
    expect(m.get("k")).toBeUndefined();
    expect(joined(m, a).has("k")).toBe(false);
  });

  it("AWMap of a non-causal type keeps the hidden value across remove and re-add", () => {
    const m = track(new AWMap<number>("a", GCounter));
    m.update("n", GCounter.ops.increment(5));
    m.remove("n");
    expect(m.value).toEqual(new Map());
    m.update("n", GCounter.ops.increment(1));
    expect(m.get("n")).toBe(6);
  });

  it("nested ops in maps and pairs", () => {
    const g = track(new GMap<Map<Value, number>>("a", AWMap.of(GCounter)));
    g.update("x", AWMap.ops.update("y", GCounter.ops.increment(2)));
    g.update("x", AWMap.ops.update(3, GCounter.ops.increment(1)));
    g.update("z", AWMap.ops.remove("nothing")); // records z with a bottom value
    expect(g.get("x")).toEqual(new Map<Value, number>([[3, 1], ["y", 2]]));
    expect(g.keys()).toEqual(["x", "z"]);
    expect(g.get("z")).toEqual(new Map());
    expect(g.has("q")).toBe(false);
    g.update("x", AWMap.ops.remove("y"));
    expect(g.get("x")).toEqual(new Map([[3, 1]]));

    const p = track(new Pair<number, Map<Value, boolean>>("a", GCounter, GMap.of(EWFlag)));
    p.updateFirst(GCounter.ops.increment(4)).updateSecond(GMap.ops.update("f", EWFlag.ops.enable()));
    expect(p.value).toEqual([4, new Map([["f", true]])]);
    expect(p.first).toBe(4);
    const q = track(new Pair<number, Map<Value, boolean>>("b", GCounter, GMap.of(EWFlag)));
    q.updateFirst(GCounter.ops.increment(1));
    expect(joined(p, q).first).toBe(5);
    expect(() => p.merge(track(new GMap("a", GCounter)) as never)).toThrow(TrellisError); // another type
  });

  it("a bad nested op in a batch changes nothing", () => {
    const g = track(new GMap<number>("a", GCounter));
    expect(() => g.batch((m) => {
      m.update("a", GCounter.ops.increment(1));
      m.update("b", (w) => { w.u8(9); });
    })).toThrow(TrellisError);
    expect(g.isBottom).toBe(true);
  });
});

describe("decode rejects what encode never writes", () => {
  const hdr = (...spec: number[]) => [0x54, 0x52, 1, ...spec];
  const rejects = (b: number[]) => expect(() => decodeState(new Uint8Array(b))).toThrow(TrellisError);
  it("EWFlag: a dot outside its context", () => {
    rejects([...hdr(4), 0, 0, 1, 1, 0x61, 1]);
    const ok = track(decodeState(new Uint8Array([...hdr(4), 1, 1, 0x61, 1, 0, 1, 1, 0x61, 1])) as EWFlag);
    expect(ok.value).toBe(true);
  });
  it("ORSet: a flag other than 0/1, an element without tokens, unsorted tokens", () => {
    rejects([...hdr(11), 1, 1, 0x78, 1, 1, 0x61, 1, 2]);
    rejects([...hdr(11), 1, 1, 0x78, 0]);
    rejects([...hdr(11), 1, 1, 0x78, 2, 1, 0x61, 2, 0, 1, 0x61, 1, 0]);
  });
  it("GMap: keys out of order, duplicate keys, a bad nested body", () => {
    rejects([...hdr(12, 1), 2, 1, 0x62, 0, 1, 0x61, 0]);
    rejects([...hdr(12, 1), 2, 1, 0x61, 0, 1, 0x61, 0]);
    rejects([...hdr(12, 1), 1, 1, 0x61, 1, 1, 0x61, 0]); // GCounter entry with value 0
  });
  it("MVRegister and AWMap: dots outside the context", () => {
    rejects([...hdr(7), 0, 0, 1, 1, 0x61, 1, 1, 0x78]);
    rejects([...hdr(13, 1), 0, 0, 1, 1, 0x6b, 1, 1, 0x61, 1, 0]);
  });
  it("Pair: trailing bytes, and deep nesting is bounded", () => {
    rejects([...hdr(14, 1, 1), 0, 0, 0]);
    const deep = new Array(40).fill(12);
    rejects([...hdr(...deep, 1), 0]);
  });
});
