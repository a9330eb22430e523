// The causal types whose store is a handful of dots, each with an optional
// value (a DotFun over a causal context): EWFlag (enables, no value) and
// MVRegister (writes, with their values). After Almeida, Shoker & Baquero,
// "Delta State Replicated Data Types" (2018), §7: a dot survives a join if
// both sides have it, or one side has it and the other has not seen it.
//
// body := context count (replica, counter [, value:bytes])*
//         context as in dots.ts; entries sorted by dot (replica bytes, then
//         counter), strictly increasing, every dot in the context.
//
// Layout (assembly/data): the context (replicas interned, dots packed), the
// store a DotFun sorted by (replica index, counter); canonical order is
// produced when encoding. A join builds the new store whole and swaps it in,
// so running out of memory leaves the state as it was.
import { Reader, Writer, keyBytes } from "./codec";
import { E_INVALID, E_NONCANONICAL, E_OUT_OF_MEMORY, E_TOO_LARGE, E_TRAILING, MAX_PARTS, setError, takeError } from "./errors";
import { Lattice, Spec } from "./lattice";
import { CausalContext, canMintRaw, decodeContext, encodeContext, honestRaw, missingInto, writeRep } from "./dots";
import { DotFun, DotVec, Vec, compareBytes } from "./data/index";

const NONE: u32 = 0xffff_ffff;
const map = new Vec<u32>();  // scratch: replica index maps between two states
const back = new Vec<u32>();
const fresh = new Vec<u32>(); // scratch: indices of the other's entries a join adds
// Scratch store a join builds into, then swaps with the state's store. It
// keeps at most SCRATCH_KEEP bytes between joins (memory otherwise goes with
// the state that holds it).
const scratch = new DotFun();
const SCRATCH_KEEP: usize = 4096;
// Scratch states joinBody decodes into (EWFlag's kind, MVRegister's kind).
let tmpFlag: CausalFun | null = null;
let tmpValued: CausalFun | null = null;

function trimScratch(): void {
  scratch.clear();
  if (scratch.held > SCRATCH_KEEP) scratch.free();
  if (<usize>fresh.cap << 2 > SCRATCH_KEEP) fresh.free();
}

// Sorts fresh (indices into b, a few) by their dots mapped into this's
// replica indices (map): insertion sort.
function sortFresh(b: DotFun): void {
  for (let k = 1; k < fresh.len; k++) {
    const v = fresh.get(k);
    const rv = map.get(<i32>b.rep(<i32>v)), cv = b.ctr(<i32>v);
    let m = k;
    while (m > 0) {
      const u = fresh.get(m - 1);
      const ru = map.get(<i32>b.rep(<i32>u)), cu = b.ctr(<i32>u);
      if (ru < rv || (ru == rv && cu < cv)) break;
      fresh.set(m, u);
      m--;
    }
    fresh.set(m, v);
  }
}

export abstract class CausalFun extends Lattice {
  cc: CausalContext = new CausalContext();
  store: DotFun = new DotFun();
  valued: bool; // entries carry a value

  constructor(spec: Spec, valued: bool) { super(spec); this.valued = valued; }

  isBottom(): bool { return this.store.count == 0 && this.cc.isEmpty(); }
  free(): void { this.cc.free(); this.store.free(); }

  // this's content into c (a bottom); false on exhaustion.
  copyInto(c: CausalFun): bool { return this.cc.copyTo(c.cc) && this.store.copyTo(c.store); }

  clone(): Lattice {
    const c = changetype<CausalFun>(this.bottom());
    if (!this.copyInto(c)) setError(E_OUT_OF_MEMORY);
    return c;
  }

  join(o: Lattice): bool {
    const x = changetype<CausalFun>(o);
    fresh.clear();
    if (!this.cc.mapFrom(x.cc, map) || !this.cc.mapTo(x.cc, back) || !this.cc.reserveJoin(x.cc) ||
        !fresh.reserve(x.store.count)) { setError(E_OUT_OF_MEMORY); return false; }
    const a = this.store, b = x.store;
    // x's entries not seen here are the ones the join adds (the others are
    // kept below or were removed here); their value bytes, for the reserve.
    let freshBytes: usize = 0;
    for (let j = 0; j < b.count; j++) {
      if (this.cc.has(<i32>map.get(<i32>b.rep(j)), b.ctr(j))) continue;
      fresh.pushReserved(<u32>j);
      freshBytes += b.valLen(j);
    }
    let dropped = false;
    for (let i = 0; i < a.count && !dropped; i++) dropped = this.seenGone(x, a.rep(i), a.ctr(i));
    if (!dropped && fresh.len == 0) return this.cc.joinMapped(x.cc, map); // the store stays as it is
    // The new store is built in a scratch DotFun and swapped in: no store is
    // allocated per join, and running out of memory changes nothing.
    const kept = scratch;
    kept.clear();
    if (<u64>a.vals.len + <u64>freshBytes > 0x3fff_0000 ||
        !kept.reserve(a.count + fresh.len, a.vals.len + <i32>freshBytes)) { trimScratch(); setError(E_OUT_OF_MEMORY); return false; }
    // Fresh entries in this's dot order (x's order mapped may differ): a few
    // by insertion sort, so the usual join (one or two fresh dots) is a
    // merge of two sorted runs with no sort after it.
    const ordered = fresh.len <= 32;
    if (ordered) sortFresh(b);
    let j = 0;
    for (let i = 0; i < a.count; i++) {
      const ri = a.rep(i), c = a.ctr(i);
      if (ordered) {
        for (; j < fresh.len; j++) {
          const bj = <i32>fresh.get(j), rj = map.get(<i32>b.rep(bj)), cj = b.ctr(bj);
          if (rj > ri || (rj == ri && cj > c)) break;
          kept.append(rj, cj, b.valPtr(bj), b.valLen(bj));
        }
      }
      if (!this.seenGone(x, ri, c)) kept.append(ri, c, a.valPtr(i), a.valLen(i));
    }
    for (; j < fresh.len; j++) {
      const bj = <i32>fresh.get(j);
      kept.append(map.get(<i32>b.rep(bj)), b.ctr(bj), b.valPtr(bj), b.valLen(bj));
    }
    if (!ordered && !kept.sort()) { trimScratch(); setError(E_OUT_OF_MEMORY); return false; }
    this.store.swap(kept);
    trimScratch();
    this.cc.joinMapped(x.cc, map);
    return true;
  }

  // Whether x has seen this's dot (ri, c) and no longer holds it (so the join
  // drops it). Needs back (this.cc.mapTo(x.cc)).
  @inline private seenGone(x: CausalFun, ri: u32, c: u64): bool {
    const xb = back.get(<i32>ri);
    return xb != NONE && x.cc.has(<i32>xb, c) && x.store.find(xb, c) < 0;
  }

  // this := this ⊔ body: decoded into a scratch state of this kind, reused
  // across calls (a single-op delta would otherwise allocate a whole state,
  // about 14 structures, per apply), then joined; bad bytes change nothing.
  joinBody(r: Reader): i32 {
    let v = this.valued ? tmpValued : tmpFlag;
    if (v === null) {
      v = changetype<CausalFun>(this.bottom());
      if (this.valued) tmpValued = v; else tmpFlag = v;
    }
    const big = r.end - r.p > SCRATCH_KEEP;
    v.decode(r, 0);
    const e = takeError();
    if (e != 0) r.fail(e);
    if (r.ok && !r.done) r.fail(E_TRAILING);
    let res: i32;
    if (!r.ok) res = -r.err;
    else {
      const grew = this.join(v);
      const e2 = takeError();
      res = e2 != 0 ? -e2 : grew ? 1 : 0;
    }
    // Emptied for the next call; a large body's memory is given back now.
    if (big) v.free(); else { v.cc.clear(); v.store.clear(); }
    return res;
  }

  // a ⊑ b iff b's context covers a's and b keeps no dot a has seen removed.
  leq(o: Lattice): bool {
    const x = changetype<CausalFun>(o);
    if (!x.cc.covers(this.cc)) return false;
    if (!x.cc.mapTo(this.cc, back)) { setError(E_OUT_OF_MEMORY); return false; }
    const b = x.store;
    for (let j = 0; j < b.count; j++) {
      const ri = back.get(<i32>b.rep(j)), c = b.ctr(j);
      if (ri != NONE && this.cc.has(<i32>ri, c) && this.store.find(ri, c) < 0) return false;
    }
    return true;
  }

  // Entries b has not seen, the context b lacks (compact: a whole vv entry
  // where b is behind), the entries that compact context covers (or b would
  // drop them), and the dots b keeps that this has seen removed.
  deltaFrom(o: Lattice): Lattice {
    const x = changetype<CausalFun>(o);
    const d = changetype<CausalFun>(this.bottom());
    const a = this.store;
    if (!missingInto(this.cc, x.cc, d.cc) || !this.cc.mapTo(x.cc, back) || !d.cc.mapFrom(this.cc, map) ||
        !d.store.reserve(a.count, a.vals.len)) { setError(E_OUT_OF_MEMORY); return d; }
    for (let i = 0; i < a.count; i++) {
      const ri = a.rep(i), c = a.ctr(i);
      const xb = back.get(<i32>ri), dr = map.get(<i32>ri);
      if (xb != NONE && x.cc.has(<i32>xb, c) && !d.cc.has(<i32>dr, c)) continue;
      d.store.append(dr, c, a.valPtr(i), a.valLen(i));
    }
    if (!d.store.sort() || !x.cc.mapTo(this.cc, back)) { setError(E_OUT_OF_MEMORY); return d; }
    const b = x.store;
    for (let j = 0; j < b.count; j++) {
      const ri = back.get(<i32>b.rep(j)), c = b.ctr(j);
      if (ri == NONE || !this.cc.has(<i32>ri, c) || a.find(ri, c) >= 0) continue;
      const dr = d.cc.rep(this.cc.repPtr(<i32>ri), this.cc.repLen(<i32>ri));
      if (dr < 0 || d.cc.addDot(dr, c) < 0) { setError(E_OUT_OF_MEMORY); return d; }
    }
    return d;
  }

  // One part per entry ({dot: v}, {dot}) in canonical order, then one per
  // other context dot ({}, {dot}) by replica (its vv range, then its cloud).
  decompose(out: Array<Lattice>): void {
    const rk = new Vec<u32>();
    if (!this.cc.sortedReps(rk)) { rk.free(); setError(E_OUT_OF_MEMORY); return; }
    const a = this.store;
    for (let k = 0; k < rk.len; k++) {
      const ri = rk.get(k);
      for (let i = lowerBound(a, ri); i < a.count && a.rep(i) == ri; i++) {
        if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); rk.free(); return; }
        const p = this.part(<i32>ri, a.ctr(i));
        if (!p.store.reserve(1, <i32>a.valLen(i))) { setError(E_OUT_OF_MEMORY); rk.free(); return; }
        p.store.append(0, a.ctr(i), a.valPtr(i), a.valLen(i)); // replica 0: the part's only one
        out.push(p);
      }
    }
    const cloud = new DotVec();
    if (!this.cc.sortedCloud(rk, cloud)) setError(E_OUT_OF_MEMORY);
    let q = 0;
    for (let k = 0; k < rk.len; k++) {
      const ri = rk.get(k);
      const top = this.cc.vvOf(<i32>ri);
      if (top > <u64>(MAX_PARTS - out.length)) { setError(E_TOO_LARGE); break; }
      for (let c: u64 = 1; c <= top; c++) if (a.find(ri, c) < 0) out.push(this.part(<i32>ri, c));
      for (; q < cloud.count && cloud.rep(q) == ri; q++) {
        if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); break; }
        if (a.find(ri, cloud.ctr(q)) < 0) out.push(this.part(<i32>ri, cloud.ctr(q)));
      }
    }
    cloud.free(); rk.free();
  }

  // A bottom whose context is the one dot (ri, c) of this.
  private part(ri: i32, c: u64): CausalFun {
    const p = changetype<CausalFun>(this.bottom());
    const pr = p.cc.rep(this.cc.repPtr(ri), this.cc.repLen(ri));
    if (pr < 0 || p.cc.addDot(pr, c) < 0) setError(E_OUT_OF_MEMORY);
    return p;
  }

  // Replica id bytes (from keyBytes) may mint its next dot; fails r if not.
  canMint(r: Reader, replica: string): bool {
    const n = replica.length;
    return canMintRaw(r, n, this.cc.maxOf(this.cc.findRep(keyBytes(replica), n)));
  }

  // The delta of an op that covers every entry observed and, with `mint`,
  // writes the replica's next dot with value vp[0..vn). Null on exhaustion.
  opDelta(mint: bool, replica: string, vp: usize, vn: usize): CausalFun | null {
    const d = changetype<CausalFun>(this.bottom());
    if (!d.cc.mapFrom(this.cc, map) || !d.cc.reserveCloud(this.store.count + 1)) { d.free(); return null; }
    const a = this.store;
    for (let i = 0; i < a.count; i++) d.cc.addReserved(<i32>map.get(<i32>a.rep(i)), a.ctr(i));
    if (mint) {
      const rp = keyBytes(replica), rn = <usize>replica.length;
      const c = this.cc.maxOf(this.cc.findRep(rp, rn)) + 1;
      const dr = d.cc.rep(rp, rn);
      if (dr < 0 || d.cc.addDot(dr, c) < 0 || !d.store.reserve(1, <i32>vn)) { d.free(); return null; }
      d.store.append(<u32>dr, c, vp, vn);
    }
    return d;
  }

  encode(w: Writer): void {
    const rk = new Vec<u32>();
    if (!this.cc.sortedReps(rk) || !encodeContext(w, this.cc, rk)) { rk.free(); setError(E_OUT_OF_MEMORY); return; }
    const a = this.store;
    w.varint(<u64>a.count);
    for (let k = 0; k < rk.len; k++) {
      const ri = rk.get(k);
      for (let i = lowerBound(a, ri); i < a.count && a.rep(i) == ri; i++) {
        writeRep(w, this.cc, <i32>ri);
        w.varint(a.ctr(i));
        if (this.valued) { w.varint(<u64>a.valLen(i)); w.raw(a.valPtr(i), <i32>a.valLen(i)); }
      }
    }
    rk.free();
  }

  decode(r: Reader, depth: i32): void {
    decodeContext(r, this.cc);
    if (!r.ok) return;
    const n = r.count(this.valued ? 3 : 2);
    if (!r.ok) return;
    const a = this.store;
    if (!a.reserve(n, 0)) { r.fail(E_OUT_OF_MEMORY); return; }
    let prev: usize = 0, prevLen: usize = 0, prevC: u64 = 0;
    let outside = false;
    for (let i = 0; i < n; i++) {
      const rp = r.replicaRaw();
      const rl = <usize>r.rawLen;
      const c = r.varint();
      if (!honestRaw(r, <i32>rl, c)) return;
      let vp: usize = 0, vn: usize = 0;
      if (this.valued) { vp = r.valueRaw(); vn = <usize>r.rawLen; if (!r.ok) return; }
      if (i > 0) {
        const o = compareBytes(prev, prevLen, rp, rl);
        if (o > 0 || (o == 0 && prevC >= c)) { r.fail(E_NONCANONICAL); return; }
      }
      prev = rp; prevLen = rl; prevC = c;
      const ri = this.cc.findRep(rp, rl);
      if (!this.cc.has(ri, c)) {
        // A register reports it at once; a flag once its whole list has
        // been read (the order of checks fixes which error a bad state gets).
        if (this.valued) { r.fail(E_INVALID); return; }
        outside = true;
        continue;
      }
      if (!a.vals.reserve(<i32>vn)) { r.fail(E_OUT_OF_MEMORY); return; }
      a.append(<u32>ri, c, vp, vn);
    }
    if (outside) { r.fail(E_INVALID); return; }
    if (!a.sort()) r.fail(E_OUT_OF_MEMORY);
  }
}

// The first index of f (sorted by replica) whose replica is ≥ ri.
function lowerBound(f: DotFun, ri: u32): i32 {
  let lo = 0, hi = f.count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (f.rep(mid) < ri) lo = mid + 1; else hi = mid;
  }
  return lo;
}
