// Multi-value register: a set overwrites every value it has seen; concurrent
// sets all survive, and a read returns each of them (sorted by their bytes,
// duplicates merged) so the application can resolve the conflict.
import { Crdt, adopt, decodeAs } from "./base.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { Tag, TypeSpec } from "./spec.js";
import { register } from "./registry.js";
import { Value } from "./value.js";
import { readElements, writeElement } from "./set.js";

export class MVRegister<T extends Value = Value> extends Crdt<T[]> {
  static readonly spec: TypeSpec = { tag: Tag.MVRegister };

  static readonly ops = {
    set: (v: Value) => (w: ByteWriter) => { w.u8(0); writeElement(w, v); },
    clear: () => (w: ByteWriter) => { w.u8(1); },
  };

  constructor(replica?: string) { super(MVRegister.spec, replica); }

  set(v: T): this { this.op(MVRegister.ops.set(v)); return this; }
  // Removes the values seen so far (a concurrent set survives).
  clear(): this { this.op(MVRegister.ops.clear()); return this; }

  // Every concurrent value, in canonical (byte) order; [] when never set or cleared.
  values(): T[] { return readElements<T>(this.queryReader()); }
  get value(): T[] { return this.values(); }

  // query := count value*  (distinct, sorted by bytes)
  static readQuery(r: ByteReader): Value[] { return readElements(r); }
  static decode<T extends Value = Value>(bytes: Uint8Array, replica?: string): MVRegister<T> { return decodeAs(bytes, Tag.MVRegister, replica); }
  static fromHandle(h: number, _spec: TypeSpec, replica?: string): MVRegister { return adopt(h, () => new MVRegister(replica)); }
}
register(Tag.MVRegister, MVRegister);
