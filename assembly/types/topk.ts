// Top-K(k): at most k entries id -> score (u64). Joining keeps, per id, the
// max score, then the k greatest entries ranked by (score desc, id asc).
// Truncation commutes with join (an entry in the top k of a union is in the
// top k of the side its max score came from, and an entry evicted from one
// side has k entries above it that survive), so this is a join-semilattice:
// the quotient of "map of max scores" by "same top k". Score 0 is a real
// score: an entry (id, 0) is not bottom.
// Single entries are the join-irreducibles; {(id, s)} ⊑ b iff b[id] ≥ s, or b
// is full and (s, id) ranks below b's last entry (it would be evicted).
//
// Layout (assembly/data): a sorted run of entries by id bytes (the body's
// order, so encode is one pass), two words each: the score, and where the id
// sits in an arena of id bytes (offset << 32 | length). Evicted ids leave
// garbage in the arena, compacted when it outweighs the live ids. Every
// state is honest (docs/format.md): add(id, s) keeps a maximum and never
// counts, so nothing can wrap; decode checks count ≤ k, order and values.
import { Reader, Writer } from "../codec";
import { E_BAD_TAG, E_INVALID, E_NONCANONICAL, E_OUT_OF_MEMORY, E_TRAILING, setError } from "../errors";
import { Lattice, Spec, batchEpoch, pendingOfBatch } from "../lattice";
import { Vec, alloc, release, compareBytes } from "../data/index";

export const OP_ADD: u32 = 0; // op := 0 id:bytes score:varint

// Joining more entries than this one by one costs a rescan per eviction; past
// it a join merges the two runs, then ranks once.
const ONE_BY_ONE: i32 = 8;

export class TopK extends Lattice {
  // body  := count:varint (≤ k), then count × (id:bytes, score:varint) sorted
  //          strictly increasing by id (k is in the spec, not the body)
  // query := count:varint, then count × (id:bytes, score:varint) in rank
  //          order: score descending, ties by id ascending in byte order

  ent: Vec<u64> = new Vec<u64>(); // 2 words per entry, sorted by id
  ids: Vec<u8> = new Vec<u8>();   // id bytes
  garbage: i32 = 0;               // arena bytes no entry points to
  // Cache of the lowest-ranked entry's index (valid only when lowOk); not state.
  lowOk: bool = false;
  lowIdx: i32 = 0;
  // What the dry pass of the current op batch reserved (cumulative).
  dryEpoch: u32 = 0;
  dryEnts: i32 = 0;
  dryBytes: i32 = 0;

  bottom(): Lattice { return new TopK(this.spec); }
  isBottom(): bool { return this.ent.len == 0; }
  size(): i32 { return this.ent.len >> 1; }
  free(): void { this.ent.free(); this.ids.free(); this.garbage = 0; this.lowOk = false; }

  @inline get count(): i32 { return this.ent.len >> 1; }
  @inline score(i: i32): u64 { return this.ent.get(i << 1); }
  @inline idPtr(i: i32): usize { return this.ids.ptr + <usize>(this.ent.get((i << 1) + 1) >>> 32); }
  @inline idLen(i: i32): usize { return <usize>(<u32>this.ent.get((i << 1) + 1)); }
  @inline get full(): bool { return <u32>this.count >= this.spec.k; }

  clone(): Lattice {
    const c = new TopK(this.spec);
    if (!this.ent.copyTo(c.ent) || !this.ids.copyTo(c.ids)) { c.free(); setError(E_OUT_OF_MEMORY); return c; }
    c.garbage = this.garbage;
    return c;
  }

  // Index of id p[0..n), or −(insertion point) − 1.
  find(p: usize, n: usize): i32 {
    let lo = 0, hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareBytes(this.idPtr(mid), this.idLen(mid), p, n);
      if (c == 0) return mid;
      if (c < 0) lo = mid + 1; else hi = mid;
    }
    return -lo - 1;
  }

  // Entry i ranks above (s, p[0..n)).
  @inline ranksAbove(i: i32, s: u64, p: usize, n: usize): bool {
    const si = this.score(i);
    return si > s || (si == s && compareBytes(this.idPtr(i), this.idLen(i), p, n) < 0);
  }

  low(): i32 {
    if (this.lowOk) return this.lowIdx;
    let l = 0;
    for (let i = 1; i < this.count; i++) if (this.ranksAbove(l, this.score(i), this.idPtr(i), this.idLen(i))) l = i;
    this.lowIdx = l; this.lowOk = true;
    return l;
  }

  // {(id, s)} ⊑ this.
  covers(p: usize, n: usize, s: u64): bool {
    const i = this.find(p, n);
    if (i >= 0) return this.score(i) >= s;
    if (!this.full) return false;
    return this.ranksAbove(this.low(), s, p, n);
  }

  // Room for `ents` more entries with ids of `bytes` bytes; first compacts
  // the arena when most of it is garbage (best effort). False on exhaustion.
  reserve(ents: i32, bytes: i32): bool {
    if (this.garbage > 4096 && this.garbage > (this.ids.len >> 1)) this.compact();
    return this.ent.reserve(ents << 1) && this.ids.reserve(bytes);
  }

  private compact(): void {
    const live = this.ids.len - this.garbage;
    const q = alloc(<usize>max(live, 1));
    if (q == 0) return; // keep the garbage: still correct
    let at: usize = 0;
    for (let i = 0; i < this.count; i++) {
      const n = this.idLen(i);
      memory.copy(q + at, this.idPtr(i), n);
      this.ent.set((i << 1) + 1, (<u64>at << 32) | <u64>n);
      at += n;
    }
    const fresh = new Vec<u8>();
    fresh.ptr = q; fresh.cap = max(live, 1); fresh.len = live;
    this.ids.take(fresh);
    this.garbage = 0;
  }

  // Inserts (p[0..n), s) at index `at` into reserved room.
  private insertAt(at: i32, p: usize, n: usize, s: u64): void {
    const e = this.ent.ptr + (<usize>at << 4);
    memory.copy(e + 16, e, <usize>(this.count - at) << 4);
    this.ent.len += 2;
    const off = this.ids.len;
    memory.copy(this.ids.end(), p, n);
    this.ids.len += <i32>n;
    store<u64>(e, s);
    store<u64>(e + 8, (<u64>off << 32) | <u64>n);
  }

  private removeAt(i: i32): void {
    this.garbage += <i32>this.idLen(i);
    const e = this.ent.ptr + (<usize>i << 4);
    memory.copy(e, e + 16, <usize>(this.count - i - 1) << 4);
    this.ent.len -= 2;
  }

  // this := this ⊔ {(id, s)} into reserved room (one entry, n bytes); true if it grew.
  joinOne(p: usize, n: usize, s: u64): bool {
    const i = this.find(p, n);
    if (i >= 0) {
      if (this.score(i) >= s) return false;
      this.ent.set(i << 1, s);
      if (this.lowOk && this.lowIdx == i) this.lowOk = false;
      return true;
    }
    if (!this.full) {
      this.insertAt(-i - 1, p, n, s);
      this.lowOk = false;
      return true;
    }
    const l = this.low();
    if (this.ranksAbove(l, s, p, n)) return false;
    this.removeAt(l);
    this.insertAt(-this.find(p, n) - 1, p, n, s);
    this.lowOk = false;
    return true;
  }

  join(o: Lattice): bool {
    const x = changetype<TopK>(o);
    if (x.count == 0) return false;
    if (x.count <= ONE_BY_ONE) {
      if (!this.reserve(x.count, x.ids.len)) { setError(E_OUT_OF_MEMORY); return false; }
      let changed = false;
      for (let i = 0; i < x.count; i++) if (this.joinOne(x.idPtr(i), x.idLen(i), x.score(i))) changed = true;
      return changed;
    }
    return this.joinMerge(x);
  }

  // Merges the two runs by id (max score), ranks the union once when it holds
  // more than k, and keeps the k best. The state changed iff an entry that
  // rose (new, or a greater score) survived: old entries are only evicted by those.
  private joinMerge(x: TopK): bool {
    const na = this.count, nb = x.count;
    const u = new TopK(this.spec);
    const rose = new Vec<u8>();
    if (!u.ent.reserve((na + nb) << 1) || !u.ids.reserve(this.ids.len - this.garbage + x.ids.len) || !rose.reserve(na + nb)) {
      u.free(); rose.free(); setError(E_OUT_OF_MEMORY); return false;
    }
    let i = 0, j = 0;
    while (i < na || j < nb) {
      let c: i32 = i == na ? 1 : j == nb ? -1 : compareBytes(this.idPtr(i), this.idLen(i), x.idPtr(j), x.idLen(j));
      if (c < 0) { u.insertAt(u.count, this.idPtr(i), this.idLen(i), this.score(i)); rose.pushReserved(0); i++; }
      else if (c > 0) { u.insertAt(u.count, x.idPtr(j), x.idLen(j), x.score(j)); rose.pushReserved(1); j++; }
      else {
        const up = x.score(j) > this.score(i);
        u.insertAt(u.count, this.idPtr(i), this.idLen(i), up ? x.score(j) : this.score(i));
        rose.pushReserved(up ? 1 : 0);
        i++; j++;
      }
    }
    const n = u.count;
    let changed = false;
    if (<u32>n <= this.spec.k) {
      for (let t = 0; t < n; t++) if (rose.get(t) != 0) { changed = true; break; }
    } else {
      // keep := the k best by rank; drop the rest (marked 2 in rose).
      const idx = new Vec<u32>();
      if (!rankOrder(u, idx)) { idx.free(); u.free(); rose.free(); setError(E_OUT_OF_MEMORY); return false; }
      for (let t = <i32>this.spec.k; t < n; t++) rose.set(<i32>idx.get(t), 2);
      idx.free();
      let w = 0;
      for (let t = 0; t < n; t++) {
        const f = rose.get(t);
        if (f == 2) { u.garbage += <i32>u.idLen(t); continue; }
        if (f == 1) changed = true;
        u.ent.set(w << 1, u.ent.get(t << 1));
        u.ent.set((w << 1) + 1, u.ent.get((t << 1) + 1));
        w++;
      }
      u.ent.len = w << 1;
    }
    rose.free();
    if (!changed) { u.free(); return false; }
    this.ent.take(u.ent); this.ids.take(u.ids);
    this.garbage = u.garbage;
    this.lowOk = false;
    return true;
  }

  // A small body (a delta of a few entries) is checked in place, then joined
  // entry by entry straight from the bytes; a larger one is decoded first and
  // takes the merge path.
  joinBody(r: Reader): i32 {
    const start = r.p;
    const n = r.count(2);
    if (r.ok && <u32>n > this.spec.k) r.fail(E_INVALID);
    let prev: usize = 0, prevLen: usize = 0, bytes = 0;
    for (let i = 0; i < n && r.ok; i++) {
      const p = r.valueRaw();
      const len = <usize>r.rawLen;
      r.varint();
      if (!r.ok) break;
      if (i > 0 && compareBytes(prev, prevLen, p, len) >= 0) { r.fail(E_NONCANONICAL); break; }
      prev = p; prevLen = len; bytes += <i32>len;
    }
    if (r.ok && !r.done) r.fail(E_TRAILING);
    if (!r.ok) return -r.err;
    if (n > ONE_BY_ONE) { r.p = start; return super.joinBody(r); }
    if (!this.reserve(n, bytes)) return -E_OUT_OF_MEMORY;
    const again = new Reader(start, r.end);
    again.count(2);
    let changed = false;
    for (let i = 0; i < n; i++) {
      const p = again.valueRaw();
      const len = <usize>again.rawLen;
      if (this.joinOne(p, len, again.varint())) changed = true;
    }
    return changed ? 1 : 0;
  }

  leq(o: Lattice): bool {
    const x = changetype<TopK>(o);
    for (let i = 0; i < this.count; i++) if (!x.covers(this.idPtr(i), this.idLen(i), this.score(i))) return false;
    return true;
  }

  // The entries o does not cover (already in id order).
  deltaFrom(o: Lattice): Lattice {
    const x = changetype<TopK>(o);
    const d = new TopK(this.spec);
    if (!d.reserve(this.count, this.ids.len)) { setError(E_OUT_OF_MEMORY); return d; }
    for (let i = 0; i < this.count; i++) {
      if (!x.covers(this.idPtr(i), this.idLen(i), this.score(i))) d.insertAt(d.count, this.idPtr(i), this.idLen(i), this.score(i));
    }
    return d;
  }

  // One single-entry state per entry, by id (at most k ≤ 65536 parts).
  decompose(out: Array<Lattice>): void {
    for (let i = 0; i < this.count; i++) {
      const p = new TopK(this.spec);
      if (!p.reserve(1, <i32>this.idLen(i))) { setError(E_OUT_OF_MEMORY); return; }
      p.insertAt(0, this.idPtr(i), this.idLen(i), this.score(i));
      out.push(p);
    }
  }

  // add(id, score): delta is the entry when it would enter or raise the top k,
  // else bottom.
  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_ADD) { r.fail(E_BAD_TAG); return null; }
    const p = r.valueRaw();
    const n = r.rawLen;
    const s = r.varint();
    if (!r.ok) return null;
    if (dry) {
      if (depth == 0) {
        // Room for every op of this batch so far, in the state and in the
        // pending delta-group, so the real pass cannot run out halfway.
        const e = batchEpoch();
        if (this.dryEpoch != e) { this.dryEpoch = e; this.dryEnts = 0; this.dryBytes = 0; }
        this.dryEnts++; this.dryBytes += n;
        const pend = pendingOfBatch();
        if (!this.reserve(this.dryEnts, this.dryBytes) ||
            (pend !== null && pend instanceof TopK && !changetype<TopK>(pend).reserve(this.dryEnts, this.dryBytes))) {
          r.fail(E_OUT_OF_MEMORY);
        }
      }
      return null;
    }
    const d = new TopK(this.spec);
    if (!this.covers(p, n, s)) {
      if (!d.reserve(1, n)) { r.fail(E_OUT_OF_MEMORY); return null; }
      d.insertAt(0, p, n, s);
    }
    return d;
  }

  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    r.u8();
    const p = r.valueRaw(); /* validated by the dry pass */
    const n = <usize>r.rawLen;
    const s = r.varint();
    if (this.covers(p, n, s)) return false;
    // Room was reserved by the dry pass (joinOne never compacts).
    changetype<TopK>(pending).joinOne(p, n, s);
    return this.joinOne(p, n, s);
  }

  query(w: Writer): void {
    const idx = new Vec<u32>();
    if (!rankOrder(this, idx)) { idx.free(); setError(E_OUT_OF_MEMORY); return; }
    w.varint(<u64>idx.len);
    for (let t = 0; t < idx.len; t++) {
      const i = <i32>idx.get(t);
      w.varint(<u64>this.idLen(i));
      w.raw(this.idPtr(i), <i32>this.idLen(i));
      w.varint(this.score(i));
    }
    idx.free();
  }

  encode(w: Writer): void {
    w.varint(<u64>this.count);
    for (let i = 0; i < this.count; i++) {
      w.varint(<u64>this.idLen(i));
      w.raw(this.idPtr(i), <i32>this.idLen(i));
      w.varint(this.score(i));
    }
  }

  decode(r: Reader, depth: i32): void {
    const n = r.count(2);
    if (!r.ok) return;
    if (<u32>n > this.spec.k) { r.fail(E_INVALID); return; }
    if (!this.ent.reserve(n << 1)) { r.fail(E_OUT_OF_MEMORY); return; }
    for (let i = 0; i < n; i++) {
      const p = r.valueRaw();
      const len = <usize>r.rawLen;
      const s = r.varint();
      if (!r.ok) return;
      if (i > 0 && compareBytes(this.idPtr(i - 1), this.idLen(i - 1), p, len) >= 0) { r.fail(E_NONCANONICAL); return; }
      if (!this.ids.reserve(<i32>len)) { r.fail(E_OUT_OF_MEMORY); return; }
      this.insertAt(i, p, len, s);
    }
  }
}

// idx := t's entry indices in rank order (score descending, then id
// ascending). Bottom-up merge sort; false on exhaustion.
function rankOrder(t: TopK, idx: Vec<u32>): bool {
  const n = t.count;
  idx.clear();
  if (!idx.reserve(n)) return false;
  for (let i = 0; i < n; i++) idx.pushReserved(<u32>i);
  if (n < 2) return true;
  const tmp = alloc(<usize>n << 2);
  if (tmp == 0) return false;
  let src = idx.ptr, dst = tmp;
  for (let w = 1; w < n; w <<= 1) {
    for (let lo = 0; lo < n; lo += w << 1) {
      const mid = min(lo + w, n), hi = min(lo + (w << 1), n);
      let i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        const a = <i32>load<u32>(src + (<usize>i << 2)), b = <i32>load<u32>(src + (<usize>j << 2));
        // stable: take the right one only when it ranks strictly above
        if (t.ranksAbove(b, t.score(a), t.idPtr(a), t.idLen(a))) { store<u32>(dst + (<usize>k << 2), <u32>b); j++; }
        else { store<u32>(dst + (<usize>k << 2), <u32>a); i++; }
        k++;
      }
      while (i < mid) { store<u32>(dst + (<usize>(k++) << 2), load<u32>(src + (<usize>(i++) << 2))); }
      while (j < hi) { store<u32>(dst + (<usize>(k++) << 2), load<u32>(src + (<usize>(j++) << 2))); }
    }
    const s = src; src = dst; dst = s;
  }
  if (src != idx.ptr) memory.copy(idx.ptr, src, <usize>n << 2);
  release(tmp);
  return true;
}
