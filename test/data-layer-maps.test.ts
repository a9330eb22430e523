// GMap (flat for LWWRegister values), ORSet and AWMap on the kernels' data
// layer (issue 10): large states join from bytes and encode to exactly the
// canonical bytes a JS model builds; a merge body with a fault late in it
// changes nothing; a capped kernel refuses a batch too large with
// OUT_OF_MEMORY and applies no op of it; disposed states give memory back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init, kernel, AWMap, GCounter, GMap, LWWRegister, ORSet, TrellisError } from "../dist/host/index.node.js";
import { encodeValue } from "../host/crdt/value.js";
import { compareBytes, concatAll as join, varint } from "./util/bytes.js";
import { compactV1 } from "./model/compact.js";

// Whole states as hex (util/bytes hex() abbreviates long ones).
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

beforeAll(async () => { await init(); });
afterAll(async () => { await init(); }); // leave an uncapped kernel behind

const te = new TextEncoder();
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

// The canonical GMap<LWWRegister> state of these writes (key -> [ts, replica, value]).
function lwwMapBytes(writes: Map<string, [number, string, string]>): Uint8Array {
  const rows = [...writes].map(([k, w]) => [encodeValue(k), w] as const).sort((a, b) => compareBytes(a[0], b[0]));
  const parts: ArrayLike<number>[] = [[0x54, 0x52, 1, 12, 6], varint(rows.length)];
  for (const [k, [ts, r, v]] of rows) {
    const rb = te.encode(r), vb = encodeValue(v);
    parts.push(varint(k.length), k, [1], varint(ts), varint(rb.length), rb, varint(vb.length), vb);
  }
  return compactV1(join(parts)); // the expanded layout, compacted (test/model/compact.ts)
}

// The same writes made through the API, on replica r, in one batch.
function lwwMap(r: string, keys: number[], ts: (i: number) => number, val: (i: number) => string): GMap<unknown> {
  const m = new GMap<unknown>(r, LWWRegister);
  m.batch((t) => { for (const i of keys) t.update("k" + i, LWWRegister.ops.set(val(i), ts(i))); });
  return m;
}

function oom(fn: () => unknown): void {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(TrellisError);
  expect((err as TrellisError).code).toBe("OUT_OF_MEMORY");
}

describe("GMap<LWWRegister> (flat layout)", () => {
  it("100k keys from two writers: merge from bytes and encode agree with a JS model", () => {
    const N = 100_000;
    // Timestamps collide on every third key, so the replica id decides there.
    const ts = (i: number) => (i % 3 === 0 ? 7 : 1000 + (i % 5));
    const a = lwwMap("a", range(0, N), ts, (i) => "a" + i);
    const b = lwwMap("b", range(N / 2, N * 1.5), (i) => ts(i) + (i % 2), (i) => "b" + i);
    try {
      const want = new Map<string, [number, string, string]>();
      for (const i of range(0, N)) want.set("k" + i, [ts(i), "a", "a" + i]);
      for (const i of range(N / 2, N * 1.5)) {
        const w: [number, string, string] = [ts(i) + (i % 2), "b", "b" + i];
        const cur = want.get("k" + i);
        if (!cur || cur[0] < w[0] || (cur[0] === w[0])) want.set("k" + i, w); // "b" > "a" breaks ties
      }
      const bb = b.encode();
      expect(a.merge(bb)).toBe(true);
      expect(a.merge(bb)).toBe(false); // idempotent
      expect(a.size).toBe(N * 1.5);
      expect(Buffer.compare(a.encode(), lwwMapBytes(want))).toBe(0);
      expect(a.get("k0")).toBe("a0");
      expect(a.get("k" + (N - 1))).toBe(want.get("k" + (N - 1))![2]);
      expect(a.get("k" + (N * 1.5 - 1))).toBe("b" + (N * 1.5 - 1));
      // Decoding the canonical bytes gives the same state, and a handle join agrees.
      const d = GMap.decode(lwwMapBytes(want), "z");
      const c = lwwMap("a", range(0, N), ts, (i) => "a" + i);
      try {
        expect(c.merge(b)).toBe(true);
        expect(hex(c.encode())).toBe(hex(d.encode()));
      } finally { d.dispose(); c.dispose(); }
    } finally { a.dispose(); b.dispose(); }
  });

  it("overwrites keep the value arena bounded, and setAfter follows the key's own write", () => {
    const m = new GMap<unknown>("w", LWWRegister);
    try {
      const k = kernel();
      const used = () => k.memoryBytes() - k.exports.memoryFree();
      const base = used();
      for (let round = 0; round < 50; round++) {
        m.batch((t) => { for (let i = 0; i < 2000; i++) t.update("k" + i, LWWRegister.ops.setAfter("value " + round + " of a moderate length", 1)); });
        m.takeDelta();
      }
      // 50 rounds of 2,000 overwrites (about 4 MB of values written) are compacted away.
      expect(used() - base).toBeLessThan(1.5 * 2 ** 20);
      expect(m.get("k1999")).toBe("value 49 of a moderate length");
      const bytes = m.encode();
      // setAfter from ts 1: the 50th write of a key is at timestamp 50.
      const back = GMap.decode(bytes, "x");
      try { expect(hex(back.encode())).toBe(hex(bytes)); } finally { back.dispose(); }
      // v3: the one writer "w" in the table, then the base: every key's 50th write, at 50
      expect(hex(bytes.subarray(0, 9))).toBe(hex(new Uint8Array([0x54, 0x52, 3, 12, 6, 1, 1, 0x77, 50])));
    } finally { m.dispose(); }
  });

  it("a merge body that fails late (unsorted key, empty writer, timestamp 2^64 − 1, trailing byte) changes nothing", () => {
    const writes = new Map<string, [number, string, string]>();
    for (const i of range(0, 3000)) writes.set("k" + i, [5, "p", "v" + i]);
    const s = lwwMap("a", range(0, 1000), () => 1, (i) => "x" + i);
    try {
      const before = hex(s.encode());
      const good = lwwMapBytes(writes);
      const rows = [...writes].map(([k]) => encodeValue(k)).sort(compareBytes);
      // The last two keys swapped: the fault is 3,000 entries in.
      const swapped = rows.slice();
      [swapped[rows.length - 1], swapped[rows.length - 2]] = [swapped[rows.length - 2], swapped[rows.length - 1]];
      const entry = (k: Uint8Array, ts: number[], rep: string) => {
        const rb = te.encode(rep), vb = encodeValue("v");
        return [varint(k.length), k, [1], ts, varint(rb.length), rb, varint(vb.length), vb];
      };
      const body = (keys: Uint8Array[], last: (k: Uint8Array) => ArrayLike<number>[]) => compactV1(join([[0x54, 0x52, 1, 12, 6], varint(keys.length),
        ...keys.slice(0, -1).flatMap((k) => entry(k, [5], "p")), ...last(keys[keys.length - 1])]));
      const unsorted = body(swapped, (k) => entry(k, [5], "p"));
      const emptyWriter = body(rows, (k) => entry(k, [5], ""));
      const maxTs = body(rows, (k) => entry(k, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], "p"));
      const trailing = join([good, [0]]);
      for (const [bad, code] of [[unsorted, "NONCANONICAL"], [emptyWriter, "INVALID"], [maxTs, "OVERFLOW"], [trailing, "TRAILING"]] as const) {
        expect(() => s.merge(bad)).toThrow(code);
        expect(hex(s.encode())).toBe(before);
      }
      expect(() => s.merge(new GMap("y", GCounter).encode())).toThrow(/TYPE_MISMATCH/);
      expect(s.merge(good)).toBe(true);
      expect(s.size).toBe(3000);
      expect(s.get("k5")).toBe("v5");
    } finally { s.dispose(); }
  });

  it("a batch of setAfter writes that would pass timestamp 2^64 − 2 is refused whole, not trapped halfway", () => {
    // {"k": ("v" at 2^64 − 3 by "p")}: one setAfter may still follow (at 2^64 − 2), two may not.
    const k = encodeValue("k"), v = encodeValue("v");
    const bytes = compactV1(join([[0x54, 0x52, 1, 12, 6], [1], varint(k.length), k, [1], varint(2n ** 64n - 3n), [1], te.encode("p"), varint(v.length), v]));
    const m = GMap.decode(bytes, "w");
    try {
      const before = hex(m.encode());
      expect(() => m.batch((t) => { t.update("k", LWWRegister.ops.setAfter("a", 0)); t.update("k", LWWRegister.ops.setAfter("b", 0)); })).toThrow(/OVERFLOW/);
      expect(hex(m.encode())).toBe(before);
      m.update("k", LWWRegister.ops.setAfter("c", 0)); // the one that fits
      expect(m.get("k")).toBe("c");
      expect(() => m.update("k", LWWRegister.ops.setAfter("d", 0))).toThrow(/OVERFLOW/);
      expect(m.get("k")).toBe("c");
      const back = GMap.decode(m.encode(), "x"); // still a state that decodes
      back.dispose();
    } finally { m.dispose(); }
  });

  it("memory goes back to the kernel when maps are disposed", () => {
    const k = kernel();
    const used = () => k.memoryBytes() - k.exports.memoryFree();
    // The first round warms the allocators up (the output buffer, the small
    // blocks' pool); each later round must give back all it took.
    let base = 0;
    for (let r = 0; r < 4; r++) {
      if (r === 1) base = used();
      const m = lwwMap("a", range(0, 50_000), () => 1, (i) => "v" + i);
      const g = new GMap<unknown>("b", GMap.of(LWWRegister)); // a generic map of flat maps
      g.update("x", GMap.ops.update("y", LWWRegister.ops.set(1, 1)));
      g.update("x", GMap.ops.update("z", LWWRegister.ops.set("late", 9)));
      g.update("w", GMap.ops.update("y", LWWRegister.ops.set(2, 0)));
      // Flat maps nested in a generic one round-trip and merge from bytes.
      const back = GMap.decode(g.encode(), "c");
      expect(hex(back.encode())).toBe(hex(g.encode()));
      expect(back.merge(g.encode())).toBe(false);
      expect(JSON.stringify([...back.value].map(([k, v]) => [k, [...(v as Map<unknown, unknown>)]]))).toBe('[["w",[["y",2]]],["x",[["y",1],["z","late"]]]]');
      back.dispose();
      m.dispose(); g.dispose();
    }
    expect(used() - base).toBeLessThan(2 ** 20);
  });
});

// The canonical ORSet state: element -> tokens [replica, counter, removed], tokens in canonical order.
function orsetBytes(els: Map<string, [string, number, boolean][]>): Uint8Array { return compactV1(orsetLayout(els)); }

// The same in the expanded layout (test/model/compact.ts).
function orsetLayout(els: Map<string, [string, number, boolean][]>): Uint8Array {
  const rows = [...els].map(([e, ts]) => [encodeValue(e), ts] as const).sort((a, b) => compareBytes(a[0], b[0]));
  const parts: ArrayLike<number>[] = [[0x54, 0x52, 1, 11], varint(rows.length)];
  for (const [e, ts] of rows) {
    parts.push(varint(e.length), e, varint(ts.length));
    const sorted = ts.map(([r, c, x]) => [te.encode(r), c, x] as const).sort((p, q) => compareBytes(p[0], q[0]) || p[1] - q[1]);
    for (const [r, c, x] of sorted) parts.push(varint(r.length), r, varint(c), [x ? 1 : 0]);
  }
  return join(parts);
}

describe("ORSet on the data layer", () => {
  it("adds and removes from two replicas merge from bytes to the canonical state a JS model builds", () => {
    const N = 30_000;
    const a = new ORSet<string>("a"), b = new ORSet<string>("b");
    try {
      a.batch((t) => { for (const i of range(0, N)) t.add("e" + i); });
      a.batch((t) => { for (const i of range(0, N)) if (i % 4 === 0) t.remove("e" + i); });
      b.batch((t) => { for (const i of range(N / 2, N * 1.5)) t.add("e" + i); });
      b.merge(a); // b observes a's tokens, removes some of them and re-adds some
      b.batch((t) => { for (const i of range(0, N)) if (i % 3 === 0) t.remove("e" + i); });
      b.batch((t) => { for (const i of range(0, N)) if (i % 9 === 0) t.add("e" + i); });
      const model = new Map<string, [string, number, boolean][]>();
      let ca = 0, cb = 0;
      const tok = (e: string) => { if (!model.has(e)) model.set(e, []); return model.get(e)!; };
      for (const i of range(0, N)) tok("e" + i).push(["a", ++ca, i % 4 === 0]);
      for (const i of range(N / 2, N * 1.5)) tok("e" + i).push(["b", ++cb, false]);
      for (const i of range(0, N)) if (i % 3 === 0) for (const t of tok("e" + i)) t[2] = true;
      for (const i of range(0, N)) if (i % 9 === 0) tok("e" + i).push(["b", ++cb, false]);
      const want = orsetBytes(model);
      // a merges b's state from its bytes: exactly the model.
      expect(a.merge(b.encode())).toBe(true);
      expect(Buffer.compare(a.encode(), want)).toBe(0);
      expect(Buffer.compare(b.encode(), want)).toBe(0);
      expect(a.merge(want)).toBe(false);
      expect(a.has("e0")).toBe(true);   // re-added after the remove
      expect(a.has("e3")).toBe(false);  // removed by b after it saw a's token
      expect(a.has("e4")).toBe(false);  // removed by a
      expect(a.has("e" + (N + 10))).toBe(true);
      const live = [...model].filter(([, ts]) => ts.some((t) => !t[2])).length;
      expect(a.size).toBe(live);
      const d = ORSet.decode(want, "z");
      try { expect(d.size).toBe(live); expect(hex(d.encode())).toBe(hex(want)); } finally { d.dispose(); }
    } finally { a.dispose(); b.dispose(); }
  });

  it("a merge body that fails late (token order, counter 2^64 − 1, bad flag, trailing byte) changes nothing", () => {
    const s = new ORSet<string>("a");
    try {
      s.batch((t) => { for (const i of range(0, 1000)) t.add("e" + i); });
      s.remove("e1");
      const before = hex(s.encode());
      const model = new Map<string, [string, number, boolean][]>();
      for (const i of range(0, 3000)) model.set("e" + i, [["q", i + 1, false]]);
      const good = orsetBytes(model);
      const last = (tail: ArrayLike<number>[]) => {
        const m2 = new Map(model);
        const keys = [...m2.keys()].map((e) => [e, encodeValue(e)] as const).sort((x, y) => compareBytes(x[1], y[1]));
        const lastKey = keys[keys.length - 1][0];
        m2.delete(lastKey);
        const head = orsetLayout(m2);
        const e = encodeValue(lastKey);
        const body = head.subarray(4);
        // count + 1 (one more element), then the entries, then the bad last one
        const n = m2.size + 1;
        const rest = body.subarray(varint(m2.size).length);
        return compactV1(join([[0x54, 0x52, 1, 11], varint(n), rest, varint(e.length), e, ...tail]));
      };
      const q = te.encode("q");
      const badOrder = last([[2], [1], q, [9], [0], [1], q, [8], [0]]);
      const wraps = last([[1], [1], q, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], [0]]);
      const badFlag = last([[1], [1], q, [9], [2]]);
      const trailing = join([good, [0]]);
      for (const [bad, code] of [[badOrder, "NONCANONICAL"], [wraps, "OVERFLOW"], [badFlag, "INVALID"], [trailing, "TRAILING"]] as const) {
        expect(() => s.merge(bad)).toThrow(code);
        expect(hex(s.encode())).toBe(before);
      }
      expect(s.merge(good)).toBe(true);
      expect(s.size).toBe(3000); // e1 is back: q's token is new
    } finally { s.dispose(); }
  });
});

describe("AWMap over the data-layer GMap", () => {
  it("updates, a concurrent remove and a clear give the add-wins result, and state round-trips", () => {
    const a = new AWMap<unknown>("a", LWWRegister), b = new AWMap<unknown>("b", LWWRegister);
    try {
      a.batch((t) => { for (const i of range(0, 200)) t.update("k" + i, LWWRegister.ops.set("a" + i, 1)); });
      b.merge(a);
      b.remove("k1");                                  // b removes what it saw
      a.update("k1", LWWRegister.ops.set("again", 2)); // a updates concurrently: add wins
      b.remove("k2");
      a.merge(b); b.merge(a);
      expect(hex(a.encode())).toBe(hex(b.encode()));
      expect(a.has("k1")).toBe(true);
      expect(a.get("k1")).toBe("again");
      expect(a.has("k2")).toBe(false);
      expect(a.size).toBe(199);
      b.clear();
      a.merge(b);
      expect(a.size).toBe(0);
      const d = AWMap.decode(a.encode(), "z");
      try { expect(hex(d.encode())).toBe(hex(a.encode())); } finally { d.dispose(); }
    } finally { a.dispose(); b.dispose(); }
  });
});

describe("under a memory cap", () => {
  it("a GMap<LWWRegister> batch too large for the cap fails with OUT_OF_MEMORY and applies no op", async () => {
    await init({ maxMemory: 8 * 2 ** 20 });
    const m = new GMap<unknown>("a", LWWRegister);
    try {
      m.update("first", LWWRegister.ops.set(1, 1));
      m.takeDelta();
      const before = hex(m.encode());
      oom(() => m.batch((t) => { for (let i = 0; i < 300_000; i++) t.update("a fairly long key to fill memory " + i, LWWRegister.ops.set("v" + i, 2)); }));
      expect(hex(m.encode())).toBe(before);
      expect(hex(m.takeDelta())).toBe("5452030c06000000"); // nothing pending
      m.update("second", LWWRegister.ops.set(2, 1));
      expect(m.size).toBe(2);
    } finally { m.dispose(); }
    await init();
  });
});
