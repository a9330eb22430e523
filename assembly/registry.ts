// Type specs (tag + parameters) and the factory of bottoms. The one place
// that knows every type; nested types (maps, pairs) call newBottom through it.
import { Reader, Writer, keyOf } from "./codec";
import { E_BAD_TAG, E_TOO_DEEP, E_TOO_LARGE, E_INVALID, MAX_DEPTH } from "./errors";
import {
  Lattice, Spec, T_GCOUNTER, T_PNCOUNTER, T_MAXINT, T_EWFLAG, T_IVAR, T_LWWREGISTER,
  T_MVREGISTER, T_GSET, T_TWOPSET, T_AWSET, T_ORSET, T_GMAP, T_AWMAP, T_PAIR, T_TOPK, T_LAST,
} from "./lattice";
import { GCounter } from "./types/gcounter";
import { PNCounter } from "./types/pncounter";
import { MaxInt } from "./types/maxint";
import { EWFlag } from "./types/ewflag";
import { IVar } from "./types/ivar";
import { LWWRegister } from "./types/lwwregister";
import { MVRegister } from "./types/mvregister";
import { GSet } from "./types/gset";
import { TwoPSet } from "./types/twopset";
import { AWSet } from "./types/awset";
import { ORSet } from "./types/orset";
import { GMap } from "./types/gmap";
import { LWWMap } from "./types/lwwmap";
import { AWMap } from "./types/awmap";
import { Pair } from "./types/pair";
import { TopK } from "./types/topk";

export const MAX_TOPK: u32 = 1 << 16;

// One Spec per type without parameters, made on first use and shared by
// every state of that type: a small decode then makes no Spec and no id
// string. Sharing is safe because a Spec is never changed once read (its
// scratch is always a bottom that is never changed).
const simple = new StaticArray<Spec | null>(<i32>T_LAST + 1);

// The shared Spec of a tag without parameters (not TopK, GMap, AWMap, Pair).
export function specOfTag(tag: u8): Spec {
  let s = unchecked(simple[tag]);
  if (s === null) {
    s = new Spec(tag);
    s.id = specId(s);
    unchecked(simple[tag] = s);
  }
  return s;
}

const BAD_SPEC = new Spec(0); // what a failed read returns (never used as a type)

// spec := tag [k varint, TopK] [value spec, GMap/AWMap] [a spec, b spec, Pair]
export function readSpec(r: Reader, depth: i32): Spec {
  if (depth > MAX_DEPTH) { r.fail(E_TOO_DEEP); return BAD_SPEC; }
  const tag = <u8>r.u8();
  if (!r.ok) return BAD_SPEC;
  if (tag == 0 || tag > T_LAST) { r.fail(E_BAD_TAG); return BAD_SPEC; }
  if (tag != T_TOPK && tag != T_GMAP && tag != T_AWMAP && tag != T_PAIR) return specOfTag(tag);
  const s = new Spec(tag);
  if (tag == T_TOPK) {
    const k = r.varint();
    if (r.ok && (k == 0 || k > <u64>MAX_TOPK)) { r.fail(k == 0 ? E_INVALID : E_TOO_LARGE); return s; }
    s.k = <u32>k;
  } else if (tag == T_GMAP || tag == T_AWMAP) {
    s.a = readSpec(r, depth + 1);
  } else if (tag == T_PAIR) {
    s.a = readSpec(r, depth + 1);
    if (r.ok) s.b = readSpec(r, depth + 1);
  }
  if (r.ok) s.id = specId(s);
  return s;
}

export function writeSpec(w: Writer, s: Spec): void {
  w.u8(s.tag);
  if (s.tag == T_TOPK) w.varint(<u64>s.k);
  else if (s.tag == T_GMAP || s.tag == T_AWMAP) writeSpec(w, s.a!);
  else if (s.tag == T_PAIR) { writeSpec(w, s.a!); writeSpec(w, s.b!); }
}

// Reused: every decode computes one spec id, and a fresh 1 KB writer each time
// was garbage the collector had to sweep.
const specScratch = new Writer();

function specId(s: Spec): string {
  specScratch.reset();
  writeSpec(specScratch, s);
  return keyOf(specScratch);
}

export function newBottom(s: Spec): Lattice {
  switch (s.tag) {
    case T_GCOUNTER: return new GCounter(s);
    case T_PNCOUNTER: return new PNCounter(s);
    case T_MAXINT: return new MaxInt(s);
    case T_EWFLAG: return new EWFlag(s);
    case T_IVAR: return new IVar(s);
    case T_LWWREGISTER: return new LWWRegister(s);
    case T_MVREGISTER: return new MVRegister(s);
    case T_GSET: return new GSet(s);
    case T_TWOPSET: return new TwoPSet(s);
    case T_AWSET: return new AWSet(s);
    case T_ORSET: return new ORSet(s);
    // GMap<LWWRegister> has a flat layout of its own (types/lwwmap.ts).
    case T_GMAP: return s.a!.tag == T_LWWREGISTER ? new LWWMap(s) : new GMap(s);
    case T_AWMAP: return new AWMap(s);
    case T_PAIR: return new Pair(s);
    default: return new TopK(s);
  }
}

// A nested value's body: read into a fresh bottom of spec s.
export function readBody(r: Reader, s: Spec, depth: i32): Lattice {
  const v = newBottom(s);
  if (depth > MAX_DEPTH) { r.fail(E_TOO_DEEP); return v; }
  v.decode(r, depth);
  return v;
}
