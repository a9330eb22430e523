// Same-algorithm twins of the single-value types MaxInt, IVar and
// LWWRegister (issue 10, item 10): assembly/types/maxint.ts, ivar.ts and
// lwwregister.ts in plain TypeScript. A value is kept as bytes in one block
// the state owns (reused while it is large enough, as the kernel's raw
// block), compared byte by byte, never turned into a string; merge() streams
// a body as the kernels' merge(bytes): checked in place, copied only if it
// wins. Numbers are JS numbers (exact to 2^53; the kernels' are u64).
import { Cur, cmp, copy, header, open } from "./layer.js";

// A byte block that keeps its capacity: the kernel's raw block.
class Block {
  buf = new Uint8Array(0);
  len = 0;
  // Copies src[p..p+n) in (only grows when too small).
  write(src: Uint8Array, p: number, n: number): void {
    if (n > this.buf.length) this.buf = new Uint8Array(Math.max(n, 16));
    copy(this.buf, 0, src, p, p + n);
    this.len = n;
  }
}

// ---- MaxInt ----------------------------------------------------------------

export interface MaxIntFlat { v: number }

export const maxintFlat = {
  bottom: (): MaxIntFlat => ({ v: 0 }),
  decode(bytes: Uint8Array): MaxIntFlat {
    const r = open(bytes), v = r.varint();
    r.done();
    return { v };
  },
  encode(s: MaxIntFlat): Uint8Array { const w = header(3); w.varint(s.v); return w.finish(); },
  joinInto(a: MaxIntFlat, b: MaxIntFlat): boolean { if (b.v <= a.v) return false; a.v = b.v; return true; },
  merge(a: MaxIntFlat, bytes: Uint8Array): boolean {
    const r = open(bytes), v = r.varint();
    r.done();
    if (v <= a.v) return false;
    a.v = v;
    return true;
  },
};

// ---- IVar ------------------------------------------------------------------

// body := 0x00 (unset) | 0x01 value:bytes; a join keeps the byte-greater value.
export interface IVarFlat { set: boolean; val: Block }

// Reads a body: the value's start (length in r.n), or −1 for unset.
function readIVar(r: Cur): number {
  const f = r.u8();
  if (f > 1) throw new Error("invalid flag");
  return f === 0 ? -1 : r.bytes();
}
const ivarBelow = (a: IVarFlat, b: Uint8Array, p: number, n: number): boolean => !a.set || cmp(a.val.buf, 0, a.val.len, b, p, n) < 0;

export const ivarFlat = {
  bottom: (): IVarFlat => ({ set: false, val: new Block() }),
  decode(bytes: Uint8Array): IVarFlat {
    const r = open(bytes), s = ivarFlat.bottom(), p = readIVar(r);
    r.done();
    if (p >= 0) { s.set = true; s.val.write(bytes, p, r.n); }
    return s;
  },
  encode(s: IVarFlat): Uint8Array {
    const w = header(5);
    w.u8(s.set ? 1 : 0);
    if (s.set) w.bytes(s.val.buf, 0, s.val.len);
    return w.finish();
  },
  joinInto(a: IVarFlat, b: IVarFlat): boolean {
    if (!b.set || !ivarBelow(a, b.val.buf, 0, b.val.len)) return false;
    a.set = true; a.val.write(b.val.buf, 0, b.val.len);
    return true;
  },
  merge(a: IVarFlat, bytes: Uint8Array): boolean {
    const r = open(bytes), p = readIVar(r), n = r.n;
    r.done();
    if (p < 0 || !ivarBelow(a, bytes, p, n)) return false;
    a.set = true; a.val.write(bytes, p, n);
    return true;
  },
};

// ---- LWWRegister -----------------------------------------------------------

// body := 0x00 (bottom) | 0x01 timestamp:varint replica:bytes value:bytes; a
// join keeps the greatest (timestamp, replica bytes, value bytes).
export interface LWWFlat { set: boolean; ts: number; block: Block; repLen: number } // block: replica, then value

// What readLWW found (module state: no object per read).
let rdTs = 0, rdRep = 0, rdRepLen = 0, rdVal = 0, rdValLen = 0;
function readLWW(r: Cur): boolean {
  const f = r.u8();
  if (f > 1) throw new Error("invalid flag");
  if (f === 0) return false;
  rdTs = r.varint();
  rdRep = r.bytes(); rdRepLen = r.n;
  rdVal = r.bytes(); rdValLen = r.n;
  if (rdRepLen === 0) throw new Error("empty replica id");
  return true;
}

// a < the write (ts, replica b[rp..+rn), value b[vp..+vn)).
function lwwBelow(a: LWWFlat, ts: number, b: Uint8Array, rp: number, rn: number, vb: Uint8Array, vp: number, vn: number): boolean {
  if (!a.set) return true;
  if (a.ts !== ts) return a.ts < ts;
  const k = a.block.buf, c = cmp(k, 0, a.repLen, b, rp, rn);
  if (c !== 0) return c < 0;
  return cmp(k, a.repLen, a.block.len - a.repLen, vb, vp, vn) < 0;
}

function lwwWrite(a: LWWFlat, ts: number, b: Uint8Array, rp: number, rn: number, vb: Uint8Array, vp: number, vn: number): void {
  if (rn + vn > a.block.buf.length) a.block.buf = new Uint8Array(Math.max(rn + vn, 16));
  copy(a.block.buf, 0, b, rp, rp + rn);
  copy(a.block.buf, rn, vb, vp, vp + vn);
  a.block.len = rn + vn;
  a.set = true; a.ts = ts; a.repLen = rn;
}

export const lwwregisterFlat = {
  bottom: (): LWWFlat => ({ set: false, ts: 0, block: new Block(), repLen: 0 }),
  decode(bytes: Uint8Array): LWWFlat {
    const r = open(bytes), s = lwwregisterFlat.bottom(), set = readLWW(r);
    r.done();
    if (set) lwwWrite(s, rdTs, bytes, rdRep, rdRepLen, bytes, rdVal, rdValLen);
    return s;
  },
  encode(s: LWWFlat): Uint8Array {
    const w = header(6);
    w.u8(s.set ? 1 : 0);
    if (s.set) {
      w.varint(s.ts);
      w.bytes(s.block.buf, 0, s.repLen);
      w.bytes(s.block.buf, s.repLen, s.block.len - s.repLen);
    }
    return w.finish();
  },
  joinInto(a: LWWFlat, b: LWWFlat): boolean {
    if (!b.set) return false;
    const k = b.block.buf, vn = b.block.len - b.repLen;
    if (!lwwBelow(a, b.ts, k, 0, b.repLen, k, b.repLen, vn)) return false;
    lwwWrite(a, b.ts, k, 0, b.repLen, k, b.repLen, vn);
    return true;
  },
  merge(a: LWWFlat, bytes: Uint8Array): boolean {
    const r = open(bytes), set = readLWW(r);
    r.done();
    if (!set || !lwwBelow(a, rdTs, bytes, rdRep, rdRepLen, bytes, rdVal, rdValLen)) return false;
    lwwWrite(a, rdTs, bytes, rdRep, rdRepLen, bytes, rdVal, rdValLen);
    return true;
  },
};
