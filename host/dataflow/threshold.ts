// Thresholds of monotonic reads (Lasp's read with a threshold): a read
// resolves once the variable has reached the threshold in its order, and
// since states only grow, once reached it stays reached.
//
//   a state (instance or bytes) of the same type  threshold ⊑ state (⊏ when strict)
//   { atLeast: n }   counters, MaxInt, fold sums: value ≥ n (> when strict)
//   { size: n }      sets and maps: at least n present (more than n when strict)
//   { contains: [x, …] }   sets: every x present (strict: and something else too)
//
// On sets that can remove (AWSet, ORSet, TwoPSet and what derives from them)
// size and contains are not monotone: the read resolves at the first moment
// they hold.
import { Crdt, decodeState } from "../crdt/base.js";
import { TrellisError, describeValue } from "../wasm/errors.js";
import { Value, encodeValue } from "../crdt/value.js";
import { bytesKey } from "./provenance.js";
import { specName } from "../crdt/spec.js";

export type Threshold =
  | Crdt<unknown> | Uint8Array
  | { atLeast: number } | { size: number } | { contains: Value[] };

// What a threshold needs to know of a variable.
export interface Readable {
  id: string;
  crdt?: Crdt<unknown>;       // kernel-backed variables
  value(): unknown;
  size(): number | undefined; // sets and maps
  has(v: Value): boolean | undefined;
}

const count = (n: unknown, what: string): number => {
  if (typeof n !== "number" || !Number.isFinite(n)) throw new TypeError(`${what} must be a finite number, got ${describeValue(n)}`);
  return n;
};

// Returns a check that is true once the threshold is met.
export function thresholdCheck(v: Readable, t: Threshold, strict: boolean): () => boolean {
  if (t instanceof Uint8Array || t instanceof Crdt) {
    const c = v.crdt;
    if (!c) throw new TrellisError("TYPE_MISMATCH", `${v.id} is derived: use { size }, { contains } or { atLeast } thresholds`);
    const th = t instanceof Uint8Array ? decodeState(t) : t;
    if (specName(th.spec) !== specName(c.spec)) {
      throw new TrellisError("TYPE_MISMATCH", `threshold is ${specName(th.spec)}, ${v.id} is ${specName(c.spec)}`);
    }
    return () => th.leq(c) && (!strict || !c.leq(th));
  }
  if (t === null || typeof t !== "object") throw new TypeError("a threshold is a state, bytes, { atLeast }, { size } or { contains }");
  if ("atLeast" in t) {
    const n = count(t.atLeast, "atLeast");
    if (typeof v.value() !== "number") throw new TrellisError("TYPE_MISMATCH", `{ atLeast } needs a numeric variable; ${v.id} is not one`);
    return () => { const x = v.value() as number; return strict ? x > n : x >= n; };
  }
  if ("size" in t) {
    const n = count(t.size, "size");
    if (v.size() === undefined) throw new TrellisError("TYPE_MISMATCH", `{ size } needs a set or map; ${v.id} is not one`);
    return () => { const x = v.size()!; return strict ? x > n : x >= n; };
  }
  if ("contains" in t) {
    if (!Array.isArray(t.contains)) throw new TypeError("contains must be an array of values");
    const xs = t.contains;
    if (v.has(null) === undefined) throw new TrellisError("TYPE_MISMATCH", `{ contains } needs a set; ${v.id} is not one`);
    const distinct = new Set(xs.map((x) => bytesKey(encodeValue(x)))).size; // as the set counts them
    return () => xs.every((x) => v.has(x)) && (!strict || v.size()! > distinct);
  }
  throw new TypeError("a threshold is a state, bytes, { atLeast }, { size } or { contains }");
}
