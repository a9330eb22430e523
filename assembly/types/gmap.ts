// Grow-only map: key -> a nested lattice of one type (spec.a), joined
// pointwise. A key whose value is bottom is still information: {k: ⊥} ⊐ {},
// so keys are never dropped and the map is a lattice of (key set, values).
//
// Layout (assembly/data): keys interned in a ByteTable (one hash probe per
// lookup, key bytes in one arena, no string per key); value i, the nested
// state of key i, sits at index i of one array of pointers; the keys' byte
// order is kept incrementally (KeyOrder), sorted only for the keys added
// since the last encode. Nested states are freed with the map.
import { Reader, Writer, keyBytes } from "../codec";
import { E_BAD_TAG, E_NONCANONICAL, E_OUT_OF_MEMORY, E_TOO_DEEP, E_TOO_LARGE, E_TRAILING, MAX_DEPTH, MAX_PARTS, setError, takeError } from "../errors";
import { Lattice, Spec, batchEpoch, chargeBatch, pendingOfBatch } from "../lattice";
import { newBottom, readBody } from "../registry";
import { ByteTable, Vec, compareBytes } from "../data/index";
import { KeyOrder } from "../data/order";

export const OP_UPDATE: u32 = 0; // op := 0 key:bytes nested-op

// body  := count (key:bytes, nested body)*
//          keys sorted by bytes, strictly increasing; a nested body may be
//          bottom's (the key was touched by an op that changed nothing).
// query := count (key:bytes, nested query)*   (sorted by key)
//
// GMap reads only spec.a, so AWMap reuses it with its own spec.
export class GMap extends Lattice {
  keys: ByteTable = new ByteTable();
  vals: Array<Lattice> = new Array<Lattice>(); // vals[i]: the value of key i
  order: KeyOrder = new KeyOrder();
  // Room reserved by the dry pass of the current op batch (see op()).
  dryEpoch: u32 = 0;
  dryKeys: i32 = 0;
  dryBytes: i32 = 0;

  bottom(): Lattice { return new GMap(this.spec); }
  isBottom(): bool { return this.keys.count == 0; }
  size(): i32 { return this.keys.count; }

  free(): void {
    const vs = this.vals;
    for (let i = 0; i < vs.length; i++) vs[i].free();
    vs.length = 0;
    this.keys.free();
    this.order.free();
  }

  // The value under key p[0..n), or null.
  @inline valueOf(p: usize, n: usize): Lattice | null {
    const i = this.keys.find(p, n);
    return i < 0 ? null : unchecked(this.vals[i]);
  }

  // Adds key p[0..n) with value v (taken over), or joins v into the present
  // value (v is then freed). Room for the key must have been reserved.
  // Returns whether the map grew.
  private put(p: usize, n: usize, v: Lattice): bool {
    const i = this.keys.add(p, n);
    if (this.keys.added) { this.vals.push(v); return true; }
    const grew = unchecked(this.vals[i]).join(v);
    v.free();
    return grew;
  }

  clone(): Lattice {
    const c = new GMap(this.spec);
    if (!this.keys.copyTo(c.keys) || !this.order.copyTo(c.order)) { c.keys.free(); c.order.free(); setError(E_OUT_OF_MEMORY); return c; }
    const vs = this.vals;
    for (let i = 0; i < vs.length; i++) c.vals.push(unchecked(vs[i]).clone());
    return c;
  }

  // Puts the keys in byte order, or reports OUT_OF_MEMORY for the ABI to return.
  @inline ordered(): bool {
    if (this.order.update(this.keys)) return true;
    setError(E_OUT_OF_MEMORY);
    return false;
  }

  join(o: Lattice): bool {
    const x = changetype<GMap>(o);
    const xk = x.keys;
    if (xk.count == 0) return false;
    if (!this.keys.reserve(xk.count, xk.keys.len)) { setError(E_OUT_OF_MEMORY); return false; }
    let changed = false;
    for (let j = 0; j < xk.count; j++) {
      const i = this.keys.add(xk.keyPtr(j), xk.keyLen(j)); // one probe: room reserved
      if (this.keys.added) { this.vals.push(unchecked(x.vals[j]).clone()); changed = true; }
      else if (unchecked(this.vals[i]).join(unchecked(x.vals[j]))) changed = true;
    }
    return changed;
  }

  leq(o: Lattice): bool {
    const x = changetype<GMap>(o);
    const t = this.keys;
    if (t.count > x.keys.count) return false;
    for (let i = 0; i < t.count; i++) {
      const v = x.valueOf(t.keyPtr(i), t.keyLen(i));
      if (v === null || !unchecked(this.vals[i]).leq(v)) return false;
    }
    return true;
  }

  // Keys o lacks come whole; shared keys bring the nested delta if it is not bottom.
  deltaFrom(o: Lattice): Lattice {
    const x = changetype<GMap>(o);
    const d = new GMap(this.spec);
    const t = this.keys;
    if (!d.keys.reserve(t.count, t.keys.len)) { setError(E_OUT_OF_MEMORY); return d; }
    for (let i = 0; i < t.count; i++) {
      const p = t.keyPtr(i), n = t.keyLen(i);
      const v = x.valueOf(p, n);
      const nd = v === null ? unchecked(this.vals[i]).clone() : unchecked(this.vals[i]).deltaFrom(v);
      if (v !== null && nd.isBottom()) { nd.free(); continue; }
      d.keys.add(p, n);
      d.vals.push(nd);
    }
    return d;
  }

  // {k: part} for each irreducible part of each value; {k: ⊥} for a bottom
  // value (then nothing else records the key).
  decompose(out: Array<Lattice>): void {
    if (!this.ordered()) return;
    const t = this.keys;
    const parts = new Array<Lattice>();
    for (let s = 0; s < t.count; s++) {
      const i = this.order.at(s);
      const v = unchecked(this.vals[i]);
      parts.length = 0;
      v.decompose(parts);
      if (parts.length == 0) parts.push(v.bottom());
      for (let j = 0; j < parts.length; j++) {
        if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
        const p = new GMap(this.spec);
        if (p.keys.add(t.keyPtr(i), t.keyLen(i)) < 0) { setError(E_OUT_OF_MEMORY); return; }
        p.vals.push(parts[j]);
        out.push(p);
      }
    }
  }

  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_UPDATE) { r.fail(E_BAD_TAG); return null; }
    const kp = r.valueRaw();
    const kn = <usize>r.rawLen;
    if (!r.ok) return null;
    const cur = this.valueOf(kp, kn);
    if (dry && cur === null) {
      if (depth == 0 ? !this.reserveDry(<i32>kn) : !this.keys.reserve(1, <i32>kn)) { r.fail(E_OUT_OF_MEMORY); return null; }
      if (!this.chargeKey(kn, depth == 0 ? this.dryKeys : 1, depth)) { r.fail(E_OUT_OF_MEMORY); return null; }
    }
    const nd = nestedOp(cur, this.spec, r, replica, dry, depth);
    if (nd === null) return null;
    const d = new GMap(this.spec);
    if (d.keys.add(kp, kn) < 0) { nd.free(); r.fail(E_OUT_OF_MEMORY); return null; }
    d.vals.push(nd);
    return d;
  }

  // The real pass of a batch adds a new key to the state and to the pending
  // delta-group: the dry pass reserves that room in both, so the real pass
  // cannot run out halfway through the batch.
  private reserveDry(n: i32): bool {
    const pend = pendingOfBatch();
    return this.reserveKey(n, pend !== null && pend !== this && pend instanceof GMap ? changetype<GMap>(pend) : null);
  }

  // Counts one more new key of n bytes for this batch and reserves room for
  // all of them here and in pend (also AWMap's values). False on exhaustion.
  reserveKey(n: i32, pend: GMap | null): bool {
    const e = batchEpoch();
    if (this.dryEpoch != e) { this.dryEpoch = e; this.dryKeys = 0; this.dryBytes = 0; }
    this.dryKeys++;
    this.dryBytes += n;
    if (!this.keys.reserve(this.dryKeys, this.dryBytes)) return false;
    return pend === null || pend.keys.reserve(this.dryKeys, this.dryBytes);
  }

  // Charges a new key's managed objects to the op batch (lattice.ts
  // chargeBatch), with the doubling of this map's value array and the
  // pending one's (no larger) once `more` keys are pushed. Below the top,
  // the dry pass reserves room for the key in this map but cannot reach the
  // pending map's counterpart (no larger than this one): its growth is
  // charged as this table's size.
  chargeKey(n: usize, more: i32, depth: i32): bool {
    let extra = pushBlock(this.vals, more) << 1;
    if (depth > 0) {
      const t = this.keys;
      extra += ((<usize>t.mask + 1) << 4) + (<usize>t.offs.cap << 3) + (<usize>t.keys.cap << 1) + (n << 1);
    }
    return chargeBatch(KEY_OBJECTS + n, extra);
  }

  // Key p[0..n)'s value here and in pending (bottoms added if absent), for
  // an op applied in place; -1 (after r.fail) when memory is exhausted.
  slot(p: usize, n: usize, pend: GMap, r: Reader): i32 {
    const i = this.keys.add(p, n);
    const j = i < 0 ? -1 : pend.keys.add(p, n);
    // Reserved by the dry pass at the top level; a map nested deeper than
    // that could still run out here: the ABI then fails the call.
    if (j < 0) { r.fail(E_OUT_OF_MEMORY); return -1; }
    if (this.keys.added) this.vals.push(newBottom(this.spec.a!));
    if (pend.keys.added) pend.vals.push(newBottom(this.spec.a!));
    slotPend = j;
    return i;
  }

  // update(key, op) in place: the nested value applies the op into itself and
  // into the pending map's value under the same key, recursively.
  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    r.u8();
    const kp = r.valueRaw(); // validated by the dry pass
    const kn = <usize>r.rawLen;
    const p = changetype<GMap>(pending);
    const before = this.keys.count;
    const i = this.slot(kp, kn, p, r);
    if (i < 0) return false;
    const grew = this.keys.count != before;
    return unchecked(this.vals[i]).applyOp(r, replica, unchecked(p.vals[slotPend]), depth + 1) || grew;
  }

  query(w: Writer): void {
    if (!this.ordered()) { w.varint(0); return; } // the ABI returns OUT_OF_MEMORY
    const t = this.keys;
    w.varint(<u64>t.count);
    for (let s = 0; s < t.count; s++) {
      const i = this.order.at(s);
      const n = t.keyLen(i);
      w.varint(<u64>n);
      w.raw(t.keyPtr(i), <i32>n);
      unchecked(this.vals[i]).query(w);
    }
  }

  hasBytes(p: usize, n: i32): i32 { return this.keys.find(p, <usize>n) >= 0 ? 1 : 0; }
  has(key: string): i32 { return this.hasBytes(keyBytes(key), key.length); }
  get(key: string, w: Writer): bool {
    const v = this.valueOf(keyBytes(key), <usize>key.length);
    if (v === null) return false;
    v.query(w);
    return true;
  }

  encode(w: Writer): void {
    if (!this.ordered()) { w.varint(0); return; } // the ABI returns OUT_OF_MEMORY
    const t = this.keys;
    w.varint(<u64>t.count);
    for (let s = 0; s < t.count; s++) {
      const i = this.order.at(s);
      const n = t.keyLen(i);
      w.varint(<u64>n);
      w.raw(t.keyPtr(i), <i32>n);
      unchecked(this.vals[i]).encode(w);
    }
  }

  decode(r: Reader, depth: i32): void {
    // Each entry needs at least its key's length byte (nested bodies are not
    // assumed non-empty).
    const n = r.count(1);
    if (!r.ok) return;
    // Slots and offsets for every key at once; the arena grows with the keys.
    if (!this.keys.reserve(n, 0)) { r.fail(E_OUT_OF_MEMORY); return; }
    let prev: usize = 0, prevLen: usize = 0;
    for (let i = 0; i < n; i++) {
      const kp = r.valueRaw();
      if (!r.ok) return;
      const kn = <usize>r.rawLen;
      if (i > 0 && compareBytes(prev, prevLen, kp, kn) >= 0) { r.fail(E_NONCANONICAL); return; }
      prev = kp; prevLen = kn;
      const v = readBody(r, this.spec.a!, depth + 1);
      if (!r.ok || this.keys.add(kp, kn) < 0) { v.free(); if (r.ok) r.fail(E_OUT_OF_MEMORY); return; }
      this.vals.push(v);
    }
    if (!this.order.identity(n)) r.fail(E_OUT_OF_MEMORY); // read in byte order
  }

  // The incoming body is read key by key, each value decoded on its own (never
  // a whole incoming map with its table); once the whole body has checked
  // out, new keys take their decoded value over and present keys join it.
  joinBody(r: Reader): i32 {
    const n = r.count(1);
    if (!r.ok) return -r.err;
    const at = new Vec<u32>(); // where each key's bytes start in the input, and their length
    const got = new Array<Lattice>();
    if (!at.reserve(n << 1)) return -E_OUT_OF_MEMORY;
    let prev: usize = 0, prevLen: usize = 0, bytes: usize = 0;
    for (let i = 0; i < n; i++) {
      const kp = r.valueRaw();
      if (!r.ok) break;
      const kn = <usize>r.rawLen;
      if (i > 0 && compareBytes(prev, prevLen, kp, kn) >= 0) { r.fail(E_NONCANONICAL); break; }
      prev = kp; prevLen = kn; bytes += kn;
      const v = readBody(r, this.spec.a!, 1); // a top-level body: its values are at depth 1
      got.push(v);
      const e = takeError();
      if (e != 0) r.fail(e);
      if (!r.ok) break;
      at.pushReserved(<u32>kp);
      at.pushReserved(<u32>kn);
    }
    if (r.ok && !r.done) r.fail(E_TRAILING);
    if (r.ok && !this.keys.reserve(n, <i32>bytes)) r.fail(E_OUT_OF_MEMORY);
    if (!r.ok) {
      for (let i = 0; i < got.length; i++) unchecked(got[i]).free();
      at.free();
      return -r.err;
    }
    let changed = false;
    for (let i = 0; i < n; i++) {
      if (this.put(<usize>at.get(i << 1), <usize>at.get((i << 1) + 1), unchecked(got[i]))) changed = true;
    }
    at.free();
    const e = takeError(); // a nested join could not get memory
    return e != 0 ? -e : changed ? 1 : 0;
  }
}

// A new key's managed objects: its value state here and in the pending
// delta-group, and the op's delta map and value (a GMap<GCounter> value
// state with its vectors is a few hundred bytes).
const KEY_OBJECTS: usize = 1024;

// The block a push reallocates to hold `more` values past `a`'s length (an
// AssemblyScript array doubles its buffer); 0 when they fit.
function pushBlock(a: Array<Lattice>, more: i32): usize {
  const cap = <usize>changetype<ArrayBufferView>(a).byteLength;
  const need = <usize>(a.length + more) << alignof<usize>();
  return need <= cap ? 0 : max(cap << 1, need);
}

// The pending index slot() found (module state: no object per op).
let slotPend: i32 = 0;
export function pendSlot(): i32 { return slotPend; }

// Runs a nested op on cur (or a fresh bottom of spec.a when absent) and
// returns its delta; a bottom delta is still returned, so the key is recorded.
// Null on error or when dry.
export function nestedOp(cur: Lattice | null, spec: Spec, r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
  if (depth + 1 > MAX_DEPTH) { r.fail(E_TOO_DEEP); return null; }
  let v: Lattice;
  let fresh = false;
  if (cur !== null) v = cur;
  else if (dry) {
    const a = spec.a!;
    if (a.scratch === null) a.scratch = newBottom(a);
    v = a.scratch!;
  } else { v = newBottom(spec.a!); fresh = true; }
  const nd = v.op(r, replica, dry, depth + 1);
  if (fresh && nd !== v) v.free();
  if (!r.ok || dry) { if (nd !== null) nd.free(); return null; }
  return nd !== null ? nd : (cur !== null ? cur.bottom() : newBottom(spec.a!));
}
