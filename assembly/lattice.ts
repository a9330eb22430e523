// The lattice contract every kernel type implements (DESIGN.md, "The lattice
// contract"). leq and delta are defined by join and decompose; each type
// implements them directly, and applyOp has a generic default.
import { Reader, Writer } from "./codec";
import { E_TRAILING, takeError } from "./errors";
import { canAlloc } from "./data/mem";

// Key strings hold one byte per UTF-16 unit (codec.ts).
function keyString(p: usize, n: i32): string {
  const s = changetype<string>(__new(<usize>n << 1, idof<string>()));
  for (let i = 0; i < n; i++) store<u16>(changetype<usize>(s) + (<usize>i << 1), load<u8>(p + i));
  return s;
}

// The op batch being validated (index.ts apply): a dry op may reserve memory
// for what its real pass will add to the state and to the pending
// delta-group, so that pass cannot run out halfway. Each batch gets a new epoch.
let epoch: u32 = 0;
let batchPending: Lattice | null = null;
export function beginBatch(pending: Lattice): void { epoch++; batchPending = pending; }
export function batchEpoch(): u32 { return epoch; }
// The top-level state's pending delta-group during a dry pass (depth 0 only).
export function pendingOfBatch(): Lattice | null { return batchPending; }

// Managed objects the real pass will take from the runtime's allocator
// (TLSF, which traps when memory cannot grow): a new map key's value states
// in the state and in the pending delta-group, the op's delta, and the
// doubling of the arrays holding values. A dry op charges them to the batch;
// once the sum (plus `extra`, a block that is not summed) could not be had
// under the cap, the batch fails with OUT_OF_MEMORY before anything changed.
let charged: usize = 0;
let chargedEpoch: u32 = 0;
export function chargeBatch(n: usize, extra: usize): bool {
  if (chargedEpoch != epoch) { chargedEpoch = epoch; charged = 0; }
  charged += n;
  return canAlloc(charged + extra);
}

// Type tags, as written in the binary format (docs/format.md).
export const T_GCOUNTER: u8 = 1;
export const T_PNCOUNTER: u8 = 2;
export const T_MAXINT: u8 = 3;
export const T_EWFLAG: u8 = 4;
export const T_IVAR: u8 = 5;
export const T_LWWREGISTER: u8 = 6;
export const T_MVREGISTER: u8 = 7;
export const T_GSET: u8 = 8;
export const T_TWOPSET: u8 = 9;
export const T_AWSET: u8 = 10;
export const T_ORSET: u8 = 11;
export const T_GMAP: u8 = 12;
export const T_AWMAP: u8 = 13;
export const T_PAIR: u8 = 14;
export const T_TOPK: u8 = 15;
export const T_LAST: u8 = 15;

// A type: its tag plus parameters (TopK's k; the nested types of maps and pairs).
export class Spec {
  tag: u8;
  k: u32 = 0;
  a: Spec | null = null;
  b: Spec | null = null;
  id: string = ""; // canonical encoding of the spec, for cheap equality
  // A bottom that dry (validating) op passes may read but never change, so
  // validating a nested op on an absent key allocates nothing.
  scratch: Lattice | null = null;

  constructor(tag: u8) { this.tag = tag; }
}

export abstract class Lattice {
  spec: Spec;
  constructor(spec: Spec) { this.spec = spec; }

  // A new bottom of the same type.
  abstract bottom(): Lattice;
  abstract clone(): Lattice;
  abstract isBottom(): bool;

  // this := this ⊔ o; returns true iff this strictly grew. `o` has the same spec.
  // Must be commutative, associative and idempotent.
  abstract join(o: Lattice): bool;

  // Canonical body encoding (no header): equal states give equal bytes.
  abstract encode(w: Writer): void;
  // The compact (format v2) table and body, written straight from the state
  // by a type that can do it faster than compact.ts's generic two passes
  // over encode()'s expanded bytes; false (nothing written) where it cannot.
  encodeCompact(w: Writer): bool { return false; }
  // Reads a body into this (a fresh bottom). On bad input sets r.err; the caller
  // then discards this object, so a half-filled state is never observed.
  abstract decode(r: Reader, depth: i32): void;

  // Join-irreducible parts whose join is this (bottom decomposes to nothing).
  abstract decompose(out: Array<Lattice>): void;

  // Reads one op from r and returns its delta d, computed against the current
  // state without changing it (the caller joins d into the state and into the
  // pending delta-group). With dry=true it only validates and may return null.
  // Returns null and sets r.err on bad input.
  abstract op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null;

  // Applies one validated op in place: joins its delta into this and into
  // `pending` (the handle's delta-group, always ⊑ this). Returns true if this
  // grew. The default builds the delta; hot types override it to skip that
  // allocation, with the same result (the delta-mutator law checks both).
  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    const d = this.op(r, replica, false, depth);
    if (d === null) return false;
    pending.join(d);
    return this.join(d);
  }

  // The user-visible value (docs/format.md, "Query encodings").
  abstract query(w: Writer): void;

  // this ⊑ o: o ⊔ this adds nothing to o. Every type implements it directly
  // (the law checker tests it against that definition).
  abstract leq(o: Lattice): bool;

  // The part of this that inflates o: by definition the join of this's
  // irreducible parts not below o, so that delta(a, b) ⊔ b = a ⊔ b. Every type
  // implements it directly, since decomposing large states is costly; the law
  // checker and the as-pect specs test it against the definition.
  abstract deltaFrom(o: Lattice): Lattice;

  // Gives back the raw memory of data-layer states now, not at collection
  // (docs/abi.md, "Memory"). Idempotent; the state must not be used after.
  free(): void {}

  // this := this ⊔ (the body read from r), where r must hold exactly that body.
  // Returns 1 if this grew, 0 if not, or −code with nothing changed. The
  // default decodes the whole body first; data-layer types stream it.
  joinBody(r: Reader): i32 {
    const v = this.bottom();
    v.decode(r, 0);
    const e = takeError();
    if (e != 0) r.fail(e);
    if (r.ok && !r.done) r.fail(E_TRAILING);
    if (!r.ok) { v.free(); return -r.err; }
    const grew = this.join(v);
    v.free();
    const e2 = takeError();
    return e2 != 0 ? -e2 : grew ? 1 : 0;
  }

  // has() over raw key bytes; the default makes the string has() takes.
  hasBytes(p: usize, n: i32): i32 { return this.has(keyString(p, n)); }

  // Optional fast queries: set/map membership, element count, one map entry.
  // -1 means "not offered by this type".
  has(key: string): i32 { return -1; }
  size(): i32 { return -1; }
  // Writes the query of the value under key; false when absent or not a map.
  get(key: string, w: Writer): bool { return false; }
}
