// Grow-only set: elements are only ever added.
import { Crdt, adopt, decodeAs } from "./base.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { Tag, TypeSpec } from "./spec.js";
import { register } from "./registry.js";
import { Value } from "./value.js";
import { elementKey, readElements, writeElement } from "./awset.js";
import { kernel } from "../wasm/kernel.js";

export class GSet<T extends Value = Value> extends Crdt<T[]> {
  static readonly spec: TypeSpec = { tag: Tag.GSet };

  static readonly ops = {
    add: (v: Value) => (w: ByteWriter) => { w.u8(0); writeElement(w, v); },
  };

  constructor(replica?: string) { super(GSet.spec, replica); }

  add(v: T): this { this.op(GSet.ops.add(v)); return this; }

  has(v: T): boolean { return kernel().call("has", elementKey(v), this.h) === 1; }
  get size(): number { return kernel().int("size", this.h); }

  // Elements in canonical (byte) order.
  values(): T[] { return readElements<T>(this.queryReader()); }
  get value(): T[] { return this.values(); }
  [Symbol.iterator](): Iterator<T> { return this.values()[Symbol.iterator](); }

  // query := count element*
  static readQuery(r: ByteReader): Value[] { return readElements(r); }
  static decode<T extends Value = Value>(bytes: Uint8Array, replica?: string): GSet<T> { return decodeAs(bytes, Tag.GSet, replica); }
  static fromHandle(h: number, _spec: TypeSpec, replica: string): GSet { return adopt(h, () => new GSet(replica)); }
}
register(Tag.GSet, GSet);
