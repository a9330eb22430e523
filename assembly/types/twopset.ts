// Two-phase set: adds A and removes R (tombstones); the value is A \ R.
// Once removed, an element can never come back: its tombstone outranks every
// later add. Per element this is the chain absent < added < removed, joined
// pointwise by max, so an element in R is not also kept in A: the tombstone
// subsumes the add (the classic (A, R) pair projects onto this form, and the
// projection preserves joins and the value). The kernel accepts a remove of an
// element it has never seen (it becomes a tombstone); the host refuses it.
import { Reader, Writer, sortKeys } from "../codec";
import { E_BAD_TAG, E_NONCANONICAL, E_TOO_LARGE, MAX_PARTS, setError } from "../errors";
import { Lattice, Spec } from "../lattice";
import { copySet, readSet, writeSet } from "./gset";

export const OP_ADD: u32 = 0;    // op := 0 element:bytes
export const OP_REMOVE: u32 = 1; // op := 1 element:bytes

export class TwoPSet extends Lattice {
  // body  := adds removes; each := count:varint, then count × element:bytes
  //          sorted strictly increasing by bytes. No element is in both: a
  //          removed element is listed only in removes.
  // query := count:varint, then element:bytes in byte order (the adds list)

  a: Set<string> = new Set(); // added and not removed (the value)
  r: Set<string> = new Set(); // removed (tombstones)

  bottom(): Lattice { return new TwoPSet(this.spec); }
  isBottom(): bool { return this.a.size == 0 && this.r.size == 0; }

  clone(): Lattice {
    const c = new TwoPSet(this.spec);
    c.a = copySet(this.a);
    c.r = copySet(this.r);
    return c;
  }

  join(o: Lattice): bool {
    const x = changetype<TwoPSet>(o);
    let changed = false;
    const rs = x.r.values();
    for (let i = 0; i < rs.length; i++) {
      const e = rs[i];
      if (this.r.has(e)) continue;
      this.r.add(e);
      if (this.a.has(e)) this.a.delete(e);
      changed = true;
    }
    const as = x.a.values();
    for (let i = 0; i < as.length; i++) {
      const e = as[i];
      if (this.a.has(e) || this.r.has(e)) continue;
      this.a.add(e);
      changed = true;
    }
    return changed;
  }

  // Pointwise on the chain absent < added < removed.
  leq(o: Lattice): bool {
    const x = changetype<TwoPSet>(o);
    const rs = this.r.values();
    for (let i = 0; i < rs.length; i++) if (!x.r.has(rs[i])) return false;
    const as = this.a.values();
    for (let i = 0; i < as.length; i++) if (!x.a.has(as[i]) && !x.r.has(as[i])) return false;
    return true;
  }

  // Adds o has neither added nor removed, and tombstones o lacks.
  deltaFrom(o: Lattice): Lattice {
    const x = changetype<TwoPSet>(o);
    const d = new TwoPSet(this.spec);
    const rs = this.r.values();
    for (let i = 0; i < rs.length; i++) if (!x.r.has(rs[i])) d.r.add(rs[i]);
    const as = this.a.values();
    for (let i = 0; i < as.length; i++) if (!x.a.has(as[i]) && !x.r.has(as[i])) d.a.add(as[i]);
    return d;
  }

  // One part per add ({e}, {}) and per tombstone ({}, {e}), each in byte order.
  decompose(out: Array<Lattice>): void {
    const as = sortKeys(this.a.values());
    for (let i = 0; i < as.length; i++) {
      if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
      const p = new TwoPSet(this.spec);
      p.a.add(as[i]);
      out.push(p);
    }
    const rs = sortKeys(this.r.values());
    for (let i = 0; i < rs.length; i++) {
      if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
      const p = new TwoPSet(this.spec);
      p.r.add(rs[i]);
      out.push(p);
    }
  }

  // Deltas are bottom when the op adds nothing (add of a present or removed
  // element, remove of a removed one).
  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_ADD && code != OP_REMOVE) { r.fail(E_BAD_TAG); return null; }
    const e = r.value();
    if (!r.ok || dry) return null;
    const d = new TwoPSet(this.spec);
    if (code == OP_ADD) {
      if (!this.a.has(e) && !this.r.has(e)) d.a.add(e);
    } else if (!this.r.has(e)) {
      d.r.add(e);
    }
    return d;
  }

  query(w: Writer): void { writeSet(w, this.a); }

  has(key: string): i32 { return this.a.has(key) ? 1 : 0; }
  size(): i32 { return this.a.size; }

  encode(w: Writer): void {
    writeSet(w, this.a);
    writeSet(w, this.r);
  }

  decode(r: Reader, depth: i32): void {
    readSet(r, this.a);
    if (!r.ok) return;
    readSet(r, this.r);
    if (!r.ok) return;
    // Check against the smaller set so the cost is bounded by the input.
    const small = this.a.size < this.r.size ? this.a : this.r;
    const big = this.a.size < this.r.size ? this.r : this.a;
    const vs = small.values();
    for (let i = 0; i < vs.length; i++) if (big.has(vs[i])) { r.fail(E_NONCANONICAL); return; }
  }
}
