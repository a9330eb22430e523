// Add-wins set (optimised OR-Set without tombstones): element -> the dots of
// the adds that are still alive, plus a compact causal context of every dot
// seen. A remove only covers the dots it observed, so a concurrent add wins.
// Almeida, Shoker & Baquero, "Delta State Replicated Data Types", §7 (AWSet).
//
// Layout (assembly/data): elements interned in a byte table (index per
// element), each with a linked list of dots in one pool of packed dots
// (counter, replica index into the context's replica table, next). Joins run
// in place, element by element, from the other state or straight from its
// canonical bytes (joinBody); canonical order is produced when encoding. A
// dot -> element index is built only when a small delta meets a large set, so
// that joining it touches only the dots it names.
import { Reader, Writer, keyBytes } from "../codec";
import { E_BAD_TAG, E_INVALID, E_NONCANONICAL, E_OUT_OF_MEMORY, E_TOO_LARGE, E_TRAILING, MAX_PARTS, setError } from "../errors";
import { Lattice, batchEpoch, pendingOfBatch } from "../lattice";
import { CausalContext, Dot, canMintRaw, decodeContext, encodeContext, writeRep, honestRaw, missingInto } from "../dots";
import { ByteTable, Context, DotMap, DotVec, SeenDots, Vec, compareBytes } from "../data/index";
import { KeyOrder } from "../data/order";

export const OP_ADD: u32 = 0;    // op := 0 element:bytes
export const OP_REMOVE: u32 = 1; // op := 1 element:bytes
export const OP_CLEAR: u32 = 2;  // op := 2   (removes every element observed)

const NONE: u32 = 0xffff_ffff;
const INLINE: u32 = 0xffff_ffff; // the cursor of an element's packed dot

// Scratch reused by every join (module state: no object per call).
const xmap = new Vec<u32>();  // the other context's replica index -> ours
const back = new Vec<u32>();  // our replica index -> the other's (NONE)
const tx = new DotVec();      // one incoming element's dots, in our replica indices
const found = new Vec<i32>(); // per incoming element: its index here, or −1
// The elements a join's store walk met (dropSeen skips them): one bit each.
const met = new Vec<u64>();
// The incoming context of a streamed join and the duplicate-dot check:
// reused, their memory freed after each call (no objects made per delta).
const xccScratch = new Context();
const seenScratch = new SeenDots();
function resetMet(n: i32): bool {
  const words = (n + 63) >> 6;
  met.clear();
  if (!met.reserve(words)) return false;
  memory.fill(met.ptr, 0, <usize>words << 3);
  met.len = words;
  return true;
}
@inline function setMet(ei: i32): void {
  const at = met.ptr + (<usize>(ei >> 6) << 3);
  store<u64>(at, load<u64>(at) | (<u64>1 << <u64>(ei & 63)));
}
@inline function isMet(ei: i32): bool {
  return (load<u64>(met.ptr + (<usize>(ei >> 6) << 3)) & (<u64>1 << <u64>(ei & 63))) != 0;
}

// What scanStore counted.
let scanElems: i32 = 0;
let scanBytes: i32 = 0;
let scanDots: i32 = 0;
let scanPool: i32 = 0; // of those, how many may not fit inline

export class AWSet extends Lattice {
  // body := context, count, then (element, dots) sorted by element; every dot
  // in the context, each element with at least one dot, no dot on two elements.
  cc: CausalContext = new CausalContext();
  elems: ByteTable = new ByteTable();
  // The elements' byte order, kept incrementally (data/order.ts): encode,
  // query and decompose sorted every element each time.
  order: KeyOrder = new KeyOrder();
  // Per element: one dot inline, packed (counter << 24 | replica + 1; 0:
  // none), as most elements have one dot with a small counter; the others
  // (more dots, or one too wide to pack) in a list in the pool.
  first: Vec<u64> = new Vec<u64>();
  more: Vec<u32> = new Vec<u32>();  // per element: its pool list, first node + 1 (0: empty)
  pool: Vec<u64> = new Vec<u64>();  // per pool dot: counter, replica | (next + 1) << 32
  freeDot: u32 = 0;                 // free pool slots, linked through next (+1)
  nfree: i32 = 0;                   // how many
  live: i32 = 0;                    // elements with a dot
  ndots: i32 = 0;                   // dots in the store
  index: DotMap | null = null;      // dot -> element, while small joins need it
  // Room reserved by the dry pass of the current op batch.
  dryEpoch: u32 = 0;
  dryOps: i32 = 0;
  dryBytes: i32 = 0;
  dryCover: i32 = 0;

  bottom(): Lattice { return new AWSet(this.spec); }
  isBottom(): bool { return this.live == 0 && this.cc.isEmpty(); }
  size(): i32 { return this.live; }

  free(): void {
    this.cc.free(); this.elems.free(); this.first.free(); this.more.free(); this.pool.free(); this.order.free();
    this.freeDot = 0; this.nfree = 0; this.live = 0; this.ndots = 0;
    if (this.index !== null) { this.index!.free(); this.index = null; }
  }

  // ---- the dot pool ----------------------------------------------------------

  @inline dctr(k: u32): u64 { return this.pool.get(<i32>k << 1); }
  @inline drep(k: u32): u32 { return <u32>this.pool.get((<i32>k << 1) + 1); }
  @inline dnext(k: u32): u32 { return <u32>(this.pool.get((<i32>k << 1) + 1) >>> 32); }
  @inline setNext(k: u32, n: u32): void {
    const i = (<i32>k << 1) + 1;
    this.pool.set(i, (this.pool.get(i) & 0xffff_ffff) | (<u64>n << 32));
  }

  // Cursors over element ei's dots: INLINE for the packed one, k + 1 for
  // pool node k, 0 at the end.
  @inline present(ei: i32): bool { return this.first.get(ei) != 0 || this.more.get(ei) != 0; }
  @inline dfirst(ei: i32): u32 { return this.first.get(ei) != 0 ? INLINE : this.more.get(ei); }
  @inline dnx(ei: i32, q: u32): u32 { return q == INLINE ? this.more.get(ei) : this.dnext(q - 1); }
  @inline qrep(ei: i32, q: u32): u32 { return q == INLINE ? <u32>(this.first.get(ei) & 0xff_ffff) - 1 : this.drep(q - 1); }
  @inline qctr(ei: i32, q: u32): u64 { return q == INLINE ? this.first.get(ei) >>> 24 : this.dctr(q - 1); }

  // Room for n more dots and e more elements of `bytes` bytes (and their
  // index entries); false (nothing changed) on exhaustion.
  // `pool` bounds how many of the n go to the pool (default: all).
  reserve(e: i32, bytes: i32, n: i32, pool: i32 = -1): bool {
    if (n < 0 || n > 0x0fff_ffff) return false;
    if (pool < 0) pool = n;
    // The pool first: the largest block, allocated last by decode, so it is
    // still the last in memory and grows in place (the merge memory budget).
    // Freed slots are reused first.
    if (pool > this.nfree && !this.pool.reserve((pool - this.nfree) << 1)) return false;
    if (!this.elems.reserve(e, bytes) || !this.first.reserve(e) || !this.more.reserve(e)) return false;
    if (this.index !== null && !this.index!.reserve(n)) return false;
    return true;
  }

  // Element p[0..n) in reserved room: its index.
  @inline private intern(p: usize, n: usize): i32 {
    const ei = this.elems.add(p, n);
    if (this.elems.added) { this.first.pushReserved(0); this.more.pushReserved(0); }
    return ei;
  }

  // Adds dot (ri, c) to element ei, in reserved room.
  private link(ei: i32, ri: u32, c: u64): void {
    if (!this.present(ei)) this.live++;
    this.ndots++;
    if (this.index !== null) this.index!.put(ri, c, <u32>ei);
    if (this.first.get(ei) == 0 && ri < 0xff_fffe && c < (<u64>1 << 40)) {
      this.first.set(ei, (c << 24) | <u64>(ri + 1));
      return;
    }
    const nx = this.more.get(ei);
    let k: u32;
    if (this.freeDot != 0) {
      k = this.freeDot - 1;
      this.freeDot = this.dnext(k);
      this.nfree--;
      this.pool.set(<i32>k << 1, c);
      this.pool.set((<i32>k << 1) + 1, <u64>ri | (<u64>nx << 32));
    } else {
      k = <u32>(this.pool.len >> 1);
      this.pool.pushReserved(c);
      this.pool.pushReserved(<u64>ri | (<u64>nx << 32));
    }
    this.more.set(ei, k + 1);
  }

  // Removes the dot at cursor q of ei (prev: the cursor before it, or 0).
  private unlink(ei: i32, prev: u32, q: u32): void {
    if (this.index !== null) this.index!.delete(this.qrep(ei, q), this.qctr(ei, q));
    this.ndots--;
    if (q == INLINE) this.first.set(ei, 0);
    else {
      const k = q - 1;
      const nx = this.dnext(k);
      if (prev == 0 || prev == INLINE) this.more.set(ei, nx); else this.setNext(prev - 1, nx);
      this.setNext(k, this.freeDot);
      this.freeDot = k + 1;
      this.nfree++;
    }
    if (!this.present(ei)) this.live--;
  }

  // Drops every dot of ei; whether it had any.
  private dropAll(ei: i32): bool {
    if (!this.present(ei)) return false;
    while (this.present(ei)) this.unlink(ei, 0, this.dfirst(ei));
    return true;
  }

  // Elements whose dots were all removed stay interned (the table has no
  // deletes); once they outnumber the live ones, the live ones move to a new
  // table. Run before a join (not inside an op batch, whose dry pass reserved
  // room in this table). Skipped, harmlessly, when memory is short.
  compact(): void {
    const dead = this.elems.count - this.live;
    if (dead < 1024 || dead < this.live) return;
    let bytes = 0;
    for (let ei = 0; ei < this.elems.count; ei++) if (this.present(ei)) bytes += <i32>this.elems.keyLen(ei);
    const t = new ByteTable(), f = new Vec<u64>(), m = new Vec<u32>();
    if (!t.reserve(this.live, bytes) || !f.reserve(this.live) || !m.reserve(this.live)) { t.free(); f.free(); m.free(); return; }
    for (let ei = 0; ei < this.elems.count; ei++) {
      if (!this.present(ei)) continue;
      t.add(this.elems.keyPtr(ei), this.elems.keyLen(ei));
      f.pushReserved(this.first.get(ei));
      m.pushReserved(this.more.get(ei));
    }
    this.elems.free();
    this.elems = t;
    this.order.clear(); // element indices moved: the next encode sorts again
    this.first.take(f);
    this.more.take(m);
    if (this.index !== null) { this.index!.free(); this.index = null; } // element indices moved
  }

  private hasDotOn(ei: i32, ri: u32, c: u64): bool {
    for (let q = this.dfirst(ei); q != 0; q = this.dnx(ei, q)) {
      if (this.qctr(ei, q) == c && this.qrep(ei, q) == ri) return true;
    }
    return false;
  }

  private ensureIndex(): DotMap | null {
    if (this.index !== null) return this.index;
    const ix = new DotMap();
    if (!ix.reserve(this.ndots)) { ix.free(); return null; }
    for (let ei = 0; ei < this.elems.count; ei++) {
      for (let q = this.dfirst(ei); q != 0; q = this.dnx(ei, q)) ix.put(this.qrep(ei, q), this.qctr(ei, q), <u32>ei);
    }
    this.index = ix;
    return ix;
  }

  clone(): Lattice {
    const c = new AWSet(this.spec);
    if (!this.cc.copyTo(c.cc) || !this.elems.copyTo(c.elems) || !this.first.copyTo(c.first) || !this.more.copyTo(c.more) ||
        !this.pool.copyTo(c.pool)) { c.free(); setError(E_OUT_OF_MEMORY); return c; }
    if (!this.order.copyTo(c.order)) c.order.clear(); // then it sorts on its first encode
    c.freeDot = this.freeDot; c.nfree = this.nfree; c.live = this.live; c.ndots = this.ndots;
    return c;
  }

  // ---- join ------------------------------------------------------------------

  // Element ei meets the incoming dots `tx` (our replica indices) of a state
  // whose context is xcc: a dot survives if both sides have it, or one side
  // has it and the other has not seen it. Room reserved.
  private meet(ei: i32, xcc: Context): bool {
    let changed = false;
    // Many incoming dots on one element: sorted for binary search (if the
    // sort finds no memory, the scan below still works, only slower).
    const sorted = tx.count > 8 && tx.sort();
    // 1. Our dots x has seen but no longer keeps.
    let prev: u32 = 0;
    let q = this.dfirst(ei);
    while (q != 0) {
      const nx = this.dnx(ei, q);
      const ri = this.qrep(ei, q), c = this.qctr(ei, q);
      const b = back.get(<i32>ri);
      if (b != NONE && xcc.has(<i32>b, c) && !txHas(sorted, ri, c)) { this.unlink(ei, prev, q); changed = true; }
      else prev = q;
      q = nx;
    }
    // 2. Their dots we have not seen.
    for (let j = 0; j < tx.count; j++) {
      const ri = tx.rep(j), c = tx.ctr(j);
      if (this.cc.has(<i32>ri, c)) continue; // seen here: kept above or removed here
      this.link(ei, ri, c);
      changed = true;
    }
    return changed;
  }

  // Step 1 for the elements x's store did not name: drop our dots x has seen.
  private dropSeen(xcc: Context): bool {
    let changed = false;
    const budget = <u64>min(this.live >> 2, 1 << 14);
    if (this.live > 32 && xcc.size() < budget) {
      const ix = this.ensureIndex();
      if (ix !== null) {
        for (let j = 0; j < xcc.replicas; j++) {
          const ri = xmap.get(j);
          if (ri == NONE) continue;
          for (let c: u64 = 1; c <= xcc.vvOf(j); c++) changed = this.dropDot(ix, ri, c) || changed;
        }
        const cl = xcc.cloud;
        for (let s: u32 = 0; s < cl.capacity; s++) {
          if (cl.usedAt(s)) changed = this.dropDot(ix, xmap.get(cl.repAt(s)), cl.ctrAt(s)) || changed;
        }
        return changed;
      }
    }
    for (let ei = 0; ei < this.elems.count; ei++) {
      if (isMet(ei)) continue;
      let prev: u32 = 0;
      let q = this.dfirst(ei);
      while (q != 0) {
        const nx = this.dnx(ei, q);
        const b = back.get(<i32>this.qrep(ei, q));
        if (b != NONE && xcc.has(<i32>b, this.qctr(ei, q))) { this.unlink(ei, prev, q); changed = true; }
        else prev = q;
        q = nx;
      }
    }
    return changed;
  }

  private dropDot(ix: DotMap, ri: u32, c: u64): bool {
    const e = ix.get(ri, c);
    if (e < 0) return false;
    const ei = <i32>e;
    if (isMet(ei)) return false; // met by the store walk
    let prev: u32 = 0;
    for (let q = this.dfirst(ei); q != 0; q = this.dnx(ei, q)) {
      if (this.qctr(ei, q) == c && this.qrep(ei, q) == ri) { this.unlink(ei, prev, q); return true; }
      prev = q;
    }
    return false;
  }

  // Maps x's replicas (xmap, back) and reserves room for a join of e elements
  // (bytes), n dots and xcc; false on exhaustion (unchanged but for
  // interned replicas, which are invisible).
  private prepare(xcc: Context, e: i32, bytes: i32, n: i32, pool: i32, maxPerElem: i32): bool {
    return this.cc.reserveJoin(xcc) && this.reserve(e, bytes, n, pool) && tx.reserve(maxPerElem + 1) &&
      resetMet(this.elems.count + e);
  }

  join(o: Lattice): bool {
    const x = changetype<AWSet>(o);
    this.compact();
    if (x.isBottom()) return false;
    if (!this.cc.mapFrom(x.cc, xmap) || !this.cc.mapTo(x.cc, back)) { setError(E_OUT_OF_MEMORY); return false; }
    // Exactly the room the join takes: elements new here, dots unseen here.
    let maxPer = 1, ne = 0, nb = 0, nd = 0, np = 0;
    const wide = this.cc.replicas + x.cc.replicas >= 0xff_fffe;
    // Each incoming element is looked up once: the second loop reads the
    // index found here (hashing every element twice was a fifth of the join).
    found.clear();
    if (!found.reserve(x.elems.count)) { setError(E_OUT_OF_MEMORY); return false; }
    found.len = x.elems.count;
    for (let xe = 0; xe < x.elems.count; xe++) {
      if (!x.present(xe)) continue;
      let m = 0;
      const fi = this.elems.find(x.elems.keyPtr(xe), x.elems.keyLen(xe));
      found.set(xe, fi);
      const isNew = fi < 0;
      let slot = isNew; // a new element's first packable dot goes inline
      for (let q = x.dfirst(xe); q != 0; q = x.dnx(xe, q)) {
        m++;
        const c = x.qctr(xe, q);
        if (this.cc.has(<i32>xmap.get(<i32>x.qrep(xe, q)), c)) continue;
        nd++;
        if (slot && !wide && c < (<u64>1 << 40)) slot = false; else np++;
      }
      if (m > maxPer) maxPer = m;
      if (isNew) { ne++; nb += <i32>x.elems.keyLen(xe); }
    }
    if (!this.prepare(x.cc, ne, nb, nd, np, maxPer)) { setError(E_OUT_OF_MEMORY); return false; }
    let changed = false;
    for (let xe = 0; xe < x.elems.count; xe++) {
      if (!x.present(xe)) continue;
      tx.clear();
      let unseen = false;
      for (let q = x.dfirst(xe); q != 0; q = x.dnx(xe, q)) {
        const ri = xmap.get(<i32>x.qrep(xe, q)), c = x.qctr(xe, q);
        tx.push(ri, c);
        if (!this.cc.has(<i32>ri, c)) unseen = true;
      }
      let ei = found.get(xe);
      if (ei < 0) {
        if (!unseen) continue; // all seen here and not kept: removed here
        ei = this.intern(x.elems.keyPtr(xe), x.elems.keyLen(xe));
      }
      setMet(ei);
      changed = this.meet(ei, x.cc) || changed;
    }
    if (found.cap > 4096) found.free();
    changed = this.dropSeen(x.cc) || changed;
    if (this.cc.joinMapped(x.cc, xmap)) changed = true;
    return changed;
  }

  // Streams the incoming body into the state: its context is decoded (small
  // for deltas, one entry per writer for most states), its store is checked
  // whole, then met element by element from the bytes. The incoming state is
  // never built.
  joinBody(r: Reader): i32 {
    this.compact();
    const xcc = xccScratch;
    decodeContext(r, xcc);
    const storeAt = r.p;
    const seen = seenScratch;
    if (r.ok) scanStore(r, xcc, seen, this);
    seen.free();
    if (r.ok && !r.done) r.fail(E_TRAILING);
    if (!r.ok) { xcc.free(); return -r.err; }
    if (!this.cc.mapFrom(xcc, xmap) || !this.cc.mapTo(xcc, back) ||
        !this.prepare(xcc, scanElems, scanBytes, scanDots, scanPool, scanMaxPer)) { xcc.free(); return -E_OUT_OF_MEMORY; }
    let changed = false;
    at = storeAt;
    const n = <i32>rdVar();
    for (let i = 0; i < n; i++) {
      const p = rdBytes();
      const len = rdLen;
      const m = <i32>rdVar();
      tx.clear();
      let unseen = false;
      for (let j = 0; j < m; j++) {
        const rp = rdBytes();
        const rl = rdLen;
        const c = rdVar();
        const ri = xmap.get(xcc.findRep(rp, rl));
        tx.push(ri, c);
        if (!this.cc.has(<i32>ri, c)) unseen = true;
      }
      let ei = this.elems.find(p, len);
      if (ei < 0) {
        if (!unseen) continue;
        ei = this.intern(p, len);
      }
      setMet(ei);
      changed = this.meet(ei, xcc) || changed;
    }
    changed = this.dropSeen(xcc) || changed;
    if (this.cc.joinMapped(xcc, xmap)) changed = true;
    xcc.free();
    return changed ? 1 : 0;
  }

  // a ⊑ b iff b's context covers a's, and b keeps no dot that a has seen removed.
  leq(o: Lattice): bool {
    const x = changetype<AWSet>(o);
    if (!x.cc.covers(this.cc)) return false;
    if (!x.cc.mapTo(this.cc, back)) { setError(E_OUT_OF_MEMORY); return false; }
    for (let xe = 0; xe < x.elems.count; xe++) {
      if (!x.present(xe)) continue;
      const ei = this.elems.find(x.elems.keyPtr(xe), x.elems.keyLen(xe));
      for (let q = x.dfirst(xe); q != 0; q = x.dnx(xe, q)) {
        const b = back.get(<i32>x.qrep(xe, q)), c = x.qctr(xe, q);
        if (b == NONE || !this.cc.has(<i32>b, c)) continue;
        if (ei < 0 || !this.hasDotOn(ei, b, c)) return false;
      }
    }
    return true;
  }

  // Store dots b has not seen, plus the context b lacks (kept compact by
  // sending a's whole vv entry for a replica where b is behind). That entry
  // also names dots b already has; b would drop those from its store unless
  // the delta carries them, so every store dot the delta's context covers
  // is sent too.
  deltaFrom(o: Lattice): Lattice {
    const x = changetype<AWSet>(o);
    const d = new AWSet(this.spec);
    if (!missingInto(this.cc, x.cc, d.cc) || !this.cc.mapTo(x.cc, back) ||
        !d.cc.mapFrom(this.cc, xmap)) { setError(E_OUT_OF_MEMORY); return d; }
    if (!d.reserve(this.live, this.elems.keys.len, this.ndots)) { setError(E_OUT_OF_MEMORY); return d; }
    for (let ei = 0; ei < this.elems.count; ei++) {
      let de = -1;
      for (let q = this.dfirst(ei); q != 0; q = this.dnx(ei, q)) {
        const ri = this.qrep(ei, q), c = this.qctr(ei, q);
        const b = back.get(<i32>ri), dr = xmap.get(<i32>ri);
        if (b != NONE && x.cc.has(<i32>b, c) && !d.cc.has(<i32>dr, c)) continue;
        if (de < 0) de = d.intern(this.elems.keyPtr(ei), this.elems.keyLen(ei));
        d.link(de, dr, c);
      }
    }
    // Removals b has not seen: dots b still keeps that a has seen and dropped.
    // Both contexts may hold them, so the missing context alone would lose them.
    if (!x.cc.mapTo(this.cc, back)) { setError(E_OUT_OF_MEMORY); return d; }
    for (let xe = 0; xe < x.elems.count; xe++) {
      if (!x.present(xe)) continue;
      const ei = this.elems.find(x.elems.keyPtr(xe), x.elems.keyLen(xe));
      for (let q = x.dfirst(xe); q != 0; q = x.dnx(xe, q)) {
        const b = back.get(<i32>x.qrep(xe, q)), c = x.qctr(xe, q);
        if (b == NONE || !this.cc.has(<i32>b, c)) continue;
        if (ei >= 0 && this.hasDotOn(ei, b, c)) continue;
        const ri = d.cc.rep(this.cc.repPtr(<i32>b), this.cc.repLen(<i32>b));
        if (ri < 0 || d.cc.addDot(ri, c) < 0) { setError(E_OUT_OF_MEMORY); return d; }
      }
    }
    return d;
  }

  // One part per store dot ({e: [dot]}, {dot}), elements in byte order, then
  // one per other context dot ({}, {dot}) by replica and counter.
  decompose(out: Array<Lattice>): void {
    const order = new Vec<u32>();
    if (!this.sortedLive(order)) { order.free(); setError(E_OUT_OF_MEMORY); return; }
    const rk = new Vec<u32>();
    const ds = new DotVec();
    const ix = this.ensureIndex();
    if (ix === null || !this.cc.sortedReps(rk)) { order.free(); rk.free(); setError(E_OUT_OF_MEMORY); return; }
    const rank = ranks(rk);
    if (rank.len != rk.len) { order.free(); rk.free(); return; }
    for (let i = 0; i < order.len; i++) {
      const ei = <i32>order.get(i);
      if (!this.sortedDots(ei, rank, ds)) { setError(E_OUT_OF_MEMORY); break; }
      for (let j = 0; j < ds.count; j++) {
        if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); break; }
        const ri = <i32>rk.get(<i32>ds.rep(j)), c = ds.ctr(j);
        const p = new AWSet(this.spec);
        const pr = p.cc.rep(this.cc.repPtr(ri), this.cc.repLen(ri));
        if (pr < 0 || !p.reserve(1, <i32>this.elems.keyLen(ei), 1) || p.cc.addDot(pr, c) < 0) { setError(E_OUT_OF_MEMORY); break; }
        p.link(p.intern(this.elems.keyPtr(ei), this.elems.keyLen(ei)), <u32>pr, c);
        out.push(p);
      }
    }
    // The context's other dots, by replica: its vv range, then its cloud.
    const cloud = new DotVec();
    if (!this.cc.sortedCloud(rk, cloud)) setError(E_OUT_OF_MEMORY);
    let q = 0;
    for (let k = 0; k < rk.len; k++) {
      const ri = <i32>rk.get(k);
      const top = this.cc.vvOf(ri);
      if (top > <u64>(MAX_PARTS - out.length)) { setError(E_TOO_LARGE); break; }
      for (let c: u64 = 1; c <= top; c++) if (!ix!.has(<u32>ri, c)) out.push(this.contextPart(ri, c));
      for (; q < cloud.count && cloud.rep(q) == <u32>ri; q++) {
        if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); break; }
        if (!ix!.has(cloud.rep(q), cloud.ctr(q))) out.push(this.contextPart(ri, cloud.ctr(q)));
      }
    }
    cloud.free(); ds.free(); order.free(); rk.free(); rank.free();
  }

  private contextPart(ri: i32, c: u64): AWSet {
    const p = new AWSet(this.spec);
    const pr = p.cc.rep(this.cc.repPtr(ri), this.cc.repLen(ri));
    if (pr < 0 || p.cc.addDot(pr, c) < 0) setError(E_OUT_OF_MEMORY);
    return p;
  }

  // ---- ops -------------------------------------------------------------------

  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code == OP_ADD || code == OP_REMOVE) {
      const ep = r.valueRaw();
      const en = <usize>r.rawLen;
      if (!r.ok) return null;
      if (code == OP_ADD && !this.canMint(r, replica)) return null;
      if (dry) {
        if (!this.reserveDry(<i32>en, this.dotsOn(ep, en), depth)) r.fail(E_OUT_OF_MEMORY);
        return null;
      }
      const d = new AWSet(this.spec);
      if (!this.opDelta(d, ep, en, code == OP_ADD, replica)) { d.free(); r.fail(E_OUT_OF_MEMORY); return null; }
      return d;
    }
    if (code == OP_CLEAR) {
      if (dry) return null;
      const d = new AWSet(this.spec);
      if (!d.cc.mapFrom(this.cc, xmap) || !d.cc.reserveCloud(this.ndots)) { d.free(); r.fail(E_OUT_OF_MEMORY); return null; }
      for (let ei = 0; ei < this.elems.count; ei++) {
        for (let q = this.dfirst(ei); q != 0; q = this.dnx(ei, q)) d.cc.addReserved(<i32>xmap.get(<i32>this.qrep(ei, q)), this.qctr(ei, q));
      }
      return d;
    }
    r.fail(E_BAD_TAG);
    return null;
  }

  // Refuses an add by an empty replica id, or one whose counter would wrap.
  private canMint(r: Reader, replica: string): bool {
    const n = replica.length;
    return canMintRaw(r, n, this.cc.maxOf(this.cc.findRep(keyBytes(replica), n)));
  }

  // d := the delta of an add (or remove) of e: e's old dots covered, and on
  // add a new dot on e. False on exhaustion.
  private opDelta(d: AWSet, ep: usize, en: usize, add: bool, replica: string): bool {
    const ei = this.elems.find(ep, en);
    if (ei >= 0) {
      for (let q = this.dfirst(ei); q != 0; q = this.dnx(ei, q)) {
        const ri = this.qrep(ei, q);
        const dr = d.cc.rep(this.cc.repPtr(<i32>ri), this.cc.repLen(<i32>ri));
        if (dr < 0 || d.cc.addDot(dr, this.qctr(ei, q)) < 0) return false;
      }
    }
    if (!add) return true;
    const rp = keyBytes(replica), rn = <usize>replica.length;
    const c = this.cc.maxOf(this.cc.findRep(rp, rn)) + 1;
    const dr = d.cc.rep(rp, rn);
    if (dr < 0 || d.cc.addDot(dr, c) < 0 || !d.reserve(1, <i32>en, 1)) return false;
    d.link(d.intern(ep, en), <u32>dr, c);
    return true;
  }

  // Room for the real pass of this batch's adds, in the state and in the
  // pending delta-group (see GSet.reserveDry).
  // An op on an element with `cover` dots adds those to pending's context
  // (each op adds at most one dot, so the batch covers at most the dots there
  // now plus one per op).
  private reserveDry(n: i32, cover: i32, depth: i32): bool {
    if (depth > 0) return true;
    const e = batchEpoch();
    if (this.dryEpoch != e) { this.dryEpoch = e; this.dryOps = 0; this.dryBytes = 0; this.dryCover = 0; }
    this.dryOps++;
    this.dryBytes += n;
    this.dryCover += cover;
    if (!this.reserveOps(this.dryOps, this.dryBytes)) return false;
    const pend = pendingOfBatch();
    if (pend !== null && pend !== this && pend instanceof AWSet) {
      const p = changetype<AWSet>(pend);
      const k = this.dryOps + this.dryCover;
      if (!p.reserveOps(this.dryOps, this.dryBytes) || !p.cc.reserveCloud(k) ||
          !p.cc.reserveReps(min(k, this.cc.replicas + 1), this.cc.reps.keys.len + 255)) return false;
    }
    return true;
  }

  // How many dots element p[0..n) has.
  private dotsOn(p: usize, n: usize): i32 {
    const ei = this.elems.find(p, n);
    let m = 0;
    if (ei >= 0) for (let q = this.dfirst(ei); q != 0; q = this.dnx(ei, q)) m++;
    return m;
  }

  // Room for k in-place adds or removes of elements totalling `bytes`.
  private reserveOps(k: i32, bytes: i32): bool {
    return this.reserve(k, bytes, k) && this.cc.reserveCloud(k) && this.cc.reserveReps(1, 255);
  }

  // add/remove in place (clear takes the generic path). An add's delta is
  // ({e: [new dot]}, e's old dots + new dot); a remove's is ({}, e's old dots).
  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    const at = r.p;
    const code = r.u8();
    if (code != OP_ADD && code != OP_REMOVE) { r.p = at; return super.applyOp(r, replica, pending, depth); }
    const ep = r.valueRaw(); /* validated by the dry pass */
    const en = <usize>r.rawLen;
    const rn = replica.length;
    const rp = keyBytes(replica);
    return this.addOrRemoveRaw(ep, en, code == OP_ADD, rp, <usize>rn, changetype<AWSet>(pending));
  }

  // The in-place add or remove of e, into this and into pending (⊑ this).
  // Also AWMap's presence update (key strings: codec.ts).
  addOrRemove(e: string, add: bool, replica: string, p: AWSet): bool {
    // Both strings' bytes are needed at once: keyBytes has one buffer.
    const en = e.length;
    const tmp = new Vec<u8>();
    if (!tmp.reserve(en + replica.length + 1)) { setError(E_OUT_OF_MEMORY); return false; }
    memory.copy(tmp.ptr, keyBytes(e), <usize>en);
    memory.copy(tmp.ptr + <usize>en, keyBytes(replica), <usize>replica.length);
    const grew = this.addOrRemoveRaw(tmp.ptr, <usize>en, add, tmp.ptr + <usize>en, <usize>replica.length, p);
    tmp.free();
    return grew;
  }

  // The room it needs is reserved first; on exhaustion nothing changes and
  // OUT_OF_MEMORY is reported (setError).
  addOrRemoveRaw(ep: usize, en: usize, add: bool, rp: usize, rn: usize, p: AWSet): bool {
    const ei = this.elems.find(ep, en);
    const had = ei >= 0 && this.present(ei);
    if (!add && !had) return false;
    let m = 0;
    if (had) for (let q = this.dfirst(ei); q != 0; q = this.dnx(ei, q)) m++;
    if (!p.cc.reserveCloud(m + 1) || !p.cc.reserveReps(min(m + 1, this.cc.replicas + 1), this.cc.reps.keys.len + 255) ||
        (add && (!this.reserveOps(1, <i32>en) || !p.reserve(1, <i32>en, 1)))) { setError(E_OUT_OF_MEMORY); return false; }
    if (had) {
      // pending's context gains e's old dots; its own dots for e are among
      // them, so it drops them.
      for (let q = this.dfirst(ei); q != 0; q = this.dnx(ei, q)) {
        const ri = this.qrep(ei, q);
        p.cc.addReserved(p.cc.rep(this.cc.repPtr(<i32>ri), this.cc.repLen(<i32>ri)), this.qctr(ei, q));
      }
      this.dropAll(ei);
      const pe = p.elems.find(ep, en);
      if (pe >= 0) p.dropAll(pe);
    }
    if (!add) return true;
    const ri = this.cc.rep(rp, rn);
    const c = this.cc.maxOf(ri) + 1;
    this.cc.addReserved(ri, c);
    this.link(this.intern(ep, en), <u32>ri, c);
    const pr = p.cc.rep(rp, rn);
    p.cc.addReserved(pr, c);
    p.link(p.intern(ep, en), <u32>pr, c);
    return true;
  }

  // ---- queries and codec -----------------------------------------------------

  // query := count, elements sorted
  query(w: Writer): void {
    const order = new Vec<u32>();
    if (!this.sortedLive(order)) { order.free(); setError(E_OUT_OF_MEMORY); w.varint(0); return; }
    w.varint(<u64>order.len);
    for (let i = 0; i < order.len; i++) this.writeElem(w, <i32>order.get(i));
    order.free();
  }

  @inline private writeElem(w: Writer, ei: i32): void {
    const n = <i32>this.elems.keyLen(ei);
    w.varint(<u64>n);
    w.raw(this.elems.keyPtr(ei), n);
  }

  hasBytes(p: usize, n: i32): i32 {
    const ei = this.elems.find(p, <usize>n);
    return ei >= 0 && this.present(ei) ? 1 : 0;
  }
  has(key: string): i32 { return this.hasBytes(keyBytes(key), key.length); }

  // The live elements' indices in byte order of their bytes.
  private sortedLive(order: Vec<u32>): bool {
    order.clear();
    if (!order.reserve(this.live) || !this.order.update(this.elems)) return false;
    const n = this.elems.count;
    for (let i = 0; i < n; i++) {
      const ei = this.order.at(i);
      if (this.present(ei)) order.pushReserved(<u32>ei);
    }
    return true;
  }

  // ei's dots as (rank of replica, counter), sorted: canonical order.
  private sortedDots(ei: i32, rank: Vec<u32>, out: DotVec): bool {
    out.clear();
    for (let q = this.dfirst(ei); q != 0; q = this.dnx(ei, q)) {
      if (!out.push(rank.get(<i32>this.qrep(ei, q)), this.qctr(ei, q))) return false;
    }
    return out.sort();
  }

  encode(w: Writer): void {
    const rk = new Vec<u32>();
    const order = new Vec<u32>();
    const ds = new DotVec();
    let ok = this.cc.sortedReps(rk) && encodeContext(w, this.cc, rk) && this.sortedLive(order);
    const rank = ranks(rk);
    if (!ok) w.varint(0);
    else {
      w.varint(<u64>order.len);
      for (let i = 0; i < order.len && ok; i++) {
        const ei = <i32>order.get(i);
        this.writeElem(w, ei);
        ok = this.sortedDots(ei, rank, ds);
        w.varint(<u64>ds.count);
        for (let j = 0; j < ds.count; j++) { writeRep(w, this.cc, <i32>rk.get(<i32>ds.rep(j))); w.varint(ds.ctr(j)); }
      }
    }
    if (!ok) setError(E_OUT_OF_MEMORY); // the ABI returns OUT_OF_MEMORY
    rk.free(); order.free(); ds.free(); rank.free();
  }

  decode(r: Reader, depth: i32): void {
    decodeContext(r, this.cc);
    if (!r.ok) return;
    const storeAt = r.p;
    const seen = seenScratch;
    scanStore(r, this.cc, seen, null);
    seen.free();
    if (!r.ok) return;
    const end = r.p;
    if (!this.reserve(scanElems, scanBytes, scanDots, scanPool)) { r.fail(E_OUT_OF_MEMORY); return; }
    at = storeAt;
    const n = <i32>rdVar();
    for (let i = 0; i < n; i++) {
      const p = rdBytes();
      const ei = this.intern(p, rdLen);
      const m = <i32>rdVar();
      for (let j = 0; j < m; j++) {
        const rp = rdBytes();
        const ri = this.cc.findRep(rp, rdLen);
        this.link(ei, <u32>ri, rdVar());
      }
    }
  }
}

@inline function txHas(sorted: bool, ri: u32, c: u64): bool {
  if (sorted) return tx.find(ri, c) >= 0;
  for (let j = 0; j < tx.count; j++) if (tx.ctr(j) == c && tx.rep(j) == ri) return true;
  return false;
}

// rank[i] := position of replica i in byte order (order from sortedReps).
function ranks(order: Vec<u32>): Vec<u32> {
  const rank = new Vec<u32>();
  if (!rank.reserve(order.len)) { setError(E_OUT_OF_MEMORY); return rank; }
  rank.len = order.len;
  for (let k = 0; k < order.len; k++) rank.set(<i32>order.get(k), <u32>k);
  return rank;
}

let scanMaxPer: i32 = 1;

// Unchecked readers for a second pass over bytes scanStore has checked.
let at: usize = 0;
let rdLen: usize = 0;
@inline function rdVar(): u64 {
  let v: u64 = 0, sh: u64 = 0;
  while (true) {
    const b = <u64>load<u8>(at++);
    v |= (b & 0x7f) << sh;
    if ((b & 0x80) == 0) return v;
    sh += 7;
  }
  return v;
}
@inline function rdBytes(): usize { rdLen = <usize>rdVar(); const p = at; at += rdLen; return p; }

// Checks a canonical store (count, then (element, dots) sorted by element,
// each with ≥ 1 dot sorted by (replica bytes, counter), every dot in cc and
// none on two elements), counting what it holds (scanElems, scanBytes,
// scanDots, scanMaxPer). Fails r on bad input.
// With `into`, counts only the elements new there (scanElems, scanBytes) and
// the dots its context has not seen (scanDots): the room a join takes.
export function scanStore(r: Reader, cc: Context, seen: SeenDots, into: AWSet | null): void {
  scanElems = 0; scanBytes = 0; scanDots = 0; scanPool = 0; scanMaxPer = 1;
  const wide = (into !== null ? into.cc.replicas : 0) + cc.replicas >= 0xff_fffe;
  const n = r.count(2);
  if (!r.ok) return;
  // Bitmaps over the version vector cost at most one bit per input bit.
  if (!seen.init(cc, <u64>r.left << 3)) { r.fail(E_OUT_OF_MEMORY); return; }
  let prev: usize = 0, prevLen: usize = 0;
  for (let i = 0; i < n && r.ok; i++) {
    const p = r.valueRaw();
    const len = <usize>r.rawLen;
    const m = r.count(2);
    const dotsAt = r.p;
    // The dots' own form first, then the element's order, then the dots
    // against the context (the order of the checks fixes which error a
    // state with several faults gets).
    let dp: usize = 0, dl: i32 = 0, dc: u64 = 0;
    for (let j = 0; j < m && r.ok; j++) {
      const rp = r.replicaRaw();
      const rl = r.rawLen;
      const c = r.varint();
      if (!honestRaw(r, rl, c)) return;
      if (j > 0) {
        const o = compareBytes(dp, <usize>dl, rp, <usize>rl);
        if (o > 0 || (o == 0 && dc >= c)) { r.fail(E_NONCANONICAL); return; }
      }
      dp = rp; dl = rl; dc = c;
    }
    if (!r.ok) return;
    if (i > 0 && compareBytes(prev, prevLen, p, len) >= 0) { r.fail(E_NONCANONICAL); return; }
    if (m == 0) { r.fail(E_NONCANONICAL); return; }
    prev = p; prevLen = len;
    const isNew = into === null || into.elems.find(p, len) < 0;
    let slot = isNew; // a new element's first packable dot goes inline
    at = dotsAt;
    for (let j = 0; j < m; j++) {
      const rp = rdBytes();
      const rl = <i32>rdLen;
      const c = rdVar();
      const ri = cc.findRep(rp, <usize>rl);
      if (!cc.has(ri, c)) { r.fail(E_INVALID); return; }
      // A dot names one add of one element: on two elements, no history made it.
      const k = seen.add(ri, c);
      if (k < 0) { r.fail(E_OUT_OF_MEMORY); return; }
      if (k == 0) { r.fail(E_INVALID); return; }
      if (into === null || !into.cc.has(into.cc.findRep(rp, <usize>rl), c)) {
        scanDots++;
        if (slot && !wide && c < (<u64>1 << 40)) slot = false; else scanPool++;
      }
    }
    if (isNew) { scanElems++; scanBytes += <i32>len; }
    if (m > scanMaxPer) scanMaxPer = m;
  }
}

