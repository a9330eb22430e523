// The deterministic codec for user values (set elements, map keys, register
// values): equal values always give equal bytes, so kernels can compare and
// hash them as opaque byte strings. Written here rather than taken from a
// CBOR library to keep the core inside its size budget and the hot path
// (100k map keys) free of allocation; docs/format.md specifies it.
//
// value := tag payload
//   0 null | 1 false | 2 true
//   3 integer: zigzag varint (safe integers; -0 is 0)
//   4 float64: 8 bytes big-endian (non-integral or unsafe numbers; one NaN)
//   5 string: UTF-8, length-prefixed
//   6 bytes: Uint8Array, length-prefixed
//   7 array: count, values
//   8 object: count, (key string, value) sorted by key bytes
import { ByteReader, ByteWriter, compareBytes, utf8 } from "./bytes.js";
import { TrellisError } from "../wasm/errors.js";

export type Value = null | boolean | number | string | Uint8Array | Value[] | { [key: string]: Value };

export const MAX_VALUE_DEPTH = 64;
const TWO52 = 2 ** 52;

const f64 = new DataView(new ArrayBuffer(8));

export function writeValue(w: ByteWriter, v: Value, depth = 0): void {
  if (depth > MAX_VALUE_DEPTH) throw new TrellisError("TOO_DEEP", `value nested deeper than ${MAX_VALUE_DEPTH}`);
  if (v === null) return w.u8(0);
  switch (typeof v) {
    case "boolean": return w.u8(v ? 2 : 1);
    case "string": w.u8(5); return w.string(v);
    case "number":
      if (Number.isSafeInteger(v)) {
        w.u8(3);
        // zigzag; beyond 2^52 it no longer fits a float64 exactly, so use BigInt
        if (v >= -TWO52 && v <= TWO52) return w.varint(v >= 0 ? v * 2 : -v * 2 - 1);
        const b = BigInt(v);
        return w.varint(b >= 0n ? b * 2n : -b * 2n - 1n);
      }
      w.u8(4);
      f64.setFloat64(0, Number.isNaN(v) ? NaN : v);
      w.ensure(8);
      for (let i = 0; i < 8; i++) w.buf[w.pos++] = f64.getUint8(i);
      return;
    case "object":
      if (v instanceof Uint8Array) { w.u8(6); return w.bytes(v); }
      if (Array.isArray(v)) {
        w.u8(7); w.varint(v.length);
        for (const x of v) writeValue(w, x, depth + 1);
        return;
      }
      if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) {
        const keys = Object.keys(v).map((k) => [utf8(k), k] as const).sort((a, b) => compareBytes(a[0], b[0]));
        w.u8(8); w.varint(keys.length);
        for (const [kb, k] of keys) { w.bytes(kb); writeValue(w, (v as Record<string, Value>)[k], depth + 1); }
        return;
      }
  }
  throw new TypeError(`trellis cannot encode a value of type ${describe(v)}: use null, boolean, number, string, Uint8Array, arrays and plain objects`);
}

export function readValue(r: ByteReader, depth = 0): Value {
  if (depth > MAX_VALUE_DEPTH) throw new TrellisError("TOO_DEEP", `value nested deeper than ${MAX_VALUE_DEPTH}`);
  const tag = r.u8();
  switch (tag) {
    case 0: return null;
    case 1: return false;
    case 2: return true;
    case 3: {
      const at = r.pos;
      const z = r.varint();
      if (z < 2 * TWO52) return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
      r.pos = at;
      const b = r.bigVarint();
      return Number(b & 1n ? -(b >> 1n) - 1n : b >> 1n);
    }
    case 4: { const b = r.raw(8); for (let i = 0; i < 8; i++) f64.setUint8(i, b[i]); return f64.getFloat64(0); }
    case 5: return r.string();
    case 6: return r.bytes().slice();
    case 7: {
      const n = r.varint();
      if (n > r.buf.length - r.pos) throw new TrellisError("TOO_LARGE", "array count beyond input");
      const a: Value[] = [];
      for (let i = 0; i < n; i++) a.push(readValue(r, depth + 1));
      return a;
    }
    case 8: {
      const n = r.varint();
      if (n > r.buf.length - r.pos) throw new TrellisError("TOO_LARGE", "object count beyond input");
      const o: Record<string, Value> = {};
      for (let i = 0; i < n; i++) {
        const k = r.string();
        const v = readValue(r, depth + 1);
        // A "__proto__" key is data, never the object's prototype.
        if (k === "__proto__") Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
        else o[k] = v;
      }
      return o;
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
