// Top-K: the k best (id, score) entries seen anywhere, keeping each id's best
// score; ranked by score descending, ties by id bytes ascending. Local top-K
// lists merge into the global top-K (the leaderboard).
import { Crdt, adopt, decodeAs } from "./base.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { MAX_TOPK, Tag, TypeSpec } from "./spec.js";
import { register } from "./registry.js";
import { Value, decodeValue } from "./value.js";
import { writeElement } from "./set.js";
import { checkCount } from "./gcounter.js";

export interface Ranked<T> { id: T; score: number }

export const DEFAULT_TOPK = 10;

function checkK(k: number): number {
  if (!Number.isInteger(k) || k < 1 || k > MAX_TOPK) throw new RangeError(`TopK k must be an integer in 1..${MAX_TOPK}, got ${k}`);
  return k;
}

export class TopK<T extends Value = Value> extends Crdt<Ranked<T>[]> {
  // The spec of TopK(DEFAULT_TOPK); use TopK.of(k) to nest another k.
  static readonly spec: TypeSpec = { tag: Tag.TopK, k: DEFAULT_TOPK };

  static of(k: number): TypeSpec { return { tag: Tag.TopK, k: checkK(k) }; }

  static readonly ops = {
    add: (id: Value, score: number) => (w: ByteWriter) => { w.u8(0); writeElement(w, id); w.varint(checkCount(score)); },
  };

  constructor(replica?: string, k: number = DEFAULT_TOPK) { super(TopK.of(k), replica); }

  get k(): number { return this.spec.k!; }

  // Offers (id, score); kept if it is among the k best (an id keeps its best score).
  add(id: T, score: number): this { this.op(TopK.ops.add(id, score)); return this; }

  // Number of entries (at most k).
  get size(): number { return this.wasm.int("size", this.h); }

  // Entries in rank order.
  get value(): Ranked<T>[] { return TopK.readQuery(this.queryReader()) as Ranked<T>[]; }

  // query := count, then (id:bytes, score:varint) in rank order
  static readQuery(r: ByteReader): Ranked<Value>[] {
    const n = r.varint();
    const out: Ranked<Value>[] = [];
    for (let i = 0; i < n; i++) {
      const id = decodeValue(r.bytes());
      out.push({ id, score: r.varint() });
    }
    return out;
  }
  static decode<T extends Value = Value>(bytes: Uint8Array, replica?: string): TopK<T> { return decodeAs(bytes, Tag.TopK, replica); }
  static fromHandle(h: number, spec: TypeSpec, replica?: string): TopK { return adopt(h, () => new TopK(replica, spec.k)); }
}
register(Tag.TopK, TopK);
