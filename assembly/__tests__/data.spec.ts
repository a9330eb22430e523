// The linear-memory data layer (assembly/data): every structure's insert,
// lookup, growth, iteration and free, hash collisions, empty strings, 1e5
// entries, and allocation refused under a memory cap.
import {
  Vec, ByteTable, Run, DotVec, hashBytes, compareBytes, compareFast, copyBytes, isAscii, equalBytes, sortedIndex,
  setCapPages, alloc, resize, release, entrySize, spanFreeBytes, LARGE,
} from "../data/index";
import { setHashSeed } from "../data/hash";

// A scratch string's bytes: ASCII only, one byte per char.
let scratch: usize = 0;
let scratchCap: i32 = 0;
function b(s: string): usize {
  if (s.length + 1 > scratchCap) { scratchCap = s.length + 64; scratch = heap.alloc(<usize>scratchCap); }
  for (let i = 0; i < s.length; i++) store<u8>(scratch + i, <u8>s.charCodeAt(i));
  return scratch;
}
function key(t: ByteTable, i: i32): string {
  let s = "";
  for (let j: usize = 0; j < t.keyLen(i); j++) s += String.fromCharCode(load<u8>(t.keyPtr(i) + j));
  return s;
}
// "k" + decimal i in the scratch buffer, without allocating a string; returns its length.
function kb(i: i32): i32 {
  b("k0000000000");
  let n = 1, d = 1;
  while (d * 10 <= i) { d *= 10; n++; }
  for (let j = n; j >= 1; j--) { store<u8>(scratch + j, <u8>(48 + i % 10)); i /= 10; }
  return n + 1;
}
function add(t: ByteTable, s: string): i32 { return t.add(b(s), s.length); }
function find(t: ByteTable, s: string): i32 { return t.find(b(s), s.length); }

describe("hashBytes", () => {
  it("is deterministic and depends on every byte and the length", () => {
    const p = heap.alloc(32);
    memory.fill(p, 7, 32);
    const h = hashBytes(p, 32);
    expect<u64>(hashBytes(p, 32)).toBe(h);
    for (let i = 0; i < 32; i++) {
      store<u8>(p + i, 8);
      expect<bool>(hashBytes(p, 32) != h).toBe(true, "byte " + i.toString());
      store<u8>(p + i, 7);
    }
    expect<bool>(hashBytes(p, 31) != h).toBe(true);
    expect<bool>(hashBytes(p, 0) != hashBytes(p, 1)).toBe(true);
    heap.free(p);
  });
  it("spreads short sequential keys over the low bits", () => {
    // 4096 keys k0..k4095 into 4096 buckets: a fair hash fills about 63%.
    const seen = new StaticArray<u8>(4096);
    let used = 0;
    for (let i = 0; i < 4096; i++) {
      const s = "k" + i.toString();
      const bucket = <i32>(hashBytes(b(s), s.length) & 4095);
      if (seen[bucket] == 0) { seen[bucket] = 1; used++; }
    }
    expect<bool>(used > 2400 && used < 2800).toBe(true, "buckets used: " + used.toString());
  });
});

describe("compareBytes", () => {
  it("orders by bytes, then by length", () => {
    const p = heap.alloc(16), q = heap.alloc(16);
    for (let i = 0; i < 16; i++) { store<u8>(p + i, <u8>i); store<u8>(q + i, <u8>i); }
    expect<i32>(compareBytes(p, 16, q, 16)).toBe(0);
    expect<bool>(compareBytes(p, 15, q, 16) < 0).toBe(true);
    expect<bool>(compareBytes(p, 16, q, 15) > 0).toBe(true);
    expect<i32>(compareBytes(p, 0, q, 0)).toBe(0);
    store<u8>(q + 12, 200);
    expect<bool>(compareBytes(p, 16, q, 16) < 0).toBe(true);
    expect<bool>(compareBytes(q, 16, p, 16) > 0).toBe(true);
    expect<bool>(equalBytes(p, 12, q, 12)).toBe(true);
    expect<bool>(equalBytes(p, 13, q, 13)).toBe(false);
    heap.free(p); heap.free(q);
  });
});

describe("Vec", () => {
  it("pushes, grows, reads back, copies and frees", () => {
    const v = new Vec<u64>();
    for (let i = 0; i < 100000; i++) expect<bool>(v.push(<u64>i * 3)).toBe(true);
    expect<i32>(v.len).toBe(100000);
    expect<bool>(v.cap >= 100000).toBe(true);
    let ok = true;
    for (let i = 0; i < 100000; i++) if (v.get(i) != <u64>i * 3) ok = false;
    expect<bool>(ok).toBe(true);
    const c = new Vec<u64>();
    expect<bool>(v.copyTo(c)).toBe(true);
    expect<u64>(c.get(99999)).toBe(299997);
    v.free();
    expect<i32>(v.len).toBe(0);
    expect<usize>(v.ptr).toBe(0);
    v.free(); // idempotent
    expect<u64>(c.get(5)).toBe(15, "the copy owns its memory");
    c.free();
  });
  it("appends raw bytes into a u8 arena", () => {
    const a = new Vec<u8>();
    for (let i = 0; i < 1000; i++) expect<bool>(a.append(b("abc"), 3)).toBe(true);
    expect<i32>(a.len).toBe(3000);
    expect<u8>(load<u8>(a.ptr + 2998)).toBe(<u8>98);
    a.free();
  });
  it("refuses absurd reservations without changing anything", () => {
    const v = new Vec<u32>();
    v.push(1);
    expect<bool>(v.reserve(0x4000_0000)).toBe(false);
    expect<bool>(v.reserve(-1)).toBe(false);
    expect<i32>(v.len).toBe(1);
    expect<u32>(v.get(0)).toBe(1);
    v.free();
  });
});

describe("ByteTable", () => {
  it("interns keys: same key same index, new keys the next index", () => {
    const t = new ByteTable();
    expect<i32>(find(t, "a")).toBe(-1, "empty table");
    expect<i32>(add(t, "a")).toBe(0);
    expect<bool>(t.added).toBe(true);
    expect<i32>(add(t, "b")).toBe(1);
    expect<i32>(add(t, "a")).toBe(0);
    expect<bool>(t.added).toBe(false);
    expect<i32>(t.count).toBe(2);
    expect<i32>(find(t, "b")).toBe(1);
    expect<i32>(find(t, "c")).toBe(-1);
    expect<string>(key(t, 1)).toBe("b");
    t.free();
  });
  it("holds the empty string as a key like any other", () => {
    const t = new ByteTable();
    expect<i32>(find(t, "")).toBe(-1);
    add(t, "x");
    expect<i32>(find(t, "")).toBe(-1);
    expect<i32>(add(t, "")).toBe(1);
    expect<i32>(find(t, "")).toBe(1);
    expect<i32>(<i32>t.keyLen(1)).toBe(0);
    expect<i32>(add(t, "")).toBe(1);
    expect<i32>(t.count).toBe(2);
    t.free();
  });
  it("keeps keys apart when their slots collide (tiny table, many keys)", () => {
    // 12 keys in 16 slots: linear probing must chain past every collision.
    const t = new ByteTable();
    for (let i = 0; i < 12; i++) add(t, "key" + i.toString());
    expect<u32>(t.mask).toBe(15);
    for (let i = 0; i < 12; i++) expect<i32>(find(t, "key" + i.toString())).toBe(i);
    expect<i32>(find(t, "key12")).toBe(-1);
    // Keys that differ only past the first word, and prefixes of each other.
    const u = new ByteTable();
    add(u, "abcdefgh1"); add(u, "abcdefgh2"); add(u, "abcdefgh"); add(u, "abcdefg");
    expect<i32>(find(u, "abcdefgh2")).toBe(1);
    expect<i32>(find(u, "abcdefgh")).toBe(2);
    expect<i32>(find(u, "abcdefg")).toBe(3);
    t.free(); u.free();
  });
  it("grows to 1e5 keys and finds every one; iterating indices lists each once", () => {
    const t = new ByteTable();
    let added = true;
    for (let i = 0; i < 100000; i++) if (t.add(scratch, kb(i)) != i) added = false;
    expect<bool>(added).toBe(true);
    expect<i32>(find(t, "k99999")).toBe(99999, "kb writes what toString does");
    expect<i32>(t.count).toBe(100000);
    expect<bool>(<u64>(t.mask + 1) * 7 >= <u64>t.count * 8).toBe(true, "load factor ≤ 7/8");
    let ok = true;
    for (let i = 0; i < 100000; i++) if (t.find(scratch, kb(i)) != i) ok = false;
    expect<bool>(ok).toBe(true);
    expect<i32>(find(t, "k100000")).toBe(-1);
    let slotsUsed = 0;
    for (let s: u32 = 0; s <= t.mask; s++) if (load<u64>(t.slots + (<usize>s << 3)) != 0) slotsUsed++;
    expect<i32>(slotsUsed).toBe(100000);
    t.free();
    expect<i32>(t.count).toBe(0);
    expect<i32>(find(t, "k1")).toBe(-1, "a freed table is empty");
    expect<i32>(add(t, "k1")).toBe(0, "and usable again");
    t.free();
  });
  it("copies and clears", () => {
    const t = new ByteTable();
    for (let i = 0; i < 50; i++) add(t, "e" + i.toString());
    const c = new ByteTable();
    add(c, "junk");
    expect<bool>(t.copyTo(c)).toBe(true);
    t.free();
    expect<i32>(c.count).toBe(50);
    expect<i32>(find(c, "e49")).toBe(49);
    expect<i32>(find(c, "junk")).toBe(-1);
    c.clear();
    expect<i32>(c.count).toBe(0);
    expect<i32>(find(c, "e1")).toBe(-1);
    expect<i32>(add(c, "z")).toBe(0);
    c.free();
  });
});

describe("sorted runs", () => {
  it("sortedIndex lists a table's keys in byte order", () => {
    const t = new ByteTable();
    const n = 1000;
    for (let i = 0; i < n; i++) add(t, "k" + ((i * 7919) % n).toString());
    add(t, "");
    const idx = new Vec<u32>();
    expect<bool>(sortedIndex(t, idx)).toBe(true);
    expect<i32>(idx.len).toBe(n + 1);
    expect<string>(key(t, <i32>idx.get(0))).toBe("", "the empty string sorts first");
    let ok = true;
    for (let i = 1; i < idx.len; i++) {
      const a = <i32>idx.get(i - 1), c = <i32>idx.get(i);
      if (compareBytes(t.keyPtr(a), t.keyLen(a), t.keyPtr(c), t.keyLen(c)) >= 0) ok = false;
    }
    expect<bool>(ok).toBe(true);
    t.free(); idx.free();
  });
  it("a Run appends entries in order and finds them by binary search", () => {
    const r = new Run();
    const words = ["", "a", "ab", "b", "ba", "zzzzzzzzzz"];
    let bytes = 0;
    for (let i = 0; i < words.length; i++) bytes += <i32>entrySize(words[i].length);
    expect<bool>(r.reserve(words.length, bytes)).toBe(true);
    for (let i = 0; i < words.length; i++) r.appendReserved(b(words[i]), words[i].length);
    expect<i32>(r.count).toBe(6);
    expect<i32>(r.data.len).toBe(bytes);
    for (let i = 0; i < words.length; i++) expect<i32>(r.find(b(words[i]), words[i].length)).toBe(i);
    expect<i32>(r.find(b("aa"), 2)).toBe(-3, "insertion point 2");
    expect<i32>(r.find(b("zzzzzzzzzzz"), 11)).toBe(-7);
    expect<i32>(<i32>r.elemLen(5)).toBe(10);
    expect<u8>(load<u8>(r.data.ptr)).toBe(0, "entry 0: length 0");
    const c = new Run();
    expect<bool>(r.copyTo(c)).toBe(true);
    r.free();
    expect<i32>(c.find(b("ba"), 2)).toBe(4);
    c.free();
  });
});

describe("DotVec", () => {
  it("packs (replica, counter), sorts by both and finds", () => {
    const d = new DotVec();
    for (let i = 0; i < 100000; i++) d.push(<u32>(i % 7), <u64>(100000 - i));
    d.push(3, U64.MAX_VALUE - 1);
    expect<i32>(d.count).toBe(100001);
    expect<bool>(d.sort()).toBe(true);
    let ok = true;
    for (let i = 1; i < d.count; i++) {
      const r0 = d.rep(i - 1), r1 = d.rep(i);
      if (r0 > r1 || (r0 == r1 && d.ctr(i - 1) >= d.ctr(i))) ok = false;
    }
    expect<bool>(ok).toBe(true);
    expect<u32>(d.rep(0)).toBe(0);
    expect<bool>(d.find(3, U64.MAX_VALUE - 1) >= 0).toBe(true);
    expect<bool>(d.find(1, 100000) >= 0).toBe(false, "i=0 went to replica 0");
    expect<bool>(d.find(0, 100000) >= 0).toBe(true);
    d.free();
    expect<i32>(d.count).toBe(0);
  });
});

describe("memory cap", () => {
  it("refuses allocations past the cap with 0, and the structures report failure unchanged", () => {
    const pages = <i32>memory.size();
    setCapPages(pages + 16); // 1 MiB: the 8 pages of headroom plus small blocks
    expect<usize>(alloc(16 << 20)).toBe(0, "16 MiB past a 1 MiB margin");
    const v = new Vec<u64>();
    v.push(42);
    expect<bool>(v.reserve(8 << 20)).toBe(false);
    expect<i32>(v.len).toBe(1);
    expect<u64>(v.get(0)).toBe(42);
    const p = alloc(64);
    expect<bool>(p != 0).toBe(true, "small blocks still fit");
    expect<usize>(resize(p, 64 << 20)).toBe(0);
    store<u64>(p, 7);
    expect<u64>(load<u64>(p)).toBe(7, "a failed resize leaves the block");
    release(p);
    const t = new ByteTable();
    expect<bool>(t.reserve(4 << 20, 0)).toBe(false);
    expect<i32>(add(t, "still works")).toBe(0);
    setCapPages(0);
    expect<bool>(v.reserve(8 << 20)).toBe(true, "cap lifted");
    v.free(); t.free();
  });
});

describe("large blocks (page spans)", () => {
  it("grow memory by the pages a block lacks, not by doubling", () => {
    const before = <i32>memory.size();
    const p = alloc(3 << 20); // 3 MiB: 48 pages and a header
    expect<bool>(p != 0).toBe(true);
    expect<i32>(<i32>memory.size() - before <= 49).toBe(true, "grew " + (<i32>memory.size() - before).toString() + " pages");
    memory.fill(p, 0xab, 3 << 20);
    release(p);
    expect<bool>(spanFreeBytes() >= (3 << 20)).toBe(true, "freed span kept for reuse");
  });

  it("reuse freed spans, coalesce neighbours and split what is left", () => {
    const free0 = spanFreeBytes();
    const size0 = memory.size();
    const a = alloc(LARGE), b = alloc(LARGE), c = alloc(LARGE);
    store<u8>(b, 1);
    release(a); release(c);
    release(b); // joins a and c's spans into one
    const big = alloc(3 * LARGE);
    expect<bool>(big != 0).toBe(true);
    expect<i32>(memory.size()).toBe(size0, "served from freed spans");
    release(big);
    expect<usize>(spanFreeBytes()).toBe(free0, "everything given back");
  });

  it("resize keeps contents, grows in place into free space, and shrinks in place", () => {
    const p = alloc(LARGE);
    for (let i: usize = 0; i < LARGE; i += 8) store<u64>(p + i, i);
    const q = resize(p, 4 * LARGE);
    expect<bool>(q != 0).toBe(true);
    for (let i: usize = 0; i < LARGE; i += 8) expect<u64>(load<u64>(q + i)).toBe(i);
    const r = resize(q, LARGE);
    expect<usize>(r).toBe(q, "shrinks in place");
    expect<u64>(load<u64>(r + 8)).toBe(8);
    const s = resize(r, 2 * LARGE);
    expect<usize>(s).toBe(r, "the tail it gave back is taken again in place");
    release(s);
  });

  it("moves a small block out of the small-block allocator with its contents", () => {
    const p = alloc(100);
    for (let i: usize = 0; i < 100; i++) store<u8>(p + i, <u8>i);
    const q = resize(p, 2 * LARGE);
    expect<bool>(q != 0).toBe(true);
    for (let i: usize = 0; i < 100; i++) expect<u8>(load<u8>(q + i)).toBe(<u8>i);
    release(q);
  });

  it("a table grown past a span rebuilds from its keys and finds every one", () => {
    const t = new ByteTable();
    for (let i = 0; i < 100000; i++) expect<i32>(t.add(scratch, kb(i))).toBe(i);
    for (let i = 0; i < 100000; i++) expect<i32>(t.find(scratch, kb(i))).toBe(i);
    expect<i32>(t.find(b("missing"), 7)).toBe(-1);
    t.free();
  });

  it("under a cap, a large block that does not fit is 0 and memory does not grow", () => {
    const pages = <i32>memory.size();
    setCapPages(pages + 12); // only the 8 pages of headroom and 4 more
    // More than the free spans hold, by 8 pages: growth would pass the cap.
    const p = alloc(spanFreeBytes() + 8 * LARGE);
    expect<usize>(p).toBe(0);
    expect<i32>(<i32>memory.size()).toBe(pages);
    const q = alloc(LARGE); // 2 pages of growth at most: fits
    expect<bool>(q != 0).toBe(true);
    release(q);
    setCapPages(0);
  });
});

describe("merge helpers", () => {
  it("compareFast has compareBytes's sign on every pair, across word boundaries", () => {
    const words = ["", "a", "b", "ab", "abcdefg", "abcdefgh", "abcdefgi", "abcdefgh1", "abcdefgh2", "abcdefghijklmnop",
      "abcdefghijklmnoq", "abcdefghijklmnopq", "\x7f", "\x80", "\xff", "abcdefg\xff", "abcdefg\x01", "\xffbcdefgh"];
    const x = heap.alloc(64), y = heap.alloc(64);
    let agree = true;
    for (let i = 0; i < words.length; i++) {
      for (let j = 0; j < words.length; j++) {
        const s = words[i], t = words[j];
        for (let k = 0; k < s.length; k++) store<u8>(x + k, <u8>s.charCodeAt(k));
        for (let k = 0; k < t.length; k++) store<u8>(y + k, <u8>t.charCodeAt(k));
        const a = compareBytes(x, s.length, y, t.length), f = compareFast(x, s.length, y, t.length);
        if ((a < 0) != (f < 0) || (a == 0) != (f == 0)) agree = false;
      }
    }
    expect<bool>(agree).toBe(true);
    heap.free(x); heap.free(y);
  });
  it("copyBytes copies exactly n bytes, short and long", () => {
    const src = heap.alloc(100), dst = heap.alloc(100);
    for (let i = 0; i < 100; i++) store<u8>(src + i, <u8>(i + 1));
    let ok = true;
    for (let n = 0; n <= 40; n++) {
      memory.fill(dst, 0, 100);
      copyBytes(dst + 1, src, <usize>n);
      if (load<u8>(dst) != 0 || load<u8>(dst + 1 + n) != 0) ok = false; // nothing outside
      for (let i = 0; i < n; i++) if (load<u8>(dst + 1 + i) != <u8>(i + 1)) ok = false;
    }
    expect<bool>(ok).toBe(true);
    heap.free(src); heap.free(dst);
  });
  it("isAscii finds a high byte at any position, or none", () => {
    const p = heap.alloc(40);
    memory.fill(p, 0x61, 40);
    let ok = isAscii(p, 40) && isAscii(p, 0);
    for (let i = 0; i < 20; i++) {
      store<u8>(p + i, 0x80);
      if (isAscii(p, 20) || !isAscii(p + i + 1, 19 - i)) ok = false;
      store<u8>(p + i, 0x61);
    }
    expect<bool>(ok).toBe(true);
    heap.free(p);
  });
});

describe("ByteTable without its index", () => {
  it("takes ordered keys unhashed, builds the index on demand, and copies either way", () => {
    const t = new ByteTable();
    expect<bool>(t.reserveUnindexed(100, 1000)).toBe(true);
    for (let i = 0; i < 100; i++) { const n = kb(i); t.appendUnindexed(scratch, <usize>n); }
    expect<i32>(t.count).toBe(100);
    expect<bool>(t.indexed).toBe(false);
    const c = new ByteTable();
    expect<bool>(t.copyTo(c)).toBe(true);
    expect<bool>(c.indexed).toBe(false, "a copy of an unindexed table is unindexed");
    expect<bool>(t.buildIndex()).toBe(true);
    expect<bool>(t.indexed).toBe(true);
    let ok = true;
    for (let i = 0; i < 100; i++) if (t.find(scratch, kb(i)) != i) ok = false;
    expect<bool>(ok).toBe(true);
    expect<i32>(find(t, "k100")).toBe(-1);
    expect<i32>(add(t, "k100")).toBe(100, "adds go on after the appended keys");
    // reserve() builds the index too, and the dropped index comes back.
    t.dropIndex();
    expect<bool>(t.indexed).toBe(false);
    expect<bool>(t.reserve(1, 8)).toBe(true);
    expect<i32>(find(t, "k100")).toBe(100);
    expect<bool>(c.reserve(0, 0)).toBe(true);
    expect<i32>(find(c, "k42")).toBe(42);
    t.free(); c.free();
  });
});

// "x" + decimal i at p; returns the length.
function xkey(p: usize, i: i32): usize {
  store<u8>(p, 0x78);
  let n: usize = 1, d = 1;
  while (d * 10 <= i) { d *= 10; n++; }
  for (let j = n; j >= 1; j--) { store<u8>(p + j, <u8>(48 + i % 10)); i /= 10; }
  return n + 1;
}
// The longest run of occupied slots: what an insert or a miss may probe.
function longestRun(t: ByteTable): i32 {
  let best = 0, run = 0;
  for (let i: u32 = 0; i <= t.mask; i++) {
    if (load<u64>(t.slots + (<usize>i << 3)) != 0) { run++; if (run > best) best = run; } else run = 0;
  }
  return best;
}

describe("hash seed", () => {
  it("keys searched to share one slot under one seed spread out under another", () => {
    // What a peer could do against a fixed hash: search offline for keys
    // whose hashes share their low 12 bits (so every table up to 4096 slots
    // puts them in one probe run).
    setHashSeed(0);
    const buf = heap.alloc(16);
    const keys = heap.alloc(300 * 16);
    const lens = new Array<usize>();
    for (let i = 0; lens.length < 300; i++) {
      const n = xkey(buf, i);
      if ((<u32>hashBytes(buf, n) & 0xfff) == 0) { memory.copy(keys + <usize>lens.length * 16, buf, n); lens.push(n); }
    }
    const a = new ByteTable();
    for (let k = 0; k < 300; k++) a.add(keys + <usize>k * 16, lens[k]);
    expect<i32>(longestRun(a)).toBeGreaterThanOrEqual(300);
    // Another seed (the host draws one per instance): the same keys scatter.
    setHashSeed(0x9d3a_61f2_0c47_b85e);
    const b = new ByteTable();
    for (let k = 0; k < 300; k++) b.add(keys + <usize>k * 16, lens[k]);
    expect<i32>(b.count).toBe(300);
    expect<i32>(longestRun(b)).toBeLessThan(60);
    for (let k = 0; k < 300; k++) expect<i32>(b.find(keys + <usize>k * 16, lens[k])).toBe(k);
    setHashSeed(0);
    a.free(); b.free(); heap.free(buf); heap.free(keys);
  });
});

