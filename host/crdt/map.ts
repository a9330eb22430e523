// The surface both map types share (GMap, AWMap): values of one nested type
// under user-value keys, read through the nested type's query.
import { Crdt } from "./base.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { TypeLike, TypeSpec, toSpec } from "./spec.js";
import { readQuery } from "./registry.js";
import { Value, decodeValue } from "./value.js";
import { elementKey } from "./set.js";

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

export abstract class MapCrdt<V> extends Crdt<Map<Value, V>> {
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
}
