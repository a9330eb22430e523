// Product of two lattices, merged componentwise: `new Pair("r1", GCounter, AWSet)`.
import { Crdt, adopt, decodeAs } from "./base.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { Tag, TypeLike, TypeSpec } from "./spec.js";
import { readQuery, register } from "./registry.js";
import { Op, valueSpec } from "./map.js";

export class Pair<A = unknown, B = unknown> extends Crdt<[A, B]> {
  // A Pair has no spec of its own: name one with Pair.of(a, b).
  static get spec(): TypeSpec { throw new TypeError("Pair needs two types: use Pair.of(a, b)"); }
  static of(a: TypeLike, b: TypeLike): TypeSpec {
    return { tag: Tag.Pair, a: valueSpec(a, "Pair"), b: valueSpec(b, "Pair") };
  }

  static readonly ops = {
    first: (op: Op) => (w: ByteWriter) => { w.u8(0); op(w); },
    second: (op: Op) => (w: ByteWriter) => { w.u8(1); op(w); },
  };

  constructor(replica: string | undefined, a: TypeLike, b: TypeLike) { super(Pair.of(a, b), replica); }

  // Apply a nested op (one of the component class's static `ops`).
  updateFirst(op: Op): this { this.op(Pair.ops.first(op)); return this; }
  updateSecond(op: Op): this { this.op(Pair.ops.second(op)); return this; }

  get first(): A { return this.value[0]; }
  get second(): B { return this.value[1]; }
  get value(): [A, B] { return Pair.readQuery(this.queryReader(), this.spec) as [A, B]; }

  // query := first query, second query
  static readQuery(r: ByteReader, spec: TypeSpec): [unknown, unknown] {
    const a = readQuery(r, spec.a!);
    return [a, readQuery(r, spec.b!)];
  }
  static decode<A = unknown, B = unknown>(bytes: Uint8Array, replica?: string): Pair<A, B> { return decodeAs(bytes, Tag.Pair, replica); }
  static fromHandle(h: number, spec: TypeSpec, replica?: string): Pair { return adopt(h, () => new Pair(replica, spec.a!, spec.b!)); }
}
register(Tag.Pair, Pair);
