// Add-wins set: a remove only removes the adds it has seen, so a concurrent
// add wins. No tombstones: removed elements leave only their dots in the
// compact causal context.
import { adopt, decodeAs } from "./base.js";
import { SetCrdt, writeElement } from "./set.js";
import { ByteWriter } from "./bytes.js";
import { Tag, TypeSpec } from "./spec.js";
import { register } from "./registry.js";
import { Value } from "./value.js";

export class AWSet<T extends Value = Value> extends SetCrdt<T> {
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

  static decode<T extends Value = Value>(bytes: Uint8Array, replica?: string): AWSet<T> { return decodeAs(bytes, Tag.AWSet, replica); }
  static fromHandle(h: number, _spec: TypeSpec, replica?: string): AWSet { return adopt(h, () => new AWSet(replica)); }
}
register(Tag.AWSet, AWSet);
