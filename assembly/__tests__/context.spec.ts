// The causal pieces of the data layer: DotMap (packed-dot hash map with
// backward-shift deletes), Context (replica table, version vector, cloud),
// SeenDots (duplicate-dot checks) and DotFun (a small sorted dot store), and
// the AWSet built on them refusing what no honest history holds.
import { Reader, Writer } from "../codec";
import { DotMap, Context, SeenDots, DotFun, DotVec, Vec, setCapPages } from "../data/index";
import { T_AWSET } from "../lattice";
import { AWSet } from "../types/awset";
import { E_INVALID, E_OVERFLOW, E_OUT_OF_MEMORY } from "../errors";
import { encodeContext } from "../dots";
import { bytes, readerOf, hexOf, spec, numberValue, takeFreeSpans, releaseAll } from "./helpers";

// A replica id's bytes in a scratch buffer (ASCII).
let scratch: usize = 0;
function b(s: string): usize {
  if (scratch == 0) scratch = heap.alloc(256);
  for (let i = 0; i < s.length; i++) store<u8>(scratch + i, <u8>s.charCodeAt(i));
  return scratch;
}
function rep(c: Context, s: string): i32 { return c.rep(b(s), s.length); }
function hexContext(c: Context): string {
  const w = new Writer();
  const order = new Vec<u32>();
  c.sortedReps(order);
  encodeContext(w, c, order);
  order.free();
  return hexOf(w);
}

describe("DotMap", () => {
  it("puts, finds, overwrites and deletes packed dots", () => {
    const m = new DotMap();
    expect<i32>(m.add(1, 5, 7)).toBe(1);
    expect<i32>(m.add(1, 5, 9)).toBe(0, "present");
    expect<i64>(m.get(1, 5)).toBe(7);
    expect<i64>(m.get(2, 5)).toBe(-1, "other replica");
    expect<i64>(m.get(1, 6)).toBe(-1, "other counter");
    expect<bool>(m.delete(1, 5)).toBe(true);
    expect<bool>(m.delete(1, 5)).toBe(false);
    expect<i32>(m.count).toBe(0);
    m.free();
  });

  it("keeps every dot findable through 1e5 inserts and deleting every other one", () => {
    const m = new DotMap();
    let added = 0;
    for (let i = 0; i < 100_000; i++) added += m.add(<u32>(i & 7), <u64>i + 1, <u32>i);
    expect<i32>(added).toBe(100_000);
    expect<i32>(m.count).toBe(100_000);
    let deleted = 0;
    for (let i = 0; i < 100_000; i += 2) if (m.delete(<u32>(i & 7), <u64>i + 1)) deleted++;
    expect<i32>(deleted).toBe(50_000);
    let ok = true;
    for (let i = 0; i < 100_000; i++) {
      const v = m.get(<u32>(i & 7), <u64>i + 1);
      if ((i & 1) == 0 ? v != -1 : v != <i64>i) ok = false;
    }
    expect<bool>(ok).toBe(true, "deletes by backward shift leave every other dot reachable");
    // Iteration sees exactly the live slots.
    let n = 0;
    for (let s: u32 = 0; s < m.capacity; s++) if (m.usedAt(s)) n++;
    expect<i32>(n).toBe(50_000);
    m.free();
    expect<i32>(m.count).toBe(0);
  });
});

describe("Context", () => {
  it("compacts contiguous dots into the version vector and tracks the top", () => {
    const c = new Context();
    const a = rep(c, "a");
    expect<i32>(c.addDot(a, 1)).toBe(1);
    expect<i32>(c.addDot(a, 3)).toBe(1);
    expect<u64>(c.vvOf(a)).toBe(1);
    expect<u32>(c.ccount.get(a)).toBe(1);
    expect<u64>(c.maxOf(a)).toBe(3, "a cloud dot is the highest seen");
    expect<i32>(c.addDot(a, 2)).toBe(1);
    expect<u64>(c.vvOf(a)).toBe(3);
    expect<u32>(c.ccount.get(a)).toBe(0, "cloud emptied by compaction");
    expect<i32>(c.addDot(a, 2)).toBe(0, "seen");
    expect<u64>(c.size()).toBe(3);
    c.free();
  });

  it("joins across different replica tables, and is commutative and idempotent", () => {
    const x = new Context(), y = new Context();
    const xb = rep(x, "b"), xa = rep(x, "a");
    x.addDot(xa, 1); x.addDot(xa, 2); x.addDot(xb, 4);
    const ya = rep(y, "a"), yc = rep(y, "c");
    y.addDot(yc, 1); y.addDot(ya, 3); y.addDot(ya, 5);
    const xy = new Context(); x.copyTo(xy);
    const yx = new Context(); y.copyTo(yx);
    expect<i32>(xy.join(y)).toBe(1);
    expect<i32>(yx.join(x)).toBe(1);
    expect<string>(hexContext(xy)).toBe(hexContext(yx), "equal bytes whatever the replica indices");
    expect<i32>(xy.join(y)).toBe(0, "idempotent");
    expect<bool>(xy.covers(x) && xy.covers(y)).toBe(true);
    expect<bool>(x.covers(xy)).toBe(false);
    expect<u64>(xy.vvOf(xy.findRep(b("a"), 1))).toBe(3, "a:1..3 contiguous, a:5 in the cloud");
    x.free(); y.free(); xy.free(); yx.free();
  });

  it("a version vector far ahead drops the cloud dots it covers (slot scan)", () => {
    const c = new Context();
    const a = rep(c, "a");
    c.addDot(a, 10); c.addDot(a, 1000); c.addDot(a, 5000);
    const o = new Context();
    const oa = rep(o, "a");
    o.vv.set(oa, 2000); // 2000 counters, 3 cloud dots: found by scanning the slots
    expect<i32>(c.join(o)).toBe(1);
    expect<u64>(c.vvOf(a)).toBe(2000);
    expect<u32>(c.ccount.get(a)).toBe(1, "only a:5000 stays in the cloud");
    expect<bool>(c.has(a, 5000) && c.has(a, 1999) && !c.has(a, 4999)).toBe(true);
    expect<i32>(c.cloud.count).toBe(1);
    c.free(); o.free();
  });

  it("a join refused under a memory cap leaves the context as it was", () => {
    const c = new Context();
    const a = rep(c, "a");
    c.addDot(a, 1);
    const o = new Context();
    const oa = rep(o, "a");
    for (let i = 0; i < 20_000; i++) o.addDot(oa, <u64>(3 + 2 * i)); // 20k cloud dots: 512 KiB of slots
    const before = hexContext(c);
    const held = takeFreeSpans();
    setCapPages(<i32>memory.size() + 9);
    expect<i32>(c.join(o)).toBe(-1);
    setCapPages(0);
    releaseAll(held);
    expect<string>(hexContext(c)).toBe(before);
    expect<i32>(c.join(o)).toBe(1, "the same join once memory is there");
    c.free(); o.free();
  });
});

// A seeded xorshift, so a failure repeats.
let seed: u32 = 0x9e3779b9;
function rnd(n: u32): u32 { seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5; return seed % n; }
const REPS = ["a", "b", "c"];

// A context and its model built from random dots: a flag per (replica
// index into REPS, counter), counters 1..24 (the test reads up to 26).
const SLOTS: i32 = 32;
@inline function slot(ri: i32, k: u64): i32 { return ri * SLOTS + <i32>k; }
function count(m: StaticArray<u8>): i32 { let n = 0; for (let i = 0; i < m.length; i++) n += m[i]; return n; }

function randomPair(c: Context, m: StaticArray<u8>, n: i32): void {
  for (let i = 0; i < n; i++) {
    const ri = rnd(3), k = <u64>(1 + rnd(24));
    c.addDot(rep(c, REPS[ri]), k);
    m[slot(ri, k)] = 1;
  }
}

describe("Context against a set-of-dots model", () => {
  it("join, has, size, covers and canonical bytes agree with the model on 300 random pairs", () => {
    let bad = 0;
    for (let t = 0; t < 300; t++) {
      const x = new Context(), y = new Context();
      const mx = new StaticArray<u8>(3 * SLOTS), my = new StaticArray<u8>(3 * SLOTS);
      randomPair(x, mx, <i32>rnd(30)); randomPair(y, my, <i32>rnd(30));
      let yCoveredByX = true;
      for (let i = 0; i < my.length; i++) if (my[i] != 0 && mx[i] == 0) yCoveredByX = false;
      if (x.covers(y) != yCoveredByX) bad++;
      const grew = x.join(y);
      const before = count(mx);
      for (let i = 0; i < my.length; i++) if (my[i] != 0) mx[i] = 1;
      if ((grew == 1) != (count(mx) > before)) bad++;
      if (x.size() != <u64>count(mx)) bad++;
      for (let ri = 0; ri < 3; ri++) {
        for (let k: u64 = 1; k <= 26; k++) {
          const i = x.findRep(b(REPS[ri]), 1);
          if (x.has(i, k) != (mx[slot(ri, k)] != 0)) bad++;
        }
      }
      // The same dots added in another order (highest replica and counter first) give the same bytes.
      const z = new Context();
      for (let ri = 2; ri >= 0; ri--) for (let k: u64 = 24; k >= 1; k--) if (mx[slot(ri, k)] != 0) z.addDot(rep(z, REPS[ri]), k);
      if (hexContext(z) != hexContext(x)) bad++;
      x.free(); y.free(); z.free();
    }
    expect<i32>(bad).toBe(0);
  });
});

describe("SeenDots", () => {
  it("finds a dot met twice, through the bitmap and through the hash set", () => {
    const c = new Context();
    const a = rep(c, "a"), z = rep(c, "z");
    c.vv.set(a, 100); c.vv.set(z, <u64>1 << 40); // z's range is over the budget: hash set
    const s = new SeenDots();
    expect<bool>(s.init(c, 1 << 12)).toBe(true);
    expect<i32>(s.add(a, 7)).toBe(1);
    expect<i32>(s.add(a, 8)).toBe(1);
    expect<i32>(s.add(a, 7)).toBe(0);
    expect<i32>(s.add(z, <u64>1 << 39)).toBe(1);
    expect<i32>(s.add(z, <u64>1 << 39)).toBe(0);
    expect<i32>(s.bits.len).toBe(2, "100 bits in two words");
    s.free(); c.free();
  });
});

describe("DotFun", () => {
  it("sorts its dots with their values and finds them", () => {
    const f = new DotFun();
    f.reserve(3, 3);
    f.append(2, 1, b("x"), 1);
    f.append(0, 9, b("y"), 1);
    f.append(0, 3, b("z"), 1);
    expect<bool>(f.sort()).toBe(true);
    expect<i32>(f.find(0, 9)).toBe(1);
    expect<u8>(load<u8>(f.valPtr(1))).toBe(<u8>0x79, "y moved with its dot");
    expect<u8>(load<u8>(f.valPtr(0))).toBe(<u8>0x7a);
    expect<i32>(f.find(2, 2)).toBe(-1);
    f.free();
  });
});

// An AWSet op on the integer i: code, then the value (a number) length-prefixed.
function intOp(code: u8, i: i32): Writer {
  const v = new Writer(); numberValue(v, <f64>i);
  const w = new Writer(); w.u8(code); w.varint(<u64>v.pos); w.raw(v.ptr, v.pos);
  return w;
}

function encodeOf(s: AWSet): Writer { const w = new Writer(); s.encode(w); return w; }

// The writer holding the bytes under test: a global, so the collector keeps
// its buffer while a Reader points into it.
let held: Writer = new Writer();

// Decodes an AWSet body built by hand (context, store); returns the error code.
function decodeErr(body: u8[]): i32 {
  held = bytes(body);
  const r = readerOf(held);
  const s = new AWSet(spec(T_AWSET));
  s.decode(r, 0);
  s.free();
  return r.err;
}

describe("AWSet decode accepts only honest states", () => {
  // vv {a: 2}, no cloud; elements the one-byte values null (1) and false (2).
  it("refuses one dot on two elements", () => {
    expect<i32>(decodeErr([1, 1, 0x61, 2, 0, 2, 1, 1, 1, 1, 0x61, 1, 1, 2, 1, 1, 0x61, 1])).toBe(E_INVALID);
    expect<i32>(decodeErr([1, 1, 0x61, 2, 0, 2, 1, 1, 1, 1, 0x61, 1, 1, 2, 1, 1, 0x61, 2])).toBe(0, "two dots, two elements");
  });

  it("refuses a counter whose next op would wrap", () => {
    const top: u8[] = [1, 1, 0x61, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0, 0];
    expect<i32>(decodeErr(top)).toBe(E_OVERFLOW);
  });

  it("elements added and removed do not stay interned past the next joins", () => {
    const s = new AWSet(spec(T_AWSET));
    for (let i = 0; i < 3000; i++) {
      for (let code: u8 = 0; code < 2; code++) { // add the integer i, then remove it
        held = intOp(code, i);
        const d = s.op(readerOf(held), "a", false, 0);
        if (d !== null) { s.join(d); d.free(); }
      }
    }
    expect<i32>(s.size()).toBe(0);
    expect<bool>(s.elems.count <= 1024).toBe(true, "interned: " + s.elems.count.toString());
    // Every add is seen and removed: the context a:1..3000, no element.
    expect<string>(hexOf(encodeOf(s))).toBe("010161b8170000");
    s.free();
  });

  it("a streamed join refused under a memory cap changes nothing", () => {
    const s = new AWSet(spec(T_AWSET));
    held = new Writer();
    const big = held;
    // context {a: 10000}, 10000 elements: the strings "k<i>" (tag 6), one dot each.
    big.varint(1); big.varint(1); big.u8(0x61); big.varint(10_000);
    big.varint(0);
    const els = new Array<string>();
    for (let i = 0; i < 10_000; i++) els.push("k" + i.toString());
    // Byte order of the encoded values: tag, the characters, then 0x00 (a prefix first).
    els.sort((x: string, y: string): i32 => (x < y ? -1 : x > y ? 1 : 0));
    big.varint(10_000);
    for (let i = 0; i < els.length; i++) {
      const e = els[i];
      big.varint(<u64>(e.length + 2)); big.u8(6);
      for (let j = 0; j < e.length; j++) big.u8(<u8>e.charCodeAt(j));
      big.u8(0);
      big.varint(1); big.varint(1); big.u8(0x61); big.varint(<u64>(i + 1));
    }
    const hold = takeFreeSpans();
    setCapPages(<i32>memory.size() + 9);
    const r = new Reader(big.ptr, big.ptr + <usize>big.pos);
    expect<i32>(s.joinBody(r)).toBe(-E_OUT_OF_MEMORY);
    setCapPages(0);
    releaseAll(hold);
    expect<bool>(s.isBottom()).toBe(true, "nothing joined");
    expect<i32>(s.joinBody(new Reader(big.ptr, big.ptr + <usize>big.pos))).toBe(1);
    expect<i32>(s.size()).toBe(10_000);
    s.free();
  });
});
