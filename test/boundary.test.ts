// The small-call fast paths of the Wasm boundary (issue 10, item 8; bench
// boundary group) keep every contract they shortcut: the FinalizationRegistry
// safety net (registered late, at the end of the job) still disposes states
// that are dropped, and never a disposed one whose handle was reused; decode
// picks the right class and spec with or without typeOf; replica ids reach the
// kernel intact whatever their length and script; the kernel's reused handle
// slots, shared specs and lazily made delta-groups behave as before.
import { beforeAll, describe, expect, it } from "vitest";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  init, kernel, decodeState, randomReplica, AWSet, GCounter, GMap, LWWRegister, MaxInt, TopK, TrellisError,
} from "../dist/host/index.node.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let k: ReturnType<typeof kernel>;
beforeAll(async () => { await init(); k = kernel(); });

const live = () => k.exports.liveHandles();
const tick = () => new Promise((r) => setImmediate(r));

// Collects until the kernel's live handles fall to `target` (finalizers run
// between tasks), at most `rounds` times; returns what is left.
async function collectTo(target: number, rounds = 50): Promise<number> {
  for (let i = 0; i < rounds && live() > target; i++) { gc(); await tick(); }
  return live();
}

describe("FinalizationRegistry safety net", () => {
  let bytes: Uint8Array;
  beforeAll(() => { const m = new MaxInt("src"); m.set(42); bytes = m.encode(); m.dispose(); });

  it("disposes states dropped in the job that made them (before their late registration)", async () => {
    const base = live();
    (() => { for (let i = 0; i < 100; i++) MaxInt.decode(bytes, "r"); })();
    expect(live()).toBe(base + 100);
    expect(await collectTo(base)).toBe(base);
  });

  it("disposes states dropped after they were registered, also past the 1024 that register at once", async () => {
    const base = live();
    let keep: MaxInt[] = [];
    for (let i = 0; i < 1500; i++) keep.push(MaxInt.decode(bytes, "r"));
    await tick(); // the end of the job: the rest are registered now
    expect(keep.every((m) => m.value === 42)).toBe(true);
    keep = [];
    expect(await collectTo(base)).toBe(base);
  });

  it("never disposes a state that was disposed, even once its handle is reused", async () => {
    const base = live();
    // a: registered, then disposed; b: disposed before its registration.
    let a: MaxInt | null = MaxInt.decode(bytes, "r");
    await tick();
    a.dispose();
    let b: MaxInt | null = MaxInt.decode(bytes, "r");
    b.dispose();
    // Their handles are free and go to new states, which must survive a and b's collection.
    const keep = [new MaxInt("x"), new MaxInt("y")];
    a = null; b = null;
    for (let i = 0; i < 10; i++) { gc(); await tick(); }
    expect(live()).toBe(base + 2);
    keep[0].set(7); keep[1].set(9);
    expect(keep.map((m) => m.value)).toEqual([7, 9]);
    for (const m of keep) m.dispose();
    expect(live()).toBe(base);
  });
});

describe("decode and create across the boundary", () => {
  it("gives each decode without a replica a fresh 16-hex-digit id", () => {
    const b = new MaxInt("src").encode();
    const ids = new Set<string>();
    for (let i = 0; i < 2000; i++) { const m = MaxInt.decode(b); ids.add(m.replica); m.dispose(); }
    expect(ids.size).toBe(2000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(randomReplica()).not.toBe(randomReplica());
  });

  it("picks the class and the full spec of every type, with parameters or without", () => {
    const states = [new MaxInt("a"), new GCounter("a"), new LWWRegister("a"), new TopK("a", 7), new GMap("a", LWWRegister), new AWSet("a")];
    for (const s of states) {
      const d = decodeState(s.encode(), "b");
      expect(d.constructor).toBe(s.constructor);
      expect(d.spec).toEqual(s.spec);
      expect(d.equals(s)).toBe(true);
      d.dispose(); s.dispose();
    }
    const t = decodeState(new TopK("a", 7).encode()) as TopK;
    expect(t.k).toBe(7);
    t.dispose();
  });

  it("passes replica ids of any length up to 255 bytes and any script to the kernel intact", () => {
    const ids = ["a", "x".repeat(127), "y".repeat(128), "z".repeat(255), "é".repeat(100), "名前", "🙂".repeat(63)];
    for (const id of ids) {
      const r = new LWWRegister<string>(id);
      r.set("v", 5);
      expect(r.writer).toBe(id);
      const d = LWWRegister.decode<string>(new LWWRegister("other").encode(), id);
      d.set("w", 6);
      expect(d.writer).toBe(id);
      r.dispose(); d.dispose();
    }
    expect(() => new MaxInt("z".repeat(256))).toThrow(RangeError);
    expect(() => new MaxInt("é".repeat(128))).toThrow(RangeError);
    expect(() => MaxInt.decode(new MaxInt("a").encode(), 5 as unknown as string)).toThrow(TypeError);
  });

  it("refuses, with a RangeError and no handle made, replica ids the kernel call cannot pass as given", () => {
    const b = new MaxInt("src").encode();
    const base = live();
    expect(() => k.withReplica("decode", new Uint8Array(256), b)).toThrow(RangeError);
    expect(() => k.withReplica("decode", "x".repeat(128), b)).toThrow(RangeError);
    expect(() => k.withReplica("decode", "é", b)).toThrow(RangeError);
    expect(live()).toBe(base);
    const h = k.withReplica("decode", new Uint8Array(255).fill(0x61), b);
    expect(k.tagOf(h)).toBe(3);
    k.exports.dispose(h);
    expect(live()).toBe(base);
  });

  it("keeps each state's replica when ids alternate (the kernel reuses the last id read)", () => {
    const b = new LWWRegister("src").encode();
    const rs = ["A", "B", "A", "AB", "B", "A"].map((id) => LWWRegister.decode<string>(b, id));
    rs.forEach((r, i) => r.set("v" + i, 10 + i));
    expect(rs.map((r) => r.writer)).toEqual(["A", "B", "A", "AB", "B", "A"]);
    for (const r of rs) r.dispose();
  });

  it("reports a bad handle from tagOf as a typed error", () => {
    expect(() => k.tagOf(0)).toThrow(TrellisError);
    expect(k.tagOf(new MaxInt("a")["h" as never] as number)).toBe(3);
  });
});

describe("reused handle slots and lazy delta-groups", () => {
  it("takes an empty delta-group before any op and after each take", () => {
    const m = new MaxInt("a");
    const empty = new MaxInt("z").encode();
    expect(m.takeDelta()).toEqual(empty);
    m.set(5);
    const d = MaxInt.decode(m.takeDelta());
    expect(d.value).toBe(5);
    expect(m.takeDelta()).toEqual(empty);
    d.dispose(); m.dispose();
  });

  it("rolls a failed batch back on a state that never had a delta-group", () => {
    const c = new GCounter("a");
    c.merge(new GCounter("b").encode());
    expect(() => c.batch((s) => { s.increment(2); void s.value; throw new Error("stop"); })).toThrow("stop");
    expect(c.value).toBe(0);
    expect(new GCounter("z").encode()).toEqual(c.takeDelta());
    c.increment(3);
    expect(GCounter.decode(c.takeDelta()).value).toBe(3);
    c.dispose();
  });

  it("keeps a clone's and a delta's states apart from the slot they reuse", () => {
    const a = new GCounter("a"); a.increment(4);
    const tmp = new GCounter("t"); tmp.dispose(); // frees a slot for the clone
    const c = a.clone();
    c.increment(1);
    expect([a.value, c.value]).toEqual([4, 5]);
    const d = c.delta(a);
    expect(d.value).toBe(5);
    expect(d.takeDelta()).toEqual(new GCounter("z").encode());
    for (const x of [a, c, d]) x.dispose();
  });

  it("serves new states from emptied slots after a burst larger than the slot pool", () => {
    const base = live();
    for (let round = 0; round < 2; round++) {
      const xs = Array.from({ length: 3000 }, (_, i) => new LWWRegister<number>(`r${i % 7}`));
      xs.forEach((x, i) => x.set(i, 100 + round));
      expect(live()).toBe(base + 3000);
      expect(xs.every((x, i) => x.value === i && x.writer === `r${i % 7}`)).toBe(true);
      for (const x of xs) x.dispose();
      expect(live()).toBe(base);
    }
  });

  it("holds kernel memory and handles flat over 50,000 decodes and disposes", () => {
    const b = (() => { const r = new LWWRegister("src"); r.set("hello", 1); return r.encode(); })();
    const round = (n: number) => { for (let i = 0; i < n; i++) LWWRegister.decode(b, i % 2 ? "A" : "B").dispose(); };
    const base = live();
    round(5000);
    k.exports.collect();
    const warm = k.memoryBytes();
    round(50_000);
    k.exports.collect();
    expect(live()).toBe(base);
    expect(k.memoryBytes()).toBeLessThanOrEqual(warm + (1 << 20));
  });
});

describe("LWWRegister value read without its writer", () => {
  it("gives the same value as the entry for every kind of value", () => {
    const values = ["", "a", "x".repeat(32), "y".repeat(33), "héllo", "名前", 0, -1, 2 ** 40, 1.5, null, true, false,
      new Uint8Array([1, 2, 3]), [1, "a", [null]], { b: 1, a: "z" }];
    const r = new LWWRegister("a");
    values.forEach((v, i) => {
      r.set(v as never, 100 + i);
      expect(r.value).toEqual(r.entry!.value);
      expect(r.value).toEqual(v);
    });
    r.dispose();
    const unset = new LWWRegister("a");
    expect(unset.value).toBeUndefined();
    unset.dispose();
  });
});
