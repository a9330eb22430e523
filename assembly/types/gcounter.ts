// Grow-only counter: replica -> count, joined pointwise by max.
// Two counters may both total 42 and still differ: the order is per replica.
//
// Layout (assembly/data): a replica table (replica id bytes -> index) and the
// counts in a u64 array by index; canonical order (by replica id) is made only
// when encoding or decomposing. Counts are at most 2^64 − 2: a count of
// 2^64 − 1 could not be incremented, so no honest history produces it
// (docs/format.md); decode refuses it and a local op that would reach it
// fails with OVERFLOW.
import { Reader, Writer, keyBytes } from "../codec";
import { E_BAD_TAG, E_INVALID, E_NONCANONICAL, E_OUT_OF_MEMORY, E_OVERFLOW, E_TRAILING, setError, MAX_REPLICA } from "../errors";
import { Lattice, Spec, batchEpoch, pendingOfBatch } from "../lattice";
import { ByteTable, Vec, compareBytes, sortedIndex } from "../data/index";

export const OP_INCREMENT: u32 = 0; // op := 0 n:varint

// The largest count an honest history can hold.
export const MAX_COUNT: u64 = U64.MAX_VALUE - 1;

export class GCounter extends Lattice {
  reps: ByteTable = new ByteTable();
  vals: Vec<u64> = new Vec<u64>(); // vals[i]: the count of replica i (≥ 1)
  // What the dry pass of the current op batch has added per replica so far:
  // a batch that would overflow in total is refused before any op applies.
  dryEpoch: u32 = 0;
  dryAdd: u64 = 0;

  bottom(): Lattice { return new GCounter(this.spec); }
  isBottom(): bool { return this.reps.count == 0; }
  free(): void { this.reps.free(); this.vals.free(); }

  clone(): Lattice {
    const c = new GCounter(this.spec);
    if (!this.reps.copyTo(c.reps) || !this.vals.copyTo(c.vals)) { c.free(); setError(E_OUT_OF_MEMORY); }
    return c;
  }

  @inline atBytes(p: usize, n: usize): u64 {
    const i = this.reps.find(p, n);
    return i < 0 ? 0 : this.vals.get(i);
  }
  at(replica: string): u64 { return this.atBytes(keyBytes(replica), <usize>replica.length); }

  // count(replica) := max(count, v) for room made by reserve(); returns whether it grew.
  @inline raise(p: usize, n: usize, v: u64): bool {
    const i = this.reps.add(p, n);
    if (this.reps.added) { this.vals.pushReserved(v); return true; }
    if (v <= this.vals.get(i)) return false;
    this.vals.set(i, v);
    return true;
  }

  // Room for `keys` more replicas (ids of `bytes` bytes in all).
  @inline reserve(keys: i32, bytes: i32): bool {
    return this.reps.reserve(keys, bytes) && this.vals.reserve(keys);
  }

  // count(replica) := max(count, v); false only when memory is exhausted.
  setAt(replica: string, v: u64): bool {
    const n = replica.length;
    if (!this.reserve(1, n)) return false;
    this.raise(keyBytes(replica), <usize>n, v);
    return true;
  }

  join(o: Lattice): bool {
    const x = changetype<GCounter>(o);
    const t = x.reps;
    if (t.count == 0) return false;
    if (!this.reserve(t.count, t.keys.len)) { setError(E_OUT_OF_MEMORY); return false; }
    let changed = false;
    for (let i = 0; i < t.count; i++) {
      if (this.raise(t.keyPtr(i), t.keyLen(i), x.vals.get(i))) changed = true;
    }
    return changed;
  }

  // Reads a body into the state in two passes over the bytes: the first
  // checks everything and counts, the second (after reserving room) applies,
  // so a bad body or exhausted memory changes nothing.
  joinBody(r: Reader): i32 {
    const start = r.p;
    const n = readEntries(r, null);
    if (r.ok && !r.done) r.fail(E_TRAILING);
    if (!r.ok) return -r.err;
    if (!this.reserveFor(start, r.end, n)) return -E_OUT_OF_MEMORY;
    return this.joinChecked(start, r.end) ? 1 : 0;
  }

  // Makes room for joining the checked body at [start, end) of n entries:
  // only for the replicas this state lacks (most of a delta's are usually known).
  reserveFor(start: usize, end: usize, n: i32): bool {
    let fresh = 0, freshBytes: usize = 0;
    const scan = new Reader(start, end);
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
    const again = new Reader(start, end);
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
    for (let i = 0; i < t.count; i++) {
      if (this.vals.get(i) > x.atBytes(t.keyPtr(i), t.keyLen(i))) return false;
    }
    return true;
  }

  deltaFrom(o: Lattice): Lattice {
    const x = changetype<GCounter>(o);
    const d = new GCounter(this.spec);
    const t = this.reps;
    if (!d.reserve(t.count, t.keys.len)) { setError(E_OUT_OF_MEMORY); return d; }
    for (let i = 0; i < t.count; i++) {
      const v = this.vals.get(i);
      if (v > x.atBytes(t.keyPtr(i), t.keyLen(i))) d.raise(t.keyPtr(i), t.keyLen(i), v);
    }
    return d;
  }

  // One single-replica counter per entry, in replica order.
  decompose(out: Array<Lattice>): void {
    const idx = new Vec<u32>();
    if (!sortedIndex(this.reps, idx)) { idx.free(); setError(E_OUT_OF_MEMORY); return; }
    const t = this.reps;
    for (let j = 0; j < idx.len; j++) {
      const i = <i32>idx.get(j);
      const p = new GCounter(this.spec);
      if (!p.reserve(1, <i32>t.keyLen(i))) { setError(E_OUT_OF_MEMORY); break; }
      p.raise(t.keyPtr(i), t.keyLen(i), this.vals.get(i));
      out.push(p);
    }
    idx.free();
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
    const idx = new Vec<u32>();
    if (!sortedIndex(this.reps, idx)) { idx.free(); setError(E_OUT_OF_MEMORY); w.varint(0); return; }
    const t = this.reps;
    w.varint(<u64>idx.len);
    for (let j = 0; j < idx.len; j++) {
      const i = <i32>idx.get(j);
      const n = t.keyLen(i);
      w.varint(<u64>n);
      w.raw(t.keyPtr(i), <i32>n);
      w.varint(this.vals.get(i));
    }
    idx.free();
  }

  decode(r: Reader, depth: i32): void { readEntries(r, this); }
}

// Reads (and checks) a body's entries, adding them to `into` when given.
// Returns how many there were.
export function readEntries(r: Reader, into: GCounter | null): i32 {
  const n = r.count(2);
  // Room for all n entries at once, so the tables grow once instead of by
  // doubling entry by entry (each doubling leaves the old block behind). The
  // key bytes are at most what is left of the input, and at most n ids.
  if (into !== null && n > 0 && r.ok) {
    const bytes = min(<u64>(r.end - r.p), <u64>n * <u64>MAX_REPLICA);
    if (!into.reserve(n, <i32>bytes)) { r.fail(E_OUT_OF_MEMORY); return n; }
  }
  let prev: usize = 0, prevLen: usize = 0;
  for (let i = 0; i < n && r.ok; i++) {
    const p = r.replicaRaw();
    const len = <usize>r.rawLen;
    const v = r.varint();
    if (!r.ok) break;
    if (len == 0 || v == 0) { r.fail(E_INVALID); break; } // an empty replica id names no one
    if (v > MAX_COUNT) { r.fail(E_OVERFLOW); break; }
    if (i > 0 && compareBytes(prev, prevLen, p, len) >= 0) { r.fail(E_NONCANONICAL); break; }
    prev = p; prevLen = len;
    if (into !== null) {
      if (!into.reserve(1, <i32>len)) { r.fail(E_OUT_OF_MEMORY); break; }
      into.raise(p, len, v);
    }
  }
  return n;
}
