// Grow-only set: elements are only ever added.
import { adopt, decodeAs } from "./base.js";
import { ByteWriter } from "./bytes.js";
import { Tag, TypeSpec } from "./spec.js";
import { register } from "./registry.js";
import { Value } from "./value.js";
import { SetCrdt, writeElement } from "./set.js";

export class GSet<T extends Value = Value> extends SetCrdt<T> {
  static readonly spec: TypeSpec = { tag: Tag.GSet };

  static readonly ops = {
    add: (v: Value) => (w: ByteWriter) => { w.u8(0); writeElement(w, v); },
  };

  constructor(replica?: string) { super(GSet.spec, replica); }

  add(v: T): this { this.op(GSet.ops.add(v)); return this; }

  static decode<T extends Value = Value>(bytes: Uint8Array, replica?: string): GSet<T> { return decodeAs(bytes, Tag.GSet, replica); }
  static fromHandle(h: number, _spec: TypeSpec, replica?: string): GSet { return adopt(h, () => new GSet(replica)); }
}
register(Tag.GSet, GSet);
