// Two-phase set: adds A and removes R (tombstones); the value is A \ R.
// Once removed, an element can never come back: its tombstone outranks every
// later add. Per element this is the chain absent < added < removed, joined
// pointwise by max, so an element in R is not also kept in A: the tombstone
// subsumes the add (the classic (A, R) pair projects onto this form, and the
// projection preserves joins and the value). The kernel accepts a remove of an
// element it has never seen (it becomes a tombstone); the host refuses it.
//
// Layout (assembly/data): two GSets, `a` holding every element ever added
// (removed ones included) and `r` the tombstones, so neither ever deletes;
// the canonical adds list A \ R is produced by one merge walk when encoding.
import { Reader, Writer } from "../codec";
import { E_BAD_TAG, E_NONCANONICAL, E_OUT_OF_MEMORY, E_TOO_LARGE, E_TRAILING, MAX_PARTS, setError } from "../errors";
import { Lattice, Spec } from "../lattice";
import { GSet, readElements, entryEnd } from "./gset";
import { Run, compareBytes, compareFast, entryBody, entryLen } from "../data/index";

export const OP_ADD: u32 = 0;    // op := 0 element:bytes
export const OP_REMOVE: u32 = 1; // op := 1 element:bytes

export class TwoPSet extends Lattice {
  // body  := adds removes; each := count:varint, then count × element:bytes
  //          sorted strictly increasing by bytes. No element is in both: a
  //          removed element is listed only in removes.
  // query := count:varint, then element:bytes in byte order (the adds list)

  a: GSet; // every element ever added (the value is a \ r)
  r: GSet; // removed (tombstones)

  constructor(spec: Spec) {
    super(spec);
    this.a = new GSet(spec);
    this.r = new GSet(spec);
  }

  bottom(): Lattice { return new TwoPSet(this.spec); }
  isBottom(): bool { return this.a.isBottom() && this.r.isBottom(); }
  free(): void { this.a.free(); this.r.free(); }

  clone(): Lattice {
    const c = new TwoPSet(this.spec);
    c.a.free(); c.r.free();
    c.a = changetype<GSet>(this.a.clone());
    c.r = changetype<GSet>(this.r.clone());
    return c;
  }

  @inline live(p: usize, n: usize): bool { return this.a.contains(p, n) && !this.r.contains(p, n); }

  join(o: Lattice): bool {
    const x = changetype<TwoPSet>(o);
    // a may gain elements that are already removed: no change to the state.
    const grew = !x.leq(this);
    this.r.join(x.r);
    this.a.join(x.a);
    return grew;
  }

  // Pointwise on the chain absent < added < removed: every tombstone of this
  // is in o.r, every live element of this is in o.a or o.r.
  leq(o: Lattice): bool {
    const x = changetype<TwoPSet>(o);
    if (!this.r.leq(x.r)) return false;
    if (!this.a.ordered() || !this.r.ordered()) return false;
    const a = this.a.run, r = this.r.run;
    // Many against many (a join's check): o's runs are walked with cursors,
    // as r is; few against many: point lookups (no fold of o's runs).
    const walk = a.count * 16 >= x.a.size() + x.r.size() && x.a.ordered() && x.r.ordered();
    const xa = x.a.run, xr = x.r.run;
    let j = 0, ja = 0, jr = 0;
    for (let i = 0; i < a.count; i++) {
      const p = a.elemPtr(i), n = a.elemLen(i);
      if (skipTo(r, j, p, n)) { j = skipped + 1; continue; } // removed here
      j = skipped;
      if (walk) {
        const inA = skipTo(xa, ja, p, n);
        ja = skipped;
        if (inA) continue;
        const inR = skipTo(xr, jr, p, n);
        jr = skipped;
        if (!inR) return false;
      } else if (!x.a.contains(p, n) && !x.r.contains(p, n)) return false;
    }
    return true;
  }

  // A few incoming elements (a delta) are checked, then hashed into the two
  // sets' tails; a large body is decoded whole and joined.
  joinBody(r: Reader): i32 {
    const start = r.p;
    const na = r.count(1);
    const aStart = r.p;
    if (r.ok) readElements(r, na, null);
    const nr = r.ok ? r.count(1) : 0;
    const rStart = r.p;
    if (r.ok) readElements(r, nr, null);
    if (r.ok && !r.done) r.fail(E_TRAILING);
    if (!r.ok) return -r.err;
    if (!(na + nr <= 8 || (na + nr) * 32 < this.a.size() + this.r.size())) {
      return super.joinBody(new Reader(start, r.end));
    }
    // No element in both lists: one walk over the two sorted input lists.
    let pr = rStart, jr = 0, pa = aStart;
    for (let i = 0; i < na; i++) {
      const ab = entryBody(pa), al = entryLen(pa);
      let c = -1;
      while (jr < nr && (c = compareBytes(entryBody(pr), entryLen(pr), ab, al)) < 0) { pr = entryBody(pr) + entryLen(pr); jr++; }
      if (jr < nr && c == 0) return -E_NONCANONICAL;
      pa = ab + al;
    }
    if (!this.a.tail.reserve(na, <i32>(rStart - aStart)) || !this.r.tail.reserve(nr, <i32>(r.end - rStart))) return -E_OUT_OF_MEMORY;
    let changed = false;
    // Tombstones first, so an add they cover is seen as no change.
    let p = rStart;
    for (let i = 0; i < nr; i++) {
      const b = entryBody(p), l = entryLen(p);
      if (!this.r.contains(b, l)) { this.r.tail.add(b, l); changed = true; }
      p = b + l;
    }
    p = aStart;
    for (let i = 0; i < na; i++) {
      const b = entryBody(p), l = entryLen(p);
      if (!this.a.contains(b, l)) {
        this.a.tail.add(b, l);
        if (!this.r.contains(b, l)) changed = true;
      }
      p = b + l;
    }
    return changed ? 1 : 0;
  }

  // Tombstones o lacks, and live elements o has neither added nor removed.
  deltaFrom(o: Lattice): Lattice {
    const x = changetype<TwoPSet>(o);
    const d = new TwoPSet(this.spec);
    d.r.free();
    d.r = changetype<GSet>(this.r.deltaFrom(x.r));
    if (!this.a.ordered() || !this.r.ordered()) return d;
    const a = this.a.run, r = this.r.run;
    if (!d.a.run.reserve(a.count, a.data.len)) { setError(E_OUT_OF_MEMORY); return d; }
    let j = 0;
    for (let i = 0; i < a.count; i++) {
      const p = a.elemPtr(i), n = a.elemLen(i);
      if (skipTo(r, j, p, n)) { j = skipped + 1; continue; }
      j = skipped;
      if (!x.a.contains(p, n) && !x.r.contains(p, n)) d.a.run.appendEntryReserved(a.entry(i), entryEnd(a, i) - a.entry(i));
    }
    return d;
  }

  // One part per live element ({e}, {}) and per tombstone ({}, {e}), each in byte order.
  decompose(out: Array<Lattice>): void {
    if (!this.a.ordered() || !this.r.ordered()) return;
    const a = this.a.run, r = this.r.run;
    let j = 0;
    for (let i = 0; i < a.count; i++) {
      if (skipTo(r, j, a.elemPtr(i), a.elemLen(i))) { j = skipped + 1; continue; }
      j = skipped;
      if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
      out.push(single(this.spec, a, i, false));
    }
    for (let i = 0; i < r.count; i++) {
      if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
      out.push(single(this.spec, r, i, true));
    }
  }

  // Deltas are bottom when the op adds nothing (add of a present or removed
  // element, remove of a removed one).
  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_ADD && code != OP_REMOVE) { r.fail(E_BAD_TAG); return null; }
    const p = r.valueRaw();
    if (!r.ok || dry) return null;
    const n = <usize>r.rawLen;
    const d = new TwoPSet(this.spec);
    let ok = true;
    if (code == OP_ADD) {
      if (!this.a.contains(p, n) && !this.r.contains(p, n)) ok = d.a.tail.add(p, n) >= 0;
    } else if (!this.r.contains(p, n)) {
      ok = d.r.tail.add(p, n) >= 0;
    }
    if (!ok) { d.free(); r.fail(E_OUT_OF_MEMORY); return null; }
    return d;
  }

  query(w: Writer): void { this.writeAdds(w); }

  hasBytes(p: usize, n: i32): i32 { return this.live(p, <usize>n) ? 1 : 0; }
  has(key: string): i32 { return this.a.has(key) == 1 && this.r.has(key) == 0 ? 1 : 0; }

  size(): i32 {
    if (!this.a.ordered() || !this.r.ordered()) return 0;
    return this.a.run.count - this.removedAdds();
  }

  // How many elements of a are also in r (walk of two sorted runs).
  private removedAdds(): i32 {
    const a = this.a.run, r = this.r.run;
    let j = 0, k = 0;
    for (let i = 0; i < a.count && j < r.count; i++) {
      if (skipTo(r, j, a.elemPtr(i), a.elemLen(i))) { k++; j = skipped + 1; } else j = skipped;
    }
    return k;
  }

  // adds := count, then the elements of a \ r in byte order.
  private writeAdds(w: Writer): void {
    if (!this.a.ordered() || !this.r.ordered()) { w.varint(0); return; } // the ABI returns OUT_OF_MEMORY
    const a = this.a.run, r = this.r.run;
    w.varint(<u64>(a.count - this.removedAdds()));
    if (!w.ensure(a.data.len)) return; // the ABI returns OUT_OF_MEMORY
    // The live entries between two removed ones are contiguous: one copy each.
    const out = w.ptr + <usize>w.pos;
    let o: usize = 0, s = a.data.ptr;
    let j = 0;
    for (let i = 0; i < a.count && j < r.count; i++) {
      if (skipTo(r, j, a.elemPtr(i), a.elemLen(i))) {
        j = skipped + 1;
        const e = a.entry(i);
        memory.copy(out + o, s, e - s);
        o += e - s;
        s = entryEnd(a, i);
        continue;
      }
      j = skipped;
    }
    const end = a.data.ptr + <usize>a.data.len;
    memory.copy(out + o, s, end - s);
    w.pos += <i32>(o + end - s);
  }

  encode(w: Writer): void {
    this.writeAdds(w);
    this.r.encode(w);
  }

  decode(r: Reader, depth: i32): void {
    readElements(r, r.count(1), this.a.run);
    if (!r.ok) return;
    readElements(r, r.count(1), this.r.run);
    if (!r.ok) return;
    // No element in both lists (one merge walk).
    const a = this.a.run, t = this.r.run;
    let j = 0;
    for (let i = 0; i < a.count && j < t.count; i++) {
      if (skipTo(t, j, a.elemPtr(i), a.elemLen(i))) { r.fail(E_NONCANONICAL); return; }
      j = skipped;
    }
  }
}

// Advances from index j of sorted run r past the elements below p[0..n):
// leaves the first index not below in `skipped`; true if that one equals it.
let skipped: i32 = 0;
function skipTo(r: Run, j: i32, p: usize, n: usize): bool {
  let c = -1;
  while (j < r.count && (c = compareFast(r.elemPtr(j), r.elemLen(j), p, n)) < 0) j++;
  skipped = j;
  return j < r.count && c == 0;
}

// A TwoPSet holding entry i of run s as an add, or as a tombstone.
function single(spec: Spec, s: Run, i: i32, removed: bool): TwoPSet {
  const q = new TwoPSet(spec);
  const into = removed ? q.r.run : q.a.run;
  const bytes = entryEnd(s, i) - s.entry(i);
  if (!into.reserve(1, <i32>bytes)) { setError(E_OUT_OF_MEMORY); return q; }
  into.appendEntryReserved(s.entry(i), bytes);
  return q;
}
