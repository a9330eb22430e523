// Two-phase set: an element can be added, then removed, and once removed it
// can never come back (its tombstone wins over every later or concurrent add).
import { adopt, decodeAs } from "./base.js";
import { ByteWriter } from "./bytes.js";
import { Tag, TypeSpec } from "./spec.js";
import { register } from "./registry.js";
import { Value } from "./value.js";
import { SetCrdt, writeElement } from "./set.js";
import { TrellisError } from "../wasm/errors.js";

export class TwoPSet<T extends Value = Value> extends SetCrdt<T> {
  static readonly spec: TypeSpec = { tag: Tag.TwoPSet };

  // Inside maps the kernel accepts any remove (a never-seen element becomes a
  // tombstone, so it can never be added there).
  static readonly ops = {
    add: (v: Value) => (w: ByteWriter) => { w.u8(0); writeElement(w, v); },
    remove: (v: Value) => (w: ByteWriter) => { w.u8(1); writeElement(w, v); },
  };

  constructor(replica?: string) { super(TwoPSet.spec, replica); }

  // Adding an element that was removed changes nothing.
  add(v: T): this { this.op(TwoPSet.ops.add(v)); return this; }

  // Removes v for good. Throws PRECONDITION unless v is currently present.
  remove(v: T): this {
    if (!this.has(v)) throw new TrellisError("PRECONDITION", "TwoPSet.remove of an element that is not present");
    this.op(TwoPSet.ops.remove(v));
    return this;
  }

  static decode<T extends Value = Value>(bytes: Uint8Array, replica?: string): TwoPSet<T> { return decodeAs(bytes, Tag.TwoPSet, replica); }
  static fromHandle(h: number, _spec: TypeSpec, replica?: string): TwoPSet { return adopt(h, () => new TwoPSet(replica)); }
}
register(Tag.TwoPSet, TwoPSet);
