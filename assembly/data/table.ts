// An interning hash table of byte strings: each distinct key gets an index
// 0, 1, 2, ... in insertion order; keys live back to back in one arena.
// Open addressing with linear probing over one flat slot array; a slot holds
// the key's 32-bit hash beside its index+1 (0 = empty), so most mismatches
// are rejected without touching the arena. No deletes: every use is a
// grow-only set (elements, replica ids), so no tombstones are needed.
//
// A table may also be filled without its index (appendUnindexed, for keys that
// arrive in order from a merge or a decode, where hashing them would cost more
// than the merge): then `slots` is 0 and find()/add() must not be called until
// buildIndex() (or reserve(), which builds it) has run.
import { hashBytes } from "./hash";
import { copyBytes, equalBytes } from "./bytes";
import { LARGE, alloc, release } from "./mem";
import { Vec } from "./vec";

const MIN_SLOTS: u32 = 16;
const SCAN_MAX: i32 = 4; // find() scans up to this many keys instead of hashing

@final export class ByteTable {
  slots: usize = 0;        // u64 per slot: hash << 32 | (index + 1)
  mask: u32 = 0;           // slot count − 1 (0 while no slots)
  count: i32 = 0;
  keys: Vec<u8> = new Vec<u8>();     // key bytes, back to back
  offs: Vec<u32> = new Vec<u32>();   // key i is keys[offs[i] .. offs[i+1]); offs[count] = keys.len
  // Set by add(): whether its key was new.
  added: bool = false;

  @inline keyPtr(i: i32): usize { return this.keys.ptr + <usize>this.offs.get(i); }
  @inline keyLen(i: i32): usize { return <usize>(this.offs.get(i + 1) - this.offs.get(i)); }

  // Index of the key p[0..n), or -1.
  find(p: usize, n: usize): i32 {
    if (this.count == 0) return -1;
    // A few keys (a small state's replica ids): comparing them costs less
    // than hashing the probe.
    if (this.count <= SCAN_MAX) {
      for (let k = 0; k < this.count; k++) if (equalBytes(this.keyPtr(k), this.keyLen(k), p, n)) return k;
      return -1;
    }
    const h = <u32>hashBytes(p, n);
    const mask = this.mask;
    let i = h & mask;
    while (true) {
      const s = load<u64>(this.slots + (<usize>i << 3));
      if (s == 0) return -1;
      if (<u32>(s >>> 32) == h) {
        const k = <i32>(<u32>s) - 1;
        if (equalBytes(this.keyPtr(k), this.keyLen(k), p, n)) return k;
      }
      i = (i + 1) & mask;
    }
    return -1;
  }

  // Makes room for `keys` more keys totalling `bytes` bytes, so the next adds
  // within that budget cannot fail. False (nothing changed) on exhaustion.
  reserve(keys: i32, bytes: i32): bool {
    // Room already there (the index exists, below its load factor, and both
    // arrays have the space): the usual case for a point op.
    if (this.slots != 0 && keys >= 0 && keys <= 0x1fff_ffff - this.count &&
        <u64>(this.count + keys) * 8 <= (<u64>this.mask + 1) * 7 &&
        <u32>(keys + 1) <= <u32>(this.offs.cap - this.offs.len) && <u32>bytes <= <u32>(this.keys.cap - this.keys.len)) return true;
    return this.reserveSlow(keys, bytes);
  }

  reserveSlow(keys: i32, bytes: i32): bool {
    if (keys < 0 || bytes < 0 || keys > 0x1fff_ffff - this.count) return false;
    const want = this.count + keys;
    // Load factor at most 7/8: the stored hash rejects almost every
    // mismatch without touching the arena, so probes are one load each, and
    // slots are the table's largest part (docs/abi.md, "Memory").
    let slots = this.mask == 0 ? MIN_SLOTS : this.mask + 1;
    while (<u64>want * 8 > <u64>slots * 7) {
      if (slots >= (1 << 27)) return false; // 1 GiB of slots: beyond any cap
      slots <<= 1;
    }
    if (!this.offs.reserve(keys + (this.offs.len == 0 ? 1 : 0))) return false;
    if (!this.keys.reserve(bytes)) return false;
    if (slots != this.mask + 1 || this.slots == 0) return this.rehash(slots);
    return true;
  }

  // Whether the hash index exists (it always does once a key was add()ed).
  @inline get indexed(): bool { return this.slots != 0 || this.count == 0; }

  // Builds the index of a table filled by appendUnindexed; false (still
  // unindexed, nothing else changed) on exhaustion.
  buildIndex(): bool { return this.indexed || this.reserve(0, 0); }

  // Appends key p[0..n) without hashing it, into room made on keys/offs
  // (reserveUnindexed). Only on a table without index; the caller keeps keys
  // distinct (they arrive strictly ordered).
  @inline appendUnindexed(p: usize, n: usize): void {
    if (this.offs.len == 0) this.offs.pushReserved(0);
    copyBytes(this.keys.end(), p, n);
    this.keys.len += <i32>n;
    this.offs.pushReserved(<u32>this.keys.len);
    this.count++;
  }

  // Room for `keys` more keys of `bytes` bytes appended without the index.
  reserveUnindexed(keys: i32, bytes: i32): bool {
    if (keys < 0 || bytes < 0 || keys > 0x1fff_ffff - this.count) return false;
    return this.offs.reserve(keys + (this.offs.len == 0 ? 1 : 0)) && this.keys.reserve(bytes);
  }

  // Gives the index's memory back (it is rebuilt on demand by buildIndex).
  dropIndex(): void {
    release(this.slots);
    this.slots = 0; this.mask = 0;
  }

  private rehash(n: u32): bool {
    const old = this.slots;
    const oldN: u32 = this.mask == 0 ? 0 : this.mask + 1;
    const bytes = <usize>n << 3;
    if (old == 0 && this.count > 0) {
      // No index yet (keys appended in order): place every key.
      const p = alloc(bytes);
      if (p == 0) return false;
      memory.fill(p, 0, bytes);
      this.slots = p;
      this.mask = n - 1;
      for (let k = 0; k < this.count; k++) this.place(<u32>hashBytes(this.keyPtr(k), this.keyLen(k)), k);
      return true;
    }
    if (<usize>oldN << 3 >= LARGE) {
      // A large table is rebuilt from its keys (hashing them again) rather
      // than copied, so the old slots are given back before the new ones are
      // taken: growing it never holds both (the merge memory budget).
      release(old);
      let p = alloc(bytes);
      let ok = true;
      if (p == 0) { p = alloc(<usize>oldN << 3); n = oldN; ok = false; } // the span just freed serves it
      if (p == 0) unreachable();
      this.slots = p;
      this.mask = n - 1;
      memory.fill(p, 0, <usize>n << 3);
      for (let k = 0; k < this.count; k++) this.place(<u32>hashBytes(this.keyPtr(k), this.keyLen(k)), k);
      return ok;
    }
    const p = alloc(bytes);
    if (p == 0) return false;
    memory.fill(p, 0, bytes);
    const mask = n - 1;
    for (let j: u32 = 0; j < oldN; j++) {
      const s = load<u64>(old + (<usize>j << 3));
      if (s == 0) continue;
      let i = <u32>(s >>> 32) & mask;
      while (load<u64>(p + (<usize>i << 3)) != 0) i = (i + 1) & mask;
      store<u64>(p + (<usize>i << 3), s);
    }
    release(old);
    this.slots = p;
    this.mask = mask;
    return true;
  }

  // Puts key k (hash h) in the first free slot of its probe sequence.
  @inline private place(h: u32, k: i32): void {
    let i = h & this.mask;
    while (load<u64>(this.slots + (<usize>i << 3)) != 0) i = (i + 1) & this.mask;
    store<u64>(this.slots + (<usize>i << 3), (<u64>h << 32) | <u64>(k + 1));
  }

  // Index of key p[0..n), adding it if new (this.added tells which); -1 when
  // memory is exhausted (then nothing changed).
  add(p: usize, n: usize): i32 {
    this.added = false;
    if (!this.reserve(1, <i32>n)) return -1;
    const h = <u32>hashBytes(p, n);
    const mask = this.mask;
    let i = h & mask;
    while (true) {
      const at = this.slots + (<usize>i << 3);
      const s = load<u64>(at);
      if (s == 0) {
        const k = this.count;
        if (this.offs.len == 0) this.offs.pushReserved(0);
        memory.copy(this.keys.end(), p, n);
        this.keys.len += <i32>n;
        this.offs.pushReserved(<u32>this.keys.len);
        store<u64>(at, (<u64>h << 32) | <u64>(k + 1));
        this.count = k + 1;
        this.added = true;
        return k;
      }
      if (<u32>(s >>> 32) == h) {
        const k = <i32>(<u32>s) - 1;
        if (equalBytes(this.keyPtr(k), this.keyLen(k), p, n)) return k;
      }
      i = (i + 1) & mask;
    }
    return -1;
  }

  // A copy into `into` (emptied first); false when memory is exhausted.
  copyTo(into: ByteTable): bool {
    into.clear();
    if (this.count == 0) return true;
    if (this.slots == 0) {
      // Unindexed: so is the copy.
      if (!this.keys.copyTo(into.keys) || !this.offs.copyTo(into.offs)) return false;
      into.dropIndex();
      into.count = this.count;
      return true;
    }
    const n = this.mask + 1;
    const p = alloc(<usize>n << 3);
    if (p == 0) return false;
    if (!this.keys.copyTo(into.keys) || !this.offs.copyTo(into.offs)) { release(p); return false; }
    memory.copy(p, this.slots, <usize>n << 3);
    release(into.slots);
    into.slots = p; into.mask = this.mask; into.count = this.count;
    return true;
  }

  // Empties the table, keeping its memory for reuse.
  clear(): void {
    if (this.slots != 0) memory.fill(this.slots, 0, (<usize>this.mask + 1) << 3);
    this.count = 0;
    this.keys.clear();
    this.offs.clear();
  }

  free(): void {
    release(this.slots);
    this.slots = 0; this.mask = 0; this.count = 0;
    this.keys.free();
    this.offs.free();
  }
}
