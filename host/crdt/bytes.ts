// Host-side cursors over the binary format: LEB128 varints and length-prefixed
// byte strings, paired writer/reader as in the kernels (assembly/codec.ts).
import { TrellisError } from "../wasm/errors.js";

const errTruncated = () => new TrellisError("TRUNCATED", "input ended inside a value");

export class ByteWriter {
  buf: Uint8Array;
  pos = 0;
  constructor(size = 256) { this.buf = new Uint8Array(size); }

  reset(): this { this.pos = 0; return this; }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.pos));
    this.buf = nb;
  }

  u8(v: number): void { this.ensure(1); this.buf[this.pos++] = v; }

  // Unsigned varint of a non-negative safe integer or bigint.
  varint(v: number | bigint): void {
    this.ensure(10);
    if (typeof v === "number") {
      // Bit ops are 32-bit: above 2^31 (every Date.now() timestamp) divide instead.
      while (v >= 0x80000000) { this.buf[this.pos++] = (v % 128) | 0x80; v = Math.floor(v / 128); }
      while (v >= 0x80) { this.buf[this.pos++] = (v & 0x7f) | 0x80; v >>>= 7; }
      this.buf[this.pos++] = v;
      return;
    }
    let b = BigInt(v);
    while (b >= 0x80n) { this.buf[this.pos++] = Number(b & 0x7fn) | 0x80; b >>= 7n; }
    this.buf[this.pos++] = Number(b);
  }

  raw(b: Uint8Array): void { this.ensure(b.length); this.buf.set(b, this.pos); this.pos += b.length; }

  // Length-prefixed bytes.
  bytes(b: Uint8Array): void { this.varint(b.length); this.raw(b); }

  // Length-prefixed UTF-8 of a string, with an ASCII fast path.
  string(s: string): void {
    const n = s.length;
    let ascii = true;
    for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) { ascii = false; break; }
    if (!ascii) { this.bytes(utf8(s)); return; }
    this.varint(n);
    this.ensure(n);
    for (let i = 0; i < n; i++) this.buf[this.pos++] = s.charCodeAt(i);
  }

  finish(): Uint8Array { return this.buf.slice(0, this.pos); }
  view(): Uint8Array { return this.buf.subarray(0, this.pos); }
}

export class ByteReader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  get done(): boolean { return this.pos >= this.buf.length; }

  u8(): number {
    if (this.pos >= this.buf.length) throw errTruncated();
    return this.buf[this.pos++];
  }

  // Returns a number; values above 2^53 lose precision (counters document it).
  varint(): number {
    let v = 0, mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.u8();
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return v;
      mul *= 128;
    }
    throw new TrellisError("TOO_LARGE", "varint longer than 10 bytes");
  }

  // Exact to 70 bits. The first seven bytes (49 bits) sum as a Number, exact
  // below 2^53; only longer varints (rare: counters and timestamps above 2^49)
  // build a BigInt, once for the low part and once per further byte.
  bigVarint(): bigint {
    let lo = 0, mul = 1;
    for (let i = 0; i < 7; i++) {
      const b = this.u8();
      lo += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return BigInt(lo);
      mul *= 128;
    }
    let v = BigInt(lo), shift = 49n;
    for (let i = 7; i < 10; i++) {
      const b = this.u8();
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v;
      shift += 7n;
    }
    throw new TrellisError("TOO_LARGE", "varint longer than 10 bytes");
  }

  raw(n: number): Uint8Array {
    if (n > this.buf.length - this.pos) throw errTruncated();
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  bytes(): Uint8Array { return this.raw(this.varint()); }

  // Length-prefixed UTF-8. Short ASCII strings (most keys and values) are
  // read in place: TextDecoder and a subarray cost more than the string.
  string(): string {
    const n = this.varint();
    if (n > this.buf.length - this.pos) throw errTruncated();
    if (n <= 32) {
      const b = this.buf, at = this.pos;
      let s = "";
      for (let i = 0; i < n; i++) {
        const c = b[at + i];
        if (c > 0x7f) { s = ""; break; }
        s += String.fromCharCode(c);
      }
      if (s.length === n) { this.pos += n; return s; }
    }
    return fromUtf8(this.raw(n));
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });
export const utf8 = (s: string): Uint8Array => enc.encode(s);
export function fromUtf8(b: Uint8Array): string {
  try { return dec.decode(b); } catch { throw new TrellisError("BAD_VALUE", "invalid UTF-8"); }
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0;
}
