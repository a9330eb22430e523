// Add-wins map of nested lattices. A key is present while some update of it
// has not been seen by a remove: a remove concurrent with an update loses.
import { adopt, decodeAs } from "./base.js";
import { ByteWriter } from "./bytes.js";
import { Tag, TypeLike, TypeSpec } from "./spec.js";
import { register } from "./registry.js";
import { Value } from "./value.js";
import { writeElement } from "./set.js";
import { MapCrdt, Op, valueSpec } from "./map.js";

/**
 * Add-wins map: key -> a value of one CRDT type (`new AWMap("r1", GCounter)`).
 *
 * `remove(key)` hides the key unless an update it has not seen is concurrent.
 * What happens to the removed value depends on the value type:
 * - causal types (AWSet, MVRegister, EWFlag, AWMap) are cleared of everything
 *   the remove observed, so a key updated again starts afresh (keeping only
 *   concurrent updates);
 * - other types (GCounter, PNCounter, MaxInt, LWWRegister, IVar, GSet,
 *   TwoPSet, ORSet, TopK, GMap, Pair) cannot forget: their value is kept out
 *   of sight and shows again, with all it accumulated, if the key is updated
 *   later. A counter removed at 5 and then incremented by 1 reads 6.
 */
export class AWMap<V = unknown> extends MapCrdt<V> {
  // An AWMap has no spec of its own: name one with AWMap.of(valueType).
  static get spec(): TypeSpec { throw new TypeError("AWMap needs a value type: use AWMap.of(valueType)"); }
  static of(valueType: TypeLike): TypeSpec { return { tag: Tag.AWMap, value: valueSpec(valueType, "AWMap") }; }

  static readonly ops = {
    update: (key: Value, op: Op) => (w: ByteWriter) => { w.u8(0); writeElement(w, key); op(w); },
    remove: (key: Value) => (w: ByteWriter) => { w.u8(1); writeElement(w, key); },
    // Removes every key observed.
    clear: () => (w: ByteWriter) => { w.u8(2); },
  };

  constructor(replica: string | undefined, valueType: TypeLike) { super(AWMap.of(valueType), replica); }

  // Applies a nested op (one of the value class's static `ops`) to the value under key, and makes the key present.
  update(key: Value, op: Op): this { this.op(AWMap.ops.update(key, op)); return this; }
  remove(key: Value): this { this.op(AWMap.ops.remove(key)); return this; }
  clear(): this { this.op(AWMap.ops.clear()); return this; }

  // get, has, keys, entries, size and value show present keys only.
  static decode<V = unknown>(bytes: Uint8Array, replica?: string): AWMap<V> { return decodeAs(bytes, Tag.AWMap, replica); }
  static fromHandle(h: number, spec: TypeSpec, replica?: string): AWMap { return adopt(h, () => new AWMap(replica, spec.value!)); }
}
register(Tag.AWMap, AWMap);
