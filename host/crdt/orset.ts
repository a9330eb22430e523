// Observed-remove set with tombstones (the classic OR-Set, Lasp's state_orset):
// each add creates a unique token; a remove marks the tokens it has seen as
// removed, so a concurrent add keeps the element. Removed tokens stay in the
// state for ever; AWSet gives the same behaviour without tombstones.
import { adopt, decodeAs } from "./base.js";
import { ByteWriter } from "./bytes.js";
import { Tag, TypeSpec } from "./spec.js";
import { register } from "./registry.js";
import { Value } from "./value.js";
import { SetCrdt, writeElement } from "./set.js";

export class ORSet<T extends Value = Value> extends SetCrdt<T> {
  static readonly spec: TypeSpec = { tag: Tag.ORSet };

  static readonly ops = {
    add: (v: Value) => (w: ByteWriter) => { w.u8(0); writeElement(w, v); },
    remove: (v: Value) => (w: ByteWriter) => { w.u8(1); writeElement(w, v); },
  };

  constructor(replica?: string) { super(ORSet.spec, replica); }

  add(v: T): this { this.op(ORSet.ops.add(v)); return this; }
  remove(v: T): this { this.op(ORSet.ops.remove(v)); return this; }

  // Elements with an active token, in canonical (byte) order.

  static decode<T extends Value = Value>(bytes: Uint8Array, replica?: string): ORSet<T> { return decodeAs(bytes, Tag.ORSet, replica); }
  static fromHandle(h: number, _spec: TypeSpec, replica?: string): ORSet { return adopt(h, () => new ORSet(replica)); }
}
register(Tag.ORSet, ORSet);
