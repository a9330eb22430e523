// The canonical (byte) order of a ByteTable's keys, kept incrementally: keys
// are interned in insertion order, and encoding needs them sorted. Sorting all
// n keys on every encode would cost n log n each time; instead the sorted
// index covers keys 0 .. idx.len − 1, and update() sorts only the keys added
// since and merges them in (one pass). A state decoded from canonical bytes
// interns its keys already in order: identity() records that without sorting.
import { ByteTable } from "./table";
import { Vec } from "./vec";
import { compareBytes } from "./bytes";
import { sortByKey } from "./sorted";

@final export class KeyOrder {
  idx: Vec<u32> = new Vec<u32>();

  // Brings the index up to date with t; false (index as it was) on exhaustion.
  update(t: ByteTable): bool {
    const have = this.idx.len, n = t.count;
    if (have == n) return true;
    const fresh = new Vec<u32>();
    if (!fresh.reserve(n - have)) return false;
    for (let i = have; i < n; i++) fresh.pushReserved(<u32>i);
    if (!sortByKey(t, fresh)) { fresh.free(); return false; }
    if (have == 0) { this.idx.take(fresh); return true; }
    const merged = new Vec<u32>();
    if (!merged.reserve(n)) { fresh.free(); return false; }
    let i = 0, j = 0;
    const a = this.idx, b = fresh, nb = fresh.len;
    while (i < have && j < nb) {
      const x = a.get(i), y = b.get(j);
      if (compareBytes(t.keyPtr(<i32>x), t.keyLen(<i32>x), t.keyPtr(<i32>y), t.keyLen(<i32>y)) < 0) { merged.pushReserved(x); i++; }
      else { merged.pushReserved(y); j++; } // distinct keys: never equal
    }
    while (i < have) merged.pushReserved(a.get(i++));
    while (j < nb) merged.pushReserved(b.get(j++));
    fresh.free();
    this.idx.take(merged);
    return true;
  }

  // Keys 0 .. n − 1 are already in byte order (decoded from canonical bytes).
  identity(n: i32): bool {
    this.idx.clear();
    if (!this.idx.reserve(n)) return false;
    for (let i = 0; i < n; i++) this.idx.pushReserved(<u32>i);
    return true;
  }

  // The key index at sorted position i (valid after update()).
  @inline at(i: i32): i32 { return <i32>this.idx.get(i); }

  copyTo(into: KeyOrder): bool { return this.idx.copyTo(into.idx); }
  clear(): void { this.idx.clear(); }
  free(): void { this.idx.free(); }
}
