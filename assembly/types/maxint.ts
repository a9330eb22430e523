// Max register over u64: join is max, bottom is 0. A chain, so every non-zero
// state is join-irreducible and decomposes to itself. Flat: the state is one
// u64 field, so a small-state call allocates nothing beyond the state object.
// Every value is honest: set(n) never increments, so no op can wrap.
import { Reader, Writer } from "../codec";
import { E_BAD_TAG, E_TRAILING } from "../errors";
import { Lattice, Spec } from "../lattice";

export const OP_SET: u32 = 0; // op := 0 n:varint

export class MaxInt extends Lattice {
  // body  := value:varint (0 is bottom; every canonical varint is a valid state)
  // query := value:varint

  v: u64 = 0;

  bottom(): Lattice { return new MaxInt(this.spec); }
  isBottom(): bool { return this.v == 0; }

  clone(): Lattice {
    const c = new MaxInt(this.spec);
    c.v = this.v;
    return c;
  }

  join(o: Lattice): bool {
    const x = changetype<MaxInt>(o);
    if (x.v <= this.v) return false;
    this.v = x.v;
    return true;
  }

  leq(o: Lattice): bool { return this.v <= changetype<MaxInt>(o).v; }

  deltaFrom(o: Lattice): Lattice {
    const d = new MaxInt(this.spec);
    if (this.v > changetype<MaxInt>(o).v) d.v = this.v;
    return d;
  }

  decompose(out: Array<Lattice>): void {
    if (this.v != 0) out.push(this.clone());
  }

  // set(n): delta is n when it raises the value, else bottom.
  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_SET) { r.fail(E_BAD_TAG); return null; }
    const n = r.varint();
    if (!r.ok || dry) return null;
    const d = new MaxInt(this.spec);
    if (n > this.v) d.v = n;
    return d;
  }

  query(w: Writer): void { w.varint(this.v); }

  encode(w: Writer): void { w.varint(this.v); }
  decode(r: Reader, depth: i32): void { this.v = r.varint(); }

  // Streamed: one varint, no temporary state.
  joinBody(r: Reader): i32 {
    const v = r.varint();
    if (r.ok && !r.done) r.fail(E_TRAILING);
    if (!r.ok) return -r.err;
    if (v <= this.v) return 0;
    this.v = v;
    return 1;
  }
}
