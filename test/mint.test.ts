// Mint lists (assembly/mint.ts, host/replication/mint.ts, docs/abi.md): what
// a delta mints — dots, tokens, counter entries, writes, TopK entries — and
// what its causal contexts cover, per replica, read from hand-made deltas.
import { beforeAll, describe, expect, it } from "vitest";
import { dot, rep, str, strValue3, varint } from "./util/bytes.js";
import { AWSet, GCounter, LWWRegister, ORSet, TrellisError, init } from "../dist/host/index.node.js";
import { mintsByReplica, mintsOf } from "../dist/host/replication/index.js";

beforeAll(async () => { await init(); });

const ctx = (vv: [string, number][], cloud: [string, number][] = []) =>
  [...varint(vv.length), ...vv.flatMap(([r, c]) => dot(r, c)), ...varint(cloud.length), ...cloud.flatMap(([r, c]) => dot(r, c))];
const state = (spec: number[], body: number[]) => Uint8Array.from([0x54, 0x52, 1, ...spec, ...body]);
const key = (s: string) => ({ key: Uint8Array.from(strValue3(s)) });

describe("mintsOf: one hand-made delta per type", () => {
  it("GCounter and PNCounter: counter entries per replica", () => {
    expect(mintsOf(state([1], [2, ...dot("a", 5), ...dot("b", 7)]))).toEqual([
      { kind: "increment", path: [], replica: "a", value: 5n },
      { kind: "increment", path: [], replica: "b", value: 7n },
    ]);
    expect(mintsOf(state([2], [1, ...dot("a", 3), 1, ...dot("b", 2n ** 63n)]))).toEqual([
      { kind: "increment", path: [], replica: "a", value: 3n },
      { kind: "decrement", path: [], replica: "b", value: 2n ** 63n },
    ]);
  });

  it("LWWRegister: the writer and timestamp; MaxInt: the value; TopK: the entries; bottoms: nothing", () => {
    expect(mintsOf(state([6], [1, ...varint(1700), ...rep("w"), ...str("v")]))).toEqual([
      { kind: "write", path: [], replica: "w", timestamp: 1700n },
    ]);
    expect(mintsOf(state([3], varint(9)))).toEqual([{ kind: "max", path: [], value: 9n }]);
    expect(mintsOf(state([15, 3], [2, ...str("ana"), ...varint(120), ...str("ben"), 90]))).toEqual([
      { kind: "topk", path: [], id: Uint8Array.from(strValue3("ana")), score: 120n },
      { kind: "topk", path: [], id: Uint8Array.from(strValue3("ben")), score: 90n },
    ]);
    for (const [spec, body] of [[[3], [0]], [[6], [0]], [[8], [1, ...str("x")]], [[5], [1, ...str("x")]], [[10], [0, 0, 0]]] as number[][][]) {
      expect(mintsOf(state(spec, body))).toEqual([]);
    }
  });

  it("AWSet: the context per replica (version vector and cloud), then the store's dots", () => {
    const d = state([10], [...ctx([["a", 2], ["c", 1]], [["b", 5], ["b", 7], ["c", 3]]), 2, ...str("x"), 1, ...dot("a", 2), ...str("y"), 2, ...dot("b", 5), ...dot("c", 3)]);
    expect(mintsOf(d)).toEqual([
      { kind: "context", path: [], replica: "a", max: 2n, cloud: [] },
      { kind: "context", path: [], replica: "b", max: 0n, cloud: [5n, 7n] },
      { kind: "context", path: [], replica: "c", max: 1n, cloud: [3n] },
      { kind: "dot", path: [], replica: "a", counter: 2n },
      { kind: "dot", path: [], replica: "b", counter: 5n },
      { kind: "dot", path: [], replica: "c", counter: 3n },
    ]);
    const by = mintsByReplica(d);
    expect([...by.keys()]).toEqual(["a", "b", "c"]);
    expect(by.get("b")).toEqual({ dots: [5n], removed: [], increments: [], decrements: [], writes: [], covers: [{ max: 0n, cloud: [5n, 7n] }] });
  });

  it("ORSet tokens with their removed flag; MVRegister and EWFlag dots", () => {
    const or = state([11], [1, ...str("x"), 2, ...dot("a", 1), 0, ...dot("b", 4), 1]);
    expect(mintsOf(or)).toEqual([
      { kind: "token", path: [], replica: "a", counter: 1n, removed: false },
      { kind: "token", path: [], replica: "b", counter: 4n, removed: true },
    ]);
    expect(mintsByReplica(or).get("b")!.removed).toEqual([4n]);
    expect(mintsOf(state([7], [...ctx([["a", 1]]), 1, ...dot("a", 1), ...str("v")]))).toEqual([
      { kind: "context", path: [], replica: "a", max: 1n, cloud: [] },
      { kind: "dot", path: [], replica: "a", counter: 1n },
    ]);
    expect(mintsOf(state([4], [...ctx([], [["e", 4]]), 1, ...dot("e", 4)]))).toEqual([
      { kind: "context", path: [], replica: "e", max: 0n, cloud: [4n] },
      { kind: "dot", path: [], replica: "e", counter: 4n },
    ]);
  });

  it("nested values carry their path: GMap keys, AWMap presence and values, Pair components", () => {
    // GMap<GCounter> {"k": {a: 1}}
    expect(mintsOf(state([12, 1], [1, ...str("k"), 1, ...dot("a", 1)]))).toEqual([
      { kind: "increment", path: [key("k")], replica: "a", value: 1n },
    ]);
    // AWMap<MVRegister>: presence {k: [(a, 1)]}, values {k: ({(a,1)}, [(a, 1) "v"])}
    const am = state([13, 7], [...ctx([["a", 1]]), 1, ...str("k"), 1, ...dot("a", 1), 1, ...str("k"), ...ctx([["a", 1]]), 1, ...dot("a", 1), ...str("v")]);
    expect(mintsOf(am)).toEqual([
      { kind: "context", path: [], replica: "a", max: 1n, cloud: [] },
      { kind: "dot", path: [], replica: "a", counter: 1n },
      { kind: "context", path: [key("k")], replica: "a", max: 1n, cloud: [] },
      { kind: "dot", path: [key("k")], replica: "a", counter: 1n },
    ]);
    // Pair<GCounter, LWWRegister>
    expect(mintsOf(state([14, 1, 6], [1, ...dot("a", 2), 1, 9, ...rep("b"), ...str("v")]))).toEqual([
      { kind: "increment", path: ["first"], replica: "a", value: 2n },
      { kind: "write", path: ["second"], replica: "b", timestamp: 9n },
    ]);
    // GMap<Pair<GCounter, GCounter>> two levels deep
    expect(mintsOf(state([12, 14, 1, 1], [1, ...str("k"), 0, 1, ...dot("z", 4)]))).toEqual([
      { kind: "increment", path: [key("k"), "second"], replica: "z", value: 4n },
    ]);
  });
});

describe("mintsOf on deltas the typed API makes", () => {
  it("an add mints the author's next dot and covers the dots it observed", () => {
    const s = new AWSet("alice").add("x");
    s.takeDelta();
    s.add("x"); // re-add: a new dot, covering the old one
    const by = mintsByReplica(s.takeDelta());
    expect(by.get("alice")!.dots).toEqual([2n]);
    expect(by.get("alice")!.covers).toEqual([{ max: 2n, cloud: [] }]);
    s.dispose();
    const g = new GCounter("bob"); g.increment(3); g.increment(4);
    expect(mintsOf(g.takeDelta())).toEqual([{ kind: "increment", path: [], replica: "bob", value: 7n }]);
    g.dispose();
    const l = new LWWRegister("carol").set("v", 42);
    expect(mintsOf(l.takeDelta())).toEqual([{ kind: "write", path: [], replica: "carol", timestamp: 42n }]);
    l.dispose();
    const o = new ORSet("dan").add("p");
    expect(mintsByReplica(o.takeDelta()).get("dan")!.dots).toEqual([1n]);
    o.dispose();
  });

  it("bytes that do not decode are refused with the decoder's typed error", () => {
    const bad: [Uint8Array, string][] = [
      [Uint8Array.from([0x54, 0x52, 1, 1, 1, 1, 0x61]), "TRUNCATED"],
      [Uint8Array.from([0x54, 0x52, 1, 1, 9, 1, 0x61]), "TOO_LARGE"],
      [Uint8Array.from([0x54, 0x52, 1, 10, ...ctx([["a", 1]]), 0, 0]), "TRAILING"],
      [state([10], [1, 1, 0x61, ...varint(2n ** 64n - 1n), 0, 0]), "OVERFLOW"],
      [Uint8Array.from([0x00]), "TRUNCATED"],
    ];
    for (const [b, code] of bad) {
      let err: unknown;
      try { mintsOf(b); } catch (e) { err = e; }
      expect(err, code).toBeInstanceOf(TrellisError);
      expect((err as TrellisError).code).toBe(code);
    }
  });
});
