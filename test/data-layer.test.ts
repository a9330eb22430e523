// The kernels' linear-memory data layer seen from the host (issue 10): a GSet
// or GCounter of a million parts joins, encodes and decodes; local adds in
// any order come out in canonical order; a bad merge body changes nothing,
// however far into the body the fault is.
import { beforeAll, describe, expect, it } from "vitest";
import { init, kernel, GCounter, GMap, GSet, IVar, LWWRegister, MaxInt, TopK, TwoPSet, decodeState } from "../dist/host/index.node.js";
import { encodeValue } from "../host/crdt/value.js";
import { compareBytes, concatAll as join, hex, varint } from "./util/bytes.js";
import { compactV1 } from "./model/compact.js";

beforeAll(async () => { await init(); });

const byBytes = compareBytes;


// The canonical GSet state of these strings, built in JS: the expanded
// layout, compacted to version 3 by the TS compaction (test/model/compact.ts).
function gsetBytes(els: string[]): Uint8Array {
  const enc = els.map((e) => encodeValue(e)).sort(byBytes);
  const parts: ArrayLike<number>[] = [[0x54, 0x52, 1, 8], varint(enc.length)];
  for (const e of enc) parts.push(varint(e.length), e);
  return compactV1(join(parts));
}

const range = (from: number, to: number, p = "k") => Array.from({ length: to - from }, (_, i) => p + (from + i));

describe("GSet on the data layer", () => {
  it("a million elements: join from bytes, encode, decode and point queries agree with a JS model", () => {
    const N = 1_000_000;
    const a = gsetBytes(range(0, N)), b = gsetBytes(range(N / 2, N * 1.5));
    const s = GSet.decode(a, "x");
    try {
      expect(s.size).toBe(N);
      expect(s.merge(b)).toBe(true);
      expect(s.merge(b)).toBe(false); // idempotent
      expect(s.size).toBe(1.5 * N);
      expect(s.has("k0")).toBe(true);
      expect(s.has("k1499999")).toBe(true);
      expect(s.has("k1500000")).toBe(false);
      const want = gsetBytes(range(0, N * 1.5));
      const got = s.encode();
      expect(got.length).toBe(want.length);
      expect(Buffer.compare(got, want)).toBe(0);
    } finally { s.dispose(); }
  });

  it("local adds in any order (hashed, then folded by a merge sort) encode in canonical order", () => {
    const els = range(0, 50_000, "e").map((e, i) => (i % 3 ? e : e + "-" + ((i * 7919) % 50_000)));
    const shuffled = els.slice().reverse(); // not the canonical order
    const s = new GSet("x");
    try {
      s.batch((t) => { for (const e of shuffled) t.add(e); });
      expect(Buffer.compare(s.encode(), gsetBytes(els))).toBe(0);
      s.add("zz"); // a later add goes to the tail again
      s.add("");
      expect(Buffer.compare(s.encode(), gsetBytes([...els, "zz", ""]))).toBe(0);
      expect(s.size).toBe(50_002);
    } finally { s.dispose(); }
  });

  it("a merge body that fails late (unsorted, bad value, trailing byte) changes nothing", () => {
    const s = GSet.decode(gsetBytes(range(0, 1000)), "x");
    try {
      const before = hex(s.encode());
      const good = gsetBytes(range(500, 3000));
      // The last two elements swapped: the fault is 2,500 elements in.
      const enc = range(500, 3000).map((e) => encodeValue(e)).sort(byBytes);
      [enc[enc.length - 1], enc[enc.length - 2]] = [enc[enc.length - 2], enc[enc.length - 1]];
      const unsorted = compactV1(join([[0x54, 0x52, 1, 8], varint(enc.length), ...enc.flatMap((e) => [varint(e.length), e])]));
      const badValue = good.slice();
      badValue[badValue.length - 1] = 0xff; // the last element ("k2999": 06 "k2999" 00) loses its terminator
      const trailing = join([good, [0]]);
      for (const [bad, code] of [[unsorted, "NONCANONICAL"], [badValue, "BAD_VALUE"], [trailing, "TRAILING"]] as const) {
        expect(() => s.merge(bad)).toThrow(code);
        expect(hex(s.encode())).toBe(before);
      }
      expect(() => s.merge(new GCounter("y").encode())).toThrow(/TYPE_MISMATCH/);
      expect(s.merge(good)).toBe(true);
      expect(s.size).toBe(3000);
    } finally { s.dispose(); }
  });
});

describe("GCounter and TwoPSet on the data layer", () => {
  it("a GCounter of a million replicas joins and round-trips", () => {
    const N = 1_000_000;
    const ids = Array.from({ length: N }, (_, i) => "r" + String(i).padStart(7, "0"));
    const parts: ArrayLike<number>[] = [[0x54, 0x52, 1, 1], varint(N)];
    for (const id of ids) parts.push([id.length], new TextEncoder().encode(id), [2]);
    const bytes = join(parts);
    const g = GCounter.decode(bytes, "me");
    try {
      expect(g.value).toBe(2 * N);
      g.increment(5);
      expect(g.value).toBe(2 * N + 5);
      const h = GCounter.decode(g.encode(), "other");
      try {
        expect(h.value).toBe(2 * N + 5);
        expect(h.merge(bytes)).toBe(false);
      } finally { h.dispose(); }
    } finally { g.dispose(); }
  });

  it("TwoPSet keeps a removed element out of the adds list, whatever order adds and removes meet in", () => {
    const a = new TwoPSet("a"), b = new TwoPSet("b");
    try {
      a.add("x"); a.add("y");
      b.merge(a.encode());
      b.remove("x");
      a.add("z");
      a.merge(b.encode());
      b.merge(a.encode());
      expect(a.values()).toEqual(["y", "z"]);
      expect(hex(a.encode())).toBe(hex(b.encode()));
      expect(a.has("x")).toBe(false);
      expect(a.size).toBe(2);
      expect(decodeState(a.encode()).size).toBe(2);
      expect(a.merge(b.encode())).toBe(false);
    } finally { a.dispose(); b.dispose(); }
  });

  it("TwoPSet deltas: an add under a tombstone changes nothing, an element in both lists is refused", () => {
    const x = [3, 5, 1, 0x78]; // the element "x"
    const s = new TwoPSet("a");
    try {
      s.batch((t) => { for (let i = 0; i < 100; i++) t.add("e" + i); });
      s.add("x");
      s.remove("x");
      const before = hex(s.encode());
      expect(s.merge(Uint8Array.from([0x54, 0x52, 1, 9, 1, ...x, 0]))).toBe(false); // adds {x}
      expect(() => s.merge(Uint8Array.from([0x54, 0x52, 1, 9, 1, ...x, 1, ...x]))).toThrow("NONCANONICAL");
      expect(() => s.merge(Uint8Array.from([0x54, 0x52, 1, 9, 1, ...x, 0, 0]))).toThrow("TRAILING");
      expect(hex(s.encode())).toBe(before);
      expect(s.merge(Uint8Array.from([0x54, 0x52, 1, 9, 0, 1, 3, 5, 1, 0x79]))).toBe(true); // removes {y}
      expect(s.has("y")).toBe(false);
      expect(s.size).toBe(100);
    } finally { s.dispose(); }
  });

  it("memory goes back to the kernel when states are disposed", () => {
    const k = kernel();
    const s0 = GSet.decode(gsetBytes(range(0, 200_000)), "x");
    s0.dispose();
    const high = k.memoryBytes();
    for (let i = 0; i < 5; i++) GSet.decode(gsetBytes(range(0, 200_000)), "x").dispose();
    expect(k.memoryBytes()).toBe(high); // reused, not grown
  });
});

// MaxInt and LWWRegister are flat (issue 10, item 8): the state is a few
// fields plus, for the register, one raw block of replica and value bytes.
describe("MaxInt and LWWRegister on the data layer", () => {
  const lww = (ts: number, rep: string, v: string, tail: number[] = []) => {
    const r = new TextEncoder().encode(rep), e = encodeValue(v);
    return join([compactV1(join([[0x54, 0x52, 1, 6, 1], varint(ts), varint(r.length), r, varint(e.length), e])), tail]);
  };

  it("LWWRegister merges from bytes: the greater write wins by (timestamp, replica, value); bad bodies change nothing", () => {
    const r = LWWRegister.decode(lww(5, "b", "m"), "x");
    try {
      expect(r.merge(lww(5, "a", "z"))).toBe(false); // smaller replica loses
      expect(r.merge(lww(5, "b", "a"))).toBe(false); // same writer, smaller value
      expect(r.merge(lww(5, "b", "m"))).toBe(false); // itself
      const before = hex(r.encode());
      expect(() => r.merge(lww(9, "c", "q", [0]))).toThrow("TRAILING");
      expect(() => r.merge(lww(9, "", "q"))).toThrow("INVALID"); // no writer
      expect(() => r.merge(join([[0x54, 0x52, 1, 6, 2]]))).toThrow("INVALID");
      expect(() => r.merge(join([[0x54, 0x52, 1, 6, 1, 9, 1, 0x63, 1, 0xff]]))).toThrow("BAD_VALUE");
      expect(hex(r.encode())).toBe(before);
      expect(r.merge(lww(5, "b", "n"))).toBe(true);
      expect(r.value).toBe("n");
      expect(r.merge(lww(6, "a", "a".repeat(1000)))).toBe(true); // a longer value: the block grows
      expect(r.value).toBe("a".repeat(1000));
      expect(r.writer).toBe("a");
      expect(r.merge(lww(7, "b", "s"))).toBe(true); // and shrinks
      expect(hex(r.encode())).toBe(hex(lww(7, "b", "s")));
      expect(r.merge(join([[0x54, 0x52, 1, 6, 0]]))).toBe(false); // bottom
    } finally { r.dispose(); }
  });

  it("MaxInt merges from bytes and refuses a trailing byte", () => {
    const m = MaxInt.decode(Uint8Array.from([0x54, 0x52, 1, 3, 0x2a]), "x");
    try {
      expect(m.merge(Uint8Array.from([0x54, 0x52, 1, 3, 0x29]))).toBe(false);
      expect(() => m.merge(Uint8Array.from([0x54, 0x52, 1, 3, 0x7f, 0]))).toThrow("TRAILING");
      expect(() => m.merge(Uint8Array.from([0x54, 0x52, 1, 3, 0x80]))).toThrow("TRUNCATED");
      expect(m.value).toBe(42);
      expect(m.merge(Uint8Array.from([0x54, 0x52, 1, 3, 0x2b]))).toBe(true);
      expect(m.value).toBe(43);
    } finally { m.dispose(); }
  });

  it("register memory goes back on dispose, and to the collector from nested registers", () => {
    const k = kernel();
    const big = "v".repeat(100_000);
    const warm = LWWRegister.decode(lww(1, "a", big), "x");
    warm.dispose();
    const high = k.memoryBytes();
    for (let i = 0; i < 200; i++) {
      const r = LWWRegister.decode(lww(i + 1, "a", big), "x");
      r.merge(lww(i + 2, "b", big + "w"));
      r.dispose();
    }
    expect(k.memoryBytes()).toBe(high); // 200 × 200 KB without growing: reused
    // Map values are not freed explicitly: the finalizer returns their blocks.
    for (let i = 0; i < 50; i++) {
      const m = new GMap("x", LWWRegister);
      m.update("k", LWWRegister.ops.set(big + i, 1));
      m.update("k", LWWRegister.ops.set(big + i + "z", 2));
      m.dispose();
      k.exports.collect();
    }
    expect(k.memoryBytes()).toBeLessThanOrEqual(high + 4 * 65536 * 8);
  });
});

describe("IVar on the data layer", () => {
  const iv = (v: string, tail: number[] = []) => {
    const e = encodeValue(v);
    return join([compactV1(join([[0x54, 0x52, 1, 5, 1], varint(e.length), e])), tail]);
  };

  it("merges from bytes (the byte-greater value wins), refuses bad bodies unchanged, and gives memory back", () => {
    const k = kernel();
    const v = IVar.decode(iv("m"), "x");
    try {
      expect(v.merge(iv("a"))).toBe(false);
      expect(v.merge(iv("m"))).toBe(false);
      expect(() => v.merge(iv("z", [0]))).toThrow("TRAILING");
      expect(() => v.merge(Uint8Array.from([0x54, 0x52, 1, 5, 2]))).toThrow("INVALID");
      expect(() => v.merge(Uint8Array.from([0x54, 0x52, 1, 5, 1, 1, 0xff]))).toThrow("BAD_VALUE");
      expect(v.value).toBe("m");
      expect(v.merge(iv("n".repeat(5000)))).toBe(true);
      expect(hex(v.encode())).toBe(hex(iv("n".repeat(5000))));
    } finally { v.dispose(); }
    const big = "v".repeat(100_000);
    IVar.decode(iv(big), "x").dispose();
    const high = k.memoryBytes();
    for (let i = 0; i < 200; i++) {
      const a = new IVar<string>("x");
      a.set(big + i);
      a.merge(iv(big + i + "z"));
      a.dispose();
    }
    expect(k.memoryBytes()).toBe(high);
  });
});

// TopK keeps a run of entries sorted by id (the body's order) over an arena
// of id bytes; a JS model (max score per id, then the k best by rank) checks
// every path: ops one at a time, batches, small merges (one entry at a time)
// and large ones (merge the runs, rank once).
describe("TopK on the data layer", () => {
  type E = { id: string; score: number };
  const rank = (a: E, b: E) => (b.score - a.score) || (Buffer.compare(Buffer.from(encodeValue(a.id)), Buffer.from(encodeValue(b.id))));
  function model(k: number, offers: E[]): E[] {
    const best = new Map<string, number>();
    for (const o of offers) best.set(o.id, Math.max(best.get(o.id) ?? -1, o.score));
    return [...best].map(([id, score]) => ({ id, score })).sort(rank).slice(0, k);
  }
  // A seeded PRNG, so a failure replays.
  function rng(seed: number) { return () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x80000000; }; }

  it("ops, batches and merges of every size agree with a JS model", () => {
    const rnd = rng(7);
    for (const k of [1, 3, 10, 100]) {
      const offers: E[] = Array.from({ length: 600 }, () => ({ id: "p" + Math.floor(rnd() * 300), score: Math.floor(rnd() * 50) }));
      const a = new TopK<string>("a", k), b = new TopK<string>("b", k), c = new TopK<string>("c", k);
      try {
        offers.slice(0, 300).forEach((o) => a.add(o.id, o.score));
        b.batch((t) => { for (const o of offers.slice(300)) t.add(o.id, o.score); });
        expect(a.value).toEqual(model(k, offers.slice(0, 300)));
        expect(b.value).toEqual(model(k, offers.slice(300)));
        c.merge(a.encode());           // into bottom
        c.merge(b.encode());           // a large merge (or small, for k ≤ 8)
        for (const o of offers.slice(0, 40)) { // small merges
          const d = new TopK<string>("d", k);
          try { c.merge(d.add(o.id, o.score + 1).takeDelta()); } finally { d.dispose(); }
        }
        const want = model(k, [...offers, ...offers.slice(0, 40).map((o) => ({ id: o.id, score: o.score + 1 }))]);
        expect(c.value).toEqual(want);
        expect(c.size).toBe(Math.min(k, want.length));
        // The encoding is canonical: a state rebuilt from the model's entries gives the same bytes.
        const d = new TopK<string>("e", k);
        try { d.batch((t) => { for (const e of want) t.add(e.id, e.score); }); expect(hex(d.encode())).toBe(hex(c.encode())); } finally { d.dispose(); }
      } finally { a.dispose(); b.dispose(); c.dispose(); }
    }
  });

  it("a merge body out of order, over k, or with a bad id changes nothing", () => {
    const t = new TopK<string>("a", 2).add("x", 5);
    const ent = (id: string, s: number) => { const e = encodeValue(id); return [...varint(e.length), ...e, ...varint(s)]; };
    const body = (...es: number[][]) => compactV1(Uint8Array.from([0x54, 0x52, 1, 15, 2, es.length, ...es.flat()]));
    try {
      const before = hex(t.encode());
      expect(() => t.merge(body(ent("b", 9), ent("a", 9)))).toThrow("NONCANONICAL");
      expect(() => t.merge(body(ent("a", 9), ent("a", 9)))).toThrow("NONCANONICAL");
      expect(() => t.merge(body(ent("a", 1), ent("b", 1), ent("c", 1)))).toThrow("INVALID");
      expect(() => t.merge(Uint8Array.from([0x54, 0x52, 1, 15, 2, 1, 1, 0xff, 3]))).toThrow("BAD_VALUE");
      expect(() => t.merge(Uint8Array.from([...body(ent("a", 9)), 0]))).toThrow("TRAILING");
      expect(hex(t.encode())).toBe(before);
      expect(t.merge(body(ent("a", 1), ent("y", 7)))).toBe(true); // joined from the bytes: a fills the free slot, then y evicts it
      expect(t.value).toEqual([{ id: "y", score: 7 }, { id: "x", score: 5 }]);
      expect(t.merge(body(ent("b", 4), ent("x", 5)))).toBe(false); // b ranks below the last; x is already 5
    } finally { t.dispose(); }
  });

  it("evictions do not grow memory without bound (the id arena is compacted)", () => {
    const k = kernel();
    const t = new TopK<string>("a", 16);
    try {
      const pad = "i".repeat(1000);
      for (let i = 0; i < 2000; i++) t.add(pad + i, i); // each add evicts the lowest
      const high = k.memoryBytes();
      for (let i = 2000; i < 20000; i++) t.add(pad + i, i);
      expect(k.memoryBytes()).toBe(high); // 18 MB of ids went through 16 slots
      expect(t.value.map((e) => e.score)).toEqual(Array.from({ length: 16 }, (_, j) => 19999 - j));
    } finally { t.dispose(); }
  });
});
