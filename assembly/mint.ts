// What a delta mints, and what its causal contexts cover, read from its
// canonical (v1) bytes: the facts an admission check needs (issue 12) to see
// that a delta writes only as its author — its dots, counter entries and
// register writes — and covers only what the author may have seen. Pure
// functions of the bytes, per type tag, so they hold whatever the in-memory
// layout of a type is. docs/abi.md ("Mint lists") documents the output.
import { Reader, Writer } from "./codec";
import {
  Spec, T_GCOUNTER, T_PNCOUNTER, T_MAXINT, T_EWFLAG, T_IVAR, T_LWWREGISTER,
  T_MVREGISTER, T_GSET, T_TWOPSET, T_AWSET, T_ORSET, T_GMAP, T_AWMAP, T_PAIR, T_TOPK,
} from "./lattice";

// Record kinds.
export const M_DOT: u8 = 1;        // replica counter          a dot in a causal store (an add, enable, set, or map update)
export const M_TOKEN: u8 = 2;      // replica counter flag:u8  an ORSet token; flag 1 = marked removed
export const M_INCREMENT: u8 = 3;  // replica value            a GCounter entry, or PNCounter's P entry
export const M_DECREMENT: u8 = 4;  // replica value            PNCounter's N entry
export const M_WRITE: u8 = 5;      // replica timestamp        an LWWRegister write
export const M_TOPK: u8 = 6;       // id:bytes score           a TopK entry (no writer named)
export const M_MAX: u8 = 7;        // value                    a MaxInt value (no writer named)
export const M_CONTEXT: u8 = 8;    // replica max count counter*   what a causal context covers of one replica:
                                   //                          the dots 1..max, and the cloud's counters

// Path segments: where in nested values a record sits.
const P_KEY: u8 = 0;    // key:bytes (a GMap or AWMap value)
const P_FIRST: u8 = 1;  // Pair's first component
const P_SECOND: u8 = 2; // Pair's second component

const recs = new Writer();
const path = new Writer();
let depth: i32 = 0;
let count: u64 = 0;

// Writes `count record*` for the valid, canonical state at [ptr, ptr+len)
// whose body starts at bodyAt, of type spec.
export function listMints(out: Writer, ptr: usize, len: i32, bodyAt: usize, spec: Spec): void {
  recs.reset(); path.reset(); depth = 0; count = 0;
  const r = new Reader(bodyAt, ptr + <usize>len);
  body(r, spec);
  out.varint(count);
  out.raw(recs.ptr, recs.pos);
}

// record := path kind fields; path := depth:varint segment*
function record(kind: u8): void {
  count++;
  recs.varint(<u64>depth);
  recs.raw(path.ptr, path.pos);
  recs.u8(kind);
}

// Copies a length-prefixed byte string from r to recs.
function copyBytes(r: Reader): void {
  const at = r.p;
  const n = r.varint();
  r.p += <usize>n;
  recs.raw(at, <i32>(r.p - at));
}

function skipBytes(r: Reader): void { const n = r.varint(); r.p += <usize>n; }

function entries(r: Reader, kind: u8): void {
  const n = r.varint();
  for (let i: u64 = 0; i < n; i++) { record(kind); copyBytes(r); recs.varint(r.varint()); }
}

// context := count (replica max)* count (replica counter)*, both sorted by
// replica: one CONTEXT record per replica named.
function context(r: Reader): void {
  const vn = r.varint();
  const vv = new Reader(r.p, r.end);
  for (let i: u64 = 0; i < vn; i++) { skipBytes(r); r.varint(); }
  const cn = r.varint();
  const cloudAt = r.p;
  for (let i: u64 = 0; i < cn; i++) { skipBytes(r); r.varint(); }
  const cl = new Reader(cloudAt, r.p);
  let vLeft = vn, cLeft = cn;
  while (vLeft > 0 || cLeft > 0) {
    // the next replica in byte order, from the vv or the cloud
    let fromVv = vLeft > 0;
    if (fromVv && cLeft > 0) fromVv = compareAt(vv.p, cl.p) <= 0;
    const repAt = fromVv ? vv.p : cl.p;
    record(M_CONTEXT);
    let max: u64 = 0;
    if (fromVv) { copyBytes(vv); max = vv.varint(); vLeft--; }
    else copyBytes(new Reader(repAt, r.end)); // the cloud's dots are read below
    recs.varint(max);
    // the cloud's counters of this replica
    let k: u64 = 0;
    const tmp = new Reader(cl.p, cl.end);
    while (k < cLeft && compareAt(tmp.p, repAt) == 0) { skipBytes(tmp); tmp.varint(); k++; }
    recs.varint(k);
    for (let i: u64 = 0; i < k; i++) { skipBytes(cl); recs.varint(cl.varint()); }
    cLeft -= k;
  }
}

// Compares the length-prefixed byte strings at a and b (replica ids: their
// lengths fit one or two varint bytes).
let lenOut: i32 = 0;
function lenAt(p: usize): usize {
  let n: i32 = 0, shift: i32 = 0;
  for (;;) {
    const b = <i32>load<u8>(p++);
    n |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
    shift += 7;
  }
  lenOut = n;
  return p;
}
function compareAt(a: usize, b: usize): i32 {
  const pa = lenAt(a), la = lenOut;
  const pb = lenAt(b), lb = lenOut;
  const n = min(la, lb);
  for (let i = 0; i < n; i++) {
    const x = <i32>load<u8>(pa + i), y = <i32>load<u8>(pb + i);
    if (x != y) return x - y;
  }
  return la - lb;
}

function body(r: Reader, s: Spec): void {
  switch (s.tag) {
    case T_GCOUNTER: entries(r, M_INCREMENT); break;
    case T_PNCOUNTER: entries(r, M_INCREMENT); entries(r, M_DECREMENT); break;
    case T_MAXINT: { const v = r.varint(); if (v != 0) { record(M_MAX); recs.varint(v); } break; }
    case T_IVAR: if (r.u8() == 1) skipBytes(r); break;
    case T_LWWREGISTER: {
      if (r.u8() == 1) {
        const ts = r.varint();
        record(M_WRITE); copyBytes(r); recs.varint(ts);
        skipBytes(r);
      }
      break;
    }
    case T_GSET: { const n = r.varint(); for (let i: u64 = 0; i < n; i++) skipBytes(r); break; }
    case T_TWOPSET: { for (let k = 0; k < 2; k++) { const n = r.varint(); for (let i: u64 = 0; i < n; i++) skipBytes(r); } break; }
    case T_TOPK: entries(r, M_TOPK); break;
    case T_EWFLAG: case T_MVREGISTER: case T_AWSET: causal(r, s.tag); break;
    case T_ORSET: {
      const n = r.varint();
      for (let i: u64 = 0; i < n; i++) {
        skipBytes(r);
        const m = r.varint();
        for (let j: u64 = 0; j < m; j++) { record(M_TOKEN); copyBytes(r); recs.varint(r.varint()); recs.u8(r.u8()); }
      }
      break;
    }
    case T_GMAP: values(r, s.a!); break;
    case T_AWMAP: causal(r, T_AWSET); values(r, s.a!); break;
    case T_PAIR: {
      const mark = path.pos;
      depth++;
      path.u8(P_FIRST); body(r, s.a!); path.pos = mark;
      path.u8(P_SECOND); body(r, s.b!); path.pos = mark;
      depth--;
      break;
    }
  }
}

// AWSet (and AWMap presence), EWFlag, MVRegister: the context, then the store's dots.
function causal(r: Reader, tag: u8): void {
  context(r);
  const n = r.varint();
  for (let i: u64 = 0; i < n; i++) {
    if (tag == T_AWSET) {
      skipBytes(r);
      const m = r.varint();
      for (let j: u64 = 0; j < m; j++) { record(M_DOT); copyBytes(r); recs.varint(r.varint()); }
    } else {
      record(M_DOT); copyBytes(r); recs.varint(r.varint());
      if (tag == T_MVREGISTER) skipBytes(r);
    }
  }
}

// GMap body (and AWMap values): each value under its key.
function values(r: Reader, v: Spec): void {
  const n = r.varint();
  for (let i: u64 = 0; i < n; i++) {
    const mark = path.pos;
    const at = r.p;
    skipBytes(r);
    path.u8(P_KEY); path.raw(at, <i32>(r.p - at));
    depth++;
    body(r, v);
    depth--;
    path.pos = mark;
  }
}
