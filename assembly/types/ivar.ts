// Single-assignment variable: bottom, or one value (bytes). Assigning twice is
// a programming error that the host refuses locally (PRECONDITION); replicas
// that assign different values concurrently still converge, because the
// states form a chain: bottom < every value, values ordered by bytes, so the
// byte-greater value wins deterministically.
import { Reader, Writer } from "../codec";
import { E_BAD_TAG, E_INVALID } from "../errors";
import { Lattice, Spec } from "../lattice";

export const OP_SET: u32 = 0; // op := 0 value:bytes

export class IVar extends Lattice {
  // body  := 0x00 (bottom) | 0x01 value:bytes
  // query := 0x00 (unset) | 0x01 value:bytes

  isSet: bool = false;
  v: string = "";

  bottom(): Lattice { return new IVar(this.spec); }
  isBottom(): bool { return !this.isSet; }

  clone(): Lattice {
    const c = new IVar(this.spec);
    c.isSet = this.isSet;
    c.v = this.v;
    return c;
  }

  // this < o in the chain.
  @inline below(o: IVar): bool { return o.isSet && (!this.isSet || this.v < o.v); }

  join(o: Lattice): bool {
    const x = changetype<IVar>(o);
    if (!this.below(x)) return false;
    this.isSet = true;
    this.v = x.v;
    return true;
  }

  leq(o: Lattice): bool {
    const x = changetype<IVar>(o);
    return !this.isSet || (x.isSet && this.v <= x.v);
  }

  deltaFrom(o: Lattice): Lattice {
    return changetype<IVar>(o).below(this) ? this.clone() : this.bottom();
  }

  decompose(out: Array<Lattice>): void {
    if (this.isSet) out.push(this.clone());
  }

  // set(v): delta is v when it inflates the state, else bottom.
  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_SET) { r.fail(E_BAD_TAG); return null; }
    const v = r.value();
    if (!r.ok || dry) return null;
    const d = new IVar(this.spec);
    if (!this.isSet || this.v < v) { d.isSet = true; d.v = v; }
    return d;
  }

  query(w: Writer): void { this.encode(w); }

  encode(w: Writer): void {
    w.u8(this.isSet ? 1 : 0);
    if (this.isSet) w.key(this.v);
  }

  decode(r: Reader, depth: i32): void {
    const f = r.u8();
    if (!r.ok) return;
    if (f > 1) { r.fail(E_INVALID); return; }
    if (f == 1) {
      const v = r.value();
      if (!r.ok) return;
      this.isSet = true;
      this.v = v;
    }
  }
}
