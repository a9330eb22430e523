// User values as kernel keys (set elements, map keys, register values), and
// the surface every set type shares: membership, size, elements in canonical
// (byte) order.
import { Crdt } from "./base.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { Value, decodeValue, writeValue } from "./value.js";

// An element's canonical bytes, length-prefixed, as the kernel expects a key.
export function writeElement(w: ByteWriter, v: Value): void {
  const start = w.pos;
  w.u8(0); // placeholder length byte, fixed up below
  const body = w.pos;
  writeValue(w, v);
  const len = w.pos - body;
  if (len < 0x80) { w.buf[start] = len; return; }
  const bytes = w.buf.slice(body, w.pos);
  w.pos = start;
  w.bytes(bytes);
}

export function elementKey(v: Value): Uint8Array {
  const w = new ByteWriter(32);
  writeElement(w, v);
  return w.finish();
}

// query := count element*  (elements as length-prefixed value bytes, sorted)
export function readElements<T extends Value>(r: ByteReader): T[] {
  const n = r.varint();
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(decodeValue(r.bytes()) as T);
  return out;
}

export abstract class SetCrdt<T extends Value> extends Crdt<T[]> {
  has(v: T): boolean { return this.wasm.call("has", elementKey(v), this.h) === 1; }
  get size(): number { return this.wasm.int("size", this.h); }

  // Elements in canonical (byte) order.
  values(): T[] { return readElements<T>(this.queryReader()); }
  get value(): T[] { return this.values(); }
  [Symbol.iterator](): Iterator<T> { return this.values()[Symbol.iterator](); }

  // query := count element*
  static readQuery(r: ByteReader): Value[] { return readElements(r); }
}
