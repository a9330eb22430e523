// Product lattice (a, b) of two nested types (spec.a, spec.b), joined
// componentwise: (a1, b1) ⊑ (a2, b2) iff a1 ⊑ a2 and b1 ⊑ b2.
import { Reader, Writer } from "../codec";
import { E_BAD_TAG, E_TOO_DEEP, E_TOO_LARGE, MAX_DEPTH, MAX_PARTS, setError } from "../errors";
import { Lattice, Spec } from "../lattice";
import { newBottom, readBody } from "../registry";

export const OP_FIRST: u32 = 0;  // op := 0 nested-op   (on the first component)
export const OP_SECOND: u32 = 1; // op := 1 nested-op   (on the second component)

// body  := first body, second body
// query := first query, second query
export class Pair extends Lattice {
  a: Lattice;
  b: Lattice;

  constructor(spec: Spec) {
    super(spec);
    this.a = newBottom(spec.a!);
    this.b = newBottom(spec.b!);
  }

  bottom(): Lattice { return new Pair(this.spec); }
  isBottom(): bool { return this.a.isBottom() && this.b.isBottom(); }

  clone(): Lattice {
    const c = new Pair(this.spec);
    c.a = this.a.clone();
    c.b = this.b.clone();
    return c;
  }

  join(o: Lattice): bool {
    const x = changetype<Pair>(o);
    const ca = this.a.join(x.a);
    const cb = this.b.join(x.b);
    return ca || cb;
  }

  leq(o: Lattice): bool {
    const x = changetype<Pair>(o);
    return this.a.leq(x.a) && this.b.leq(x.b);
  }

  deltaFrom(o: Lattice): Lattice {
    const x = changetype<Pair>(o);
    const d = new Pair(this.spec);
    d.a = this.a.deltaFrom(x.a);
    d.b = this.b.deltaFrom(x.b);
    return d;
  }

  // (pa, ⊥) for each part of a, then (⊥, pb) for each part of b.
  decompose(out: Array<Lattice>): void {
    const parts = new Array<Lattice>();
    this.a.decompose(parts);
    for (let i = 0; i < parts.length; i++) {
      if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
      const p = new Pair(this.spec);
      p.a = parts[i];
      out.push(p);
    }
    parts.length = 0;
    this.b.decompose(parts);
    for (let i = 0; i < parts.length; i++) {
      if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
      const p = new Pair(this.spec);
      p.b = parts[i];
      out.push(p);
    }
  }

  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_FIRST && code != OP_SECOND) { r.fail(E_BAD_TAG); return null; }
    if (depth + 1 > MAX_DEPTH) { r.fail(E_TOO_DEEP); return null; }
    const first = code == OP_FIRST;
    const nd = (first ? this.a : this.b).op(r, replica, dry, depth + 1);
    if (!r.ok || dry) return null;
    const d = new Pair(this.spec);
    if (nd !== null) { if (first) d.a = nd; else d.b = nd; }
    return d;
  }

  query(w: Writer): void { this.a.query(w); this.b.query(w); }

  encode(w: Writer): void { this.a.encode(w); this.b.encode(w); }

  decode(r: Reader, depth: i32): void {
    this.a = readBody(r, this.spec.a!, depth + 1);
    if (!r.ok) return;
    this.b = readBody(r, this.spec.b!, depth + 1);
  }
}
