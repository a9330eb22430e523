// Grow-only set of byte strings: join is union, the order is inclusion.
// Every element is its own join-irreducible part.
import { Reader, Writer, sortKeys } from "../codec";
import { E_BAD_TAG, E_NONCANONICAL, E_TOO_LARGE, MAX_PARTS, setError } from "../errors";
import { Lattice, Spec } from "../lattice";

export const OP_ADD: u32 = 0; // op := 0 element:bytes

// Set helpers shared with TwoPSet (same element-list layout).

// elements := count, then element:bytes sorted strictly increasing by bytes
export function writeSet(w: Writer, s: Set<string>): void {
  const ks = sortKeys(s.values());
  w.varint(<u64>ks.length);
  for (let i = 0; i < ks.length; i++) w.key(ks[i]);
}

// Reads an element list into s, rejecting unsorted or repeated elements.
export function readSet(r: Reader, s: Set<string>): void {
  const n = r.count(1); // an empty element still takes its length byte
  let prev = "";
  for (let i = 0; i < n && r.ok; i++) {
    const e = r.value();
    if (!r.ok) return;
    if (i > 0 && !(prev < e)) { r.fail(E_NONCANONICAL); return; }
    prev = e;
    s.add(e);
  }
}

export function copySet(s: Set<string>): Set<string> {
  const c = new Set<string>();
  const vs = s.values();
  for (let i = 0; i < vs.length; i++) c.add(vs[i]);
  return c;
}

export class GSet extends Lattice {
  // body  := count:varint, then count × element:bytes, sorted strictly increasing by bytes
  // query := the same list: count:varint, then element:bytes in byte order

  s: Set<string> = new Set();

  bottom(): Lattice { return new GSet(this.spec); }
  isBottom(): bool { return this.s.size == 0; }

  clone(): Lattice {
    const c = new GSet(this.spec);
    c.s = copySet(this.s);
    return c;
  }

  join(o: Lattice): bool {
    const x = changetype<GSet>(o);
    const vs = x.s.values();
    let changed = false;
    for (let i = 0; i < vs.length; i++) {
      if (!this.s.has(vs[i])) { this.s.add(vs[i]); changed = true; }
    }
    return changed;
  }

  // Inclusion.
  leq(o: Lattice): bool {
    const x = changetype<GSet>(o);
    if (this.s.size > x.s.size) return false;
    const vs = this.s.values();
    for (let i = 0; i < vs.length; i++) if (!x.s.has(vs[i])) return false;
    return true;
  }

  // The elements o lacks.
  deltaFrom(o: Lattice): Lattice {
    const x = changetype<GSet>(o);
    const d = new GSet(this.spec);
    const vs = this.s.values();
    for (let i = 0; i < vs.length; i++) if (!x.s.has(vs[i])) d.s.add(vs[i]);
    return d;
  }

  // One singleton per element, in byte order.
  decompose(out: Array<Lattice>): void {
    const ks = sortKeys(this.s.values());
    for (let i = 0; i < ks.length; i++) {
      if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
      const p = new GSet(this.spec);
      p.s.add(ks[i]);
      out.push(p);
    }
  }

  // add: delta is {e}, or bottom when e is already in (it would add nothing).
  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_ADD) { r.fail(E_BAD_TAG); return null; }
    const e = r.value();
    if (!r.ok || dry) return null;
    const d = new GSet(this.spec);
    if (!this.s.has(e)) d.s.add(e);
    return d;
  }

  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    r.u8();
    const e = r.key() /* validated by the dry pass */;
    if (this.s.has(e)) return false;
    this.s.add(e);
    changetype<GSet>(pending).s.add(e);
    return true;
  }

  query(w: Writer): void { writeSet(w, this.s); }

  has(key: string): i32 { return this.s.has(key) ? 1 : 0; }
  size(): i32 { return this.s.size; }

  encode(w: Writer): void { writeSet(w, this.s); }
  decode(r: Reader, depth: i32): void { readSet(r, this.s); }
}
