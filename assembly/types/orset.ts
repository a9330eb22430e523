// Observed-remove set with tombstones (the classic OR-Set, as Lasp's
// state_orset): element -> tokens, each token a unique dot that is active or
// removed. A remove marks only the tokens it observed, so a concurrent add (a
// new token) keeps the element. Tombstones are never collected: unlike AWSet,
// no causal context is needed, at the cost of state that only grows.
// Shapiro, Preguiça, Baquero & Zawirski, "A comprehensive study of CRDTs" (2011).
//
// Layout (assembly/data): elements interned in a ByteTable; replica ids in a
// second one, so a token is 12 bytes of integers (counter; replica index
// and removed flag) in one flat array. Element i's tokens are a contiguous
// run of that array, kept in canonical order (replica bytes, then counter);
// a run that grows is rewritten at the array's end, and the array is
// compacted once more than half of it is such dead runs. The highest counter
// per replica (the next add mints it + 1) is kept beside the replica table.
import { Reader, Writer, keyBytes } from "../codec";
import { E_BAD_TAG, E_INVALID, E_NONCANONICAL, E_OUT_OF_MEMORY, E_OVERFLOW, E_TOO_LARGE, E_TRAILING, MAX_PARTS, setError } from "../errors";
import { Lattice } from "../lattice";
import { MAX_COUNTER, canMint } from "../dots";
import { ByteTable, Vec, compareBytes } from "../data/index";
import { KeyOrder } from "../data/order";

export const OP_ADD: u32 = 0;    // op := 0 element:bytes
export const OP_REMOVE: u32 = 1; // op := 1 element:bytes   (marks the tokens observed removed)

// body  := count (element:bytes, count (replica, counter, flag:u8)*)*
//          elements sorted by bytes, strictly increasing, each with ≥ 1 token;
//          tokens sorted by dot (replica bytes, then counter), strictly
//          increasing; flag 0 = active, 1 = removed.
// query := count element:bytes*   (elements with an active token, sorted)
//
// One dot as a token of two elements is accepted: with no causal context, the
// join of two states that each decode can hold it (one peer sent the dot on
// x, another on y), and refusing it at decode would make that join, once
// stored, unreadable. Admission checks (host/replication/mint.ts) see tokens.
export class ORSet extends Lattice {
  elems: ByteTable = new ByteTable();
  lists: Vec<u32> = new Vec<u32>(); // per element: first token, token count
  toks: Vec<u32> = new Vec<u32>();  // per token 12 bytes: counter u64, then replica << 1 | removed u32
  reps: ByteTable = new ByteTable();
  top: Vec<u64> = new Vec<u64>();   // per replica index: highest counter in a token
  order: KeyOrder = new KeyOrder();
  dead: i32 = 0;                    // tokens in runs no element points to any more

  bottom(): Lattice { return new ORSet(this.spec); }
  isBottom(): bool { return this.elems.count == 0; }

  free(): void {
    this.elems.free(); this.lists.free(); this.toks.free();
    this.reps.free(); this.top.free(); this.order.free();
    this.dead = 0;
  }

  @inline first(i: i32): i32 { return <i32>this.lists.get(i << 1); }
  @inline count(i: i32): i32 { return <i32>this.lists.get((i << 1) + 1); }
  @inline ctr(t: i32): u64 { return load<u64>(this.toks.ptr + <usize>t * 12); }
  @inline rep(t: i32): u32 { return load<u32>(this.toks.ptr + <usize>t * 12 + 8) >> 1; }
  @inline removed(t: i32): bool { return (load<u32>(this.toks.ptr + <usize>t * 12 + 8) & 1) != 0; }
  @inline ntok(): i32 { return this.toks.len / 3; }
  @inline liveTokens(): i32 { return this.ntok() - this.dead; }
  // Room for n more tokens; false (nothing changed) on exhaustion.
  @inline reserveToks(n: i32): bool { return n <= 0x0fff_ffff && this.toks.reserve(n * 3); }

  clone(): Lattice {
    const c = new ORSet(this.spec);
    if (!this.elems.copyTo(c.elems) || !this.lists.copyTo(c.lists) || !this.toks.copyTo(c.toks) ||
        !this.reps.copyTo(c.reps) || !this.top.copyTo(c.top) || !this.order.copyTo(c.order)) {
      c.free();
      setError(E_OUT_OF_MEMORY);
      return c;
    }
    c.dead = this.dead;
    return c;
  }

  // Index of replica id p[0..n), added if new; −1 when memory is exhausted.
  private repIndex(p: usize, n: usize): i32 {
    if (!this.top.reserve(1)) return -1;
    const i = this.reps.add(p, n);
    if (this.reps.added) this.top.pushReserved(0);
    return i;
  }

  // Appends a token into reserved room, noting its counter as the replica's top.
  @inline private pushToken(rep: u32, c: u64, removed: bool): void {
    const at = this.toks.end();
    store<u64>(at, c);
    store<u32>(at + 8, (rep << 1) | (removed ? 1 : 0));
    this.toks.len += 3;
    if (this.top.get(<i32>rep) < c) this.top.set(<i32>rep, c);
  }

  // Starts element p[0..n)'s run at the end of the token array; returns the
  // element's index, or −1 when memory is exhausted (none if room was reserved).
  private startRun(p: usize, n: usize): i32 {
    if (!this.lists.reserve(2)) return -1;
    const i = this.elems.add(p, n);
    if (i < 0) return -1;
    if (this.elems.added) { this.lists.pushReserved(0); this.lists.pushReserved(0); }
    else this.dead += this.count(i);
    this.lists.set(i << 1, <u32>this.ntok());
    return i;
  }

  @inline private endRun(i: i32): void {
    this.lists.set((i << 1) + 1, <u32>(this.ntok() - this.first(i)));
  }

  // Rewrites the token array without dead runs, once they are the larger
  // part (a failure to get memory only postpones it).
  private compact(): void {
    if (this.dead <= this.liveTokens()) return;
    const nt = new Vec<u32>();
    if (!nt.reserve(this.liveTokens() * 3)) return;
    for (let i = 0; i < this.elems.count; i++) {
      const f = this.first(i), k = this.count(i);
      this.lists.set(i << 1, <u32>(nt.len / 3));
      memory.copy(nt.end(), this.toks.ptr + <usize>f * 12, <usize>k * 12);
      nt.len += k * 3;
    }
    this.toks.take(nt);
    this.dead = 0;
  }

  // Order of token a of this and token b of x: by replica bytes, then counter.
  cmpTok(a: i32, x: ORSet, b: i32): i32 {
    const ra = this.rep(a), rb = x.rep(b);
    if (x !== this || ra != rb) {
      const c = compareBytes(this.reps.keyPtr(<i32>ra), this.reps.keyLen(<i32>ra), x.reps.keyPtr(<i32>rb), x.reps.keyLen(<i32>rb));
      if (c != 0) return c;
    }
    const ca = this.ctr(a), cb = x.ctr(b);
    return ca < cb ? -1 : ca > cb ? 1 : 0;
  }

  // Per element, a merge of two sorted token lists: union of tokens, a token
  // removed if removed on either side.
  join(o: Lattice): bool {
    const x = changetype<ORSet>(o);
    if (x.elems.count == 0 || x === this) return false;
    // x's replica ids interned here first (an id left unused is harmless:
    // the replica table is not part of the state's value or bytes).
    const map = new Vec<u32>();
    if (!map.reserve(x.reps.count) || !this.reps.reserve(x.reps.count, x.reps.keys.len) || !this.top.reserve(x.reps.count)) {
      map.free(); setError(E_OUT_OF_MEMORY); return false;
    }
    for (let r = 0; r < x.reps.count; r++) map.pushReserved(<u32>this.repIndex(x.reps.keyPtr(r), x.reps.keyLen(r)));
    // Exactly the room the merged runs take, counted first.
    let nk = 0, kbytes = 0, need = 0;
    for (let j = 0; j < x.elems.count; j++) {
      const i = this.elems.find(x.elems.keyPtr(j), x.elems.keyLen(j));
      if (i < 0) { nk++; kbytes += <i32>x.elems.keyLen(j); need += x.count(j); }
      else if (this.adds(i, x, j)) need += x.count(j) + this.count(i);
    }
    if (!this.elems.reserve(nk, kbytes) || !this.lists.reserve(nk << 1) || !this.reserveToks(need)) {
      map.free(); setError(E_OUT_OF_MEMORY); return false;
    }
    let changed = false;
    for (let j = 0; j < x.elems.count; j++) {
      const p = x.elems.keyPtr(j), n = x.elems.keyLen(j);
      const i = this.elems.find(p, n);
      if (i >= 0 && !this.adds(i, x, j)) continue;
      changed = true;
      const af = i >= 0 ? this.first(i) : 0, an = i >= 0 ? this.count(i) : 0;
      const bf = x.first(j), bn = x.count(j);
      const k = this.startRun(p, n);
      let a = af, b = bf;
      while (a < af + an || b < bf + bn) {
        const c = a == af + an ? 1 : b == bf + bn ? -1 : this.cmpTok(a, x, b);
        if (c < 0) { this.pushToken(this.rep(a), this.ctr(a), this.removed(a)); a++; }
        else if (c > 0) { this.pushToken(map.get(<i32>x.rep(b)), x.ctr(b), x.removed(b)); b++; }
        else { this.pushToken(this.rep(a), this.ctr(a), this.removed(a) || x.removed(b)); a++; b++; }
      }
      this.endRun(k);
    }
    map.free();
    this.compact();
    return changed;
  }

  // Whether x's element j brings anything to element i here: a token not
  // here, or one removed there and active here.
  private adds(i: i32, x: ORSet, j: i32): bool {
    const af = this.first(i), an = this.count(i), bf = x.first(j), bn = x.count(j);
    let a = af;
    for (let b = bf; b < bf + bn; b++) {
      let c = 1;
      while (a < af + an && (c = this.cmpTok(a, x, b)) < 0) a++;
      if (a == af + an || c != 0) return true;
      if (x.removed(b) && !this.removed(a)) return true;
      a++;
    }
    return false;
  }

  // Every token of this is in o, and removed there if removed here.
  leq(o: Lattice): bool {
    const x = changetype<ORSet>(o);
    for (let i = 0; i < this.elems.count; i++) {
      const j = x.elems.find(this.elems.keyPtr(i), this.elems.keyLen(i));
      if (j < 0 || this.count(i) > x.count(j) || x.adds(j, this, i)) return false;
    }
    return true;
  }

  // The tokens o lacks, or has active where this has them removed.
  deltaFrom(o: Lattice): Lattice {
    const x = changetype<ORSet>(o);
    const d = new ORSet(this.spec);
    const n = this.elems.count;
    if (!d.elems.reserve(n, this.elems.keys.len) || !d.lists.reserve(n << 1) || !d.reserveToks(this.liveTokens()) ||
        !d.reps.reserve(this.reps.count, this.reps.keys.len) || !d.top.reserve(this.reps.count)) {
      setError(E_OUT_OF_MEMORY); return d;
    }
    for (let i = 0; i < n; i++) {
      const p = this.elems.keyPtr(i), kn = this.elems.keyLen(i);
      const j = x.elems.find(p, kn);
      const af = this.first(i), an = this.count(i);
      const bf = j >= 0 ? x.first(j) : 0, bn = j >= 0 ? x.count(j) : 0;
      let b = bf, k = -1;
      for (let a = af; a < af + an; a++) {
        let c = 1;
        while (b < bf + bn && (c = x.cmpTok(b, this, a)) < 0) b++;
        const found = b < bf + bn && c == 0;
        if (found && !(this.removed(a) && !x.removed(b))) continue;
        if (k < 0) k = d.startRun(p, kn);
        const r = this.rep(a);
        d.pushToken(<u32>d.repIndex(this.reps.keyPtr(<i32>r), this.reps.keyLen(<i32>r)), this.ctr(a), this.removed(a));
      }
      if (k >= 0) d.endRun(k);
    }
    return d;
  }

  // One part per token, with its flag: (t, removed) covers only (t, active).
  decompose(out: Array<Lattice>): void {
    if (!this.ordered()) return;
    for (let s = 0; s < this.elems.count; s++) {
      const i = this.order.at(s);
      const f = this.first(i);
      for (let t = f; t < f + this.count(i); t++) {
        if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
        const p = new ORSet(this.spec);
        const r = this.rep(t);
        if (!p.elems.reserve(1, <i32>this.elems.keyLen(i)) || !p.lists.reserve(2) || !p.reserveToks(1)) { setError(E_OUT_OF_MEMORY); return; }
        const ri = p.repIndex(this.reps.keyPtr(<i32>r), this.reps.keyLen(<i32>r));
        if (ri < 0) { setError(E_OUT_OF_MEMORY); return; }
        const k = p.startRun(this.elems.keyPtr(i), this.elems.keyLen(i));
        p.pushToken(<u32>ri, this.ctr(t), this.removed(t));
        p.endRun(k);
        out.push(p);
      }
    }
  }

  // The highest counter of replica p[0..n) here (0: none).
  @inline private topOf(p: usize, n: usize): u64 {
    const r = this.reps.find(p, n);
    return r < 0 ? 0 : this.top.get(r);
  }

  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_ADD && code != OP_REMOVE) { r.fail(E_BAD_TAG); return null; }
    const ep = r.valueRaw();
    const en = <usize>r.rawLen;
    const rp = keyBytes(replica), rn = <usize>replica.length;
    const top = code == OP_ADD && r.ok ? this.topOf(rp, rn) : 0;
    if (code == OP_ADD && !canMint(r, replica, top)) return null;
    if (!r.ok || dry) return null;
    const d = new ORSet(this.spec);
    if (code == OP_ADD) {
      if (!d.elems.reserve(1, <i32>en) || !d.lists.reserve(2) || !d.reserveToks(1)) { r.fail(E_OUT_OF_MEMORY); return null; }
      const ri = d.repIndex(rp, rn);
      if (ri < 0) { r.fail(E_OUT_OF_MEMORY); return null; }
      const k = d.startRun(ep, en);
      d.pushToken(<u32>ri, top + 1, false);
      d.endRun(k);
      return d;
    }
    const i = this.elems.find(ep, en);
    if (i < 0) return d;
    const f = this.first(i), n = this.count(i);
    if (!d.elems.reserve(1, <i32>en) || !d.lists.reserve(2) || !d.reserveToks(n) ||
        !d.reps.reserve(n, n * 255) || !d.top.reserve(n)) { r.fail(E_OUT_OF_MEMORY); return null; }
    let k = -1;
    for (let t = f; t < f + n; t++) {
      if (this.removed(t)) continue;
      if (k < 0) k = d.startRun(ep, en);
      const rr = this.rep(t);
      d.pushToken(<u32>d.repIndex(this.reps.keyPtr(<i32>rr), this.reps.keyLen(<i32>rr)), this.ctr(t), true);
    }
    if (k >= 0) d.endRun(k);
    return d;
  }

  // The op's delta joined into this and into pending, then freed at once
  // (not left to the collector).
  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    const d = this.op(r, replica, false, depth);
    if (d === null) return false;
    pending.join(d);
    const grew = this.join(d);
    d.free();
    return grew;
  }

  // Whether element i has an active token.
  live(i: i32): bool {
    const f = this.first(i);
    for (let t = f; t < f + this.count(i); t++) if (!this.removed(t)) return true;
    return false;
  }

  // Puts the elements in byte order, or reports OUT_OF_MEMORY for the ABI to return.
  @inline ordered(): bool {
    if (this.order.update(this.elems)) return true;
    setError(E_OUT_OF_MEMORY);
    return false;
  }

  query(w: Writer): void {
    if (!this.ordered()) { w.varint(0); return; }
    w.varint(<u64>this.size());
    for (let s = 0; s < this.elems.count; s++) {
      const i = this.order.at(s);
      if (!this.live(i)) continue;
      const n = this.elems.keyLen(i);
      w.varint(<u64>n);
      w.raw(this.elems.keyPtr(i), <i32>n);
    }
  }

  hasBytes(p: usize, n: i32): i32 {
    const i = this.elems.find(p, <usize>n);
    return i >= 0 && this.live(i) ? 1 : 0;
  }
  has(key: string): i32 { return this.hasBytes(keyBytes(key), key.length); }

  size(): i32 {
    let n = 0;
    for (let i = 0; i < this.elems.count; i++) if (this.live(i)) n++;
    return n;
  }

  encode(w: Writer): void {
    if (!this.ordered()) { w.varint(0); return; } // the ABI returns OUT_OF_MEMORY
    w.varint(<u64>this.elems.count);
    for (let s = 0; s < this.elems.count; s++) {
      const i = this.order.at(s);
      const n = this.elems.keyLen(i);
      w.varint(<u64>n);
      w.raw(this.elems.keyPtr(i), <i32>n);
      const f = this.first(i), k = this.count(i);
      w.varint(<u64>k);
      for (let t = f; t < f + k; t++) {
        const rr = <i32>this.rep(t);
        const rl = this.reps.keyLen(rr);
        w.varint(<u64>rl);
        w.raw(this.reps.keyPtr(rr), <i32>rl);
        w.varint(this.ctr(t));
        w.u8(this.removed(t) ? 1 : 0);
      }
    }
  }

  decode(r: Reader, depth: i32): void { this.ingest(r, false); }

  // Streamed: the body is joined straight from its bytes.
  joinBody(r: Reader): i32 { return this.ingest(r, true); }

  // Joins the body at r into this (decode: into a bottom). One pass checks
  // the whole body in place, interns its writers and counts exactly the room
  // its changed runs take; after one reservation a second pass merges them
  // from the bytes and cannot fail. A bad body changes nothing (a writer id
  // interned for it is unused, and not part of the state's value or bytes).
  // `whole`: the body must end the input. Returns 1 if this grew, 0, or −code.
  private ingest(r: Reader, whole: bool): i32 {
    const start = r.p;
    const n = r.count(2);
    if (!r.ok) return -r.err;
    const empty = this.elems.count == 0;
    const tmp = new Vec<u64>(); // one element's incoming tokens, replicas as indices here
    let prev: usize = 0, prevLen: usize = 0, nk = 0, kbytes = 0, need = 0;
    for (let i = 0; i < n && r.ok; i++) {
      const ep = r.valueRaw();
      if (!r.ok) break;
      const en = <usize>r.rawLen;
      if (i > 0 && compareBytes(prev, prevLen, ep, en) >= 0) { r.fail(E_NONCANONICAL); break; }
      prev = ep; prevLen = en;
      if (!this.readTokens(r, tmp)) break;
      const at = empty ? -1 : this.elems.find(ep, en);
      if (at < 0) { nk++; kbytes += <i32>en; need += tmp.len >> 1; }
      else if (this.addsTmp(at, tmp)) need += (tmp.len >> 1) + this.count(at);
    }
    if (whole && r.ok && !r.done) r.fail(E_TRAILING);
    // The token array is the largest block and the one a merge grows: it is
    // reserved last when decoding (so it ends up last in memory) and first
    // when merging (so it grows in place there, not into a new block that
    // leaves its old one as a hole).
    if (r.ok && !(empty
        ? this.order.idx.reserve(n) && this.elems.reserve(nk, kbytes) && this.lists.reserve(nk << 1) && this.reserveToks(need)
        : this.reserveToks(need) && this.lists.reserve(nk << 1) && this.elems.reserve(nk, kbytes))) r.fail(E_OUT_OF_MEMORY);
    if (!r.ok) { tmp.free(); return -r.err; }
    const again = new Reader(start, r.p);
    again.count(2);
    let changed = false;
    for (let i = 0; i < n; i++) {
      const ep = again.valueRaw();
      const en = <usize>again.rawLen;
      this.readTokens(again, tmp); // checked above: cannot fail
      const at = empty ? -1 : this.elems.find(ep, en);
      if (at >= 0 && !this.addsTmp(at, tmp)) continue;
      changed = true;
      const af = at >= 0 ? this.first(at) : 0, an = at >= 0 ? this.count(at) : 0;
      const bn = tmp.len >> 1;
      const k = this.startRun(ep, en);
      let a = af, b = 0;
      while (a < af + an || b < bn) {
        const c = a == af + an ? 1 : b == bn ? -1 : this.cmpTmp(a, tmp, b);
        if (c < 0) { this.pushToken(this.rep(a), this.ctr(a), this.removed(a)); a++; continue; }
        const bw = tmp.get((b << 1) + 1), bx = (bw & 1) != 0;
        if (c > 0) this.pushToken(<u32>(bw >> 1), tmp.get(b << 1), bx);
        else { this.pushToken(this.rep(a), this.ctr(a), this.removed(a) || bx); a++; }
        b++;
      }
      this.endRun(k);
    }
    tmp.free();
    // Read in byte order; if this index cannot be had, the next encode sorts.
    if (empty) this.order.identity(n);
    this.compact();
    return changed ? 1 : 0;
  }

  // Reads and checks one element's tokens (count, then (replica, counter,
  // flag) strictly increasing by dot) into tmp, interning the replica ids.
  // False after r.fail.
  private readTokens(r: Reader, tmp: Vec<u64>): bool {
    tmp.clear();
    const m = r.count(3);
    if (!r.ok) return false;
    if (m == 0) { r.fail(E_NONCANONICAL); return false; }
    if (!tmp.reserve(m << 1)) { r.fail(E_OUT_OF_MEMORY); return false; }
    let pr: usize = 0, prn: usize = 0, pc: u64 = 0;
    for (let j = 0; j < m; j++) {
      const rp = r.replicaRaw(); // refuses more than 255 bytes and bad UTF-8
      const rn = <usize>r.rawLen;
      const c = r.varint();
      if (!r.ok) return false;
      if (rn == 0 || c == 0) { r.fail(E_INVALID); return false; }
      if (c > MAX_COUNTER) { r.fail(E_OVERFLOW); return false; } // the next add would wrap
      const f = r.u8();
      if (!r.ok) return false;
      if (f > 1) { r.fail(E_INVALID); return false; }
      if (j > 0) {
        const cr = compareBytes(pr, prn, rp, rn);
        if (cr > 0 || (cr == 0 && pc >= c)) { r.fail(E_NONCANONICAL); return false; }
      }
      pr = rp; prn = rn; pc = c;
      const ri = this.repIndex(rp, rn);
      if (ri < 0) { r.fail(E_OUT_OF_MEMORY); return false; }
      tmp.pushReserved(c);
      tmp.pushReserved((<u64>ri << 1) | <u64>f);
    }
    return true;
  }

  // Order of token a here and incoming token b of tmp (replicas indexed here).
  private cmpTmp(a: i32, tmp: Vec<u64>, b: i32): i32 {
    const ra = this.rep(a), rb = <u32>(tmp.get((b << 1) + 1) >> 1);
    if (ra != rb) return compareBytes(this.reps.keyPtr(<i32>ra), this.reps.keyLen(<i32>ra), this.reps.keyPtr(<i32>rb), this.reps.keyLen(<i32>rb));
    const ca = this.ctr(a), cb = tmp.get(b << 1);
    return ca < cb ? -1 : ca > cb ? 1 : 0;
  }

  // Whether the incoming tokens tmp bring anything to element i.
  private addsTmp(i: i32, tmp: Vec<u64>): bool {
    const af = this.first(i), an = this.count(i), bn = tmp.len >> 1;
    let a = af;
    for (let b = 0; b < bn; b++) {
      let c = 1;
      while (a < af + an && (c = this.cmpTmp(a, tmp, b)) < 0) a++;
      if (a == af + an || c != 0) return true;
      if ((tmp.get((b << 1) + 1) & 1) != 0 && !this.removed(a)) return true;
      a++;
    }
    return false;
  }
}
