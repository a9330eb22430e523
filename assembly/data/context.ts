// A compact causal context in linear memory (Almeida, Shoker & Baquero,
// "Delta State Replicated Data Types", 2018): a version vector (every dot
// (r, 1..vv[r]) is seen) plus a cloud of dots not yet contiguous. Replicas are
// interned in a per-state table (their ids' bytes), so a dot is (replica
// index, counter) and the version vector is an array indexed by replica.
// The store of a causal type refers to replicas through this same table.
//
// Replica indices are per context: joining two contexts maps the other's
// indices to this one's (mapFrom). A replica interned but never given a dot
// is invisible (encode writes only replicas with dots).
import { ByteTable } from "./table";
import { Vec } from "./vec";
import { DotMap } from "./dotmap";
import { DotVec } from "./dots";
import { sortedIndex } from "./sorted";

export class Context {
  reps: ByteTable = new ByteTable();
  vv: Vec<u64> = new Vec<u64>();     // per replica: the contiguous prefix (0: none)
  top: Vec<u64> = new Vec<u64>();    // per replica: the highest cloud dot ever added (cloud dots are never removed from the context, only moved to vv)
  ccount: Vec<u32> = new Vec<u32>(); // per replica: dots in the cloud now
  cloud: DotMap = new DotMap();

  @inline get replicas(): i32 { return this.reps.count; }
  @inline repPtr(i: i32): usize { return this.reps.keyPtr(i); }
  @inline repLen(i: i32): usize { return this.reps.keyLen(i); }
  @inline vvOf(i: i32): u64 { return this.vv.get(i); }

  // Index of replica p[0..n), or −1.
  @inline findRep(p: usize, n: usize): i32 { return this.reps.find(p, n); }

  // Index of replica p[0..n), interning it; −1 on exhaustion (unchanged).
  rep(p: usize, n: usize): i32 {
    const i = this.reps.find(p, n);
    if (i >= 0) return i;
    if (!this.vv.reserve(1) || !this.top.reserve(1) || !this.ccount.reserve(1)) return -1;
    const k = this.reps.add(p, n);
    if (k < 0) return -1;
    this.vv.pushReserved(0); this.top.pushReserved(0); this.ccount.pushReserved(0);
    return k;
  }

  // Room for `n` more replicas, so that rep() of that many new ids cannot fail.
  reserveReps(n: i32, bytes: i32): bool {
    return this.reps.reserve(n, bytes) && this.vv.reserve(n) && this.top.reserve(n) && this.ccount.reserve(n);
  }

  // Room for `n` more cloud dots.
  @inline reserveCloud(n: i32): bool { return this.cloud.reserve(n); }

  isEmpty(): bool {
    if (this.cloud.count != 0) return false;
    for (let i = 0; i < this.vv.len; i++) if (this.vv.get(i) != 0) return false;
    return true;
  }

  // How many dots the context names (saturating).
  size(): u64 {
    let n: u64 = <u64>this.cloud.count;
    for (let i = 0; i < this.vv.len; i++) {
      const v = this.vv.get(i);
      n = v > U64.MAX_VALUE - n ? U64.MAX_VALUE : n + v;
    }
    return n;
  }

  @inline has(ri: i32, c: u64): bool {
    if (ri < 0) return false;
    if (c <= this.vv.get(ri)) return c != 0;
    return this.ccount.get(ri) != 0 && this.cloud.has(<u32>ri, c);
  }

  // Highest counter seen for replica ri (for minting its next dot).
  @inline maxOf(ri: i32): u64 {
    if (ri < 0) return 0;
    const v = this.vv.get(ri), t = this.top.get(ri);
    return t > v ? t : v;
  }

  // Adds dot (ri, c), c ≥ 1, keeping the context compact: 1 if new, 0 if
  // already seen, −1 on exhaustion (unchanged).
  addDot(ri: i32, c: u64): i32 {
    if (this.has(ri, c)) return 0;
    if (c == this.vv.get(ri) + 1) {
      this.vv.set(ri, c);
      this.compact(ri);
      return 1;
    }
    if (!this.cloud.reserve(1)) return -1;
    this.putCloud(ri, c);
    return 1;
  }

  // add() with room reserved (reserveCloud): cannot fail.
  @inline addReserved(ri: i32, c: u64): bool {
    if (this.has(ri, c)) return false;
    if (c == this.vv.get(ri) + 1) { this.vv.set(ri, c); this.compact(ri); }
    else this.putCloud(ri, c);
    return true;
  }

  @inline private putCloud(ri: i32, c: u64): void {
    this.cloud.put(<u32>ri, c, 0);
    this.ccount.set(ri, this.ccount.get(ri) + 1);
    if (c > this.top.get(ri)) this.top.set(ri, c);
  }

  // Moves cloud dots of ri that have become contiguous into the version vector.
  compact(ri: i32): void {
    let v = this.vv.get(ri);
    let n = this.ccount.get(ri);
    while (n != 0 && this.cloud.delete(<u32>ri, v + 1)) { v++; n--; }
    this.vv.set(ri, v);
    this.ccount.set(ri, n);
  }

  // Drops ri's cloud dots at or below v (they are about to be covered by vv).
  private dropCloudUpTo(ri: i32, v: u64): void {
    let n = this.ccount.get(ri);
    if (n == 0) return;
    const from = this.vv.get(ri);
    if (v - from <= <u64>n * 4) {
      for (let c = from + 1; c <= v && n != 0; c++) if (this.cloud.delete(<u32>ri, c)) n--;
    } else {
      // Far fewer cloud dots than counters: find them by scanning the slots.
      let i: u32 = 0;
      while (i < this.cloud.capacity && n != 0) {
        if (this.cloud.usedAt(i) && this.cloud.repAt(i) == <u32>ri && this.cloud.ctrAt(i) <= v) {
          this.cloud.delete(<u32>ri, this.cloud.ctrAt(i));
          n--;
          continue; // a later slot may have shifted into i
        }
        i++;
      }
    }
    this.ccount.set(ri, n);
  }

  // map[j] := this's index of o's replica j, interning those with dots.
  // False on exhaustion (then some replicas may be interned: invisible).
  mapFrom(o: Context, map: Vec<u32>): bool {
    map.clear();
    if (!map.reserve(o.replicas)) return false;
    for (let j = 0; j < o.replicas; j++) {
      let k = -1;
      if (o.vv.get(j) != 0 || o.ccount.get(j) != 0) {
        k = this.rep(o.repPtr(j), o.repLen(j));
        if (k < 0) return false;
      } else k = this.findRep(o.repPtr(j), o.repLen(j));
      map.pushReserved(<u32>k);
    }
    return true;
  }

  // back[i] := o's index of this's replica i, or 0xffffffff.
  mapTo(o: Context, back: Vec<u32>): bool {
    back.clear();
    if (!back.reserve(this.replicas)) return false;
    for (let i = 0; i < this.replicas; i++) back.pushReserved(<u32>o.findRep(this.repPtr(i), this.repLen(i)));
    return true;
  }

  // Room to join o (mapped by map) without failing.
  @inline reserveJoin(o: Context): bool { return this.cloud.reserve(o.cloud.count); }

  // this := this ∪ o, with o's replicas mapped by map (mapFrom) and room
  // reserved (reserveJoin). True if it grew.
  joinMapped(o: Context, map: Vec<u32>): bool {
    let changed = false;
    for (let j = 0; j < o.replicas; j++) {
      const v = o.vv.get(j);
      if (v == 0) continue;
      const i = <i32>map.get(j);
      const mine = this.vv.get(i);
      if (v <= mine) continue;
      // Grew unless our cloud already held every dot in (mine, v].
      const n = this.ccount.get(i);
      let missing = <u64>n < v - mine;
      if (!missing) for (let c = mine + 1; c <= v; c++) if (!this.cloud.has(<u32>i, c)) { missing = true; break; }
      if (missing) changed = true;
      this.dropCloudUpTo(i, v);
      this.vv.set(i, v);
      this.compact(i);
    }
    const cl = o.cloud;
    if (cl.count == 0) return changed;
    for (let s: u32 = 0; s < cl.capacity; s++) {
      if (!cl.usedAt(s)) continue;
      if (this.addReserved(<i32>map.get(cl.repAt(s)), cl.ctrAt(s))) changed = true;
    }
    return changed;
  }

  // this := this ∪ o; −1 on exhaustion (unchanged but for interned
  // replicas), else 1 if it grew, 0 if not.
  join(o: Context): i32 {
    const map = new Vec<u32>();
    if (!this.mapFrom(o, map) || !this.reserveJoin(o)) { map.free(); return -1; }
    const g = this.joinMapped(o, map);
    map.free();
    return g ? 1 : 0;
  }

  // o ⊆ this.
  covers(o: Context): bool {
    for (let j = 0; j < o.replicas; j++) {
      const v = o.vv.get(j);
      const oc = o.ccount.get(j);
      if (v == 0 && oc == 0) continue;
      const i = this.findRep(o.repPtr(j), o.repLen(j));
      if (i < 0) return false;
      const mine = this.vv.get(i);
      if (v > mine) {
        const n = this.ccount.get(i);
        if (<u64>n < v - mine) return false;
        for (let c = mine + 1; c <= v; c++) if (!this.cloud.has(<u32>i, c)) return false;
      }
    }
    const cl = o.cloud;
    if (cl.count == 0) return true;
    const map = new Vec<u32>();
    if (!o.mapTo(this, map)) { map.free(); return false; }
    let ok = true;
    for (let s: u32 = 0; s < cl.capacity && ok; s++) {
      if (!cl.usedAt(s)) continue;
      const i = map.get(cl.repAt(s));
      if (i == 0xffff_ffff || !this.has(<i32>i, cl.ctrAt(s))) ok = false;
    }
    map.free();
    return ok;
  }

  // order[k] := the replica indices in byte order of their ids. False on exhaustion.
  @inline sortedReps(order: Vec<u32>): bool { return sortedIndex(this.reps, order); }

  // The cloud's dots sorted by (rank of replica in byte order, counter), as
  // (replica index, counter) pairs into out. False on exhaustion.
  sortedCloud(order: Vec<u32>, out: DotVec): bool {
    out.clear();
    const n = this.cloud.count;
    if (n == 0) return true;
    const rank = new Vec<u32>();
    if (!rank.reserve(this.replicas) || !out.reserve(n)) { rank.free(); return false; }
    rank.len = this.replicas;
    for (let k = 0; k < order.len; k++) rank.set(<i32>order.get(k), <u32>k);
    const cl = this.cloud;
    for (let s: u32 = 0; s < cl.capacity; s++) if (cl.usedAt(s)) out.push(rank.get(cl.repAt(s)), cl.ctrAt(s));
    const ok = out.sort();
    // back from ranks to replica indices
    for (let k = 0; k < out.count; k++) out.v.set((k << 1) + 1, <u64>order.get(out.rep(k)));
    rank.free();
    return ok;
  }

  // A copy into `into` (emptied first); false on exhaustion.
  copyTo(into: Context): bool {
    return this.reps.copyTo(into.reps) && this.vv.copyTo(into.vv) && this.top.copyTo(into.top) &&
      this.ccount.copyTo(into.ccount) && this.cloud.copyTo(into.cloud);
  }

  // Takes o's memory (o is left empty), freeing this one's.
  take(o: Context): void {
    this.reps.free();
    this.reps = o.reps; o.reps = new ByteTable();
    this.vv.take(o.vv); this.top.take(o.top); this.ccount.take(o.ccount);
    this.cloud.free();
    this.cloud = o.cloud; o.cloud = new DotMap();
  }

  clear(): void { this.reps.clear(); this.vv.clear(); this.top.clear(); this.ccount.clear(); this.cloud.clear(); }

  free(): void { this.reps.free(); this.vv.free(); this.top.free(); this.ccount.free(); this.cloud.free(); }
}
