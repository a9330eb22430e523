// Last-writer-wins register: bottom, or (timestamp, replica, value). The
// greater by (timestamp, then replica bytes, then value bytes) wins, so the
// order is total (a chain): join is commutative even for equal timestamps from
// one replica. Timestamps come from the writer (the host uses wall-clock
// milliseconds, kept above the last one seen so a replica's own writes order).
import { Reader, Writer } from "../codec";
import { E_BAD_TAG, E_INVALID, E_OVERFLOW, E_TOO_LARGE, MAX_REPLICA } from "../errors";
import { Lattice, Spec } from "../lattice";

export const OP_SET: u32 = 0;       // op := 0 timestamp:varint value:bytes (replica: the handle's)
export const OP_SET_AFTER: u32 = 1; // op := 1 timestamp:varint value:bytes, written at max(timestamp, current + 1)

// The largest timestamp an honest history holds: a register at 2^64 − 1 could
// not be written after (setAfter would wrap), so decode refuses it and a write
// that would reach it fails with OVERFLOW (docs/format.md).
export const MAX_TS: u64 = U64.MAX_VALUE - 1;

export class LWWRegister extends Lattice {
  // body  := 0x00 (bottom) | 0x01 timestamp:varint replica:bytes value:bytes
  //          (replica at most 255 bytes)
  // query := 0x00 (unset) | 0x01 value:bytes timestamp:varint replica:bytes

  isSet: bool = false;
  ts: u64 = 0;
  rep: string = "";
  v: string = "";

  bottom(): Lattice { return new LWWRegister(this.spec); }
  isBottom(): bool { return !this.isSet; }

  clone(): Lattice {
    const c = new LWWRegister(this.spec);
    c.isSet = this.isSet; c.ts = this.ts; c.rep = this.rep; c.v = this.v;
    return c;
  }

  // this < (ts, rep, v) in the chain (bottom is below every write).
  below(ts: u64, rep: string, v: string): bool {
    if (!this.isSet) return true;
    if (this.ts != ts) return this.ts < ts;
    if (this.rep != rep) return this.rep < rep;
    return this.v < v;
  }

  join(o: Lattice): bool {
    const x = changetype<LWWRegister>(o);
    if (!x.isSet || !this.below(x.ts, x.rep, x.v)) return false;
    this.isSet = true; this.ts = x.ts; this.rep = x.rep; this.v = x.v;
    return true;
  }

  leq(o: Lattice): bool {
    const x = changetype<LWWRegister>(o);
    return !this.isSet || (x.isSet && !x.below(this.ts, this.rep, this.v));
  }

  deltaFrom(o: Lattice): Lattice {
    const x = changetype<LWWRegister>(o);
    return this.isSet && x.below(this.ts, this.rep, this.v) ? this.clone() : this.bottom();
  }

  decompose(out: Array<Lattice>): void {
    if (this.isSet) out.push(this.clone());
  }

  // set(timestamp, value): delta is the write when it wins, else bottom.
  // setAfter(timestamp, value): writes at max(timestamp, current + 1), so a
  // replica's own successive writes always win in order (two writes in one
  // millisecond would otherwise be ordered by their value bytes).
  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_SET && code != OP_SET_AFTER) { r.fail(E_BAD_TAG); return null; }
    let ts = r.varint();
    const v = r.value();
    if (!r.ok) return null;
    if (code == OP_SET_AFTER) ts = this.after(ts);
    if (ts > MAX_TS) { r.fail(E_OVERFLOW); return null; }
    // An empty replica id names no writer: such a state would not decode.
    if (replica.length == 0) { r.fail(E_INVALID); return null; }
    if (dry) return null;
    const d = new LWWRegister(this.spec);
    if (this.below(ts, replica, v)) { d.isSet = true; d.ts = ts; d.rep = replica; d.v = v; }
    return d;
  }

  // The timestamp of a write meant to follow the current one.
  @inline after(ts: u64): u64 {
    return this.isSet && this.ts >= ts ? this.ts + 1 : ts; // ≤ 2^64 − 1: this.ts ≤ MAX_TS
  }

  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    const code = r.u8();
    let ts = r.varint();
    if (code == OP_SET_AFTER) ts = this.after(ts);
    const v = r.key() /* validated by the dry pass */;
    if (!this.below(ts, replica, v)) return false;
    this.isSet = true; this.ts = ts; this.rep = replica; this.v = v;
    const p = changetype<LWWRegister>(pending);
    p.isSet = true; p.ts = ts; p.rep = replica; p.v = v;
    return true;
  }

  query(w: Writer): void {
    w.u8(this.isSet ? 1 : 0);
    if (!this.isSet) return;
    w.key(this.v);
    w.varint(this.ts);
    w.key(this.rep);
  }

  encode(w: Writer): void {
    w.u8(this.isSet ? 1 : 0);
    if (!this.isSet) return;
    w.varint(this.ts);
    w.key(this.rep);
    w.key(this.v);
  }

  decode(r: Reader, depth: i32): void {
    const f = r.u8();
    if (!r.ok) return;
    if (f > 1) { r.fail(E_INVALID); return; }
    if (f == 0) return;
    const ts = r.varint();
    const rep = r.replica();
    const v = r.value();
    if (!r.ok) return;
    if (rep.length > MAX_REPLICA) { r.fail(E_TOO_LARGE); return; }
    if (rep.length == 0) { r.fail(E_INVALID); return; }
    if (ts > MAX_TS) { r.fail(E_OVERFLOW); return; }
    this.isSet = true; this.ts = ts; this.rep = rep; this.v = v;
  }
}
