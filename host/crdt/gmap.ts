// Grow-only map of nested lattices: key -> a value of one CRDT type, merged
// key by key. Keys are never removed (use AWMap for that); a key updated by an
// op that changed nothing is still recorded.
import { Crdt, adopt, decodeAs } from "./base.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { Tag, TypeLike, TypeSpec, toSpec } from "./spec.js";
import { readQuery, register } from "./registry.js";
import { Value, decodeValue } from "./value.js";
import { elementKey, writeElement } from "./set.js";

// An encoded op of some type, as its class's static `ops` build them.
export type Op = (w: ByteWriter) => void;

// A map type's value spec, checked: nested maps and pairs need their parameters.
export function valueSpec(t: TypeLike | undefined, what: string): TypeSpec {
  if (t === undefined || t === null) throw new TypeError(`${what} needs a value type, e.g. ${what}.of(GCounter)`);
  return toSpec(t);
}

// query := count (key, nested query)*  (keys as length-prefixed value bytes, sorted)
export function readEntries(r: ByteReader, spec: TypeSpec): Map<Value, unknown> {
  const n = r.varint();
  const out = new Map<Value, unknown>();
  for (let i = 0; i < n; i++) {
    const k = decodeValue(r.bytes());
    out.set(k, readQuery(r, spec.value!));
  }
  return out;
}

export class GMap<V = unknown> extends Crdt<Map<Value, V>> {
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

  // The query value under key (as the value class's `value`), or undefined.
  get(key: Value): V | undefined {
    const b = this.wasm.get(this.h, elementKey(key));
    return b === null ? undefined : readQuery(new ByteReader(b), this.spec.value!) as V;
  }
  has(key: Value): boolean { return this.wasm.call("has", elementKey(key), this.h) === 1; }
  get size(): number { return this.wasm.int("size", this.h); }

  // Keys in canonical (byte) order.
  keys(): Value[] { return [...this.value.keys()]; }
  entries(): [Value, V][] { return [...this.value.entries()]; }
  get value(): Map<Value, V> { return readEntries(this.queryReader(), this.spec) as Map<Value, V>; }

  static readQuery(r: ByteReader, spec: TypeSpec): Map<Value, unknown> { return readEntries(r, spec); }
  static decode<V = unknown>(bytes: Uint8Array, replica?: string): GMap<V> { return decodeAs(bytes, Tag.GMap, replica); }
  static fromHandle(h: number, spec: TypeSpec, replica: string): GMap { return adopt(h, () => new GMap(replica, spec.value!)); }
}
register(Tag.GMap, GMap);
