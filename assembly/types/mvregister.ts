// Multi-value register: a dot -> value map (a DotFun) plus a causal context.
// A set covers every value it observed, so only concurrent sets survive
// together and a read returns all of them. A dot names one write, so two
// replicas holding the same dot hold the same value.
// Almeida, Shoker & Baquero, "Delta State Replicated Data Types", §7 (MVRegister).
// Join, order, delta, decomposition and codec: causalfun.ts (with values).
import { Reader, Writer } from "../codec";
import { E_BAD_TAG, E_OUT_OF_MEMORY, setError } from "../errors";
import { Lattice, Spec } from "../lattice";
import { CausalFun } from "../causalfun";
import { ByteTable, Vec, sortedIndex } from "../data/index";

export const OP_SET: u32 = 0;   // op := 0 value:bytes
export const OP_CLEAR: u32 = 1; // op := 1   (covers the values observed)

// body  := context count (replica, counter, value:bytes)*
//          context as in dots.ts; entries sorted by dot (replica bytes, then
//          counter), strictly increasing, every dot in the context.
// query := count value:bytes*   (distinct values, sorted by bytes)
export class MVRegister extends CausalFun {
  constructor(spec: Spec) { super(spec, true); }

  bottom(): Lattice { return new MVRegister(this.spec); }

  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    let vp: usize = 0, vn: usize = 0;
    if (code == OP_SET) {
      vp = r.valueRaw();
      vn = <usize>r.rawLen;
      if (!r.ok) return null;
    } else if (code != OP_CLEAR) { r.fail(E_BAD_TAG); return null; }
    if (code == OP_SET && !this.canMint(r, replica)) return null;
    if (dry) return null;
    const d = this.opDelta(code == OP_SET, replica, vp, vn);
    if (d === null) r.fail(E_OUT_OF_MEMORY);
    return d;
  }

  // The distinct values (two replicas may concurrently write the same bytes)
  // in a table, and their indices in byte order; false on exhaustion.
  private distinct(t: ByteTable, order: Vec<u32>): bool {
    const a = this.store;
    if (!t.reserve(a.count, a.vals.len)) return false;
    for (let i = 0; i < a.count; i++) t.add(a.valPtr(i), a.valLen(i));
    return sortedIndex(t, order);
  }

  query(w: Writer): void {
    const t = new ByteTable();
    const order = new Vec<u32>();
    if (!this.distinct(t, order)) { setError(E_OUT_OF_MEMORY); w.varint(0); }
    else {
      w.varint(<u64>order.len);
      for (let k = 0; k < order.len; k++) {
        const i = <i32>order.get(k);
        w.varint(<u64>t.keyLen(i));
        w.raw(t.keyPtr(i), <i32>t.keyLen(i));
      }
    }
    t.free(); order.free();
  }

  size(): i32 {
    const t = new ByteTable();
    const n = t.reserve(this.store.count, this.store.vals.len) ? this.countDistinct(t) : -1;
    t.free();
    if (n < 0) setError(E_OUT_OF_MEMORY);
    return n < 0 ? 0 : n;
  }

  private countDistinct(t: ByteTable): i32 {
    const a = this.store;
    for (let i = 0; i < a.count; i++) t.add(a.valPtr(i), a.valLen(i));
    return t.count;
  }
}
