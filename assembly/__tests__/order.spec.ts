// KeyOrder (assembly/data/order.ts): the byte order of a ByteTable's keys,
// sorted all at once, then kept up to date by sorting only the keys added
// since and merging them in.
import { ByteTable, compareBytes } from "../data/index";
import { KeyOrder } from "../data/order";

let scratch: usize = 0;
function b(s: string): usize {
  if (scratch == 0) scratch = heap.alloc(256);
  for (let i = 0; i < s.length; i++) store<u8>(scratch + i, <u8>s.charCodeAt(i));
  return scratch;
}
function add(t: ByteTable, s: string): i32 { return t.add(b(s), s.length); }

// Whether o lists every key of t exactly once, strictly increasing by bytes.
function sortedAndComplete(t: ByteTable, o: KeyOrder): bool {
  if (o.idx.len != t.count) return false;
  const seen = new StaticArray<u8>(t.count);
  for (let s = 0; s < t.count; s++) {
    const i = o.at(s);
    if (i < 0 || i >= t.count || seen[i] != 0) return false;
    seen[i] = 1;
    if (s > 0) {
      const p = o.at(s - 1);
      if (compareBytes(t.keyPtr(p), t.keyLen(p), t.keyPtr(i), t.keyLen(i)) >= 0) return false;
    }
  }
  return true;
}

describe("KeyOrder", () => {
  it("sorts a table's keys, then merges keys added later in without re-sorting the rest", () => {
    const t = new ByteTable();
    const o = new KeyOrder();
    // A pseudo-random insertion order, keys of several lengths and shared prefixes.
    let x: u32 = 12345;
    for (let i = 0; i < 3000; i++) {
      x = x * 1103515245 + 12345;
      add(t, "k" + ((x >> 8) % 100000).toString() + (i % 7 == 0 ? "" : "-x"));
    }
    expect<bool>(o.update(t)).toBe(true);
    expect<bool>(sortedAndComplete(t, o)).toBe(true);
    const first = o.at(0);
    // Keys below, between and above the present ones.
    add(t, ""); add(t, "k50000-y"); add(t, "zzz"); add(t, "k");
    for (let i = 0; i < 500; i++) add(t, "m" + i.toString());
    expect<bool>(o.update(t)).toBe(true);
    expect<bool>(sortedAndComplete(t, o)).toBe(true);
    expect<i32>(o.at(0)).toBe(t.find(b(""), 0));    // the empty key sorts first
    expect<i32>(o.at(1)).toBe(t.find(b("k"), 1));
    expect<bool>(o.at(2) == first).toBe(true);       // the old first key follows them
    expect<i32>(o.at(t.count - 1)).toBe(t.find(b("zzz"), 3));
    // Up to date: nothing to do.
    expect<bool>(o.update(t)).toBe(true);
    expect<i32>(o.idx.len).toBe(t.count);
    const c = new KeyOrder();
    expect<bool>(o.copyTo(c)).toBe(true);
    expect<bool>(sortedAndComplete(t, c)).toBe(true);
    c.free(); o.free(); t.free();
    expect<i32>(o.idx.len).toBe(0);
  });

  it("identity() records keys interned already in byte order", () => {
    const t = new ByteTable();
    for (let i = 0; i < 10; i++) add(t, "a" + i.toString());
    const o = new KeyOrder();
    expect<bool>(o.identity(t.count)).toBe(true);
    expect<bool>(sortedAndComplete(t, o)).toBe(true);
    add(t, "0"); // below them all: merged to the front
    expect<bool>(o.update(t)).toBe(true);
    expect<i32>(o.at(0)).toBe(10);
    expect<bool>(sortedAndComplete(t, o)).toBe(true);
    o.free(); t.free();
  });
});
