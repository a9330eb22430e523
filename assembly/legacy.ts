// Versions 1 and 2 (docs/format.md, "Versions 1 and 2"): their user values
// are in the old encoding (tag, then length-prefixed payloads), which does not
// preserve order. A legacy state is read once into the expanded form with
// version 3's values: each value is checked against the old encoding's
// canonical rules and rewritten, and every list sorted by a value (GSet and
// TwoPSet elements, AWSet and ORSet elements, GMap and AWMap keys, TopK ids,
// at any depth) is sorted again by the new bytes. The type parsers then check
// the result as they check any input, so stored data from older builds loads
// and re-encodes as version 3.
//
// Input: a state in version 1's layout (replicas inline, whole timestamps and
// keys): version 1 itself, or version 2 expanded by compact.ts. Output: the
// kernel's expanded form. Memory: the output is at most about twice the input
// (a string of NULs doubles), plus one value's rewrite and the entry table of
// the lists being sorted; every block comes from data/mem, so exhaustion is
// OUT_OF_MEMORY. Sorting is a merge sort (n log n), and an entry moves once
// per list that holds it.
import { Reader, compareRaw, validUtf8, CANONICAL_NAN, MAX_VALUE_DEPTH,
  V_NULL, V_FALSE, V_TRUE, V_NEG, V_POS, V_STRING, V_BYTES, V_ARRAY, V_OBJECT, V_END } from "./codec";
import { E_BAD_VALUE, E_INVALID, E_NONCANONICAL, E_OUT_OF_MEMORY, E_TOO_LARGE, E_TRUNCATED, MAX_KEY } from "./errors";
import { Vec, alloc, release, compareBytes, entryBody, entryLen } from "./data/index";
import {
  Spec, T_GCOUNTER, T_PNCOUNTER, T_MAXINT, T_EWFLAG, T_IVAR, T_LWWREGISTER,
  T_MVREGISTER, T_GSET, T_TWOPSET, T_AWSET, T_ORSET, T_GMAP, T_AWMAP, T_PAIR, T_TOPK,
} from "./lattice";
import { readSpec } from "./registry";
import { XBuf } from "./xbuf";

// The expanded form's version byte (state.ts EXPANDED; not imported, to keep
// this file free of a cycle through state.ts).
const EXPANDED_BYTE: u8 = 0x82;

const MAX_SAFE: f64 = 9007199254740991.0;
const MAX_ZIGZAG: u64 = 18014398509481982; // zigzag of ±(2^53 − 1)

const value = new XBuf();      // one value's new encoding, before its length prefix
const ents = new Vec<u64>();   // the lists being sorted: (start << 32) | end in w, a stack
const copy = new Vec<u8>();    // a list's bytes while its entries are put in order

// Reads the legacy state at r (header included, version byte 1 or the
// expanded byte) into w, from w's start. r ends after the state; on bad input
// r.err is set.
export function transcode(r: Reader, w: XBuf): void {
  w.start(false);
  r.u8(); r.u8(); r.u8(); // 'T' 'R' version: checked by the caller
  const specAt = r.p;
  const spec = readSpec(r, 0);
  if (!r.ok) return;
  w.u8(0x54); w.u8(0x52); w.u8(EXPANDED_BYTE);
  w.raw(specAt, <i32>(r.p - specAt));
  ents.clear();
  body(r, w, spec);
  if (r.ok && w.failed) r.fail(E_OUT_OF_MEMORY);
}

// Gives back what a large transcoding held.
export function doneTranscoding(): void {
  value.done();
  if (<usize>copy.cap >= 64 << 10) copy.free();
  if (ents.cap >= 8 << 10) ents.free();
}

function copyVarint(r: Reader, w: XBuf): void {
  const v = r.varint();
  if (r.ok) w.varint(v);
}

// bytes (a replica id): copied; the type parser checks it.
function copyBytes(r: Reader, w: XBuf): void {
  const n = r.varint();
  if (!r.ok) return;
  if (n > <u64>MAX_KEY) { r.fail(E_TOO_LARGE); return; }
  if (n > <u64>r.left) { r.fail(E_TRUNCATED); return; }
  w.varint(n);
  w.raw(r.p, <i32>n);
  r.p += <usize>n;
}

// Reads one length-prefixed legacy value and writes it, length-prefixed, in
// the new encoding. Returns where its old bytes start (rawLen: how many).
function valueAt(r: Reader, w: XBuf): usize {
  const n = r.varint();
  if (!r.ok) return 0;
  if (n > <u64>MAX_KEY) { r.fail(E_TOO_LARGE); return 0; }
  if (n > <u64>r.left) { r.fail(E_TRUNCATED); return 0; }
  const p = r.p, end = p + <usize>n;
  value.start(false);
  const q = rewrite(p, end, 0);
  if (value.failed) { r.fail(E_OUT_OF_MEMORY); return 0; }
  if (q != end) { r.fail(E_BAD_VALUE); return 0; }
  if (value.pos > MAX_KEY) { r.fail(E_TOO_LARGE); return 0; }
  w.varint(<u64>value.pos);
  w.raw(value.ptr, value.pos);
  r.p = end;
  r.rawLen = <i32>n;
  return p;
}

// ---- values ------------------------------------------------------------------

let varintOut: u64 = 0;
function readVarint(p: usize, end: usize): usize {
  let v: u64 = 0;
  let shift: u64 = 0;
  for (let i = 0; i < 10; i++) {
    if (p >= end) return 0;
    const b = <u64>load<u8>(p++);
    if (i == 9 && b > 1) return 0;
    v |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      if (b == 0 && i > 0) return 0;
      varintOut = v;
      return p;
    }
    shift += 7;
  }
  return 0;
}

// A number in the new encoding (docs/format.md, "User values").
export function writeNumber(w: XBuf, f: f64): void {
  let bits = reinterpret<u64>(f);
  if (isNaN(f)) bits = CANONICAL_NAN;
  if (f == 0) bits = 0; // −0 is +0
  const neg = (bits >> 63) != 0;
  const m = bits & 0x7fff_ffff_ffff_ffff;
  let last = 0;
  for (let i = 8; i > 0; i--) if (((m >> <u64>(56 - 7 * i)) & 0x7f) != 0) { last = i; break; }
  w.u8(neg ? V_NEG : V_POS);
  for (let i = 0; i <= last; i++) {
    let b = <u32>(((m >> <u64>(56 - 7 * i)) & 0x7f) << 1) | (i < last ? 1 : 0);
    w.u8(neg ? 0xff - b : b);
  }
}

// p[0..n) as an escaped payload (each 0x00 as 0x00 0xFF) and its terminator.
function writeText(w: XBuf, p: usize, n: usize): void {
  const end = p + n;
  let run = p;
  for (let q = p; q < end; q++) {
    if (load<u8>(q) == 0) {
      w.raw(run, <i32>(q + 1 - run));
      w.u8(0xff);
      run = q + 1;
    }
  }
  w.raw(run, <i32>(end - run));
  w.u8(V_END);
}

// Checks one canonical legacy value in [p, end) and writes it in the new
// encoding to `value`; returns the position after it, or 0.
function rewrite(p: usize, end: usize, depth: i32): usize {
  if (depth > MAX_VALUE_DEPTH || p >= end) return 0;
  const tag = load<u8>(p++);
  switch (tag) {
    case 0: value.u8(V_NULL); return p;
    case 1: value.u8(V_FALSE); return p;
    case 2: value.u8(V_TRUE); return p;
    case 3: {
      p = readVarint(p, end);
      if (p == 0 || varintOut > MAX_ZIGZAG) return 0;
      const z = varintOut;
      const n = (z & 1) == 0 ? <f64>(z >> 1) : -<f64>(z >> 1) - 1;
      writeNumber(value, n);
      return p;
    }
    case 4: {
      if (end - p < 8) return 0;
      const bits = bswap<u64>(load<u64>(p));
      const f = reinterpret<f64>(bits);
      if (isNaN(f) && bits != CANONICAL_NAN) return 0;
      // Integral numbers within the safe range (and −0) were written as integers.
      if (isFinite(f) && Math.floor(f) == f && Math.abs(f) <= MAX_SAFE) return 0;
      writeNumber(value, f);
      return p + 8;
    }
    case 5: case 6: {
      p = readVarint(p, end);
      if (p == 0 || varintOut > <u64>(end - p)) return 0;
      const n = <usize>varintOut;
      if (tag == 5 && !validUtf8(p, p + n)) return 0;
      value.u8(tag == 5 ? V_STRING : V_BYTES);
      writeText(value, p, n);
      return p + n;
    }
    case 7: {
      p = readVarint(p, end);
      if (p == 0 || varintOut > <u64>(end - p)) return 0;
      const n = <i32>varintOut;
      value.u8(V_ARRAY);
      for (let i = 0; i < n && p != 0; i++) p = rewrite(p, end, depth + 1);
      value.u8(V_END);
      return p;
    }
    case 8: {
      p = readVarint(p, end);
      if (p == 0 || varintOut > <u64>((end - p) / 2)) return 0;
      const n = <i32>varintOut;
      value.u8(V_OBJECT);
      let prev: usize = 0, prevLen: usize = 0;
      for (let i = 0; i < n; i++) {
        p = readVarint(p, end);
        if (p == 0 || varintOut > <u64>(end - p)) return 0;
        const k = p, klen = <usize>varintOut;
        if (!validUtf8(k, k + klen)) return 0;
        // Keys strictly increasing in byte order; escaping keeps that order.
        if (i > 0 && compareRaw(prev, prevLen, k, klen) >= 0) return 0;
        prev = k; prevLen = klen;
        value.u8(V_STRING);
        writeText(value, k, klen);
        p = rewrite(k + klen, end, depth + 1);
        if (p == 0) return 0;
      }
      value.u8(V_END);
      return p;
    }
  }
  return 0;
}

// ---- bodies ----------------------------------------------------------------------

const L_KEY: i32 = 0;     // GSet, TwoPSet: the element alone
const L_DOTS: i32 = 1;    // AWSet: count dot*
const L_TOKENS: i32 = 2;  // ORSet: count (dot flag)*
const L_BODY: i32 = 3;    // GMap, AWMap: a nested body
const L_SCORE: i32 = 4;   // TopK: score

// A list sorted by its entries' values: the entries rewritten in input order,
// each checked to be greater than the one before (old bytes), then put in the
// order of their new bytes.
function list(r: Reader, w: XBuf, n: i32, kind: i32, s: Spec | null): void {
  w.varint(<u64>n);
  const base = ents.len;
  if (!ents.reserve(n)) { r.fail(E_OUT_OF_MEMORY); return; }
  const listAt = w.pos;
  let prev: usize = 0, prevLen: i32 = 0;
  for (let i = 0; i < n && r.ok; i++) {
    const at = w.pos;
    const p = valueAt(r, w), len = r.rawLen;
    if (!r.ok) return;
    if (i > 0 && compareBytes(prev, <usize>prevLen, p, <usize>len) >= 0) { r.fail(E_NONCANONICAL); return; }
    prev = p; prevLen = len;
    switch (kind) {
      case L_DOTS: {
        const m = r.count(2);
        w.varint(<u64>m);
        for (let j = 0; j < m && r.ok; j++) { copyBytes(r, w); copyVarint(r, w); }
        break;
      }
      case L_TOKENS: {
        const m = r.count(3);
        w.varint(<u64>m);
        for (let j = 0; j < m && r.ok; j++) { copyBytes(r, w); copyVarint(r, w); w.u8(r.u8()); }
        break;
      }
      case L_BODY: body(r, w, s!); break;
      case L_SCORE: copyVarint(r, w); break;
    }
    if (w.failed) { r.fail(E_OUT_OF_MEMORY); return; }
    ents.pushReserved((<u64>at << 32) | <u64>w.pos);
  }
  if (!r.ok) return;
  // Equal old keys were refused above; distinct canonical values have
  // distinct new bytes, so the sort has no ties.
  if (!inOrder(w, base, n) && !sortList(r, w, base, n, listAt)) return;
  ents.len = base;
}

@inline function keyCmp(w: XBuf, a: u64, b: u64): i32 {
  const pa = w.ptr + <usize>(a >> 32), pb = w.ptr + <usize>(b >> 32);
  return compareBytes(entryBody(pa), entryLen(pa), entryBody(pb), entryLen(pb));
}

function inOrder(w: XBuf, base: i32, n: i32): bool {
  for (let i = base + 1; i < base + n; i++) if (keyCmp(w, ents.get(i - 1), ents.get(i)) > 0) return false;
  return true;
}

// Merge-sorts ents[base, base + n) by key, then rewrites the list's bytes
// (from listAt to w.pos) in that order.
function sortList(r: Reader, w: XBuf, base: i32, n: i32, listAt: i32): bool {
  const a = ents.ptr + (<usize>base << 3);
  const tmp = alloc(<usize>n << 3);
  if (tmp == 0) { r.fail(E_OUT_OF_MEMORY); return false; }
  let src = a, dst = tmp;
  for (let width = 1; width < n; width <<= 1) {
    for (let lo = 0; lo < n; lo += width << 1) {
      const mid = min(lo + width, n), hi = min(lo + (width << 1), n);
      let i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        const x = load<u64>(src + (<usize>i << 3)), y = load<u64>(src + (<usize>j << 3));
        if (keyCmp(w, x, y) <= 0) { store<u64>(dst + (<usize>k << 3), x); i++; }
        else { store<u64>(dst + (<usize>k << 3), y); j++; }
        k++;
      }
      while (i < mid) store<u64>(dst + (<usize>(k++) << 3), load<u64>(src + (<usize>(i++) << 3)));
      while (j < hi) store<u64>(dst + (<usize>(k++) << 3), load<u64>(src + (<usize>(j++) << 3)));
    }
    const t = src; src = dst; dst = t;
  }
  if (src != a) memory.copy(a, src, <usize>n << 3);
  release(tmp);
  const size = w.pos - listAt;
  copy.clear();
  if (!copy.append(w.ptr + <usize>listAt, size)) { r.fail(E_OUT_OF_MEMORY); return false; }
  let at = w.ptr + <usize>listAt;
  for (let i = 0; i < n; i++) {
    const e = load<u64>(a + (<usize>i << 3));
    const start = <i32>(e >> 32), len = <i32>(e & 0xffff_ffff) - start;
    memory.copy(at, copy.ptr + <usize>(start - listAt), <usize>len);
    at += <usize>len;
  }
  return true;
}

function context(r: Reader, w: XBuf): void {
  const n = r.count(2);
  w.varint(<u64>n);
  for (let i = 0; i < n && r.ok; i++) { copyBytes(r, w); copyVarint(r, w); }
  const m = r.count(2);
  w.varint(<u64>m);
  for (let i = 0; i < m && r.ok; i++) { copyBytes(r, w); copyVarint(r, w); }
}

function body(r: Reader, w: XBuf, s: Spec): void {
  if (!r.ok) return;
  switch (s.tag) {
    case T_GCOUNTER: {
      const n = r.count(2);
      w.varint(<u64>n);
      for (let i = 0; i < n && r.ok; i++) { copyBytes(r, w); copyVarint(r, w); }
      break;
    }
    case T_PNCOUNTER: body(r, w, GCOUNTER); body(r, w, GCOUNTER); break;
    case T_MAXINT: copyVarint(r, w); break;
    case T_IVAR: {
      const f = r.u8();
      if (!r.ok) return;
      if (f > 1) { r.fail(E_INVALID); return; }
      w.u8(f);
      if (f == 1) valueAt(r, w);
      break;
    }
    case T_LWWREGISTER: {
      const f = r.u8();
      if (!r.ok) return;
      if (f > 1) { r.fail(E_INVALID); return; }
      w.u8(f);
      if (f == 1) { copyVarint(r, w); copyBytes(r, w); valueAt(r, w); }
      break;
    }
    case T_GSET: list(r, w, r.count(2), L_KEY, null); break;
    case T_TWOPSET: body(r, w, GSET); body(r, w, GSET); break;
    case T_AWSET: context(r, w); list(r, w, r.count(2), L_DOTS, null); break;
    case T_EWFLAG: case T_MVREGISTER: {
      // entries sorted by dot, not by value: rewritten in place
      context(r, w);
      const n = r.count(2);
      w.varint(<u64>n);
      for (let i = 0; i < n && r.ok; i++) {
        copyBytes(r, w); copyVarint(r, w);
        if (s.tag == T_MVREGISTER) valueAt(r, w);
      }
      break;
    }
    case T_ORSET: list(r, w, r.count(3), L_TOKENS, null); break;
    case T_GMAP: list(r, w, r.count(3), L_BODY, s.a); break;
    case T_AWMAP: body(r, w, AWSET); list(r, w, r.count(3), L_BODY, s.a); break;
    case T_PAIR: body(r, w, s.a!); body(r, w, s.b!); break;
    case T_TOPK: list(r, w, r.count(3), L_SCORE, null); break;
  }
}

const GCOUNTER = new Spec(T_GCOUNTER);
const GSET = new Spec(T_GSET);
const AWSET = new Spec(T_AWSET);
