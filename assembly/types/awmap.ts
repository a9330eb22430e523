// STUB: to be implemented.
import { Reader, Writer } from "../codec";
import { E_UNSUPPORTED } from "../errors";
import { Lattice, Spec } from "../lattice";

export class AWMap extends Lattice {
  bottom(): Lattice { return new AWMap(this.spec); }
  clone(): Lattice { return new AWMap(this.spec); }
  isBottom(): bool { return true; }
  join(o: Lattice): bool { return false; }
  encode(w: Writer): void {}
  decode(r: Reader, depth: i32): void {}
  decompose(out: Array<Lattice>): void {}
  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null { r.fail(E_UNSUPPORTED); return null; }
  query(w: Writer): void {}
}
