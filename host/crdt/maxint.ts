// Max register: the greatest number ever set (0 until then).
import { Crdt, adopt, decodeAs } from "./base.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { Tag, TypeSpec } from "./spec.js";
import { register } from "./registry.js";
import { checkCount } from "./gcounter.js";

export class MaxInt extends Crdt<number> {
  static readonly spec: TypeSpec = { tag: Tag.MaxInt };

  static readonly ops = {
    set: (n: number) => (w: ByteWriter) => { w.u8(0); w.varint(checkCount(n)); },
  };

  constructor(replica?: string) { super(MaxInt.spec, replica); }

  // Raises the value to n; a smaller n changes nothing.
  set(n: number): void { this.op(MaxInt.ops.set(n)); }

  // Exact up to 2^53 (the kernel holds u64).
  get value(): number { return MaxInt.readQuery(this.queryReader()); }

  static readQuery(r: ByteReader): number { return r.varint(); }
  static decode(bytes: Uint8Array, replica?: string): MaxInt { return decodeAs(bytes, Tag.MaxInt, replica); }
  static fromHandle(h: number, _spec: TypeSpec, replica?: string): MaxInt { return adopt(h, () => new MaxInt(replica)); }
}
register(Tag.MaxInt, MaxInt);
