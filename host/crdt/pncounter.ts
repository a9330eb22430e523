// Positive-negative counter: increments and decrements counted per replica
// (two grow-only counters); the value is their difference.
import { Crdt, adopt, decodeAs } from "./base.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { Tag, TypeSpec } from "./spec.js";
import { register } from "./registry.js";
import { checkCount } from "./gcounter.js";

export class PNCounter extends Crdt<number> {
  static readonly spec: TypeSpec = { tag: Tag.PNCounter };

  // Ops for use inside maps: `map.update(key, PNCounter.ops.decrement(2))`.
  static readonly ops = {
    increment: (n = 1) => (w: ByteWriter) => { w.u8(0); w.varint(checkCount(n)); },
    decrement: (n = 1) => (w: ByteWriter) => { w.u8(1); w.varint(checkCount(n)); },
  };

  constructor(replica?: string) { super(PNCounter.spec, replica); }

  increment(n = 1): void { this.op(PNCounter.ops.increment(n)); }
  decrement(n = 1): void { this.op(PNCounter.ops.decrement(n)); }

  // Increments minus decrements. Exact while |value| ≤ 2^53.
  get value(): number { return PNCounter.readQuery(this.queryReader()); }

  // query := zigzag varint (z even: z / 2; z odd: −(z + 1) / 2)
  static readQuery(r: ByteReader): number {
    const at = r.pos;
    const z = r.varint();
    if (z <= Number.MAX_SAFE_INTEGER) return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    // Beyond 2^53 a number loses the sign bit (the lowest): decode exactly, then round.
    r.pos = at;
    const b = r.bigVarint();
    return Number(b & 1n ? -((b + 1n) >> 1n) : b >> 1n);
  }
  static decode(bytes: Uint8Array, replica?: string): PNCounter { return decodeAs(bytes, Tag.PNCounter, replica); }
  static fromHandle(h: number, _spec: TypeSpec, replica?: string): PNCounter { return adopt(h, () => new PNCounter(replica)); }
}
register(Tag.PNCounter, PNCounter);
