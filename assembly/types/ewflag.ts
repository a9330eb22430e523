// Enable-wins flag: an AWSet with one implicit element. Enabling mints a dot;
// disabling covers only the dots it observed, so a concurrent enable wins.
// Almeida, Shoker & Baquero, "Delta State Replicated Data Types", §7 (EWFlag).
// Join, order, delta, decomposition and codec: causalfun.ts (no values).
import { Reader, Writer } from "../codec";
import { E_BAD_TAG, E_OUT_OF_MEMORY } from "../errors";
import { Lattice, Spec } from "../lattice";
import { CausalFun } from "../causalfun";

export const OP_ENABLE: u32 = 0;  // op := 0
export const OP_DISABLE: u32 = 1; // op := 1   (covers the enables observed)

// body  := context dots
//          context as in dots.ts; dots := count (replica, counter) sorted by
//          (replica bytes, counter), strictly increasing, every dot in the context.
// query := 1 byte: 1 if some enable dot is alive, else 0.
export class EWFlag extends CausalFun {
  constructor(spec: Spec) { super(spec, false); }

  bottom(): Lattice { return new EWFlag(this.spec); }

  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_ENABLE && code != OP_DISABLE) { r.fail(E_BAD_TAG); return null; }
    // Enable mints the replica's next dot: refused (OVERFLOW) near 2^64 − 1,
    // and for an empty replica id, since neither state would decode again.
    if (code == OP_ENABLE && !this.canMint(r, replica)) return null;
    if (dry) return null;
    // Both ops supersede every dot observed; enable adds a fresh one.
    const d = this.opDelta(code == OP_ENABLE, replica, 0, 0);
    if (d === null) r.fail(E_OUT_OF_MEMORY);
    return d;
  }

  query(w: Writer): void { w.u8(this.store.count > 0 ? 1 : 0); }
}
