// A hash map from packed dots (replica index, counter) to a u32, in one flat
// slot array: the dot cloud of a causal context (a set: values unused), the
// dot -> element index of an AWSet, and duplicate-dot checks while decoding.
// Open addressing, linear probing, deletes by backward shift (no tombstones,
// so a cloud that fills and empties never degrades its probes).
// Slot: counter u64, replica u32, value + 1 u32 (0 = empty).
import { LARGE, alloc, release } from "./mem";
import { hashSeed } from "./hash";

const MIN_SLOTS: u32 = 16;
const K0: u64 = 0x9e3779b97f4a7c15;
const K1: u64 = 0xbf58476d1ce4e5b9;

// Seeded like hashBytes (data/hash.ts): counters come from peers.
@inline function dotHash(rep: u32, ctr: u64): u32 {
  let h = ((ctr ^ hashSeed()) * K0) ^ (<u64>rep * K1);
  h ^= h >>> 29; h *= K1;
  return <u32>(h ^ (h >>> 32));
}

@final export class DotMap {
  slots: usize = 0;
  mask: u32 = 0;   // slot count − 1 (0 while no slots)
  count: i32 = 0;

  @inline get capacity(): u32 { return this.slots == 0 ? 0 : this.mask + 1; }
  // Slot i's fields, for iteration over every slot (val(i) == 0: empty).
  @inline ctrAt(i: u32): u64 { return load<u64>(this.slots + (<usize>i << 4)); }
  @inline repAt(i: u32): u32 { return load<u32>(this.slots + (<usize>i << 4), 8); }
  @inline usedAt(i: u32): bool { return load<u32>(this.slots + (<usize>i << 4), 12) != 0; }
  @inline valAt(i: u32): u32 { return load<u32>(this.slots + (<usize>i << 4), 12) - 1; }

  // The slot holding (rep, ctr), or −1.
  private slotOf(rep: u32, ctr: u64): i32 {
    if (this.count == 0) return -1;
    const mask = this.mask;
    let i = dotHash(rep, ctr) & mask;
    while (true) {
      const at = this.slots + (<usize>i << 4);
      if (load<u32>(at, 12) == 0) return -1;
      if (load<u64>(at) == ctr && load<u32>(at, 8) == rep) return <i32>i;
      i = (i + 1) & mask;
    }
    return -1;
  }

  @inline has(rep: u32, ctr: u64): bool { return this.slotOf(rep, ctr) >= 0; }

  // The value of (rep, ctr), or −1.
  get(rep: u32, ctr: u64): i64 {
    const s = this.slotOf(rep, ctr);
    return s < 0 ? -1 : <i64>load<u32>(this.slots + (<usize>s << 4), 12) - 1;
  }

  // Room for `extra` more dots, so the next puts within it cannot fail.
  // False (nothing changed) on exhaustion. Load factor at most 3/4.
  reserve(extra: i32): bool {
    if (extra < 0 || extra > 0x07ff_ffff - this.count) return false;
    const want = <u64>(this.count + extra);
    let n: u32 = this.slots == 0 ? MIN_SLOTS : this.mask + 1;
    while (want * 4 > <u64>n * 3) {
      if (n >= (1 << 27)) return false;
      n <<= 1;
    }
    if (this.slots != 0 && n == this.mask + 1) return true;
    return this.rehash(n);
  }

  private rehash(n: u32): bool {
    const old = this.slots, oldN = this.capacity;
    const p = alloc(<usize>n << 4);
    if (p == 0) return false;
    memory.fill(p, 0, <usize>n << 4);
    const mask = n - 1;
    for (let j: u32 = 0; j < oldN; j++) {
      const s = old + (<usize>j << 4);
      if (load<u32>(s, 12) == 0) continue;
      let i = dotHash(load<u32>(s, 8), load<u64>(s)) & mask;
      while (load<u32>(p + (<usize>i << 4), 12) != 0) i = (i + 1) & mask;
      const d = p + (<usize>i << 4);
      store<u64>(d, load<u64>(s));
      store<u64>(d, load<u64>(s, 8), 8);
    }
    release(old);
    this.slots = p;
    this.mask = mask;
    return true;
  }

  // Sets (rep, ctr) -> val in reserved room; true if the dot was new.
  put(rep: u32, ctr: u64, val: u32): bool {
    const mask = this.mask;
    let i = dotHash(rep, ctr) & mask;
    while (true) {
      const at = this.slots + (<usize>i << 4);
      if (load<u32>(at, 12) == 0) {
        store<u64>(at, ctr); store<u32>(at, rep, 8); store<u32>(at, val + 1, 12);
        this.count++;
        return true;
      }
      if (load<u64>(at) == ctr && load<u32>(at, 8) == rep) { store<u32>(at, val + 1, 12); return false; }
      i = (i + 1) & mask;
    }
    return false;
  }

  // put() that reserves first: 1 new, 0 present, −1 out of memory (unchanged).
  add(rep: u32, ctr: u64, val: u32): i32 {
    if (this.has(rep, ctr)) return 0;
    if (!this.reserve(1)) return -1;
    this.put(rep, ctr, val);
    return 1;
  }

  // Removes (rep, ctr); whether it was there. Backward shift: later slots of
  // the probe run move into the hole, so no tombstone is left.
  delete(rep: u32, ctr: u64): bool {
    const s = this.slotOf(rep, ctr);
    if (s < 0) return false;
    const mask = this.mask;
    let hole = <u32>s;
    let i = (hole + 1) & mask;
    while (true) {
      const at = this.slots + (<usize>i << 4);
      if (load<u32>(at, 12) == 0) break;
      const home = dotHash(load<u32>(at, 8), load<u64>(at)) & mask;
      // Move i into the hole unless its home lies cyclically in (hole, i].
      if (((i - home) & mask) >= ((i - hole) & mask)) {
        const h = this.slots + (<usize>hole << 4);
        store<u64>(h, load<u64>(at)); store<u64>(h, load<u64>(at, 8), 8);
        hole = i;
      }
      i = (i + 1) & mask;
    }
    const h = this.slots + (<usize>hole << 4);
    store<u64>(h, 0); store<u64>(h, 0, 8);
    this.count--;
    return true;
  }

  // A copy into `into` (its old content dropped); false on exhaustion.
  copyTo(into: DotMap): bool {
    if (this.count == 0) { into.clear(); return true; }
    const bytes = <usize>this.capacity << 4;
    const p = alloc(bytes);
    if (p == 0) return false;
    memory.copy(p, this.slots, bytes);
    release(into.slots);
    into.slots = p; into.mask = this.mask; into.count = this.count;
    return true;
  }

  // Empties the map; a large slot array is given back, a small one kept.
  clear(): void {
    if (this.slots == 0) return;
    const bytes = <usize>this.capacity << 4;
    if (bytes >= LARGE) { this.free(); return; }
    memory.fill(this.slots, 0, bytes);
    this.count = 0;
  }

  free(): void {
    release(this.slots);
    this.slots = 0; this.mask = 0; this.count = 0;
  }
}
