// Format versions 1 and 2 as older builds wrote them, for fixtures: the old
// user-value encoding (a copy of the codec those builds had), and the legacy
// bytes of a state given in the expanded layout the models write (version 3
// values): every value rewritten in the old encoding and every list sorted by
// a value (GSet, TwoPSet, AWSet, ORSet elements, GMap and AWMap keys, TopK
// ids, at any depth) sorted again by the old bytes. A separate implementation
// of what assembly/legacy.ts undoes, so the two check each other.
import { Value, decodeValue, encodeValue } from "../../host/crdt/value.js";
import { Cursor, Spec, compactV1, readSpec } from "./compact.js";

// ---- the old value codec (docs/format.md before version 3) ------------------

const TWO52 = 2 ** 52;
const f64 = new DataView(new ArrayBuffer(8));
const enc = new TextEncoder();

function varint(out: number[], v: number | bigint): void {
  let x = BigInt(v);
  while (x >= 0x80n) { out.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
  out.push(Number(x));
}

function bytes(out: number[], b: ArrayLike<number>): void { varint(out, b.length); for (let i = 0; i < b.length; i++) out.push(b[i]); }

const compare = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
};

//   0 null | 1 false | 2 true | 3 zigzag:varint (safe integers) | 4 float64 BE
//   5 utf8:bytes | 6 bytes | 7 count value* | 8 count (key:bytes value)*
export function writeValueV1(out: number[], v: Value): void {
  if (v === null) { out.push(0); return; }
  switch (typeof v) {
    case "boolean": out.push(v ? 2 : 1); return;
    case "string": out.push(5); bytes(out, enc.encode(v)); return;
    case "number":
      if (Number.isSafeInteger(v)) {
        out.push(3);
        if (v >= -TWO52 && v <= TWO52) varint(out, v >= 0 ? v * 2 : -v * 2 - 1);
        else { const b = BigInt(v); varint(out, b >= 0n ? b * 2n : -b * 2n - 1n); }
        return;
      }
      out.push(4);
      f64.setFloat64(0, Number.isNaN(v) ? NaN : v);
      for (let i = 0; i < 8; i++) out.push(f64.getUint8(i));
      return;
    case "object":
      if (v instanceof Uint8Array) { out.push(6); bytes(out, v); return; }
      if (Array.isArray(v)) { out.push(7); varint(out, v.length); for (const x of v) writeValueV1(out, x); return; }
      {
        const keys = Object.keys(v).map((k) => [enc.encode(k), k] as const).sort((a, b) => compare(a[0], b[0]));
        out.push(8); varint(out, keys.length);
        for (const [kb, k] of keys) { bytes(out, kb); writeValueV1(out, (v as Record<string, Value>)[k]); }
        return;
      }
  }
  throw new TypeError(`cannot encode ${typeof v}`);
}

export function encodeValueV1(v: Value): Uint8Array {
  const out: number[] = [];
  writeValueV1(out, v);
  return Uint8Array.from(out);
}

// The old decoder, lenient: for values a kernel has already accepted.
export function decodeValueV1(b: Uint8Array): Value {
  const c = new Cursor(b);
  const dec = new TextDecoder();
  const read = (): Value => {
    const tag = c.u8();
    switch (tag) {
      case 0: return null;
      case 1: return false;
      case 2: return true;
      case 3: { const z = c.varint(); return Number(z & 1n ? -(z >> 1n) - 1n : z >> 1n); }
      case 4: { const x = new DataView(b.buffer, b.byteOffset + c.p, 8).getFloat64(0); c.p += 8; return x; }
      case 5: return dec.decode(c.bytes());
      case 6: return c.bytes().slice();
      case 7: { const a: Value[] = []; for (let n = c.n(); n > 0; n--) a.push(read()); return a; }
      case 8: {
        const o: Record<string, Value> = {};
        for (let n = c.n(); n > 0; n--) { const k = dec.decode(c.bytes()); Object.defineProperty(o, k, { value: read(), enumerable: true, writable: true, configurable: true }); }
        return o;
      }
    }
    throw new RangeError(`old value tag ${tag}`);
  };
  const v = read();
  if (c.p !== b.length) throw new RangeError("trailing bytes after an old value");
  return v;
}

// ---- legacy states -------------------------------------------------------------

type Rewrite = (b: Uint8Array) => Uint8Array;
const toOld: Rewrite = (b) => encodeValueV1(decodeValue(b));
const toNew: Rewrite = (b) => encodeValue(decodeValueV1(b)).slice();

// A length-prefixed value, rewritten, length-prefixed.
function value(c: Cursor, out: number[], rw: Rewrite): Uint8Array {
  const x = rw(c.bytes());
  bytes(out, x);
  return x;
}

function body(c: Cursor, s: Spec, out: number[], rw: Rewrite): void {
  const v = () => varint(out, c.varint());
  const raw = () => bytes(out, c.bytes());
  const count = (): number => { const n = c.n(); varint(out, n); return n; };
  const context = () => {
    for (let i = count(); i > 0; i--) { raw(); v(); }
    for (let i = count(); i > 0; i--) { raw(); v(); }
  };
  // A sorted list: each entry rewritten on its own, then the entries in old byte order.
  const list = (rest: (e: number[]) => void) => {
    const n = count();
    const es: { k: Uint8Array; b: number[] }[] = [];
    for (let i = 0; i < n; i++) {
      const b: number[] = [];
      const k = value(c, b, rw);
      rest(b);
      es.push({ k, b });
    }
    es.sort((x, y) => compare(x.k, y.k));
    for (const e of es) out.push(...e.b);
  };
  switch (s.tag) {
    case 1: for (let i = count(); i > 0; i--) { raw(); v(); } break;
    case 2: body(c, { tag: 1 }, out, rw); body(c, { tag: 1 }, out, rw); break;
    case 3: v(); break;
    case 5: { const f = c.u8(); out.push(f); if (f === 1) value(c, out, rw); break; }
    case 6: { const f = c.u8(); out.push(f); if (f === 1) { v(); raw(); value(c, out, rw); } break; }
    case 8: list(() => {}); break;
    case 9: body(c, { tag: 8 }, out, rw); body(c, { tag: 8 }, out, rw); break;
    case 4: case 7:
      context();
      for (let i = count(); i > 0; i--) { raw(); v(); if (s.tag === 7) value(c, out, rw); }
      break;
    case 10: context(); list((b) => { const m = c.n(); varint(b, m); for (let j = 0; j < m; j++) { bytes(b, c.bytes()); varint(b, c.varint()); } }); break;
    case 11: list((b) => { const m = c.n(); varint(b, m); for (let j = 0; j < m; j++) { bytes(b, c.bytes()); varint(b, c.varint()); b.push(c.u8()); } }); break;
    case 12: list((b) => body(c, s.a!, b, rw)); break;
    case 13: body(c, { tag: 10 }, out, rw); list((b) => body(c, s.a!, b, rw)); break;
    case 14: body(c, s.a!, out, rw); body(c, s.b!, out, rw); break;
    case 15: list((b) => varint(b, c.varint())); break;
    default: throw new RangeError(`tag ${s.tag}`);
  }
}

// The version 1 or 2 bytes an older build wrote for the state whose expanded
// layout (version byte 1, version 3 values) is `layout`.
export function legacyOf(layout: Uint8Array, version: 1 | 2): Uint8Array {
  const c = new Cursor(layout);
  if (c.u8() !== 0x54 || c.u8() !== 0x52 || c.u8() !== 1) throw new RangeError("not the expanded layout");
  const specAt = c.p;
  readSpec(c);
  const out = [0x54, 0x52, 1, ...layout.subarray(specAt, c.p)];
  const spec = readSpec(new Cursor(layout.subarray(specAt)));
  body(c, spec, out, toOld);
  if (c.p !== layout.length) throw new RangeError("trailing bytes");
  const v1 = Uint8Array.from(out);
  return version === 1 ? v1 : compactV1(v1, 2);
}

// The other way: the expanded layout, with version 3's values and lists in
// their new order, of a version 1 state (as the kernel reads it).
export function modernOf(v1: Uint8Array): Uint8Array {
  const c = new Cursor(v1);
  if (c.u8() !== 0x54 || c.u8() !== 0x52 || c.u8() !== 1) throw new RangeError("not a version 1 state");
  const specAt = c.p;
  readSpec(c);
  const out = [0x54, 0x52, 1, ...v1.subarray(specAt, c.p)];
  body(c, readSpec(new Cursor(v1.subarray(specAt))), out, toNew);
  if (c.p !== v1.length) throw new RangeError("trailing bytes");
  return Uint8Array.from(out);
}

// The version 3 encoding of a state the kernel accepted in any version,
// computed in TS: version 1 and 2 values rewritten (modernOf), then the TS
// compaction. `expand` is the host's v1Layout (which writes out version 2's
// table and keys), passed in so this file stays free of the kernel's modules.
export function asV3(b: Uint8Array, expand: (b: Uint8Array) => Uint8Array): Uint8Array {
  if (b[2] === 1) return compactV1(modernOf(b));
  if (b[2] !== 2) return b;
  const layout = expand(b).slice();
  layout[2] = 1;
  return compactV1(modernOf(layout));
}
