// The deterministic codec for user values (set elements, map keys, register
// values): equal values always give equal bytes, and byte order is the
// values' natural order, so kernels can compare, sort and hash them as opaque
// byte strings and still list them the way users expect. Written here rather
// than taken from a library to keep the core inside its size budget and the
// hot path (100k map keys) free of allocation; docs/format.md, "User values",
// specifies it.
//
// value := tag payload              (tag order is type order)
//   0x01 null | 0x02 false | 0x03 true
//   0x04 number < 0, 0x05 number ≥ 0: the float64's bits without the sign, in
//        7-bit groups from the top, each (group << 1) | more, to the last
//        non-zero group; inverted under 0x04 (larger magnitudes first)
//   0x06 string (UTF-8), 0x07 bytes: each 0x00 as 0x00 0xFF, then 0x00
//   0x08 array: value* 0x00
//   0x09 object: (key value)* 0x00, keys string values, strictly increasing
import { ByteReader, ByteWriter, fromUtf8, utf8 } from "./bytes.js";
import { TrellisError } from "../wasm/errors.js";

export type Value = null | boolean | number | string | Uint8Array | Value[] | { [key: string]: Value };

export const MAX_VALUE_DEPTH = 64;

const T_END = 0x00, T_NULL = 0x01, T_FALSE = 0x02, T_TRUE = 0x03, T_NEG = 0x04, T_POS = 0x05;
const T_STRING = 0x06, T_BYTES = 0x07, T_ARRAY = 0x08, T_OBJECT = 0x09;

const f64 = new DataView(new ArrayBuffer(8));
// Where group i (0..8) of the 63 magnitude bits starts: 56, 49, ..., 0.
const SHIFT = [56, 49, 42, 35, 28, 21, 14, 7, 0];

// Group i of the magnitude hi:lo (hi holds bits 62..32, lo bits 31..0).
function group(hi: number, lo: number, s: number): number {
  if (s >= 32) return (hi >>> (s - 32)) & 0x7f;
  return ((lo >>> s) | (s > 25 ? hi << (32 - s) : 0)) & 0x7f;
}

function writeNumber(w: ByteWriter, v: number): void {
  if (v === 0) { w.ensure(2); w.buf[w.pos++] = T_POS; w.buf[w.pos++] = 0; return; } // −0 too
  f64.setFloat64(0, Number.isNaN(v) ? NaN : v); // one NaN: 0x7ff8000000000000
  const neg = v < 0;
  const hi = f64.getUint32(0) & 0x7fffffff, lo = f64.getUint32(4);
  let last = 8;
  while (last > 0 && group(hi, lo, SHIFT[last]) === 0) last--;
  w.ensure(10);
  const b = w.buf;
  b[w.pos++] = neg ? T_NEG : T_POS;
  for (let i = 0; i <= last; i++) {
    const x = (group(hi, lo, SHIFT[i]) << 1) | (i < last ? 1 : 0);
    b[w.pos++] = neg ? 0xff - x : x;
  }
}

// A string's UTF-8 (or a byte string) escaped: each 0x00 as 0x00 0xFF, then
// the terminating 0x00. ASCII strings are written without an encoder call.
function writeText(w: ByteWriter, s: string): void {
  const n = s.length;
  w.ensure(n + 1);
  const at = w.pos;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0x7f) break;
    w.buf[w.pos++] = c;
  }
  if (i === n) { w.buf[w.pos++] = T_END; return; }
  w.pos = at;
  writeBytes(w, utf8(s));
}

function writeBytes(w: ByteWriter, b: Uint8Array): void {
  w.ensure(b.length * 2 + 1);
  const out = w.buf;
  let p = w.pos;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    out[p++] = c;
    if (c === 0) out[p++] = 0xff;
  }
  out[p++] = T_END;
  w.pos = p;
}

export function writeValue(w: ByteWriter, v: Value, depth = 0): void {
  if (depth > MAX_VALUE_DEPTH) throw new TrellisError("TOO_DEEP", `value nested deeper than ${MAX_VALUE_DEPTH}`);
  if (v === null) return w.u8(T_NULL);
  switch (typeof v) {
    case "boolean": return w.u8(v ? T_TRUE : T_FALSE);
    case "string": w.u8(T_STRING); return writeText(w, v);
    case "number": return writeNumber(w, v);
    case "object":
      if (v instanceof Uint8Array) { w.u8(T_BYTES); return writeBytes(w, v); }
      if (Array.isArray(v)) {
        w.u8(T_ARRAY);
        for (const x of v) writeValue(w, x, depth + 1);
        return w.u8(T_END);
      }
      if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) {
        // Keys in the order of their encodings (escaping keeps UTF-8's order).
        const keys = Object.keys(v).map((k) => { const at = w.pos; writeText(w, k); const b = w.buf.slice(at, w.pos); w.pos = at; return [b, k] as const; })
          .sort((a, b) => compare(a[0], b[0]));
        w.u8(T_OBJECT);
        for (const [kb, k] of keys) { w.u8(T_STRING); w.raw(kb); writeValue(w, (v as Record<string, Value>)[k], depth + 1); }
        return w.u8(T_END);
      }
  }
  throw new TypeError(`trellis cannot encode a value of type ${describe(v)}: use null, boolean, number, string, Uint8Array, arrays and plain objects`);
}

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

// b[a0, a1) against b[b0, b1), in byte order.
function compareAt(b: Uint8Array, a0: number, a1: number, b0: number, b1: number): number {
  const n = Math.min(a1 - a0, b1 - b0);
  for (let i = 0; i < n; i++) if (b[a0 + i] !== b[b0 + i]) return b[a0 + i] - b[b0 + i];
  return (a1 - a0) - (b1 - b0);
}

const bad = (what: string) => new TrellisError("BAD_VALUE", what);
const truncated = () => new TrellisError("TRUNCATED", "input ended inside a value");

// A number's magnitude bytes at r (its tag read), under the same canonical
// rules the kernel checks (assembly/codec.ts skipNumber).
function readNumber(r: ByteReader, neg: boolean, end: number): number {
  const b = r.buf;
  let hi = 0, lo = 0;
  for (let i = 0; i < 9; i++) {
    if (r.pos >= end) throw truncated();
    const x = neg ? 0xff - b[r.pos++] : b[r.pos++];
    const g = x >>> 1, s = SHIFT[i];
    if (s >= 32) hi |= g << (s - 32);
    else { lo |= g << s; if (s > 25) hi |= g >>> (32 - s); }
    if ((x & 1) === 0) {
      if (i > 0 && g === 0) throw bad("a number with a zero final group");
      if (neg && hi === 0 && lo === 0) throw bad("negative zero");
      if (hi > 0x7ff00000 || (hi === 0x7ff00000 && lo !== 0)) {
        if (neg || hi !== 0x7ff80000 || lo !== 0) throw bad("a NaN other than the canonical one");
        return NaN;
      }
      f64.setUint32(0, (hi | (neg ? 0x80000000 : 0)) >>> 0);
      f64.setUint32(4, lo >>> 0);
      return f64.getFloat64(0);
    }
  }
  throw bad("a number longer than 9 bytes");
}

// The end of the escaped text at p (the position of its terminator), which
// lies before end, and whether it holds an escaped NUL.
let escaped = false;
function textEnd(b: Uint8Array, p: number, end: number): number {
  escaped = false;
  for (;;) {
    const q = b.indexOf(0, p);
    if (q < 0 || q >= end) throw truncated();
    if (q + 1 >= end || b[q + 1] !== 0xff) return q;
    escaped = true;
    p = q + 2;
  }
}

function unescape(b: Uint8Array, from: number, to: number): Uint8Array {
  const out = new Uint8Array(to - from);
  let n = 0;
  for (let p = from; p < to; p++) { out[n++] = b[p]; if (b[p] === 0) p++; }
  return out.subarray(0, n);
}

// A string at r (its tag read). Short ASCII strings (most keys and values)
// are read in place; a string without NUL is one TextDecoder call on a view.
function readText(r: ByteReader, end: number): string {
  const b = r.buf, at = r.pos;
  let s = "";
  for (let p = at; p < at + 33 && p < end; p++) {
    const c = b[p];
    if (c === 0) {
      if (p + 1 < end && b[p + 1] === 0xff) break;
      r.pos = p + 1;
      return s;
    }
    if (c > 0x7f) break;
    s += String.fromCharCode(c);
  }
  const t = textEnd(b, at, end);
  r.pos = t + 1;
  return fromUtf8(escaped ? unescape(b, at, t) : b.subarray(at, t));
}

function readBytes(r: ByteReader, end: number): Uint8Array {
  const b = r.buf, at = r.pos;
  const t = textEnd(b, at, end);
  r.pos = t + 1;
  return escaped ? unescape(b, at, t) : b.slice(at, t);
}

// One value at r, which ends at or before `end` (a value's bytes are
// self-delimiting, but a 0x00 0xFF across its end is not an escape: the
// caller gives the end of the value's bytes when more follow them).
export function readValue(r: ByteReader, depth = 0, end = r.buf.length): Value {
  if (depth > MAX_VALUE_DEPTH) throw new TrellisError("TOO_DEEP", `value nested deeper than ${MAX_VALUE_DEPTH}`);
  if (r.pos >= end) throw truncated();
  const tag = r.u8();
  switch (tag) {
    case T_NULL: return null;
    case T_FALSE: return false;
    case T_TRUE: return true;
    case T_NEG: case T_POS: return readNumber(r, tag === T_NEG, end);
    case T_STRING: return readText(r, end);
    case T_BYTES: return readBytes(r, end);
    case T_ARRAY: {
      const a: Value[] = [];
      for (;;) {
        if (r.pos >= end) throw truncated();
        if (r.buf[r.pos] === T_END) { r.pos++; return a; }
        a.push(readValue(r, depth + 1, end));
      }
    }
    case T_OBJECT: {
      const o: Record<string, Value> = {};
      let prevAt = -1, prevEnd = -1;
      for (;;) {
        if (r.pos >= end) throw truncated();
        if (r.buf[r.pos] === T_END) { r.pos++; return o; }
        if (r.u8() !== T_STRING) throw bad("an object key that is not a string");
        const at = r.pos;
        const k = readText(r, end);
        // keys strictly increasing by their bytes
        if (prevAt >= 0 && compareAt(r.buf, prevAt, prevEnd, at, r.pos) >= 0) throw bad("object keys out of order");
        prevAt = at; prevEnd = r.pos;
        const v = readValue(r, depth + 1, end);
        // A "__proto__" key is data, never the object's prototype.
        if (k === "__proto__") Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
        else o[k] = v;
      }
    }
  }
  throw new TrellisError("BAD_TAG", `unknown value tag ${tag}`);
}

const scratch = new ByteWriter(1024);

// A value's canonical bytes.
export function encodeValue(v: Value): Uint8Array {
  scratch.reset();
  writeValue(scratch, v);
  return scratch.finish();
}

export function decodeValue(b: Uint8Array): Value {
  const r = new ByteReader(b);
  const v = readValue(r);
  if (!r.done) throw new TrellisError("TRAILING", "bytes left after a value");
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return "undefined";
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  return typeof v;
}
