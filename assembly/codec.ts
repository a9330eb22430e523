// Cursor codecs: LEB128 varints and length-prefixed byte strings.
// Byte strings are held as AS strings with one byte per UTF-16 code unit, so
// Map<string, _> hashes them and `<` orders them exactly as bytes compare.
import { E_TRUNCATED, E_NONCANONICAL, E_TOO_LARGE, E_BAD_VALUE, E_OUT_OF_MEMORY, MAX_KEY, MAX_REPLICA, setError } from "./errors";
import { allocSpan, canAlloc, resize, release } from "./data/mem";

export class Writer {
  buf: ArrayBuffer;
  base: usize;
  cap: i32;
  pos: i32 = 0;

  // Set when the buffer could not grow (memory cap): later writes are
  // dropped and the ABI returns OUT_OF_MEMORY (setError) instead of the output.
  failed: bool = false;

  // With `spans`, the bytes live in a block from data/mem.ts (page spans once
  // large) instead of a managed buffer: for the output and the expanded
  // encoding, which grow to a state's size, and which TLSF would get by
  // doubling all of memory (encoding a 100k-element AWSet took memory from
  // 11 to 45 MiB); spans grow in place at the top and are reused once freed.
  spans: bool;

  constructor(spans: bool = false) {
    this.spans = spans;
    this.buf = new ArrayBuffer(spans ? 0 : 1024);
    this.base = spans ? 0 : changetype<usize>(this.buf);
    this.cap = spans ? 0 : 1024;
  }

  reset(): void { this.pos = 0; this.failed = false; }

  // Whether n more bytes can be written.
  @inline ensure(n: i32): bool {
    if (this.pos + n > this.cap) return this.grow(n);
    return !this.failed;
  }

  grow(n: i32): bool {
    if (this.failed) return false;
    let cap = max(this.cap, 512) << 1;
    while (cap < this.pos + n) cap <<= 1;
    if (this.spans) {
      let q = cap > 0 ? this.spanResize(<usize>cap) : 0;
      if (q == 0) {
        cap = this.pos + n;
        q = n < 0 || cap < 0 ? 0 : this.spanResize(<usize>cap);
        if (q == 0) { this.failed = true; setError(E_OUT_OF_MEMORY); return false; }
      }
      this.base = q; this.cap = cap;
      return true;
    }
    if (!canAlloc(<usize>cap)) {
      cap = this.pos + n;
      if (n < 0 || cap < 0 || !canAlloc(<usize>cap)) { this.failed = true; setError(E_OUT_OF_MEMORY); return false; }
    }
    const nb = new ArrayBuffer(cap);
    memory.copy(changetype<usize>(nb), this.base, this.pos);
    this.buf = nb; this.base = changetype<usize>(nb); this.cap = cap;
    return true;
  }

  // The span grown to n bytes (its contents kept), or 0 (then unchanged).
  private spanResize(n: usize): usize {
    return this.base == 0 ? allocSpan(n) : resize(this.base, n);
  }

  // Gives the buffer back when it holds more than `keep` bytes (a large
  // state's encoding is not kept for the life of the instance); resets.
  shrink(keep: i32): void {
    if (this.cap > keep) {
      if (this.spans) { release(this.base); this.base = 0; this.cap = 0; }
      else { this.buf = new ArrayBuffer(1024); this.base = changetype<usize>(this.buf); this.cap = 1024; }
    }
    this.reset();
  }

  @inline get ptr(): usize { return this.base; }

  u8(v: u32): void {
    if (!this.ensure(1)) return;
    store<u8>(this.ptr + this.pos, <u8>v);
    this.pos++;
  }

  varint(v: u64): void {
    if (!this.ensure(10)) return;
    let p = this.ptr + this.pos;
    const start = p;
    while (v >= 0x80) {
      store<u8>(p++, <u8>(v | 0x80));
      v >>= 7;
    }
    store<u8>(p++, <u8>v);
    this.pos += <i32>(p - start);
  }

  // A byte string held as a key string (see top of file), length-prefixed.
  key(s: string): void {
    const n = s.length;
    this.varint(<u64>n);
    if (!this.ensure(n)) return;
    const src = changetype<usize>(s);
    const dst = this.ptr + this.pos;
    for (let i = 0; i < n; i++) store<u8>(dst + i, <u8>load<u16>(src + (<usize>i << 1)));
    this.pos += n;
  }

  raw(src: usize, n: i32): void {
    if (!this.ensure(n)) return;
    memory.copy(this.ptr + this.pos, src, n);
    this.pos += n;
  }
}

export class Reader {
  p: usize;
  end: usize;
  err: i32 = 0;
  dry: bool = false; // a validating pass over an op batch (see value())
  // The format version of the state being read (state.ts readHeader sets
  // it): always 3 once parsed, since versions 1 and 2 are transcoded to
  // version 3's values before any parser sees them (legacy.ts).
  version: u8 = 3;

  constructor(p: usize, end: usize) { this.p = p; this.end = end; }

  @inline get left(): i32 { return <i32>(this.end - this.p); }
  @inline get ok(): bool { return this.err == 0; }
  @inline get done(): bool { return this.p >= this.end; }

  fail(code: i32): void { if (this.err == 0) this.err = code; this.p = this.end; }

  u8(): u32 {
    if (this.p >= this.end) { this.fail(E_TRUNCATED); return 0; }
    return load<u8>(this.p++);
  }

  // Canonical LEB128: at most 10 bytes, no padding (a trailing zero byte is rejected).
  varint(): u64 {
    let v: u64 = 0;
    let shift: u64 = 0;
    for (let i = 0; i < 10; i++) {
      if (this.p >= this.end) { this.fail(E_TRUNCATED); return 0; }
      const b = <u64>load<u8>(this.p++);
      if (i == 9 && b > 1) { this.fail(E_TOO_LARGE); return 0; }
      v |= (b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        if (b == 0 && i > 0) { this.fail(E_NONCANONICAL); return 0; }
        return v;
      }
      shift += 7;
    }
    this.fail(E_TOO_LARGE);
    return 0;
  }

  // A count of items that each need at least `minBytes` bytes: bounded by what remains,
  // so hostile counts cannot make us allocate or loop beyond the input's size.
  count(minBytes: i32): i32 {
    const v = this.varint();
    if (!this.ok) return 0;
    if (v > <u64>(this.left / max(minBytes, 1))) { this.fail(E_TOO_LARGE); return 0; }
    return <i32>v;
  }

  // A length-prefixed user value (element, map key, register value): a key
  // whose bytes must be exactly one canonical value.
  // In a dry (validating) pass it checks the value and returns "" without
  // allocating: ops only validate then, and never look at the key.
  value(): string {
    const start = this.p;
    const n = this.varint();
    if (!this.ok) return "";
    // The same limits key() applies: a dry pass must reject all it would.
    if (n > <u64>MAX_KEY) { this.fail(E_TOO_LARGE); return ""; }
    if (n > <u64>this.left) { this.fail(E_TRUNCATED); return ""; }
    const body = this.p;
    if (skipValue(body, body + <usize>n, 0) != body + <usize>n) { this.fail(E_BAD_VALUE); return ""; }
    if (this.dry) { this.p = body + <usize>n; return ""; }
    this.p = start;
    return this.key();
  }

  // A replica id: UTF-8, at most MAX_REPLICA bytes (hosts show it as a string).
  replica(): string {
    const start = this.p;
    const n = this.varint();
    if (!this.ok) return "";
    if (n > <u64>MAX_REPLICA) { this.fail(E_TOO_LARGE); return ""; }
    if (n <= <u64>this.left && !validUtf8(this.p, this.p + <usize>n)) { this.fail(E_BAD_VALUE); return ""; }
    this.p = start;
    return this.key();
  }

  // Length of the bytes returned by the last valueRaw()/replicaRaw().
  rawLen: i32 = 0;

  // value() for the data layer: checks the same things, but returns where the
  // value's bytes start in the input (rawLen: how many) instead of a string.
  // Returns 0 on failure (an input pointer is never 0).
  valueRaw(): usize {
    const n = this.varint();
    if (!this.ok) return 0;
    if (n > <u64>MAX_KEY) { this.fail(E_TOO_LARGE); return 0; }
    if (n > <u64>this.left) { this.fail(E_TRUNCATED); return 0; }
    const body = this.p, end = body + <usize>n;
    if (skipValue(body, end, 0) != end) { this.fail(E_BAD_VALUE); return 0; }
    this.p = end;
    this.rawLen = <i32>n;
    return body;
  }

  // replica() for the data layer: a valid replica id's bytes in place (rawLen).
  replicaRaw(): usize {
    const n = this.varint();
    if (!this.ok) return 0;
    if (n > <u64>MAX_REPLICA) { this.fail(E_TOO_LARGE); return 0; }
    if (n > <u64>this.left) { this.fail(E_TRUNCATED); return 0; }
    const body = this.p, end = body + <usize>n;
    if (!validUtf8(body, end)) { this.fail(E_BAD_VALUE); return 0; }
    this.p = end;
    this.rawLen = <i32>n;
    return body;
  }

  key(): string {
    const n = this.varint();
    if (!this.ok) return "";
    if (n > <u64>MAX_KEY) { this.fail(E_TOO_LARGE); return ""; }
    if (n > <u64>this.left) { this.fail(E_TRUNCATED); return ""; }
    const len = <i32>n;
    const s = changetype<string>(__new(<usize>len << 1, idof<string>()));
    const dst = changetype<usize>(s);
    for (let i = 0; i < len; i++) store<u16>(dst + (<usize>i << 1), load<u8>(this.p + i));
    this.p += len;
    return s;
  }
}

// Shared scratch writer for encodings produced inside the kernel.
export function keyOf(w: Writer): string {
  const n = w.pos;
  const s = changetype<string>(__new(<usize>n << 1, idof<string>()));
  const dst = changetype<usize>(s);
  for (let i = 0; i < n; i++) store<u16>(dst + (<usize>i << 1), load<u8>(w.ptr + i));
  return s;
}

// Sorts keys in byte order (the canonical order of every encoding).
export function sortKeys(a: Array<string>): Array<string> {
  a.sort((x: string, y: string): i32 => (x < y ? -1 : x > y ? 1 : 0));
  return a;
}

// ---- user values -----------------------------------------------------------
// Elements, map keys and register values are the host's value encoding
// (docs/format.md, "User values"): order-preserving, so byte order is the
// values' natural order, and self-delimiting. Kernels never interpret them, but
// they do check that they are well-formed and canonical, so a hostile peer
// cannot plant bytes that no replica can read, or a second encoding of an
// equal value (−0 beside 0, a padded number) that would split one element in
// two. Versions 1 and 2 held another encoding: legacy.ts reads those.

export const MAX_VALUE_DEPTH: i32 = 64;
export const CANONICAL_NAN: u64 = 0x7ff8000000000000;
const INFINITY_BITS: u64 = 0x7ff0000000000000;

export const V_END: u8 = 0x00;
export const V_NULL: u8 = 0x01;
export const V_FALSE: u8 = 0x02;
export const V_TRUE: u8 = 0x03;
export const V_NEG: u8 = 0x04;
export const V_POS: u8 = 0x05;
export const V_STRING: u8 = 0x06;
export const V_BYTES: u8 = 0x07;
export const V_ARRAY: u8 = 0x08;
export const V_OBJECT: u8 = 0x09;

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
export function validUtf8(p: usize, end: usize): bool {
  while (p < end) {
    const b0 = <u32>load<u8>(p);
    if (b0 < 0x80) { p++; continue; }
    const q = utf8Seq(p, end, b0);
    if (q == 0) return false;
    p = q;
  }
  return true;
}

// One multi-byte UTF-8 sequence starting with b0 (≥ 0x80) at p; the position
// after it, or 0 when it is malformed or does not fit before end.
function utf8Seq(p: usize, end: usize, b0: u32): usize {
  let n: i32, min: u32, cp: u32;
  if ((b0 & 0xe0) == 0xc0) { n = 1; min = 0x80; cp = b0 & 0x1f; }
  else if ((b0 & 0xf0) == 0xe0) { n = 2; min = 0x800; cp = b0 & 0x0f; }
  else if ((b0 & 0xf8) == 0xf0) { n = 3; min = 0x10000; cp = b0 & 0x07; }
  else return 0;
  if (p + <usize>n + 1 > end) return 0;
  for (let i = 1; i <= n; i++) {
    const b = <u32>load<u8>(p + i);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return p + <usize>n + 1;
}

// The payload of a string (utf8) or bytes value at p: each 0x00 escaped as
// 0x00 0xFF, then a terminating 0x00. Returns the position after the
// terminator, or 0.
export function skipText(p: usize, end: usize, utf8: bool): usize {
  while (p < end) {
    const b = <u32>load<u8>(p);
    if (b == 0) {
      if (p + 1 < end && load<u8>(p + 1) == 0xff) { p += 2; continue; }
      return p + 1;
    }
    if (b < 0x80 || !utf8) { p++; continue; }
    p = utf8Seq(p, end, b);
    if (p == 0) return 0;
  }
  return 0;
}

// The magnitude bits of the number at p (tag already read): 7-bit groups
// from the most significant, each (group << 1) | more, inverted when neg.
// Returns the position after it, or 0 when it is not canonical.
export function skipNumber(p: usize, end: usize, neg: bool): usize {
  let m: u64 = 0;
  for (let i = 0; i < 9; i++) {
    if (p >= end) return 0;
    let b = <u32>load<u8>(p++);
    if (neg) b = 0xff - b;
    const g = <u64>(b >> 1);
    m |= g << <u64>(56 - 7 * i);
    if ((b & 1) == 0) {
      // A final group of 0 after the first is padding; −0 is written as +0.
      if (i > 0 && g == 0) return 0;
      if (neg && m == 0) return 0;
      // One NaN, and it is positive: the bits JS writes for every NaN.
      if (m > INFINITY_BITS && (neg || m != CANONICAL_NAN)) return 0;
      return p;
    }
  }
  return 0; // a 9th group with more set: no 10th byte
}

// Checks one canonical value in [p, end); returns the position after it, or 0.
export function skipValue(p: usize, end: usize, depth: i32): usize {
  if (depth > MAX_VALUE_DEPTH || p >= end) return 0;
  const tag = load<u8>(p++);
  switch (tag) {
    case V_NULL: case V_FALSE: case V_TRUE: return p;
    case V_NEG: case V_POS: return skipNumber(p, end, tag == V_NEG);
    case V_STRING: case V_BYTES: return skipText(p, end, tag == V_STRING);
    case V_ARRAY: {
      while (p < end && load<u8>(p) != V_END) {
        p = skipValue(p, end, depth + 1);
        if (p == 0) return 0;
      }
      return p < end ? p + 1 : 0;
    }
    case V_OBJECT: {
      let prev: usize = 0, prevLen: usize = 0;
      while (p < end && load<u8>(p) != V_END) {
        // keys are string values, strictly increasing in byte order
        if (load<u8>(p) != V_STRING) return 0;
        const k = p;
        p = skipText(p + 1, end, true);
        if (p == 0) return 0;
        const klen = p - k;
        if (prev != 0 && compareRaw(prev, prevLen, k, klen) >= 0) return 0;
        prev = k; prevLen = klen;
        p = skipValue(p, end, depth + 1);
        if (p == 0) return 0;
      }
      return p < end ? p + 1 : 0;
    }
  }
  return 0;
}

export function compareRaw(a: usize, alen: usize, b: usize, blen: usize): i32 {
  const n = alen < blen ? alen : blen;
  for (let i: usize = 0; i < n; i++) {
    const x = <i32>load<u8>(a + i), y = <i32>load<u8>(b + i);
    if (x != y) return x - y;
  }
  return <i32>alen - <i32>blen;
}

// A key string's bytes (one byte per UTF-16 unit, see top of file) into a
// reusable raw buffer, for data-layer lookups by a host-given key or replica.
let keyBuf: usize = 0;
let keyBufCap: i32 = 0;
// The string keyBuf holds now: ops pass the same replica string to several
// lookups per op (a GCounter increment made four, a fifth of its cost). Held
// here, it cannot be freed and its address reused by another string.
let keyBufOf: string | null = null;
export function keyBytes(s: string): usize {
  if (changetype<usize>(s) == changetype<usize>(keyBufOf)) return keyBuf; // the same object
  const n = s.length;
  if (n > keyBufCap) {
    if (keyBuf != 0) heap.free(keyBuf);
    keyBufCap = max(n, 256);
    keyBuf = heap.alloc(<usize>keyBufCap);
  }
  const src = changetype<usize>(s);
  for (let i = 0; i < n; i++) store<u8>(keyBuf + i, <u8>load<u16>(src + (<usize>i << 1)));
  keyBufOf = s;
  return keyBuf;
}
