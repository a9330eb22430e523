// The Runtime's surface: declaring, updating with ops and descriptors,
// binding, threshold reads (resolve exactly when crossed, never before,
// cancellable), readAny, subscribe, enforceOnce (once), dynamic variables and
// foldDynamic, bindTo, and errors that change nothing.
import { beforeAll, describe, expect, it } from "vitest";
import {
  init, Runtime, TrellisError, DataflowError, AWSet, GSet, GCounter, PNCounter, MaxInt, TopK, GMap, LWWRegister, ORSet,
} from "../dist/host/index.node.js";

beforeAll(async () => { await init(); });

const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  p.then(() => { done = true; }, () => { done = true; });
  for (let i = 0; i < 5; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
  return done;
};

// Two runtimes wired directly: every local delta is bound at the other.
function pair(): [Runtime, Runtime] {
  const a = new Runtime({ replica: "a" }), b = new Runtime({ replica: "b" });
  a.onDelta((id, d, o) => { if (o === "local" && b.has(id)) b.bind(id, d); });
  b.onDelta((id, d, o) => { if (o === "local" && a.has(id)) a.bind(id, d); });
  return [a, b];
}

describe("variables and ops", () => {
  it("declares, updates with static ops and descriptors, queries", () => {
    const rt = new Runtime({ replica: "r" });
    rt.declare("s", AWSet).declare("c", GCounter).declare("m", GMap.of(GCounter)).declare("l", LWWRegister);
    rt.update("s", AWSet.ops.add("x"));
    rt.update("s", [{ add: "y" }, { add: "z" }, { remove: "x" }]);
    rt.update("c", { increment: 3 });
    rt.update("c", {increment: []});
    rt.update("m", { update: ["k", { increment: 2 }] });
    rt.update("l", { set: ["v", 5] });
    expect(rt.query("s")).toEqual(["y", "z"]);
    expect(rt.query("c")).toBe(4);
    expect(rt.query("m")).toEqual(new Map([["k", 2]]));
    expect(rt.query("l")).toBe("v");
    expect(rt.variables().map((v) => [v.id, v.kind])).toEqual([["s", "replicated"], ["c", "replicated"], ["m", "replicated"], ["l", "replicated"]]);
    rt.close();
  });

  it("redeclaring with the same type is a no-op; another type is TYPE_MISMATCH", () => {
    const rt = new Runtime();
    rt.declare("x", GSet);
    rt.update("x", { add: 1 });
    rt.declare("x", GSet);
    expect(rt.query("x")).toEqual([1]);
    expect(() => rt.declare("x", AWSet)).toThrow(expect.objectContaining({ code: "TYPE_MISMATCH" }));
    expect(() => rt.declareDynamic("x", GSet)).toThrow(expect.objectContaining({ code: "PRECONDITION" }));
    rt.close();
  });

  it("bad input gets a typed error and changes nothing", () => {
    const rt = new Runtime();
    rt.declare("s", AWSet).declare("c", GCounter);
    rt.update("s", { add: 1 });
    const before = rt.encode("s");
    expect(() => rt.update("nope", { add: 1 })).toThrow(expect.objectContaining({ code: "NOT_FOUND" }));
    expect(() => rt.update("s", { frobnicate: 1 })).toThrow(TypeError);
    expect(() => rt.update("s", [{ add: 2 }, { add: () => 1 } as never])).toThrow();
    expect(() => rt.update("c", { increment: -1 })).toThrow(RangeError);
    expect(() => rt.bind("s", new Uint8Array([1, 2, 3]))).toThrow(TrellisError);
    expect(() => rt.bind("s", rt.encode("c"))).toThrow(expect.objectContaining({ code: "TYPE_MISMATCH" }));
    expect(() => rt.bind("s", "x" as never)).toThrow(TypeError);
    expect(rt.encode("s")).toEqual(before);
    expect(() => rt.map("s", "s", (x) => x)).toThrow(expect.objectContaining({ code: "PRECONDITION" }));
    expect(() => rt.map("m", "c", (x) => x)).toThrow(expect.objectContaining({ code: "TYPE_MISMATCH" }));
    expect(rt.has("m")).toBe(false);
    rt.close();
    expect(() => rt.query("s")).toThrow(expect.objectContaining({ code: "DISPOSED" }));
  });

  it("bind returns the strict inflation, null when nothing was new", () => {
    const [a, b] = [new Runtime({ replica: "a" }), new Runtime({ replica: "b" })];
    a.declare("s", AWSet); b.declare("s", AWSet);
    a.update("s", [{ add: 1 }, { add: 2 }]);
    b.update("s", { add: 1 });
    expect(b.bind("s", a.encode("s"))).toBeInstanceOf(Uint8Array);
    expect(b.bind("s", a.encode("s"))).toBeNull();
    expect(b.query("s")).toEqual([1, 2]);
    a.close(); b.close();
  });

  it("derived variables are read-only and reject binds", () => {
    const rt = new Runtime();
    rt.declare("s", GSet).map("t", "s", (x) => x);
    expect(() => rt.update("t", { add: 1 })).toThrow(expect.objectContaining({ code: "PRECONDITION" }));
    expect(() => rt.bind("t", new Uint8Array())).toThrow(expect.objectContaining({ code: "PRECONDITION" }));
    rt.close();
  });
});

describe("graphs", () => {
  it("a chain of 60 processes, fan-out and fan-in stay exact under adds and removes", () => {
    const rt = new Runtime();
    rt.declare("src", AWSet).declare("other", ORSet);
    let prev = "src";
    for (let i = 0; i < 60; i++) {
      const id = `c${i}`;
      if (i % 3 === 0) rt.map(id, prev, (x: number) => x + 1);
      else if (i % 3 === 1) rt.filter(id, prev, (x: number) => x % 97 !== 0);
      else rt.union(id, prev, "other");
      prev = id;
    }
    // Fan-out from the chain's middle and the source; fan-in through intersection and product.
    rt.map("half", "c30", (x: number) => Math.floor(x / 2));
    rt.intersection("both", "half", "src");
    rt.product("pairs", "both", "other");
    rt.fold("n", "pairs", PNCounter, () => 1);
    // The same graph recomputed from scratch with plain sets.
    const expected = (src: number[], other: number[]): { end: number[]; both: number[]; n: number } => {
      let cur = new Set(src);
      let both: number[] = [];
      for (let i = 0; i < 60; i++) {
        if (i % 3 === 0) cur = new Set([...cur].map((x) => x + 1));
        else if (i % 3 === 1) cur = new Set([...cur].filter((x) => x % 97 !== 0));
        else cur = new Set([...cur, ...other]);
        if (i === 30) {
          const half = new Set([...cur].map((x) => Math.floor(x / 2)));
          both = src.filter((x) => half.has(x)).sort((a, b) => a - b);
        }
      }
      return { end: [...cur].sort((a, b) => a - b), both, n: both.length * new Set(other).size };
    };
    let src: number[] = [], other: number[] = [];
    for (let round = 0; round < 40; round++) {
      const x = (round * 37) % 120;
      if (round % 4 === 3 && src.length > 0) { const v = src[round % src.length]; rt.update("src", { remove: v }); src = src.filter((y) => y !== v); }
      else if (round % 5 === 4) { rt.update("other", { add: x }); other = [...new Set([...other, x])]; }
      else { rt.update("src", { add: x }); src = [...new Set([...src, x])]; }
      const want = expected(src, other);
      const sortNum = (xs: unknown) => [...(xs as number[])].sort((a, b) => a - b);
      expect(sortNum(rt.query("c59"))).toEqual(want.end);
      expect(sortNum(rt.query("both"))).toEqual(want.both);
      expect(rt.query("n")).toBe(want.n);
    }
    rt.close();
  });
});

describe("user functions", () => {
  it("a throwing map is reported with the variable's id and leaves every state as it was", () => {
    const rt = new Runtime();
    rt.declare("s", AWSet).declare("other", AWSet);
    rt.product("p", "s", "other");
    rt.map("m", "p", ([x, y]: [number, number]) => { if (x === 13) throw new Error("unlucky"); return x + y; });
    rt.fold("sum", "m", PNCounter, (v: number) => v);
    rt.update("other", [{ add: 1 }, { add: 2 }]);
    rt.update("s", { add: 5 });
    const before = { s: rt.encode("s"), other: rt.encode("other"), m: rt.query("m"), sum: rt.query("sum") };
    let err: unknown;
    try { rt.update("s", [{ add: 6 }, { add: 13 }]); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(DataflowError);
    expect(err).toMatchObject({ code: "USER_FUNCTION", variable: "m" });
    expect((err as Error).message).toMatch(/m: map function threw: unlucky/);
    expect(rt.encode("s")).toEqual(before.s);
    expect(rt.query("m")).toEqual(before.m);
    expect(rt.query("sum")).toBe(before.sum);
    // The same through a bind from another replica, and through the second input of the product.
    const b = new Runtime({ replica: "b" });
    b.declare("s", AWSet).declare("other", AWSet);
    b.update("s", { add: 13 });
    expect(() => rt.bind("s", b.encode("s"))).toThrow(DataflowError);
    expect(rt.encode("s")).toEqual(before.s);
    rt.update("s", { add: 6 });
    // m is a set: {5, 6} × {1, 2} summed pairwise is {6, 7, 8}.
    expect(rt.query("m")).toEqual([6, 7, 8]);
    expect(rt.query("sum")).toBe(6 + 7 + 8);
    b.close(); rt.close();
  });

  it("a function that throws downstream of a bindTo target also leaves the source as it was", () => {
    const rt = new Runtime();
    rt.declare("src", ORSet).declare("dst", ORSet);
    rt.bindTo("dst", "src");
    rt.map("m", "dst", (x: number) => { if (x < 0) throw new Error("negative"); return x * 2; });
    rt.update("src", { add: 1 });
    const before = [rt.encode("src"), rt.encode("dst")];
    expect(() => rt.update("src", { add: -1 })).toThrow(expect.objectContaining({ code: "USER_FUNCTION", variable: "m" }));
    const other = new Runtime({ replica: "o" });
    other.declare("src", ORSet).update("src", { add: -5 });
    expect(() => rt.bind("src", other.encode("src"))).toThrow(expect.objectContaining({ code: "USER_FUNCTION" }));
    expect([rt.encode("src"), rt.encode("dst")]).toEqual(before);
    expect(rt.query("m")).toEqual([2]);
    other.close(); rt.close();
  });

  it("a combinator whose function throws on existing elements is not declared", () => {
    const rt = new Runtime();
    rt.declare("s", GSet).update("s", { add: "bad" });
    expect(() => rt.filter("f", "s", () => { throw new Error("no"); })).toThrow(DataflowError);
    expect(rt.has("f")).toBe(false);
    rt.close();
  });

  it("fold into a GCounter, or a non-group lattice, refuses inputs that can remove", () => {
    const rt = new Runtime();
    rt.declare("aw", AWSet).declare("g", GSet);
    expect(() => rt.fold("x", "aw", GCounter, () => 1)).toThrow(expect.objectContaining({ code: "PRECONDITION" }));
    expect(() => rt.fold("y", "aw", MaxInt, () => ({ set: 1 }))).toThrow(expect.objectContaining({ code: "PRECONDITION" }));
    rt.fold("z", "g", MaxInt, (v: number) => ({ set: v }));
    rt.update("g", [{ add: 4 }, { add: 9 }, { add: 2 }]);
    expect(rt.query("z")).toBe(9);
    rt.close();
  });
});

describe("threshold reads", () => {
  it("resolve exactly when the threshold is crossed, never before", async () => {
    const rt = new Runtime();
    rt.declare("c", GCounter);
    const r = rt.read("c", { atLeast: 3 });
    const strict = rt.read("c", { atLeast: 3 }, { strict: true });
    rt.update("c", { increment: 2 });
    expect(await settled(r)).toBe(false);
    rt.update("c", { increment: 1 });
    expect(await r).toBe(3);
    expect(await settled(strict)).toBe(false);
    rt.update("c", { increment: 1 });
    expect(await strict).toBe(4);
    rt.close();
  });

  it("lattice-state thresholds: ⊑ and strict ⊏", async () => {
    const [a, b] = pair();
    a.declare("s", AWSet); b.declare("s", AWSet);
    const th = new AWSet("t");
    th.add("x").add("y");
    const r = b.read("s", th);
    const c = new Runtime({ replica: "c" });
    c.declare("s", AWSet);
    const rs = c.read("s", th.encode(), { strict: true });
    b.update("s", { add: "x" }); // another dot for x: not above the threshold's state
    expect(await settled(r)).toBe(false);
    b.bind("s", th.encode());
    expect(await r).toEqual(["x", "y"]);
    c.bind("s", th.encode()); // c = th exactly: ⊑ but not ⊏
    expect(await settled(rs)).toBe(false);
    c.update("s", { add: "z" });
    expect(await rs).toEqual(["x", "y", "z"]);
    th.dispose(); a.close(); b.close(); c.close();
  });

  it("size and contains on sets, including derived ones", async () => {
    const rt = new Runtime();
    rt.declare("s", GSet).map("d", "s", (x: number) => x % 3);
    const size = rt.read("d", { size: 2 });
    const has = rt.read("s", { contains: [4, 7] });
    rt.update("s", [{ add: 3 }, { add: 6 }]);
    expect(await settled(size)).toBe(false);
    rt.update("s", { add: 4 });
    expect(await size).toEqual([0, 1]);
    expect(await settled(has)).toBe(false);
    rt.update("s", { add: 7 });
    expect(await has).toEqual([3, 4, 6, 7]);
    await expect(rt.read("s", { atLeast: 1 })).rejects.toMatchObject({ code: "TYPE_MISMATCH" });
    rt.close();
  });

  it("an aborted read rejects with the signal's reason and stops waiting", async () => {
    const rt = new Runtime();
    rt.declare("c", GCounter);
    const ac = new AbortController();
    const r = rt.read("c", { atLeast: 10 }, { signal: ac.signal });
    ac.abort(new Error("gave up"));
    await expect(r).rejects.toThrow("gave up");
    rt.update("c", { increment: 10 }); // nothing left waiting to resolve
    const pre = new AbortController();
    pre.abort();
    await expect(rt.read("c", { atLeast: 1 }, { signal: pre.signal })).rejects.toBeDefined();
    rt.close();
  });

  it("readAny resolves with the first read satisfied", async () => {
    const rt = new Runtime();
    rt.declare("a", GCounter).declare("b", GCounter);
    const r = rt.readAny([["a", { atLeast: 5 }], ["b", { atLeast: 1 }]]);
    rt.update("a", { increment: 2 });
    expect(await settled(r)).toBe(false);
    rt.update("b", { increment: 1 });
    expect(await r).toEqual({ id: "b", value: 1 });
    rt.close();
  });

  it("pending reads reject when the runtime closes", async () => {
    const rt = new Runtime();
    rt.declare("c", GCounter);
    const r = rt.read("c", { atLeast: 1 });
    rt.close();
    await expect(r).rejects.toMatchObject({ code: "DISPOSED" });
  });

  it("reads see remote changes (binds)", async () => {
    const [a, b] = pair();
    a.declare("c", GCounter); b.declare("c", GCounter);
    const r = b.read("c", { atLeast: 2 });
    a.update("c", { increment: 2 });
    expect(await r).toBe(2);
    a.close(); b.close();
  });
});

describe("subscribe", () => {
  it("calls back after each change of the variable, until unsubscribed", () => {
    const rt = new Runtime();
    rt.declare("s", GSet).map("d", "s", (x: number) => x * 2);
    const seen: unknown[] = [];
    const off = rt.subscribe("d", (v) => seen.push(v));
    rt.update("s", { add: 1 });
    rt.update("s", { add: 2 });
    off();
    rt.update("s", { add: 3 });
    expect(seen).toEqual([[2], [2, 4]]);
    rt.close();
  });
});

describe("enforceOnce", () => {
  it("only the trusted node runs the action, once, even as updates keep coming", async () => {
    const [a, b] = pair();
    const trusted = new Runtime({ replica: "t", trusted: true });
    for (const rt of [a, b, trusted]) rt.declare("c", GCounter);
    a.onDelta((id, d, o) => { if (o === "local") trusted.bind(id, d); });
    b.onDelta((id, d, o) => { if (o === "local") trusted.bind(id, d); });
    let runs = 0;
    const ran = [a, b, trusted].map((rt) => rt.enforceOnce("c", { atLeast: 5 }, () => { runs++; }));
    const again = trusted.enforceOnce("c", { atLeast: 5 }, () => { runs++; });
    for (let i = 0; i < 10; i++) (i % 2 ? a : b).update("c", { increment: 1 });
    expect(await Promise.all(ran)).toEqual([false, false, true]);
    expect(await again).toBe(false);
    expect(runs).toBe(1);
    a.close(); b.close(); trusted.close();
  });

  it("a durable record keeps it from running again after a restart", async () => {
    const record = new Set<string>();
    const once = { has: (k: string) => record.has(k), add: (k: string) => { record.add(k); } };
    let runs = 0;
    for (let restart = 0; restart < 3; restart++) {
      const rt = new Runtime({ replica: "t", trusted: true, once });
      rt.declare("c", GCounter);
      rt.update("c", { increment: 5 });
      await rt.enforceOnce("c", { atLeast: 5 }, () => { runs++; });
      rt.close();
    }
    expect(runs).toBe(1);
  });
});

describe("dynamic variables", () => {
  it("are never emitted as replicated deltas, and foldDynamic combines them across nodes", () => {
    const nodes = ["a", "b", "c"].map((r) => new Runtime({ replica: r }));
    const shipped: string[] = [];
    nodes.forEach((rt, i) => {
      rt.declareDynamic("local", TopK.of(3));
      rt.foldDynamic("global", "local");
      rt.onDelta((id, d, o) => {
        if (o !== "local" || rt.kind(id) !== "replicated") return;
        shipped.push(id);
        nodes.forEach((other, j) => { if (j !== i) other.bind(id, d); });
      });
    });
    nodes[0].update("local", [{ add: ["ann", 10] }, { add: ["bob", 3] }]);
    nodes[1].update("local", [{ add: ["cat", 7] }, { add: ["dan", 12] }]);
    nodes[2].update("local", { add: ["eve", 9] });
    expect(new Set(shipped)).toEqual(new Set(["global"]));
    for (const rt of nodes) {
      expect(rt.query("global")).toEqual([{ id: "dan", score: 12 }, { id: "ann", score: 10 }, { id: "eve", score: 9 }]);
    }
    expect(nodes[0].query("local")).toEqual([{ id: "ann", score: 10 }, { id: "bob", score: 3 }]);
    expect(() => nodes[0].bind("local", nodes[1].encode("local"))).toThrow(expect.objectContaining({ code: "PRECONDITION" }));
    nodes.forEach((rt) => rt.close());
  });

  it("bindTo keeps a target joined with its source and refuses cycles", () => {
    const rt = new Runtime();
    rt.declare("a", ORSet).declare("b", ORSet);
    rt.update("a", { add: 1 });
    rt.bindTo("b", "a");
    rt.update("a", { add: 2 });
    expect(rt.query("b")).toEqual([1, 2]);
    expect(() => rt.bindTo("a", "b")).toThrow(expect.objectContaining({ code: "PRECONDITION" }));
    expect(() => rt.bindTo("b", "b")).toThrow(expect.objectContaining({ code: "PRECONDITION" }));
    rt.close();
  });
});
