// Last-writer-wins register: bottom, or (timestamp, replica, value). The
// greater by (timestamp, then replica bytes, then value bytes) wins, so the
// order is total (a chain): join is commutative even for equal timestamps from
// one replica. Timestamps come from the writer (the host uses wall-clock
// milliseconds, kept above the last one seen so a replica's own writes order).
//
// Layout: flat, so a small-state call costs no allocation beyond the state
// object itself: the timestamp and lengths are fields, and the replica and
// value bytes sit back to back in one raw block (assembly/data), freed with
// the state (free(), or the collector's finalizer as a safety net).
import { Reader, Writer, keyBytes } from "../codec";
import { E_BAD_TAG, E_INVALID, E_OUT_OF_MEMORY, E_OVERFLOW, E_TRAILING, setError } from "../errors";
import { Lattice, Spec, batchEpoch, pendingOfBatch } from "../lattice";
import { compareBytes, resize, release, ownsRaw } from "../data/index";

export const OP_SET: u32 = 0;       // op := 0 timestamp:varint value:bytes (replica: the handle's)
export const OP_SET_AFTER: u32 = 1; // op := 1 timestamp:varint value:bytes, written at max(timestamp, current + 1)

// The largest timestamp an honest history holds: a register at 2^64 − 1 could
// not be written after (setAfter would wrap), so decode refuses it and a write
// that would reach it fails with OVERFLOW (docs/format.md).
export const MAX_TS: u64 = U64.MAX_VALUE - 1;

// The write read() found (module state: no object per read).
let rdTs: u64 = 0;
let rdRep: usize = 0;
let rdRepLen: i32 = 0;
let rdVal: usize = 0;
let rdValLen: i32 = 0;

export class LWWRegister extends Lattice {
  // body  := 0x00 (bottom) | 0x01 timestamp:varint replica:bytes value:bytes
  //          (replica 1..255 bytes of UTF-8, timestamp ≤ 2^64 − 2)
  // query := 0x00 (unset) | 0x01 value:bytes timestamp:varint replica:bytes

  isSet: bool = false;
  ts: u64 = 0;
  p: usize = 0;    // raw block: replica bytes, then value bytes
  cap: i32 = 0;    // the block's size
  repLen: i32 = 0;
  valLen: i32 = 0;
  // The greatest timestamp the dry pass of the current op batch would write
  // (a batch of setAfter ops must be refused whole if its last would wrap).
  dryEpoch: u32 = 0;
  dryTs: u64 = 0;
  dryHas: bool = false;

  bottom(): Lattice { return new LWWRegister(this.spec); }
  isBottom(): bool { return !this.isSet; }

  free(): void {
    release(this.p);
    this.p = 0; this.cap = 0; this.isSet = false; this.repLen = 0; this.valLen = 0;
  }

  @inline get valPtr(): usize { return this.p + <usize>this.repLen; }

  // Room for n bytes in the block; false (nothing changed) when memory is exhausted.
  reserve(n: i32): bool {
    if (n <= this.cap) return true;
    const q = resize(this.p, <usize>n);
    if (q == 0) return false;
    this.p = q; this.cap = n;
    return true;
  }

  // this := the write (ts, replica rp[0..rn), value vp[0..vn)); the sources
  // must not overlap this block. False (nothing changed) when out of memory.
  write(ts: u64, rp: usize, rn: i32, vp: usize, vn: i32): bool {
    if (!this.reserve(rn + vn)) return false;
    memory.copy(this.p, rp, <usize>rn);
    memory.copy(this.p + <usize>rn, vp, <usize>vn);
    this.isSet = true; this.ts = ts; this.repLen = rn; this.valLen = vn;
    return true;
  }

  clone(): Lattice {
    const c = new LWWRegister(this.spec);
    if (this.isSet && !c.write(this.ts, this.p, this.repLen, this.valPtr, this.valLen)) setError(E_OUT_OF_MEMORY);
    return c;
  }

  // this < (ts, rep, v) in the chain (bottom is below every write).
  below(ts: u64, rp: usize, rn: i32, vp: usize, vn: i32): bool {
    if (!this.isSet) return true;
    if (this.ts != ts) return this.ts < ts;
    const c = compareBytes(this.p, <usize>this.repLen, rp, <usize>rn);
    if (c != 0) return c < 0;
    return compareBytes(this.valPtr, <usize>this.valLen, vp, <usize>vn) < 0;
  }

  @inline belowOf(x: LWWRegister): bool {
    return x.isSet && this.below(x.ts, x.p, x.repLen, x.valPtr, x.valLen);
  }

  join(o: Lattice): bool {
    const x = changetype<LWWRegister>(o);
    if (!this.belowOf(x)) return false;
    if (!this.write(x.ts, x.p, x.repLen, x.valPtr, x.valLen)) { setError(E_OUT_OF_MEMORY); return false; }
    return true;
  }

  leq(o: Lattice): bool {
    const x = changetype<LWWRegister>(o);
    return !this.isSet || (x.isSet && !x.belowOf(this));
  }

  deltaFrom(o: Lattice): Lattice {
    return changetype<LWWRegister>(o).belowOf(this) ? this.clone() : this.bottom();
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
    const vp = r.valueRaw();
    const vn = r.rawLen;
    if (!r.ok) return null;
    const rn = replica.length;
    if (dry && depth == 0) {
      // Earlier ops of this batch raise the timestamp a setAfter follows.
      const e = batchEpoch();
      if (this.dryEpoch != e) { this.dryEpoch = e; this.dryTs = this.ts; this.dryHas = this.isSet; }
      if (code == OP_SET_AFTER && this.dryHas && this.dryTs >= ts) {
        if (this.dryTs >= MAX_TS) { r.fail(E_OVERFLOW); return null; }
        ts = this.dryTs + 1;
      }
    } else if (code == OP_SET_AFTER) ts = this.after(ts);
    if (ts > MAX_TS) { r.fail(E_OVERFLOW); return null; }
    // An empty replica id names no writer: such a state would not decode.
    if (rn == 0) { r.fail(E_INVALID); return null; }
    if (dry) {
      if (depth == 0) {
        if (!this.dryHas || ts > this.dryTs) this.dryTs = ts;
        this.dryHas = true;
        // Room for the real pass, which must not fail halfway through a batch.
        const pend = pendingOfBatch();
        if (!this.reserve(rn + vn) || (pend !== null && pend instanceof LWWRegister && !changetype<LWWRegister>(pend).reserve(rn + vn))) {
          r.fail(E_OUT_OF_MEMORY);
        }
      }
      return null;
    }
    const d = new LWWRegister(this.spec);
    const rp = keyBytes(replica);
    if (this.below(ts, rp, rn, vp, vn) && !d.write(ts, rp, rn, vp, vn)) { r.fail(E_OUT_OF_MEMORY); return null; }
    return d;
  }

  // The timestamp of a write meant to follow the current one.
  @inline after(ts: u64): u64 {
    return this.isSet && this.ts >= ts ? this.ts + 1 : ts; // may reach 2^64 − 1: op() refuses it
  }

  // Room for this write in the state and in pending was reserved by the dry
  // pass, so neither write can fail.
  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    const code = r.u8();
    let ts = r.varint();
    if (code == OP_SET_AFTER) ts = this.after(ts);
    const vp = r.valueRaw(); /* validated by the dry pass */
    const vn = r.rawLen;
    const rn = replica.length;
    const rp = keyBytes(replica);
    if (!this.below(ts, rp, rn, vp, vn)) return false;
    if (!this.write(ts, rp, rn, vp, vn)) unreachable();
    if (!changetype<LWWRegister>(pending).write(ts, rp, rn, vp, vn)) unreachable();
    return true;
  }

  query(w: Writer): void {
    w.u8(this.isSet ? 1 : 0);
    if (!this.isSet) return;
    w.varint(<u64>this.valLen);
    w.raw(this.valPtr, this.valLen);
    w.varint(this.ts);
    w.varint(<u64>this.repLen);
    w.raw(this.p, this.repLen);
  }

  encode(w: Writer): void {
    w.u8(this.isSet ? 1 : 0);
    if (!this.isSet) return;
    w.varint(this.ts);
    w.varint(<u64>this.repLen);
    w.raw(this.p, this.repLen);
    w.varint(<u64>this.valLen);
    w.raw(this.valPtr, this.valLen);
  }

  // Reads and checks a body; on success rdTs/rdRep/rdVal describe the write
  // (in the input), and the result is 1 for a write, 0 for bottom, −1 on error.
  private static read(r: Reader): i32 {
    const f = r.u8();
    if (!r.ok) return -1;
    if (f > 1) { r.fail(E_INVALID); return -1; }
    if (f == 0) return 0;
    rdTs = r.varint();
    rdRep = r.replicaRaw(); // refuses more than 255 bytes and bad UTF-8
    rdRepLen = r.rawLen;
    rdVal = r.valueRaw();
    rdValLen = r.rawLen;
    if (!r.ok) return -1;
    if (rdRepLen == 0) { r.fail(E_INVALID); return -1; }
    if (rdTs > MAX_TS) { r.fail(E_OVERFLOW); return -1; }
    return 1;
  }

  decode(r: Reader, depth: i32): void {
    if (LWWRegister.read(r) != 1) return;
    if (!this.write(rdTs, rdRep, rdRepLen, rdVal, rdValLen)) r.fail(E_OUT_OF_MEMORY);
  }

  // Streamed: the body is checked in place and copied only if it wins.
  joinBody(r: Reader): i32 {
    const k = LWWRegister.read(r);
    if (r.ok && !r.done) r.fail(E_TRAILING);
    if (!r.ok) return -r.err;
    if (k == 0 || !this.below(rdTs, rdRep, rdRepLen, rdVal, rdValLen)) return 0;
    return this.write(rdTs, rdRep, rdRepLen, rdVal, rdValLen) ? 1 : -E_OUT_OF_MEMORY;
  }
}

ownsRaw(idof<LWWRegister>(), offsetof<LWWRegister>("p"));
