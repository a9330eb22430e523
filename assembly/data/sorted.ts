// Canonical order: sorted runs of byte strings and sorting helpers.
// A Run is what canonical bytes already are: entries varint(len) bytes, sorted
// strictly increasing by bytes, back to back; so encoding a run is one copy and
// joining two runs is one streaming merge (DESIGN.md: sorted runs for bulk
// joins, hashing for point ops).
import { compareBytes, entryBody, entryLen, putVarint, varintSize } from "./bytes";
import { alloc, release } from "./mem";
import { ByteTable } from "./table";
import { Vec } from "./vec";

@final export class Run {
  data: Vec<u8> = new Vec<u8>();   // the entries
  offs: Vec<u32> = new Vec<u32>(); // where entry i starts

  @inline get count(): i32 { return this.offs.len; }
  @inline entry(i: i32): usize { return this.data.ptr + <usize>this.offs.get(i); }
  @inline elemPtr(i: i32): usize { return entryBody(this.entry(i)); }
  @inline elemLen(i: i32): usize { return entryLen(this.entry(i)); }

  // Room for `entries` more entries totalling `bytes` bytes (prefixes
  // included); false (nothing changed) on exhaustion.
  reserve(entries: i32, bytes: i32): bool {
    return this.offs.reserve(entries) && this.data.reserve(bytes);
  }

  // Appends element p[0..n) into reserved room. The caller keeps the order.
  @inline appendReserved(p: usize, n: usize): void {
    this.offs.pushReserved(<u32>this.data.len);
    const at = this.data.end();
    const body = putVarint(at, <u64>n);
    memory.copy(body, p, n);
    this.data.len += <i32>(body - at + n);
  }

  // Appends a whole entry (prefix included) of `bytes` bytes into reserved room.
  @inline appendEntryReserved(e: usize, bytes: usize): void {
    this.offs.pushReserved(<u32>this.data.len);
    memory.copy(this.data.end(), e, bytes);
    this.data.len += <i32>bytes;
  }

  // Index of element p[0..n), or −(insertion point) − 1 (binary search).
  find(p: usize, n: usize): i32 {
    let lo = 0, hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareBytes(this.elemPtr(mid), this.elemLen(mid), p, n);
      if (c == 0) return mid;
      if (c < 0) lo = mid + 1; else hi = mid;
    }
    return -lo - 1;
  }

  clear(): void { this.data.clear(); this.offs.clear(); }

  copyTo(into: Run): bool { return this.data.copyTo(into.data) && this.offs.copyTo(into.offs); }

  // Takes o's memory (o is left empty), freeing this one's.
  take(o: Run): void { this.data.take(o.data); this.offs.take(o.offs); }

  free(): void { this.data.free(); this.offs.free(); }
}

// Bytes an entry for an element of n bytes takes.
@inline export function entrySize(n: usize): usize { return <usize>varintSize(<u64>n) + n; }

@inline function cmpKeys(t: ByteTable, a: u32, b: u32): i32 {
  return compareBytes(t.keyPtr(<i32>a), t.keyLen(<i32>a), t.keyPtr(<i32>b), t.keyLen(<i32>b));
}

// idx := the indices 0 .. t.count−1 of t's keys in byte order. Bottom-up
// merge sort (no recursion, O(n log n) worst case); false on exhaustion.
export function sortedIndex(t: ByteTable, idx: Vec<u32>): bool {
  const n = t.count;
  idx.clear();
  if (!idx.reserve(n)) return false;
  for (let i = 0; i < n; i++) idx.pushReserved(<u32>i);
  return sortByKey(t, idx);
}

// Sorts idx (indices into t) by their keys' bytes; false on exhaustion.
export function sortByKey(t: ByteTable, idx: Vec<u32>): bool {
  const n = idx.len;
  const a = idx.ptr;
  // Insertion sort of runs of 16, then merges of doubling width.
  const RUN = 16;
  for (let s = 0; s < n; s += RUN) {
    const e = min(s + RUN, n);
    for (let i = s + 1; i < e; i++) {
      const v = load<u32>(a + (<usize>i << 2));
      let j = i - 1;
      while (j >= s && cmpKeys(t, load<u32>(a + (<usize>j << 2)), v) > 0) {
        store<u32>(a + (<usize>(j + 1) << 2), load<u32>(a + (<usize>j << 2)));
        j--;
      }
      store<u32>(a + (<usize>(j + 1) << 2), v);
    }
  }
  if (n <= RUN) return true;
  const tmp = alloc(<usize>n << 2);
  if (tmp == 0) return false;
  let src = a, dst = tmp;
  for (let w = RUN; w < n; w <<= 1) {
    for (let lo = 0; lo < n; lo += w << 1) {
      const mid = min(lo + w, n), hi = min(lo + (w << 1), n);
      let i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        const x = load<u32>(src + (<usize>i << 2)), y = load<u32>(src + (<usize>j << 2));
        if (cmpKeys(t, x, y) <= 0) { store<u32>(dst + (<usize>k << 2), x); i++; }
        else { store<u32>(dst + (<usize>k << 2), y); j++; }
        k++;
      }
      while (i < mid) { store<u32>(dst + (<usize>(k++) << 2), load<u32>(src + (<usize>(i++) << 2))); }
      while (j < hi) { store<u32>(dst + (<usize>(k++) << 2), load<u32>(src + (<usize>(j++) << 2))); }
    }
    const s = src; src = dst; dst = s;
  }
  if (src != a) memory.copy(a, src, <usize>n << 2);
  release(tmp);
  return true;
}
