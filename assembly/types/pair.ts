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

  // Both components' memory goes back with the pair (docs/abi.md, "Memory").
  free(): void { this.a.free(); this.b.free(); }

  // Replaces component a / b, freeing the one it held.
  @inline setA(v: Lattice): void { if (v !== this.a) this.a.free(); this.a = v; }
  @inline setB(v: Lattice): void { if (v !== this.b) this.b.free(); this.b = v; }

  clone(): Lattice {
    const c = new Pair(this.spec);
    c.setA(this.a.clone()); // a copy that ran out of memory has set the error the ABI returns
    c.setB(this.b.clone());
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
    d.setA(this.a.deltaFrom(x.a));
    d.setB(this.b.deltaFrom(x.b));
    return d;
  }

  // (pa, ⊥) for each part of a, then (⊥, pb) for each part of b.
  decompose(out: Array<Lattice>): void {
    const parts = new Array<Lattice>();
    this.a.decompose(parts);
    for (let i = 0; i < parts.length; i++) {
      if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
      const p = new Pair(this.spec);
      p.setA(parts[i]);
      out.push(p);
    }
    parts.length = 0;
    this.b.decompose(parts);
    for (let i = 0; i < parts.length; i++) {
      if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
      const p = new Pair(this.spec);
      p.setB(parts[i]);
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
    if (nd !== null) { if (first) d.setA(nd); else d.setB(nd); }
    return d;
  }

  // In place: the nested op applies into the component and into pending's
  // (the generic path would build a whole Pair delta per op).
  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    const code = r.u8(); // validated by the dry pass
    const p = changetype<Pair>(pending);
    return code == OP_FIRST ? this.a.applyOp(r, replica, p.a, depth + 1) : this.b.applyOp(r, replica, p.b, depth + 1);
  }

  query(w: Writer): void { this.a.query(w); this.b.query(w); }

  encode(w: Writer): void { this.a.encode(w); this.b.encode(w); }

  decode(r: Reader, depth: i32): void {
    this.setA(readBody(r, this.spec.a!, depth + 1));
    if (!r.ok) return;
    this.setB(readBody(r, this.spec.b!, depth + 1));
  }
}
