// Grow-only counter. Each replica counts its own increments; the value is the sum.
import { Crdt, adopt, decodeAs } from "./base.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { Tag, TypeSpec } from "./spec.js";
import { register } from "./registry.js";
import { describeValue } from "../wasm/errors.js";

export class GCounter extends Crdt<number> {
  static readonly spec: TypeSpec = { tag: Tag.GCounter };

  // Ops for use inside maps: `map.update(key, GCounter.ops.increment(2))`.
  static readonly ops = {
    increment: (n = 1) => (w: ByteWriter) => { w.u8(0); w.varint(checkCount(n)); },
  };

  constructor(replica?: string) { super(GCounter.spec, replica); }

  increment(n = 1): void { this.op(GCounter.ops.increment(n)); }

  // The total. Exact up to 2^53; counts beyond that lose precision.
  get value(): number { return GCounter.readQuery(this.queryReader()); }

  static readQuery(r: ByteReader): number { return r.varint(); }
  static decode(bytes: Uint8Array, replica?: string): GCounter { return decodeAs(bytes, Tag.GCounter, replica); }
  static fromHandle(h: number, _spec: TypeSpec, replica?: string): GCounter { return adopt(h, () => new GCounter(replica)); }
}
register(Tag.GCounter, GCounter);

// Increments are non-negative safe integers.
export function checkCount(n: number): number {
  if (typeof n !== "number") throw new TypeError(`expected a number, got ${describeValue(n)}`);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`expected a non-negative safe integer, got ${n}`);
  return n;
}
