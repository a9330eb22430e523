// Dots and compact causal contexts for the causal types (AWSet, EWFlag,
// MVRegister, ORSet tokens, AWMap presence). After Almeida, Shoker & Baquero,
// "Delta State Replicated Data Types" (JPDC 2018): a context is a version vector
// (every dot (r, 1..vv[r]) is seen) plus a cloud of dots not yet contiguous.
//
// The context itself lives in linear memory (data/context.ts): replicas
// interned per state, the version vector an array by replica index, the cloud
// a hash set of packed dots. This file adds its canonical codec and the
// string-keyed methods older callers use (AWMap, ORSet).
import { Reader, Writer, keyBytes } from "./codec";
import { E_NONCANONICAL, E_INVALID, E_OVERFLOW, E_OUT_OF_MEMORY, E_TOO_LARGE, MAX_REPLICA, setError } from "./errors";
import { Context, DotVec, Vec, compareBytes } from "./data/index";

// Decode accepts only what an honest history can produce (docs/format.md,
// "Causal context"): no empty replica id, and no counter at 2^64 − 1, whose
// replica's next op would wrap to 0. A local op mints a new dot only below
// MINT_LIMIT: the headroom (2^32) is more than one op batch can mint, so a
// batch validated against the state before it cannot overflow part-way.
export const MAX_COUNTER: u64 = U64.MAX_VALUE - 1;
export const MINT_LIMIT: u64 = U64.MAX_VALUE - (<u64>1 << 32);

// Checks a decoded replica id and counter; false after r.fail.
export function honestDot(r: Reader, rep: string, c: u64): bool {
  if (!r.ok) return false;
  if (rep.length > MAX_REPLICA) { r.fail(E_TOO_LARGE); return false; }
  if (rep.length == 0 || c == 0) { r.fail(E_INVALID); return false; }
  if (c > MAX_COUNTER) { r.fail(E_OVERFLOW); return false; }
  return true;
}

// May `replica` mint the dot after `top` (its highest counter here)? An
// empty replica id is for read-only handles (docs/abi.md). Fails r otherwise.
export function canMint(r: Reader, replica: string, top: u64): bool {
  if (!r.ok) return false;
  if (replica.length == 0) { r.fail(E_INVALID); return false; }
  if (top >= MINT_LIMIT) { r.fail(E_OVERFLOW); return false; }
  return true;
}

export class Dot {
  r: string;
  c: u64;
  constructor(r: string, c: u64) { this.r = r; this.c = c; }
}

// Dots in canonical order: by replica bytes, then counter.
export function dotLess(a: Dot, b: Dot): bool {
  return a.r < b.r || (a.r == b.r && a.c < b.c);
}

export function readDot(r: Reader): Dot {
  const rep = r.replica();
  const c = r.varint();
  honestDot(r, rep, c);
  return new Dot(rep, c);
}

// honestDot over raw replica bytes (length n).
export function honestRaw(r: Reader, n: i32, c: u64): bool {
  if (!r.ok) return false;
  if (n == 0 || c == 0) { r.fail(E_INVALID); return false; }
  if (c > MAX_COUNTER) { r.fail(E_OVERFLOW); return false; }
  return true;
}

// canMint for a replica id of n bytes whose highest counter here is top.
export function canMintRaw(r: Reader, n: i32, top: u64): bool {
  if (!r.ok) return false;
  if (n == 0) { r.fail(E_INVALID); return false; }
  if (top >= MINT_LIMIT) { r.fail(E_OVERFLOW); return false; }
  return true;
}

// A Context with the string-keyed methods of the managed context it replaced
// (replica ids as key strings, codec.ts), for callers not yet on the data layer.
export class CausalContext extends Context {
  clone(): CausalContext {
    const c = new CausalContext();
    if (!this.copyTo(c)) setError(E_OUT_OF_MEMORY);
    return c;
  }

  // Highest counter seen for replica r.
  max(r: string): u64 { return this.maxOf(this.findRep(keyBytes(r), r.length)); }

  contains(r: string, c: u64): bool { return this.has(this.findRep(keyBytes(r), r.length), c); }

  // Adds one dot; true if new (OUT_OF_MEMORY is reported by setError).
  add(r: string, c: u64): bool {
    const ri = this.rep(keyBytes(r), r.length);
    const k = ri < 0 ? -1 : this.addDot(ri, c);
    if (k < 0) setError(E_OUT_OF_MEMORY);
    return k == 1;
  }

  // Canonical encoding (see encodeContext).
  encode(w: Writer): void {
    const order = new Vec<u32>();
    if (!this.sortedReps(order) || !encodeContext(w, this, order)) setError(E_OUT_OF_MEMORY);
    order.free();
  }

  decode(r: Reader): void { decodeContext(r, this); }
}

// context := count (replica, counter)* count (replica, counter)*: the version
// vector's entries (counter ≥ 1) sorted by replica bytes, then the cloud's dots
// sorted by (replica bytes, counter), each strictly above vv[r] + 1 (otherwise
// it would have been compacted). `order` holds the replica indices in byte
// order (Context.sortedReps). False on exhaustion.
export function encodeContext(w: Writer, cc: Context, order: Vec<u32>): bool {
  let n = 0;
  for (let i = 0; i < cc.replicas; i++) if (cc.vvOf(i) != 0) n++;
  w.varint(<u64>n);
  for (let k = 0; k < order.len; k++) {
    const i = <i32>order.get(k);
    const v = cc.vvOf(i);
    if (v == 0) continue;
    writeRep(w, cc, i);
    w.varint(v);
  }
  const cloud = new DotVec();
  if (!cc.sortedCloud(order, cloud)) { cloud.free(); w.varint(0); return false; }
  w.varint(<u64>cloud.count);
  for (let k = 0; k < cloud.count; k++) { writeRep(w, cc, <i32>cloud.rep(k)); w.varint(cloud.ctr(k)); }
  cloud.free();
  return true;
}

// Replica i's id, length-prefixed.
@inline export function writeRep(w: Writer, cc: Context, i: i32): void {
  const n = <i32>cc.repLen(i);
  w.varint(<u64>n);
  w.raw(cc.repPtr(i), n);
}

// Reads a canonical context into cc (empty), checking every dot is one an
// honest history can hold. Fails r on bad input or exhaustion.
export function decodeContext(r: Reader, cc: Context): void {
  const n = r.count(2);
  let prev: usize = 0, prevLen: i32 = 0;
  for (let i = 0; i < n && r.ok; i++) {
    const p = r.replicaRaw();
    const len = r.rawLen;
    const c = r.varint();
    if (!honestRaw(r, len, c)) return;
    if (i > 0 && compareBytes(prev, <usize>prevLen, p, <usize>len) >= 0) { r.fail(E_NONCANONICAL); return; }
    prev = p; prevLen = len;
    const ri = cc.rep(p, <usize>len);
    if (ri < 0) { r.fail(E_OUT_OF_MEMORY); return; }
    cc.vv.set(ri, c);
  }
  if (!r.ok) return;
  const m = r.count(2);
  if (!r.ok) return;
  if (!cc.reserveCloud(m)) { r.fail(E_OUT_OF_MEMORY); return; }
  prev = 0; prevLen = 0;
  let prevC: u64 = 0;
  for (let i = 0; i < m && r.ok; i++) {
    const p = r.replicaRaw();
    const len = r.rawLen;
    const c = r.varint();
    if (!honestRaw(r, len, c)) return;
    if (i > 0) {
      const o = compareBytes(prev, <usize>prevLen, p, <usize>len);
      if (o > 0 || (o == 0 && prevC >= c)) { r.fail(E_NONCANONICAL); return; }
    }
    prev = p; prevLen = len; prevC = c;
    const ri = cc.rep(p, <usize>len);
    if (ri < 0) { r.fail(E_OUT_OF_MEMORY); return; }
    if (c <= cc.vvOf(ri) + 1) { r.fail(E_NONCANONICAL); return; }
    cc.addReserved(ri, c);
  }
}

// The dots of a's context that b lacks into out (empty); false on exhaustion.
// The dots of a's context that b lacks, compactly: a's whole vv entry
// wherever b's vv is behind, plus a's cloud dots b has not seen.
export function missingInto(a: Context, b: Context, out: Context): bool {
  for (let i = 0; i < a.replicas; i++) {
    const v = a.vvOf(i);
    if (v == 0) continue;
    const j = b.findRep(a.repPtr(i), a.repLen(i));
    const theirs = j < 0 ? 0 : b.vvOf(j);
    if (v <= theirs) continue;
    // b may still hold every dot in (theirs, v] in its cloud.
    let missing = true;
    if (j >= 0 && <u64>b.ccount.get(j) >= v - theirs) {
      missing = false;
      for (let c = theirs + 1; c <= v; c++) if (!b.has(j, c)) { missing = true; break; }
    }
    if (missing) {
      const k = out.rep(a.repPtr(i), a.repLen(i));
      if (k < 0) return false;
      out.vv.set(k, v);
    }
  }
  const cl = a.cloud;
  for (let s: u32 = 0; s < cl.capacity; s++) {
    if (!cl.usedAt(s)) continue;
    const i = <i32>cl.repAt(s);
    const j = b.findRep(a.repPtr(i), a.repLen(i));
    if (j >= 0 && b.has(j, cl.ctrAt(s))) continue;
    const k = out.rep(a.repPtr(i), a.repLen(i));
    if (k < 0 || out.addDot(k, cl.ctrAt(s)) < 0) return false;
  }
  return true;
}

