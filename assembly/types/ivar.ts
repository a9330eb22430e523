// Single-assignment variable: bottom, or one value (bytes). Assigning twice is
// a programming error that the host refuses locally (PRECONDITION); replicas
// that assign different values concurrently still converge, because the
// states form a chain: bottom < every value, values ordered by bytes, so the
// byte-greater value wins deterministically.
//
// Layout: flat, like LWWRegister: the value's bytes in one raw block
// (assembly/data) freed with the state. Every value is an honest state: no op
// counts, so nothing can wrap (docs/format.md).
import { Reader, Writer } from "../codec";
import { E_BAD_TAG, E_INVALID, E_OUT_OF_MEMORY, E_TRAILING, setError } from "../errors";
import { Lattice, Spec, pendingOfBatch } from "../lattice";
import { compareBytes, resize, release, ownsRaw } from "../data/index";

export const OP_SET: u32 = 0; // op := 0 value:bytes

// The value read() found (module state: no object per read).
let rdVal: usize = 0;
let rdLen: i32 = 0;

export class IVar extends Lattice {
  // body  := 0x00 (bottom) | 0x01 value:bytes
  // query := 0x00 (unset) | 0x01 value:bytes

  isSet: bool = false;
  p: usize = 0;   // raw block: the value's bytes
  cap: i32 = 0;
  len: i32 = 0;

  bottom(): Lattice { return new IVar(this.spec); }
  isBottom(): bool { return !this.isSet; }

  free(): void {
    release(this.p);
    this.p = 0; this.cap = 0; this.len = 0; this.isSet = false;
  }

  reserve(n: i32): bool {
    if (n <= this.cap) return true;
    const q = resize(this.p, <usize>n);
    if (q == 0) return false;
    this.p = q; this.cap = n;
    return true;
  }

  // this := value vp[0..vn) (not overlapping this block); false (nothing
  // changed) when memory is exhausted.
  write(vp: usize, vn: i32): bool {
    if (!this.reserve(vn)) return false;
    memory.copy(this.p, vp, <usize>vn);
    this.isSet = true; this.len = vn;
    return true;
  }

  clone(): Lattice {
    const c = new IVar(this.spec);
    if (this.isSet && !c.write(this.p, this.len)) setError(E_OUT_OF_MEMORY);
    return c;
  }

  // this < the value vp[0..vn) in the chain.
  @inline below(vp: usize, vn: i32): bool {
    return !this.isSet || compareBytes(this.p, <usize>this.len, vp, <usize>vn) < 0;
  }
  @inline belowOf(o: IVar): bool { return o.isSet && this.below(o.p, o.len); }

  join(o: Lattice): bool {
    const x = changetype<IVar>(o);
    if (!this.belowOf(x)) return false;
    if (!this.write(x.p, x.len)) { setError(E_OUT_OF_MEMORY); return false; }
    return true;
  }

  leq(o: Lattice): bool {
    const x = changetype<IVar>(o);
    return !this.isSet || (x.isSet && !x.below(this.p, this.len));
  }

  deltaFrom(o: Lattice): Lattice {
    return changetype<IVar>(o).belowOf(this) ? this.clone() : this.bottom();
  }

  decompose(out: Array<Lattice>): void {
    if (this.isSet) out.push(this.clone());
  }

  // set(v): delta is v when it inflates the state, else bottom.
  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_SET) { r.fail(E_BAD_TAG); return null; }
    const vp = r.valueRaw();
    const vn = r.rawLen;
    if (!r.ok) return null;
    if (dry) {
      // Room for the real pass, which must not fail halfway through a batch.
      const pend = pendingOfBatch();
      if (depth == 0 && (!this.reserve(vn) || (pend !== null && pend instanceof IVar && !changetype<IVar>(pend).reserve(vn)))) {
        r.fail(E_OUT_OF_MEMORY);
      }
      return null;
    }
    const d = new IVar(this.spec);
    if (this.below(vp, vn) && !d.write(vp, vn)) { r.fail(E_OUT_OF_MEMORY); return null; }
    return d;
  }

  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    r.u8();
    const vp = r.valueRaw(); /* validated by the dry pass */
    const vn = r.rawLen;
    if (!this.below(vp, vn)) return false;
    // Room was reserved by the dry pass.
    if (!this.write(vp, vn)) unreachable();
    if (!changetype<IVar>(pending).write(vp, vn)) unreachable();
    return true;
  }

  query(w: Writer): void { this.encode(w); }

  encode(w: Writer): void {
    w.u8(this.isSet ? 1 : 0);
    if (!this.isSet) return;
    w.varint(<u64>this.len);
    w.raw(this.p, this.len);
  }

  // Reads and checks a body: 1 for a value (rdVal/rdLen, in the input), 0
  // for bottom, −1 on error.
  private static read(r: Reader): i32 {
    const f = r.u8();
    if (!r.ok) return -1;
    if (f > 1) { r.fail(E_INVALID); return -1; }
    if (f == 0) return 0;
    rdVal = r.valueRaw();
    rdLen = r.rawLen;
    return r.ok ? 1 : -1;
  }

  decode(r: Reader, depth: i32): void {
    if (IVar.read(r) == 1 && !this.write(rdVal, rdLen)) r.fail(E_OUT_OF_MEMORY);
  }

  // Streamed: the body is checked in place and copied only if it wins.
  joinBody(r: Reader): i32 {
    const k = IVar.read(r);
    if (r.ok && !r.done) r.fail(E_TRAILING);
    if (!r.ok) return -r.err;
    if (k == 0 || !this.below(rdVal, rdLen)) return 0;
    return this.write(rdVal, rdLen) ? 1 : -E_OUT_OF_MEMORY;
  }
}

ownsRaw(idof<IVar>(), offsetof<IVar>("p"));
