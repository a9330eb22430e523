// The monotone processes between variables. Each takes the items (tokens) its
// input gained and returns the items its output gains, so work is
// proportional to the delta, never to the whole state. Every one of them maps
// tokens to tokens, which makes it a lattice morphism of provenance sets
// (provenance.ts): f(a ⊔ b) = f(a) ⊔ f(b), checked in test/dataflow-laws.test.ts.
//
// User functions (map, filter, fold) are called once per distinct input
// element and cached, so a removal finds its output without calling them
// again, and a dry run (dry = true) can call them all before anything changes.
import { TrellisError } from "../wasm/errors.js";
import { Value, encodeValue } from "../crdt/value.js";
import { Flip, Item, ProvSet, Tokens, bytesKey } from "./provenance.js";

// A user function threw: names the variable whose process it belongs to.
export class DataflowError extends TrellisError {
  readonly variable: string;
  constructor(variable: string, message: string, cause?: unknown) {
    super("USER_FUNCTION", `${variable}: ${message}`);
    this.variable = variable;
    if (cause !== undefined) (this as { cause?: unknown }).cause = cause;
  }
}

export abstract class Process {
  // Set by the runtime: the variables this reads, and the one it writes.
  constructor(readonly output: string, readonly inputs: string[]) {}
  // Items gained by input `side` (with the liveness flips they caused) ->
  // items for the output. dry: a trial on candidate items; change nothing but caches.
  abstract push(side: number, items: Item[], flips: Flip[] | null, dry: boolean): Item[];
  // Forget the dry run's bookkeeping.
  endDry(): void {}

  protected call<R>(fn: (v: Value) => R, v: Value, what: string): R {
    try { return fn(v); } catch (e) {
      throw new DataflowError(this.output, `${what} threw: ${e instanceof Error ? e.message : String(e)}`, e);
    }
  }
}

export class MapProcess extends Process {
  #cache = new Map<string, { key: string; value: Value }>();
  constructor(output: string, input: string, readonly fn: (v: Value) => Value) { super(output, [input]); }

  push(_side: number, items: Item[]): Item[] {
    const out: Item[] = [];
    for (const it of items) {
      let m = this.#cache.get(it.key);
      if (m === undefined) {
        const value = this.call(this.fn, it.value, "map function");
        let b: Uint8Array;
        try { b = encodeValue(value); } catch (e) {
          throw new DataflowError(this.output, `map function returned a value trellis cannot store: ${(e as Error).message}`, e);
        }
        m = { key: bytesKey(b), value };
        this.#cache.set(it.key, m);
      }
      out.push({ key: m.key, value: m.value, token: it.token, removed: it.removed });
    }
    return out;
  }
}

export class FilterProcess extends Process {
  #cache = new Map<string, boolean>();
  constructor(output: string, input: string, readonly pred: (v: Value) => unknown) { super(output, [input]); }

  push(_side: number, items: Item[]): Item[] {
    const out: Item[] = [];
    for (const it of items) {
      let keep = this.#cache.get(it.key);
      if (keep === undefined) this.#cache.set(it.key, (keep = !!this.call(this.pred, it.value, "filter predicate")));
      if (keep) out.push(it);
    }
    return out;
  }
}

export class UnionProcess extends Process {
  constructor(output: string, inputs: string[], readonly tokens: Tokens) { super(output, inputs); }

  push(side: number, items: Item[], _f: Flip[] | null, dry: boolean): Item[] {
    return items.map((it) => ({ ...it, token: dry ? -1 : this.tokens.tag(side, it.token) }));
  }
}

// Binary processes see the other input's whole state (provenance included),
// plus, during a dry run, the candidates that input received in the same run.
abstract class Binary extends Process {
  #pending: Item[][] = [[], []];
  constructor(output: string, a: string, b: string, readonly tokens: Tokens, readonly state: (side: number) => ProvSet) {
    super(output, [a, b]);
  }

  protected others(side: number, dry: boolean, key?: string): Iterable<Item> {
    const s = this.state(1 - side);
    const mine = key === undefined ? s.items() : s.itemsOf(key);
    if (!dry) return mine;
    const extra = this.#pending[1 - side].filter((x) => key === undefined || x.key === key);
    return [...mine, ...extra];
  }

  protected note(side: number, items: Item[], dry: boolean): void { if (dry) this.#pending[side].push(...items); }
  override endDry(): void { this.#pending = [[], []]; }

  protected joinTokens(side: number, mine: Item, other: Item, dry: boolean): number {
    if (dry) return -1;
    return side === 0 ? this.tokens.pair(mine.token, other.token) : this.tokens.pair(other.token, mine.token);
  }
}

// A × B: the pair [a, b] carries the pair of their tokens; removed if either is.
export class ProductProcess extends Binary {
  push(side: number, items: Item[], _f: Flip[] | null, dry: boolean): Item[] {
    const out: Item[] = [];
    const others = [...this.others(side, dry)];
    for (const it of items) {
      for (const o of others) {
        const [a, b] = side === 0 ? [it, o] : [o, it];
        // The canonical bytes of the array [a, b] (docs/format.md, "User
        // values"): tag 0x08, both values (self-delimiting), the end 0x00.
        out.push({ key: "\u0008" + a.key + b.key + "\u0000", value: [a.value, b.value], token: this.joinTokens(side, it, o, dry), removed: it.removed || o.removed });
      }
    }
    this.note(side, items, dry);
    return out;
  }
}

// A ∩ B: an element present in both, one token per pair of their tokens.
export class IntersectionProcess extends Binary {
  push(side: number, items: Item[], _f: Flip[] | null, dry: boolean): Item[] {
    const out: Item[] = [];
    for (const it of items) {
      for (const o of this.others(side, dry, it.key)) {
        out.push({ key: it.key, value: it.value, token: this.joinTokens(side, it, o, dry), removed: it.removed || o.removed });
      }
    }
    this.note(side, items, dry);
    return out;
  }
}

// fold into a sum: the value is Σ f(e) over the present elements. Adding an
// element adds f(e); losing it subtracts f(e) again (the inverse a group has),
// so the incremental sum always equals the sum recomputed from scratch.
export class SumProcess extends Process {
  #cache = new Map<string, number>();
  sum = 0;
  constructor(output: string, input: string, readonly fn: (v: Value) => number, readonly nonNegative: boolean) { super(output, [input]); }

  #g(key: string, v: Value): number {
    let g = this.#cache.get(key);
    if (g === undefined) {
      g = this.call(this.fn, v, "fold function");
      if (!Number.isSafeInteger(g) || (this.nonNegative && g < 0)) {
        throw new DataflowError(this.output, `fold function returned ${String(g)}; a ${this.nonNegative ? "GCounter needs a non-negative" : "PNCounter needs a safe"} integer`);
      }
      this.#cache.set(key, g);
    }
    return g;
  }

  push(_side: number, items: Item[], flips: Flip[] | null, dry: boolean): Item[] {
    if (dry) { for (const it of items) this.#g(it.key, it.value); return []; }
    for (const f of flips!) this.sum += (f.live ? 1 : -1) * this.#g(f.key, f.value);
    return [];
  }
}

// fold into any other lattice (grow-only inputs only): each element that
// becomes present contributes once, through `apply` (an op on the output).
export class JoinFoldProcess<C> extends Process {
  #cache = new Map<string, C>();
  constructor(output: string, input: string, readonly fn: (v: Value) => C, readonly check: (c: C) => void, readonly apply: (c: C) => void) {
    super(output, [input]);
  }

  #g(key: string, v: Value): C {
    let g = this.#cache.get(key);
    if (g === undefined) {
      g = this.call(this.fn, v, "fold function");
      try { this.check(g); } catch (e) { throw new DataflowError(this.output, `fold function returned an unusable op: ${(e as Error).message}`, e); }
      this.#cache.set(key, g);
    }
    return g;
  }

  push(_side: number, items: Item[], flips: Flip[] | null, dry: boolean): Item[] {
    if (dry) { for (const it of items) this.#g(it.key, it.value); return []; }
    for (const f of flips!) if (f.live) this.apply(this.#g(f.key, f.value));
    return [];
  }
}
