// Single-assignment variable. Setting it twice to different values is a
// programming error, refused locally with PRECONDITION; replicas that assign
// different values concurrently converge on the value whose canonical bytes
// are greater.
import { Crdt, adopt, decodeAs } from "./base.js";
import { ByteReader, ByteWriter, equalBytes } from "./bytes.js";
import { Tag, TypeSpec } from "./spec.js";
import { register } from "./registry.js";
import { Value, decodeValue, encodeValue } from "./value.js";
import { writeElement } from "./set.js";
import { TrellisError } from "../wasm/errors.js";

export class IVar<T extends Value = Value> extends Crdt<T | undefined> {
  static readonly spec: TypeSpec = { tag: Tag.IVar };

  // No local check here: inside a map the kernel alone decides (byte-greater wins).
  static readonly ops = {
    set: (v: Value) => (w: ByteWriter) => { w.u8(0); writeElement(w, v); },
  };

  constructor(replica?: string) { super(IVar.spec, replica); }

  // Assigns v. Throws PRECONDITION if already assigned a different value;
  // assigning the same value again does nothing.
  set(v: T): this {
    const bytes = encodeValue(v);
    const cur = this.queryReader();
    if (cur.u8() === 1 && !equalBytes(cur.bytes(), bytes)) {
      throw new TrellisError("PRECONDITION", "IVar is already assigned a different value");
    }
    this.op(IVar.ops.set(v));
    return this;
  }

  get isSet(): boolean { return !this.isBottom; }

  get value(): T | undefined { return IVar.readQuery(this.queryReader()) as T | undefined; }

  // query := 0 | 1 value:bytes
  static readQuery(r: ByteReader): Value | undefined {
    return r.u8() === 1 ? decodeValue(r.bytes()) : undefined;
  }
  static decode<T extends Value = Value>(bytes: Uint8Array, replica?: string): IVar<T> { return decodeAs(bytes, Tag.IVar, replica); }
  static fromHandle(h: number, _spec: TypeSpec, replica?: string): IVar { return adopt(h, () => new IVar(replica)); }
}
register(Tag.IVar, IVar);
