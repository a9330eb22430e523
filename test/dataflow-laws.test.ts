// Every dataflow combinator through the shared morphism checker
// (test/laws.ts): f(a ⊔ b) = f(a) ⊔ f(b) and f(⊥) = ⊥, on random ORSet
// states (whose provenance view is the same lattice: tokens are its dots and
// flags). Binary combinators are morphisms in each argument with the other
// fixed (product is bilinear, not a morphism of the pair), so each side is
// checked against several fixed states. Also: the checker notices a process
// that is not a morphism.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init, ORSet, PNCounter, Runtime, ProvSet } from "../dist/host/index.node.js";
import type { Value } from "../dist/host/index.node.js";
import { checkMorphism, LawOptions } from "./laws.js";
import { fixtureNamed } from "./util/fixtures.js";
import { runs } from "./util/runs.js";

const hash = (v: unknown): number => {
  let h = 2166136261;
  for (const ch of JSON.stringify(v)) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h >>> 0;
};

let rt: Runtime;
let n = 0;
beforeAll(async () => { await init(); rt = new Runtime({ replica: "law" }); });
afterAll(() => rt.close());

const orset = fixtureNamed("ORSet")!;
const opts: LawOptions = { numRuns: runs(300) };
const bottom = { make: () => new ProvSet() };

// The provenance state a combinator produces from the given inputs, in one
// shared runtime so token numbers mean the same thing in every call.
function derive(inputs: ORSet<Value>[], make: (out: string, ins: string[]) => void): ProvSet {
  const ins = inputs.map((x) => { const id = `in${n++}`; rt.declare(id, ORSet); rt.bind(id, x.encode()); return id; });
  const out = `out${n++}`;
  make(out, ins);
  return rt.provenance(out).clone();
}

// Fixed other sides: empty, some present elements, and some removed tokens.
function fixed(): ORSet<Value>[] {
  const a = new ORSet<Value>("fixed-1");
  a.add("a").add(1).add([1, "x"]);
  const b = new ORSet<Value>("fixed-2");
  b.add("b").add("c").add(null).remove("c");
  const c = a.clone("fixed-3");
  c.merge(b);
  c.add("a").remove(1);
  return [new ORSet<Value>("fixed-0"), a, b, c];
}

describe("combinators are lattice morphisms", () => {
  it("map", () => {
    checkMorphism((x: ORSet<Value>) => derive([x], (o, [i]) => rt.map(o, i, (v) => hash(v) % 3)), orset, bottom, opts);
  });
  it("map to structured values", () => {
    checkMorphism((x: ORSet<Value>) => derive([x], (o, [i]) => rt.map(o, i, (v) => ({ h: hash(v) % 2, v }))), orset, bottom, opts);
  });
  it("filter", () => {
    checkMorphism((x: ORSet<Value>) => derive([x], (o, [i]) => rt.filter(o, i, (v) => hash(v) % 2 === 0)), orset, bottom, opts);
  });
  it("map after filter (a chain)", () => {
    checkMorphism((x: ORSet<Value>) => derive([x], (o, [i]) => {
      rt.filter(o + "f", i, (v) => hash(v) % 3 !== 0);
      rt.map(o, o + "f", (v) => hash(v) % 4);
    }), orset, bottom, opts);
  });
  for (const [name, f] of [
    ["union", (o: string, a: string, b: string) => rt.union(o, a, b)],
    ["product", (o: string, a: string, b: string) => rt.product(o, a, b)],
    ["intersection", (o: string, a: string, b: string) => rt.intersection(o, a, b)],
  ] as const) {
    it(`${name}, in its first argument`, () => {
      for (const other of fixed()) {
        checkMorphism((x: ORSet<Value>) => derive([x, other], (o, [a, b]) => f(o, a, b)), orset, bottom, { numRuns: runs(100), preservesBottom: name !== "union" });
      }
    });
    it(`${name}, in its second argument`, () => {
      for (const other of fixed()) {
        checkMorphism((x: ORSet<Value>) => derive([other, x], (o, [a, b]) => f(o, a, b)), orset, bottom, { numRuns: runs(100), preservesBottom: name !== "union" });
      }
    });
  }
  it("fold into a counter: its state is the input's provenance with f(x) attached; the sum reads it", () => {
    // The part of fold that must be a morphism is the annotation x ↦ (x, f(x)).
    checkMorphism((x: ORSet<Value>) => derive([x], (o, [i]) => rt.map(o, i, (v) => [v, hash(v) % 5])), orset, bottom, opts);
    // And the sum it maintains incrementally is Σ f over what is present.
    for (let k = 0; k < 50; k++) {
      const s = new ORSet<Value>(`r${k}`);
      for (let j = 0; j < 10; j++) { const v = (hash([k, j]) % 7) as Value; if (hash([j, k]) % 3 === 0) s.remove(v); else s.add(v); }
      const id = `fold-in${n++}`;
      rt.declare(id, ORSet);
      rt.fold(id + "sum", id, PNCounter, (v) => (v as number) - 3);
      rt.bind(id, s.encode());
      expect(rt.query(id + "sum")).toBe(s.values().reduce((t: number, v) => t + (v as number) - 3, 0));
      s.dispose();
    }
  });
  it("the checker rejects a process that is not a morphism", () => {
    // "Keep only the last present element" depends on the whole state, not on each token.
    const last = (x: ORSet<Value>): ProvSet => {
      const vs = x.values();
      const y = new ORSet<Value>("last");
      if (vs.length > 0) y.add(vs[vs.length - 1]);
      const p = derive([y], (o, [i]) => rt.map(o, i, (v) => v));
      y.dispose();
      return p;
    };
    expect(() => checkMorphism(last, orset, bottom, { numRuns: 300 })).toThrow(/morphism/);
  });
});
