// The lattice of derived sets: an observed-remove set with tombstones whose
// tokens record provenance (Lasp's orset with provenance). Each element maps
// to tokens, each active or removed; an element is present while one of its
// tokens is active. Join is token union with "removed" OR-ed, so every
// combinator that maps tokens to tokens (map, filter, union, product,
// intersection) is a lattice morphism, and a delta is just a small state.
//
// Tokens are interned numbers: an input dot, an element of a grow-only set,
// or a pair/tag built from other tokens. The numbers are local to one Runtime
// (derived states are recomputed on every replica, never shipped), so only
// their identity matters.
import type { Value } from "../crdt/value.js";
import { ByteWriter } from "../crdt/bytes.js";

export class Tokens {
  #ids = new Map<string, number>();
  #names: string[] = [];

  id(name: string): number {
    let t = this.#ids.get(name);
    if (t === undefined) {
      t = this.#names.length;
      this.#ids.set(name, t);
      this.#names.push(name);
    }
    return t;
  }

  // The token of an output built from two input tokens (product, intersection).
  pair(a: number, b: number): number { return this.id(`p${a},${b}`); }
  // A token tagged with the input it came from (union), so equal tokens of two
  // inputs stay distinct.
  tag(side: number, t: number): number { return this.id(`u${side},${t}`); }
  name(t: number): string { return this.#names[t]; }
  get size(): number { return this.#names.length; }
}

// One token of one element: the unit of every delta between processes.
export interface Item {
  key: string;      // the element's canonical value bytes as a byte string (sorts in byte order)
  value: Value;
  token: number;
  removed: boolean;
}

export interface Entry {
  value: Value;
  tokens: Map<number, boolean>; // token -> removed
  active: number;               // tokens not removed
}

// A liveness change of one element caused by a join.
export interface Flip { key: string; value: Value; live: boolean }

export class ProvSet {
  readonly entries = new Map<string, Entry>();
  #live = 0;
  #sorted: string[] | null = null;

  get size(): number { return this.#live; }

  has(key: string): boolean { const e = this.entries.get(key); return e !== undefined && e.active > 0; }

  // this := this ⊔ items. Returns the items that changed this (the strict
  // inflation, what downstream processes need) and pushes liveness flips.
  join(items: Iterable<Item>, flips?: Flip[]): Item[] {
    const out: Item[] = [];
    for (const it of items) {
      let e = this.entries.get(it.key);
      if (e === undefined) {
        e = { value: it.value, tokens: new Map(), active: 0 };
        this.entries.set(it.key, e);
        this.#sorted = null;
      }
      const had = e.tokens.get(it.token);
      if (had === true || (had === false && !it.removed)) continue;
      const wasLive = e.active > 0;
      if (had === undefined) { if (!it.removed) e.active++; } else e.active--; // false -> true
      e.tokens.set(it.token, it.removed);
      out.push(it);
      const live = e.active > 0;
      if (live !== wasLive) {
        this.#live += live ? 1 : -1;
        flips?.push({ key: it.key, value: e.value, live });
      }
    }
    return out;
  }

  // Every token as an item: the whole state as a delta.
  *items(): IterableIterator<Item> {
    for (const [key, e] of this.entries) for (const [token, removed] of e.tokens) yield { key, value: e.value, token, removed };
  }

  // Items of one element.
  *itemsOf(key: string): IterableIterator<Item> {
    const e = this.entries.get(key);
    if (e) for (const [token, removed] of e.tokens) yield { key, value: e.value, token, removed };
  }

  #keys(): string[] {
    if (this.#sorted === null) this.#sorted = [...this.entries.keys()].sort(byBytes);
    return this.#sorted;
  }

  // Present elements in canonical (byte) order, as the kernel sets list them.
  values(): Value[] {
    const out: Value[] = [];
    for (const k of this.#keys()) { const e = this.entries.get(k)!; if (e.active > 0) out.push(e.value); }
    return out;
  }

  clone(): ProvSet {
    const c = new ProvSet();
    c.join(this.items());
    return c;
  }

  merge(other: ProvSet): boolean { return this.join(other.items()).length > 0; }

  leq(other: ProvSet): boolean {
    for (const [k, e] of this.entries) {
      const o = other.entries.get(k);
      if (!o) return false;
      for (const [t, r] of e.tokens) { const x = o.tokens.get(t); if (x === undefined || (r && !x)) return false; }
    }
    return true;
  }

  // Canonical bytes (for comparing states in tests): elements in byte order,
  // tokens by id, each with its removed flag. Token ids are local to a Runtime.
  encode(): Uint8Array {
    const w = new ByteWriter(64);
    const keys = this.#keys();
    w.varint(keys.length);
    for (const k of keys) {
      const e = this.entries.get(k)!;
      w.string(k);
      const ts = [...e.tokens.keys()].sort((a, b) => a - b);
      w.varint(ts.length);
      for (const t of ts) { w.varint(t); w.u8(e.tokens.get(t) ? 1 : 0); }
    }
    return w.finish();
  }
}

const byBytes = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

// Canonical value bytes as a string of char codes 0..255: a Map key that
// compares in byte order.
export function bytesKey(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  return s;
}
