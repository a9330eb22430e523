// Add-wins set: a remove only removes the adds it has seen, so a concurrent
// add wins. No tombstones: removed elements leave only their dots in the
// compact causal context.
import { Crdt, adopt, decodeAs } from "./base.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { Tag, TypeSpec } from "./spec.js";
import { register } from "./registry.js";
import { Value, decodeValue, writeValue } from "./value.js";
import { kernel } from "../wasm/kernel.js";

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

export class AWSet<T extends Value = Value> extends Crdt<T[]> {
  static readonly spec: TypeSpec = { tag: Tag.AWSet };

  static readonly ops = {
    add: (v: Value) => (w: ByteWriter) => { w.u8(0); writeElement(w, v); },
    remove: (v: Value) => (w: ByteWriter) => { w.u8(1); writeElement(w, v); },
    clear: () => (w: ByteWriter) => { w.u8(2); },
  };

  constructor(replica?: string) { super(AWSet.spec, replica); }

  add(v: T): this { this.op(AWSet.ops.add(v)); return this; }
  remove(v: T): this { this.op(AWSet.ops.remove(v)); return this; }
  clear(): this { this.op(AWSet.ops.clear()); return this; }

  has(v: T): boolean { return kernel().call("has", elementKey(v), this.h) === 1; }
  get size(): number { return kernel().int("size", this.h); }

  // Elements in canonical (byte) order.
  values(): T[] { return readElements<T>(this.queryReader()); }
  get value(): T[] { return this.values(); }
  [Symbol.iterator](): Iterator<T> { return this.values()[Symbol.iterator](); }

  static readQuery(r: ByteReader): Value[] { return readElements(r); }
  static decode<T extends Value = Value>(bytes: Uint8Array, replica?: string): AWSet<T> { return decodeAs(bytes, Tag.AWSet, replica); }
  static fromHandle(h: number, _spec: TypeSpec, replica: string): AWSet { return adopt(h, () => new AWSet(replica)); }
}
register(Tag.AWSet, AWSet);
