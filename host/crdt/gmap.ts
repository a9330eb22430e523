// Grow-only map of nested lattices: key -> a value of one CRDT type, merged
// key by key. Keys are never removed (use AWMap for that); a key updated by an
// op that changed nothing is still recorded.
import { adopt, decodeAs } from "./base.js";
import { ByteWriter } from "./bytes.js";
import { Tag, TypeLike, TypeSpec } from "./spec.js";
import { register } from "./registry.js";
import { Value } from "./value.js";
import { writeElement } from "./set.js";
import { MapCrdt, Op, valueSpec } from "./map.js";
export type { Op } from "./map.js";

export class GMap<V = unknown> extends MapCrdt<V> {
  // A GMap has no spec of its own: name one with GMap.of(valueType).
  static get spec(): TypeSpec { throw new TypeError("GMap needs a value type: use GMap.of(valueType)"); }
  static of(valueType: TypeLike): TypeSpec { return { tag: Tag.GMap, value: valueSpec(valueType, "GMap") }; }

  // Ops for nesting: `outer.update("a", GMap.ops.update("b", GCounter.ops.increment()))`.
  static readonly ops = {
    update: (key: Value, op: Op) => (w: ByteWriter) => { w.u8(0); writeElement(w, key); op(w); },
  };

  constructor(replica: string | undefined, valueType: TypeLike) { super(GMap.of(valueType), replica); }

  // Applies a nested op (one of the value class's static `ops`) to the value under key.
  update(key: Value, op: Op): this { this.op(GMap.ops.update(key, op)); return this; }

  static decode<V = unknown>(bytes: Uint8Array, replica?: string): GMap<V> { return decodeAs(bytes, Tag.GMap, replica); }
  static fromHandle(h: number, spec: TypeSpec, replica?: string): GMap { return adopt(h, () => new GMap(replica, spec.value!)); }
}
register(Tag.GMap, GMap);
