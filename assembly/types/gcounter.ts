// Grow-only counter: replica -> count, joined pointwise by max.
// Two counters may both total 42 and still differ: the order is per replica.
//
// Layout (assembly/data): a replica table (replica id bytes -> index, ids back
// to back in an arena) and the counts in a u64 array by index. Decodes and
// bulk joins leave the entries in canonical order (by replica id), so a join
// of two large counters, or of one with a body, is one streaming merge into
// new arrays, and encoding walks them in place. The table's hash index is then
// dropped and built again only when a point op (a local increment, a small
// delta) needs it; entries appended by point ops may break the order, which
// the next bulk join or encode restores through a sorted index. Invariant:
// sorted or indexed (so a lookup never allocates). Counts are at most 2^64 − 2: a count of
// 2^64 − 1 could not be incremented, so no honest history produces it
// (docs/format.md); decode refuses it and a local op that would reach it
// fails with OVERFLOW.
import { Reader, Writer, keyBytes } from "../codec";
import { E_BAD_TAG, E_INVALID, E_NONCANONICAL, E_OUT_OF_MEMORY, E_OVERFLOW, E_TRAILING, E_TRUNCATED, setError } from "../errors";
import { Lattice, Spec, batchEpoch, pendingOfBatch } from "../lattice";
import { ByteTable, Vec, compareBytes, sortedIndex } from "../data/index";
import { compareFast, copyBytes, equalBytes, isAscii, putVarint, varintSize } from "../data/bytes";

export const OP_INCREMENT: u32 = 0; // op := 0 n:varint

// The largest count an honest history can hold.
export const MAX_COUNT: u64 = U64.MAX_VALUE - 1;

export class GCounter extends Lattice {
  reps: ByteTable = new ByteTable();
  vals: Vec<u64> = new Vec<u64>(); // vals[i]: the count of replica i (≥ 1)
  // Whether index order is byte order of the replica ids.
  sorted: bool = true;
  // What the dry pass of the current op batch has added per replica so far:
  // a batch that would overflow in total is refused before any op applies.
  dryEpoch: u32 = 0;
  dryAdd: u64 = 0;
  // A large body joined by stage(): the merged result, waiting for commit.
  staged: GCounter | null = null;
  stagedChanged: bool = false;
  // A small body checked by stage(): applied point by point on commit.
  stagedStart: usize = 0;
  stagedEnd: usize = 0;
  stagedN: i32 = -1;
  // The index findRep found last (checked by its bytes before use, so any
  // change to the table leaves it merely useless, never wrong).
  lastRep: i32 = 0;

  bottom(): Lattice { return new GCounter(this.spec); }
  isBottom(): bool { return this.reps.count == 0; }
  @inline get count(): i32 { return this.reps.count; }
  free(): void { this.reps.free(); this.vals.free(); this.sorted = true; this.dropStaged(); }

  clone(): Lattice {
    const c = new GCounter(this.spec);
    if (!this.reps.copyTo(c.reps) || !this.vals.copyTo(c.vals)) { c.free(); setError(E_OUT_OF_MEMORY); }
    c.sorted = this.sorted;
    return c;
  }

  // Index of replica p[0..n), or −1: the hash index when there is one, else a
  // binary search (an unindexed counter is sorted). Never allocates.
  findRep(p: usize, n: usize): i32 {
    const t = this.reps;
    if (t.count == 0) return -1;
    // A replica's ops look its own entry up again and again: checking the
    // last hit's bytes costs less than hashing a long id (a did is ~70 bytes).
    const last = this.lastRep;
    if (<u32>last < <u32>t.count && equalBytes(t.keyPtr(last), t.keyLen(last), p, n)) return last;
    const i = this.findRepSlow(p, n);
    if (i >= 0) this.lastRep = i;
    return i;
  }

  findRepSlow(p: usize, n: usize): i32 {
    const t = this.reps;
    if (t.indexed) return t.find(p, n);
    let lo = 0, hi = t.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareBytes(t.keyPtr(mid), t.keyLen(mid), p, n);
      if (c == 0) return mid;
      if (c < 0) lo = mid + 1; else hi = mid;
    }
    return -1;
  }

  @inline atBytes(p: usize, n: usize): u64 {
    const i = this.findRep(p, n);
    return i < 0 ? 0 : this.vals.get(i);
  }
  at(replica: string): u64 { return this.atBytes(keyBytes(replica), <usize>replica.length); }

  // count(replica) := max(count, v) for room made by reserve(); returns whether it grew.
  @inline raise(p: usize, n: usize, v: u64): bool {
    const t = this.reps;
    const last = this.lastRep;
    if (<u32>last < <u32>t.count && equalBytes(t.keyPtr(last), t.keyLen(last), p, n)) {
      if (v <= this.vals.get(last)) return false;
      this.vals.set(last, v);
      return true;
    }
    const i = t.add(p, n);
    this.lastRep = i;
    if (t.added) {
      // Appended: still in order only if it sorts after the previous last id.
      if (this.sorted && i > 0 && compareBytes(t.keyPtr(i - 1), t.keyLen(i - 1), p, n) > 0) this.sorted = false;
      this.vals.pushReserved(v);
      return true;
    }
    if (v <= this.vals.get(i)) return false;
    this.vals.set(i, v);
    return true;
  }

  // Room for `keys` more replicas (ids of `bytes` bytes in all), with the
  // hash index (built here if the counter has none).
  @inline reserve(keys: i32, bytes: i32): bool {
    return this.reps.reserve(keys, bytes) && this.vals.reserve(keys);
  }

  // Room to append `keys` entries in order, without the index (a fresh counter).
  @inline reserveAppend(keys: i32, bytes: i32): bool {
    return this.reps.reserveUnindexed(keys, bytes) && this.vals.reserve(keys);
  }

  // Appends an entry that sorts after every entry so far (room reserved, no index).
  @inline append(p: usize, n: usize, v: u64): void {
    this.reps.appendUnindexed(p, n);
    this.vals.pushReserved(v);
  }

  // Takes o's entries (o is left empty), freeing this one's.
  adopt(o: GCounter): void {
    this.reps.free(); this.vals.free();
    this.reps = o.reps; this.vals.take(o.vals);
    o.reps = new ByteTable();
    this.sorted = o.sorted;
    o.sorted = true;
  }

  // count(replica) := max(count, v); false only when memory is exhausted.
  setAt(replica: string, v: u64): bool {
    const n = replica.length;
    if (!this.reserve(1, n)) return false;
    this.raise(keyBytes(replica), <usize>n, v);
    return true;
  }

  // The entries' order: null when index order is byte order, else a sorted
  // index (the caller frees it). Sets OUT_OF_MEMORY and returns null with
  // ok = false on exhaustion.
  order(): Vec<u32> | null {
    orderOk = true;
    if (this.sorted) return null;
    const idx = new Vec<u32>();
    if (!sortedIndex(this.reps, idx)) { idx.free(); orderOk = false; setError(E_OUT_OF_MEMORY); return null; }
    return idx;
  }

  join(o: Lattice): bool {
    const x = changetype<GCounter>(o);
    const t = x.reps;
    if (t.count == 0) return false;
    if (small(t.count, this.count)) {
      // A few entries (a delta): point updates through the hash index.
      if (!this.reserve(t.count, t.keys.len)) { setError(E_OUT_OF_MEMORY); return false; }
      let changed = false;
      for (let i = 0; i < t.count; i++) {
        if (this.raise(t.keyPtr(i), t.keyLen(i), x.vals.get(i))) changed = true;
      }
      return changed;
    }
    // Many: one streaming merge of the two sorted entry lists into new arrays.
    const ia = this.order();
    if (!orderOk) return false;
    const ib = x.order();
    if (!orderOk) { if (ia !== null) ia.free(); return false; }
    const m = new GCounter(this.spec);
    const a = this.reps, b = x.reps;
    const na = a.count, nb = b.count;
    let changed = false;
    if (m.reserveAppend(na + nb, a.keys.len + b.keys.len)) {
      if (ia === null && ib === null) changed = mergeSorted(this, x, m);
      else {
        const out = new MergeOut(m);
        let i = 0, j = 0;
        while (i < na && j < nb) {
          const ka = ia === null ? i : <i32>ia.get(i), kb = ib === null ? j : <i32>ib.get(j);
          const pa = a.keyPtr(ka), la = a.keyLen(ka), pb = b.keyPtr(kb), lb = b.keyLen(kb);
          const c = compareFast(pa, la, pb, lb);
          if (c < 0) { out.take(pa, la, this.vals.get(ka)); i++; }
          else if (c > 0) { out.take(pb, lb, x.vals.get(kb)); j++; changed = true; }
          else {
            const va = this.vals.get(ka), vb = x.vals.get(kb);
            if (vb > va) changed = true;
            out.take(pa, la, vb > va ? vb : va); i++; j++;
          }
        }
        for (; i < na; i++) { const k = ia === null ? i : <i32>ia.get(i); out.take(a.keyPtr(k), a.keyLen(k), this.vals.get(k)); }
        if (j < nb) changed = true;
        for (; j < nb; j++) { const k = ib === null ? j : <i32>ib.get(j); out.take(b.keyPtr(k), b.keyLen(k), x.vals.get(k)); }
        out.finish();
      }
      if (changed) this.adopt(m);
    } else setError(E_OUT_OF_MEMORY);
    m.free();
    if (ia !== null) ia.free();
    if (ib !== null) ib.free();
    return changed;
  }

  // Reads a body into the state: every byte is checked before anything
  // changes, so a bad body or exhausted memory changes nothing.
  joinBody(r: Reader): i32 {
    const e = this.stage(r);
    if (e == 0 && !r.done) r.fail(E_TRAILING);
    if (!r.ok) { this.dropStaged(); return -r.err; }
    if (!this.prepareStaged()) { this.dropStaged(); return -E_OUT_OF_MEMORY; }
    return this.commitStaged() ? 1 : 0;
  }

  // The first half of joining a body (PNCounter joins two): reads and checks
  // the body at r. A few entries against many are only checked, to be applied
  // point by point; otherwise the body is merged with this state's entries
  // into a new counter, kept in `staged` until commitStaged(). Returns 0, or
  // the failure (r failed; nothing staged).
  stage(r: Reader): i32 {
    this.dropStaged();
    const start = r.p;
    const n = r.count(2);
    if (!r.ok) return r.err;
    if (small(n, this.count)) {
      const again = scratchReader(start, r.end);
      readEntries(again, null);
      if (!again.ok) { r.fail(again.err); return r.err; }
      r.p = again.p;
      this.stagedStart = start; this.stagedEnd = again.p; this.stagedN = n;
      return 0;
    }
    const ia = this.order();
    if (!orderOk) { r.fail(E_OUT_OF_MEMORY); return r.err; }
    const m = new GCounter(this.spec);
    const a = this.reps;
    const na = a.count;
    // Room for exactly the ids the body holds (a cheap pass over lengths;
    // an overrun is reported by the checking pass below).
    const ids = idBytes(r.p, r.end, n);
    if (ids < 0) {
      // The entries overrun the body: report what the checking pass finds.
      m.free(); if (ia !== null) ia.free();
      const again = scratchReader(start, r.end);
      readEntries(again, null);
      r.fail(again.ok ? E_TRUNCATED : again.err);
      return r.err;
    }
    if (!m.reserveAppend(na + n, a.keys.len + <i32>ids)) { m.free(); if (ia !== null) ia.free(); r.fail(E_OUT_OF_MEMORY); return r.err; }
    const out = new MergeOut(m);
    let i = 0, changed = false, prev: usize = 0, prevLen: usize = 0;
    for (let j = 0; j < n; j++) {
      const p = readReplica(r);
      const len = <usize>r.rawLen;
      const v = readCount(r);
      if (!r.ok) break;
      if (len == 0 || v == 0) { r.fail(E_INVALID); break; } // an empty replica id names no one
      if (v > MAX_COUNT) { r.fail(E_OVERFLOW); break; }
      if (j > 0 && compareFast(prev, prevLen, p, len) >= 0) { r.fail(E_NONCANONICAL); break; }
      prev = p; prevLen = len;
      // Own entries below the incoming one pass through.
      let c = -1;
      while (i < na) {
        const k = ia === null ? i : <i32>ia.get(i);
        const pa = a.keyPtr(k), la = a.keyLen(k);
        c = compareFast(pa, la, p, len);
        if (c > 0) break;
        const va = this.vals.get(k);
        i++;
        if (c < 0) { out.take(pa, la, va); continue; }
        if (v > va) changed = true;
        out.take(pa, la, v > va ? v : va);
        break;
      }
      if (c > 0 || i == na && c < 0) { out.take(p, len, v); changed = true; }
    }
    if (r.ok) {
      for (; i < na; i++) { const k = ia === null ? i : <i32>ia.get(i); out.take(a.keyPtr(k), a.keyLen(k), this.vals.get(k)); }
      out.finish();
    }
    if (ia !== null) ia.free();
    if (!r.ok) { m.free(); return r.err; }
    if (changed) this.staged = m; else m.free();
    this.stagedChanged = changed;
    return 0;
  }

  // Makes the room a staged small body needs; false on exhaustion (nothing
  // changed but spare capacity).
  prepareStaged(): bool {
    if (this.stagedN < 0) return true;
    return this.reserveFor(this.stagedStart, this.stagedEnd, this.stagedN);
  }

  // Applies what stage() read (after prepareStaged); whether this grew.
  commitStaged(): bool {
    let changed = false;
    if (this.stagedN >= 0) changed = this.joinChecked(this.stagedStart, this.stagedEnd);
    else if (this.staged !== null) { this.adopt(changetype<GCounter>(this.staged)); changed = true; }
    else changed = this.stagedChanged;
    this.dropStaged();
    return changed;
  }

  dropStaged(): void {
    const s = this.staged;
    if (s !== null) s.free();
    this.staged = null;
    this.stagedChanged = false;
    this.stagedN = -1;
  }

  // Makes room for joining the checked body at [start, end) of n entries:
  // only for the replicas this state lacks (most of a delta's are usually known).
  reserveFor(start: usize, end: usize, n: i32): bool {
    let fresh = 0, freshBytes: usize = 0;
    const scan = scratchReader(start, end);
    scan.count(2);
    for (let i = 0; i < n; i++) {
      const p = scan.replicaRaw();
      const len = <usize>scan.rawLen;
      scan.varint();
      if (this.atBytes(p, len) == 0) { fresh++; freshBytes += len; }
    }
    return this.reserve(fresh, <i32>freshBytes);
  }

  // Joins the body at [start, end), which readEntries has checked and whose
  // room reserve() has made; returns whether this grew.
  joinChecked(start: usize, end: usize): bool {
    const again = scratchReader(start, end);
    const n = again.count(2);
    let changed = false;
    for (let i = 0; i < n; i++) {
      const p = again.replicaRaw();
      const len = <usize>again.rawLen;
      if (this.raise(p, len, again.varint())) changed = true;
    }
    return changed;
  }

  leq(o: Lattice): bool {
    const x = changetype<GCounter>(o);
    const t = this.reps;
    if (t.count > x.count) return false;
    if (this.sorted && x.sorted && !small(t.count, x.count)) {
      // One merge walk: every entry of this must be in x with a count ≥ its own.
      const b = x.reps, nb = b.count;
      let j = 0;
      for (let i = 0; i < t.count; i++) {
        const p = t.keyPtr(i), n = t.keyLen(i);
        let c = 1;
        while (j < nb && (c = compareFast(b.keyPtr(j), b.keyLen(j), p, n)) < 0) j++;
        if (c != 0 || this.vals.get(i) > x.vals.get(j)) return false;
        j++;
      }
      return true;
    }
    for (let i = 0; i < t.count; i++) {
      if (this.vals.get(i) > x.atBytes(t.keyPtr(i), t.keyLen(i))) return false;
    }
    return true;
  }

  deltaFrom(o: Lattice): Lattice {
    const x = changetype<GCounter>(o);
    const d = new GCounter(this.spec);
    const t = this.reps;
    if (this.sorted) {
      // In order, so d is too: appended without an index.
      if (!d.reserveAppend(t.count, t.keys.len)) { setError(E_OUT_OF_MEMORY); return d; }
      const walk = x.sorted && !small(t.count, x.count);
      const b = x.reps, nb = b.count;
      let j = 0;
      for (let i = 0; i < t.count; i++) {
        const p = t.keyPtr(i), n = t.keyLen(i), v = this.vals.get(i);
        let have: u64 = 0;
        if (walk) {
          let c = 1;
          while (j < nb && (c = compareFast(b.keyPtr(j), b.keyLen(j), p, n)) < 0) j++;
          if (c == 0) have = x.vals.get(j);
        } else have = x.atBytes(p, n);
        if (v > have) d.append(p, n, v);
      }
      return d;
    }
    if (!d.reserve(t.count, t.keys.len)) { setError(E_OUT_OF_MEMORY); return d; }
    for (let i = 0; i < t.count; i++) {
      const v = this.vals.get(i);
      if (v > x.atBytes(t.keyPtr(i), t.keyLen(i))) d.raise(t.keyPtr(i), t.keyLen(i), v);
    }
    return d;
  }

  // One single-replica counter per entry, in replica order.
  decompose(out: Array<Lattice>): void {
    const idx = this.order();
    if (!orderOk) return;
    const t = this.reps;
    for (let j = 0; j < t.count; j++) {
      const i = idx === null ? j : <i32>idx.get(j);
      const p = new GCounter(this.spec);
      if (!p.reserve(1, <i32>t.keyLen(i))) { setError(E_OUT_OF_MEMORY); break; }
      p.raise(t.keyPtr(i), t.keyLen(i), this.vals.get(i));
      out.push(p);
    }
    if (idx !== null) idx.free();
  }

  // Checks that adding n to replica's count (after what this batch's dry pass
  // already added) stays ≤ MAX_COUNT, and at depth 0 reserves room for the
  // replica in the state and the pending delta-group. Returns 0 or an error.
  checkIncrement(replica: string, n: u64, depth: i32): i32 {
    const e = batchEpoch();
    if (this.dryEpoch != e) { this.dryEpoch = e; this.dryAdd = 0; }
    // An empty replica id names no one: the state would no longer decode.
    if (n > 0 && replica.length == 0) return E_INVALID;
    const cur = this.at(replica);
    if (n > MAX_COUNT - cur || this.dryAdd > MAX_COUNT - cur - n) return E_OVERFLOW;
    this.dryAdd += n;
    if (depth == 0) {
      const k = replica.length;
      if (!this.reserve(1, k)) return E_OUT_OF_MEMORY;
      const pend = pendingOfBatch();
      if (pend !== null && pend !== this && pend instanceof GCounter && !changetype<GCounter>(pend).reserve(1, k)) return E_OUT_OF_MEMORY;
    }
    return 0;
  }

  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_INCREMENT) { r.fail(E_BAD_TAG); return null; }
    const n = r.varint();
    if (!r.ok) return null;
    if (dry) {
      const e = this.checkIncrement(replica, n, depth);
      if (e != 0) r.fail(e);
      return null;
    }
    const cur = this.at(replica);
    if (n > MAX_COUNT - cur) { r.fail(E_OVERFLOW); return null; }
    const d = new GCounter(this.spec);
    if (n > 0 && !d.setAt(replica, cur + n)) { r.fail(E_OUT_OF_MEMORY); return null; }
    return d;
  }

  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    r.u8();
    const n = r.varint(); // the dry pass checked it cannot overflow
    if (n == 0) return false;
    const v = this.at(replica) + n;
    const k = replica.length;
    const p = keyBytes(replica);
    // Room was reserved by the dry pass; pending ⊑ this, so v is its max too.
    if (!this.reps.reserve(1, k) || !this.vals.reserve(1)) unreachable();
    this.raise(p, <usize>k, v);
    const pend = changetype<GCounter>(pending);
    if (!pend.reserve(1, k)) unreachable();
    pend.raise(p, <usize>k, v);
    return true;
  }

  total(): u64 {
    let t: u64 = 0;
    for (let i = 0; i < this.vals.len; i++) {
      const v = this.vals.get(i);
      t = v > U64.MAX_VALUE - t ? U64.MAX_VALUE : t + v; // saturate
    }
    return t;
  }

  query(w: Writer): void { w.varint(this.total()); }

  // body := count, then (replica, 1 ≤ value ≤ 2^64 − 2) sorted by replica
  encode(w: Writer): void {
    const idx = this.order();
    if (!orderOk) { w.varint(0); return; } // the ABI returns OUT_OF_MEMORY
    const t = this.reps;
    // The exact size first, so the entries are written with raw stores.
    let size: usize = <usize>varintSize(<u64>t.count) + <usize>t.keys.len;
    for (let i = 0; i < t.count; i++) size += <usize>varintSize(<u64>t.keyLen(i)) + <usize>varintSize(this.vals.get(i));
    if (size > 0x7000_0000 || !w.ensure(<i32>size)) { if (idx !== null) idx.free(); return; } // the ABI returns OUT_OF_MEMORY
    const start = w.ptr + <usize>w.pos;
    let p = putVarint(start, <u64>t.count);
    for (let j = 0; j < t.count; j++) {
      const i = idx === null ? j : <i32>idx.get(j);
      const n = t.keyLen(i);
      p = putVarint(p, <u64>n);
      copyBytes(p, t.keyPtr(i), n);
      p = putVarint(p + n, this.vals.get(i));
    }
    w.pos += <i32>(p - start);
    if (idx !== null) idx.free();
  }

  // Format v2 straight from the entries: the table is their ids in byte
  // order, each referenced once, so entry k names table index k (no base: no
  // timestamps). The generic compaction hashed and sorted every id: a 100k
  // replica counter took 3x longer to encode.
  encodeCompact(w: Writer): bool {
    const idx = this.order();
    if (!orderOk) return true; // OUT_OF_MEMORY is set: the ABI returns it
    const t = this.reps, n = t.count;
    let size: usize = 2 * <usize>varintSize(<u64>n) + <usize>t.keys.len;
    for (let i = 0; i < n; i++) size += <usize>varintSize(<u64>t.keyLen(i)) + <usize>varintSize(<u64>i) + <usize>varintSize(this.vals.get(i));
    if (size > 0x7000_0000 || !w.ensure(<i32>size)) { if (idx !== null) idx.free(); return true; }
    const start = w.ptr + <usize>w.pos;
    let p = putVarint(start, <u64>n);
    for (let j = 0; j < n; j++) {
      const i = idx === null ? j : <i32>idx.get(j);
      const k = t.keyLen(i);
      p = putVarint(p, <u64>k);
      copyBytes(p, t.keyPtr(i), k);
      p += k;
    }
    p = putVarint(p, <u64>n);
    for (let j = 0; j < n; j++) {
      const i = idx === null ? j : <i32>idx.get(j);
      p = putVarint(putVarint(p, <u64>j), this.vals.get(i));
    }
    w.pos += <i32>(p - start);
    if (idx !== null) idx.free();
    return true;
  }

  decode(r: Reader, depth: i32): void { readEntries(r, this); }
}

// Reads (and checks) a body's entries, adding them to `into` when given.
// Returns how many there were.
export function readEntries(r: Reader, into: GCounter | null): i32 {
  const start = r.p;
  const n = r.count(2);
  // Room for all n entries at once, so the tables grow once instead of by
  // doubling entry by entry (each doubling leaves the old block behind). The
  // key bytes are at most what is left of the input, and at most n ids.
  // Into an empty counter the entries are appended in order, unhashed (the
  // index is built if a point op needs it).
  const fresh = into !== null && into.isBottom();
  if (into !== null && n > 0 && r.ok) {
    const ids = idBytes(r.p, r.end, n);
    if (ids < 0) {
      // The entries overrun the body: only check them, for the error.
      r.p = start;
      readEntries(r, null);
      if (r.ok) r.fail(E_TRUNCATED);
      return n;
    }
    const bytes = ids;
    if (!(fresh ? into.reserveAppend(n, <i32>bytes) : into.reserve(n, <i32>bytes))) { r.fail(E_OUT_OF_MEMORY); return n; }
    if (fresh) into.reps.dropIndex();
  }
  let prev: usize = 0, prevLen: usize = 0;
  for (let i = 0; i < n && r.ok; i++) {
    const p = readReplica(r);
    const len = <usize>r.rawLen;
    const v = readCount(r);
    if (!r.ok) break;
    if (len == 0 || v == 0) { r.fail(E_INVALID); break; } // an empty replica id names no one
    if (v > MAX_COUNT) { r.fail(E_OVERFLOW); break; }
    if (i > 0 && compareFast(prev, prevLen, p, len) >= 0) { r.fail(E_NONCANONICAL); break; }
    prev = p; prevLen = len;
    if (into !== null) {
      if (fresh) into.append(p, len, v);
      else {
        if (!into.reserve(1, <i32>len)) { r.fail(E_OUT_OF_MEMORY); break; }
        into.raise(p, len, v);
      }
    }
  }
  return n;
}

// The total length of the ids of the n entries at [p, end), reading only
// lengths (no checks but bounds: the checking pass reports what is wrong), or
// −1 when the entries run past the end.
function idBytes(p: usize, end: usize, n: i32): i64 {
  let sum: i64 = 0;
  for (let i = 0; i < n; i++) {
    let len: u64 = 0, shift: u64 = 0;
    while (true) {
      if (p >= end || shift > 28) return -1;
      const b = <u64>load<u8>(p++);
      len |= (b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
      shift += 7;
    }
    if (len > <u64>(end - p)) return -1;
    p += <usize>len;
    sum += <i64>len;
    while (true) { // the count
      if (p >= end) return -1;
      if ((load<u8>(p++) & 0x80) == 0) break;
    }
  }
  return sum;
}

// r.replicaRaw() with a fast path for the usual id: under 128 bytes of ASCII,
// checked a word at a time (accepts exactly what replicaRaw() accepts for it).
@inline function readReplica(r: Reader): usize {
  const p = r.p;
  if (p + 1 < r.end) {
    const n = <usize>load<u8>(p);
    if (n < 0x80 && n < r.end - p && isAscii(p + 1, n)) {
      r.p = p + 1 + n;
      r.rawLen = <i32>n;
      return p + 1;
    }
  }
  return r.replicaRaw();
}

// r.varint() for an entry's count, inlined for a count below 128 (one byte,
// always canonical; 0 is refused by the caller as varint() would let it).
@inline function readCount(r: Reader): u64 {
  const p = r.p;
  if (p < r.end) {
    const b = load<u8>(p);
    if (b < 0x80) { r.p = p + 1; return <u64>b; }
  }
  return r.varint();
}

// Set by GCounter.order(): false when it ran out of memory.
let orderOk: bool = true;

// Whether k incoming entries are few enough against a counter of n to be
// applied point by point through the hash index instead of merged (a merge
// rewrites all n).
@inline function small(k: i32, n: i32): bool { return k <= 8 || k * 32 < n; }

// m := x ⊔ y for two counters in order (room reserved in m, which is empty);
// whether y added anything. The join's hot loop: every pointer in a local
// (the stores to m would keep the compiler from hoisting field loads), ids
// copied in streaks as MergeOut does, counts and offsets stored directly.
function mergeSorted(x: GCounter, y: GCounter, m: GCounter): bool {
  const ak = x.reps.keys.ptr, ao = x.reps.offs.ptr, av = x.vals.ptr, na = x.count;
  const bk = y.reps.keys.ptr, bo = y.reps.offs.ptr, bv = y.vals.ptr, nb = y.count;
  m.reps.offs.pushReserved(0);
  let w = m.reps.keys.ptr, offs = m.reps.offs.ptr + 4, vals = m.vals.ptr;
  let o: u32 = 0, ps: usize = 0, pe: usize = 0;
  let i: usize = 0, j: usize = 0, changed = false;
  // Offsets of the current entries: [as, ae) in x, [bs, be) in y.
  let as = load<u32>(ao), bs = load<u32>(bo);
  while (i < <usize>na && j < <usize>nb) {
    const ae = load<u32>(ao + ((i + 1) << 2)), be = load<u32>(bo + ((j + 1) << 2));
    const pa = ak + <usize>as, la = <usize>(ae - as), pb = bk + <usize>bs, lb = <usize>(be - bs);
    const c = compareFast(pa, la, pb, lb);
    let p = pa, n = la, v: u64;
    if (c < 0) { v = load<u64>(av + (i << 3)); i++; as = ae; }
    else if (c > 0) { p = pb; n = lb; v = load<u64>(bv + (j << 3)); j++; bs = be; changed = true; }
    else {
      const va = load<u64>(av + (i << 3)), vb = load<u64>(bv + (j << 3));
      if (vb > va) { changed = true; v = vb; } else v = va;
      i++; j++; as = ae; bs = be;
    }
    if (pe != p) { copyBytes(w, ps, pe - ps); w += pe - ps; ps = p; }
    pe = p + n;
    o += <u32>n;
    store<u32>(offs, o); offs += 4;
    store<u64>(vals, v); vals += 8;
  }
  copyBytes(w, ps, pe - ps);
  w += pe - ps;
  // The rests: ids in one copy, offsets shifted, counts in one copy.
  if (j < <usize>nb) changed = true;
  for (let side = 0; side < 2; side++) {
    const k = side == 0 ? i : j, n = <usize>(side == 0 ? na : nb);
    if (k >= n) continue;
    const kp = side == 0 ? ak : bk, op = side == 0 ? ao : bo, vp = side == 0 ? av : bv;
    const base = load<u32>(op + (k << 2)), end = load<u32>(op + (n << 2));
    copyBytes(w, kp + <usize>base, <usize>(end - base));
    w += <usize>(end - base);
    for (let q = k + 1; q <= n; q++) { store<u32>(offs, o + load<u32>(op + (q << 2)) - base); offs += 4; }
    o += end - base;
    copyBytes(vals, vp + (k << 3), (n - k) << 3);
    vals += (n - k) << 3;
  }
  const t = m.reps;
  t.keys.len = <i32>o;
  t.offs.len = <i32>((offs - t.offs.ptr) >> 2);
  t.count = t.offs.len - 1;
  m.vals.len = t.count;
  return changed;
}

// Writes a merge's output into a counter with room reserved (reserveAppend)
// and no entries: ids are copied in streaks ([ps, pe): consecutive ids taken
// from one arena or input, not yet copied), so a stretch of entries from one
// side costs one copy, and offsets and counts are stored directly.
@final class MergeOut {
  w: usize;      // where the next copied id bytes go
  o: u32 = 0;    // id bytes written (flushed or pending)
  ps: usize = 0;
  pe: usize = 0;
  offs: usize;   // the next offset slot
  vals: usize;   // the next count slot
  constructor(public m: GCounter) {
    this.w = m.reps.keys.ptr;
    m.reps.offs.pushReserved(0);
    this.offs = m.reps.offs.ptr + 4;
    this.vals = m.vals.ptr;
  }
  @inline take(p: usize, n: usize, v: u64): void {
    if (this.pe != p) {
      copyBytes(this.w, this.ps, this.pe - this.ps);
      this.w += this.pe - this.ps;
      this.ps = p;
    }
    this.pe = p + n;
    this.o += <u32>n;
    store<u32>(this.offs, this.o); this.offs += 4;
    store<u64>(this.vals, v); this.vals += 8;
  }
  // Copies what is pending and sets the counter's lengths.
  finish(): void {
    copyBytes(this.w, this.ps, this.pe - this.ps);
    const m = this.m, t = m.reps;
    t.keys.len = <i32>this.o;
    t.offs.len = <i32>((this.offs - t.offs.ptr) >> 2);
    t.count = t.offs.len - 1;
    m.vals.len = t.count;
  }
}

// One Reader for the second passes over a checked body (they never nest), so
// applying a small delta allocates no managed object for them.
const tmpReader = new Reader(0, 0);
function scratchReader(p: usize, end: usize): Reader {
  const r = tmpReader;
  r.p = p; r.end = end; r.err = 0; r.dry = false; r.rawLen = 0;
  return r;
}
