// Streaming decomposition: the join-irreducible parts of a state, produced
// one at a time from its canonical expanded bytes (compact.ts), never as an array of states.
// It reads only the encoding (docs/format.md), so it serves every type
// whatever its in-memory layout, and its cost is one pass with no object per
// part: a part is built in one reused writer and handed to a sink that counts
// it, copies it out, hashes it, or joins it into an accumulator.
//
// A part of a nested type is the root header, the prefixes of the enclosing
// types (GMap: count 1 and the key; AWMap: an empty presence; Pair: a bottom
// first component), the leaf's part body, then their suffixes (a bottom
// second component, an empty value map) innermost first.
//
// Parts come in the order the old array decompose produced them: per type,
// the encoding's order; for causal types the store's dots, then the context's
// other dots by replica and counter.
import { Reader, Writer } from "./codec";
import { E_OUT_OF_MEMORY, E_TOO_LARGE, MAX_REPLICA, setError } from "./errors";
import { ByteTable } from "./data/index";
import {
  Lattice, Spec, T_GCOUNTER, T_PNCOUNTER, T_MAXINT, T_EWFLAG, T_IVAR, T_LWWREGISTER,
  T_MVREGISTER, T_GSET, T_TWOPSET, T_AWSET, T_ORSET, T_GMAP, T_AWMAP, T_PAIR, T_TOPK,
} from "./lattice";
import { readState } from "./state";
import { compactInto } from "./compact";

export const MODE_COUNT: i32 = 0;  // count the parts
export const MODE_PARTS: i32 = 1;  // write parts [start, end) as (length, bytes)
export const MODE_HASH: i32 = 2;   // write each part's 8-byte hash64
export const MODE_SELECT: i32 = 3; // join the parts whose hash64 is not in a sorted list

// A walk that would emit more parts than this is refused (TOO_LARGE): far
// above any honest state (10 million parts work), it stops a 10-byte context
// naming 2^40 dots from running for hours. The range mode has no limit: its
// cost is bounded by the range the caller asks for.
export const MAX_WALK_PARTS: u64 = 1 << 26;

const part = new Writer();
const cpart = new Writer(); // a part in its compact form
const suffixes = new Array<Spec>();
let mode: i32 = 0;
let emitted: u64 = 0;
let stop = false;
let sink: Writer = part;
let rangeStart: u64 = 0;
let rangeEnd: u64 = 0;
let havePtr: usize = 0;
let haveN: i32 = 0;
let acc: Lattice | null = null;
export let selected: u64 = 0;

const GMAP_OF_NOTHING = new Spec(T_GMAP); // bottomBody needs only the tag

// Walks the state `bytes[0, len)` (canonical, e.g. just encoded) and feeds
// each part to the sink of `m`. Returns the number of parts walked (in range
// mode: the parts before the end of the range, or all of them if fewer), or
// -1 after setError. `out` receives PARTS/HASH output.
export function walk(ptr: usize, len: i32, spec: Spec, m: i32, out: Writer, start: u64, end: u64): i64 {
  mode = m; emitted = 0; stop = false; sink = out; rangeStart = start; rangeEnd = end;
  selected = 0;
  suffixes.length = 0;
  if (m == MODE_COUNT) return <i64>min(countParts(ptr, len), <u64>I64.MAX_VALUE);
  if (m != MODE_PARTS) {
    // One cheap counting pass first, so a context naming billions of dots is
    // refused before any work per part.
    if (countParts(ptr, len) > MAX_WALK_PARTS) { setError(E_TOO_LARGE); return -1; }
  }
  const r = new Reader(ptr, ptr + <usize>len);
  r.u8(); r.u8(); r.u8(); // 'T' 'R' version
  skipSpec(r);
  const bodyAt = r.p;
  part.reset();
  part.raw(ptr, <i32>(bodyAt - ptr));
  walkBody(r, spec);
  return <i64>emitted;
}

// The join of the parts whose hash64 is not among the `n` sorted 8-byte
// hashes at `hashes` (big-endian u64 order of the bytes as hash64 writes
// them, see hashKey). Null when every part is there.
export function joinMissing(ptr: usize, len: i32, spec: Spec, hashes: usize, n: i32): Lattice | null {
  havePtr = hashes; haveN = n; acc = null;
  if (walk(ptr, len, spec, MODE_SELECT, part, 0, 0) < 0) return null;
  const a = acc; acc = null;
  return a;
}

// Parts counted without building them: causal contexts count arithmetically
// (every dot of the context is exactly one part, the store's dots included).
let counting = false;
function countParts(ptr: usize, len: i32): u64 {
  const m = mode;
  mode = MODE_COUNT; counting = true; emitted = 0;
  const r = new Reader(ptr, ptr + <usize>len);
  r.u8(); r.u8(); r.u8();
  const spec = readSpecLite(r);
  part.reset();
  walkBody(r, spec);
  counting = false; mode = m;
  const n = emitted;
  emitted = 0;
  return n;
}

// ---- sinks -------------------------------------------------------------------

function emit(leafMark: i32): void {
  for (let i = suffixes.length - 1; i >= 0; i--) bottomBody(suffixes[i], part);
  const idx = emitted++;
  // Parts leave the kernel, and are hashed, in their compact (v3) encoding.
  if (mode == MODE_PARTS) {
    if (idx >= rangeStart && idx < rangeEnd) {
      cpart.reset(); compactInto(part.ptr, part.pos, cpart);
      sink.varint(<u64>cpart.pos); sink.raw(cpart.ptr, cpart.pos);
    }
    if (idx + 1 >= rangeEnd) stop = true;
  } else if (mode == MODE_HASH) {
    cpart.reset(); compactInto(part.ptr, part.pos, cpart);
    writeHash(sink, cpart.ptr, cpart.pos);
  } else if (mode == MODE_SELECT) {
    cpart.reset(); compactInto(part.ptr, part.pos, cpart);
    hashInto(cpart.ptr, cpart.pos);
    if (!haveHash()) {
      const r = new Reader(part.ptr, part.ptr + <usize>part.pos);
      const v = readState(r);
      if (v !== null) {
        selected++;
        if (acc === null) acc = v; else acc!.join(v);
      }
    }
  }
  part.pos = leafMark;
}

// Counting mode adds n parts at once (a causal context's dots).
function emitMany(n: u64): void {
  emitted = n > U64.MAX_VALUE - emitted ? U64.MAX_VALUE : emitted + n;
}

// ---- hash64 (host/replication/wire.ts) -------------------------------------

let h1: u32 = 0, h2: u32 = 0;
@inline function fmix(h: u32): u32 {
  h ^= h >>> 16; h *= 0x85ebca6b;
  h ^= h >>> 13; h *= 0xc2b2ae35;
  return h ^ (h >>> 16);
}
function hashInto(p: usize, n: i32): void {
  let a: u32 = 0x811c9dc5 ^ <u32>n, b: u32 = 0x9747b28c ^ (<u32>n * 0x85ebca6b);
  for (let i = 0; i < n; i++) {
    const x = <u32>load<u8>(p + i);
    a = (a ^ x) * 0x01000193;
    b = (b ^ x) * 0x5bd1e995;
    b ^= b >>> 15;
  }
  a = fmix(a ^ (b >>> 7)); b = fmix(b ^ a);
  h1 = a; h2 = b;
}
function writeHash(w: Writer, p: usize, n: i32): void {
  hashInto(p, n);
  w.ensure(8);
  store<u32>(w.ptr + w.pos, h1); store<u32>(w.ptr + w.pos + 4, h2); // little-endian, as hash64
  w.pos += 8;
}
// Binary search of the sorted hash list, compared as the 8 bytes in order.
function haveHash(): bool {
  const key = (<u64>bswap<u32>(h1) << 32) | <u64>bswap<u32>(h2);
  let lo = 0, hi = haveN;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const p = havePtr + (<usize>mid << 3);
    const v = (<u64>bswap<u32>(load<u32>(p)) << 32) | <u64>bswap<u32>(load<u32>(p + 4));
    if (v == key) return true;
    if (v < key) lo = mid + 1; else hi = mid;
  }
  return false;
}

// ---- reading -----------------------------------------------------------------

@inline function skipBytes(r: Reader): void { const n = r.varint(); r.p += <usize>n; }

function skipSpec(r: Reader): void {
  const tag = <u8>r.u8();
  if (tag == T_TOPK) r.varint();
  else if (tag == T_GMAP || tag == T_AWMAP) skipSpec(r);
  else if (tag == T_PAIR) { skipSpec(r); skipSpec(r); }
}

// Only countParts reads a spec itself (the walk is given the handle's spec).
function readSpecLite(r: Reader): Spec {
  const s = new Spec(<u8>r.u8());
  if (s.tag == T_TOPK) s.k = <u32>r.varint();
  else if (s.tag == T_GMAP || s.tag == T_AWMAP) s.a = readSpecLite(r);
  else if (s.tag == T_PAIR) { s.a = readSpecLite(r); s.b = readSpecLite(r); }
  return s;
}

// The canonical body of bottom for a spec.
export function bottomBody(s: Spec, w: Writer): void {
  switch (s.tag) {
    case T_PNCOUNTER: case T_TWOPSET: w.u8(0); w.u8(0); break;
    case T_EWFLAG: case T_MVREGISTER: case T_AWSET: w.u8(0); w.u8(0); w.u8(0); break;
    case T_AWMAP: w.u8(0); w.u8(0); w.u8(0); w.u8(0); break;
    case T_PAIR: bottomBody(s.a!, w); bottomBody(s.b!, w); break;
    default: w.u8(0); // GCounter, MaxInt, IVar, LWWRegister, GSet, ORSet, GMap, TopK
  }
}

// Skips one body of spec s.
function skipBody(r: Reader, s: Spec): void {
  switch (s.tag) {
    case T_GCOUNTER: { const n = r.varint(); for (let i: u64 = 0; i < n; i++) { skipBytes(r); r.varint(); } break; }
    case T_PNCOUNTER: { skipBody(r, GCOUNTER); skipBody(r, GCOUNTER); break; }
    case T_MAXINT: r.varint(); break;
    case T_IVAR: if (r.u8() == 1) skipBytes(r); break;
    case T_LWWREGISTER: if (r.u8() == 1) { r.varint(); skipBytes(r); skipBytes(r); } break;
    case T_GSET: { const n = r.varint(); for (let i: u64 = 0; i < n; i++) skipBytes(r); break; }
    case T_TWOPSET: { skipBody(r, GSET); skipBody(r, GSET); break; }
    case T_EWFLAG: case T_MVREGISTER: case T_AWSET: {
      skipContext(r);
      const n = r.varint();
      for (let i: u64 = 0; i < n; i++) {
        if (s.tag == T_AWSET) { skipBytes(r); const m = r.varint(); for (let j: u64 = 0; j < m; j++) { skipBytes(r); r.varint(); } }
        else { skipBytes(r); r.varint(); if (s.tag == T_MVREGISTER) skipBytes(r); }
      }
      break;
    }
    case T_ORSET: {
      const n = r.varint();
      for (let i: u64 = 0; i < n; i++) { skipBytes(r); const m = r.varint(); for (let j: u64 = 0; j < m; j++) { skipBytes(r); r.varint(); r.u8(); } }
      break;
    }
    case T_GMAP: { const n = r.varint(); for (let i: u64 = 0; i < n; i++) { skipBytes(r); skipBody(r, s.a!); } break; }
    case T_AWMAP: { skipBody(r, AWSET); const n = r.varint(); for (let i: u64 = 0; i < n; i++) { skipBytes(r); skipBody(r, s.a!); } break; }
    case T_PAIR: { skipBody(r, s.a!); skipBody(r, s.b!); break; }
    case T_TOPK: { const n = r.varint(); for (let i: u64 = 0; i < n; i++) { skipBytes(r); r.varint(); } break; }
  }
}

function skipContext(r: Reader): void {
  const n = r.varint();
  for (let i: u64 = 0; i < n; i++) { skipBytes(r); r.varint(); }
  const m = r.varint();
  for (let i: u64 = 0; i < m; i++) { skipBytes(r); r.varint(); }
}

const GCOUNTER = new Spec(T_GCOUNTER);
const GSET = new Spec(T_GSET);
const AWSET = new Spec(T_AWSET);

// ---- walking -----------------------------------------------------------------

function walkBody(r: Reader, s: Spec): void {
  switch (s.tag) {
    case T_GCOUNTER: case T_GSET: case T_TOPK: walkList(r, s.tag); break;
    case T_PNCOUNTER: case T_TWOPSET: {
      const sub = s.tag == T_PNCOUNTER ? GCOUNTER : GSET;
      suffixes.push(sub); walkList(r, sub.tag); suffixes.pop();
      if (stop) return;
      const mark = part.pos;
      bottomBody(sub, part);
      walkList(r, sub.tag);
      part.pos = mark;
      break;
    }
    case T_MAXINT: {
      const at = r.p;
      const v = r.varint();
      if (v != 0) leafRaw(at, r.p);
      break;
    }
    case T_IVAR: case T_LWWREGISTER: {
      const at = r.p;
      const set = r.u8() == 1;
      r.p = at;
      skipBody(r, s);
      if (set) leafRaw(at, r.p);
      break;
    }
    case T_ORSET: walkORSet(r); break;
    case T_EWFLAG: case T_MVREGISTER: case T_AWSET: walkCausal(r, s.tag); break;
    case T_GMAP: walkGMap(r, s.a!); break;
    case T_AWMAP: {
      suffixes.push(GMAP_OF_NOTHING); walkCausal(r, T_AWSET); suffixes.pop();
      if (stop) { skipGMapRest(r, s.a!); return; }
      const mark = part.pos;
      bottomBody(AWSET, part);
      walkGMap(r, s.a!);
      part.pos = mark;
      break;
    }
    case T_PAIR: {
      suffixes.push(s.b!); walkBody(r, s.a!); suffixes.pop();
      if (stop) return;
      const mark = part.pos;
      bottomBody(s.a!, part);
      walkBody(r, s.b!);
      part.pos = mark;
      break;
    }
  }
}

function skipGMapRest(r: Reader, v: Spec): void {
  const n = r.varint();
  for (let i: u64 = 0; i < n; i++) { skipBytes(r); skipBody(r, v); }
}

// A leaf part whose body is the raw bytes [from, to).
function leafRaw(from: usize, to: usize): void {
  const mark = part.pos;
  if (counting) { emitted++; return; }
  part.raw(from, <i32>(to - from));
  emit(mark);
}

// GCounter, GSet, TopK: count item*; each item alone is a part (count 1, item).
function walkList(r: Reader, tag: u8): void {
  const n = r.varint();
  for (let i: u64 = 0; i < n; i++) {
    const at = r.p;
    skipBytes(r);
    if (tag != T_GSET) r.varint();
    if (stop) continue;
    if (counting) { emitted++; continue; }
    const mark = part.pos;
    part.varint(1);
    part.raw(at, <i32>(r.p - at));
    emit(mark);
  }
}

// ORSet: each token alone: count 1, element, count 1, token.
function walkORSet(r: Reader): void {
  const n = r.varint();
  for (let i: u64 = 0; i < n; i++) {
    const e = r.p;
    skipBytes(r);
    const eEnd = r.p;
    const m = r.varint();
    for (let j: u64 = 0; j < m; j++) {
      const t = r.p;
      skipBytes(r); r.varint(); r.u8();
      if (stop) continue;
      if (counting) { emitted++; continue; }
      const mark = part.pos;
      part.varint(1); part.raw(e, <i32>(eEnd - e)); part.varint(1); part.raw(t, <i32>(r.p - t));
      emit(mark);
    }
  }
}

// GMap: each part of each value under its key; a bottom value is one part {k: ⊥}.
function walkGMap(r: Reader, v: Spec): void {
  const n = r.varint();
  for (let i: u64 = 0; i < n; i++) {
    const k = r.p;
    skipBytes(r);
    if (stop) { skipBody(r, v); continue; }
    const mark = part.pos;
    part.varint(1);
    part.raw(k, <i32>(r.p - k));
    const before = emitted;
    const body = r.p;
    walkBody(r, v);
    if (emitted == before && !stop) {
      // no part: the value is bottom, and {k: ⊥} is itself irreducible
      if (counting) emitted++;
      else { r.p = body; skipBody(r, v); const m2 = part.pos; part.raw(body, <i32>(r.p - body)); emit(m2); }
    }
    if (stop) { r.p = body; skipBody(r, v); }
    part.pos = mark;
  }
}

// The dots a single-dot context holds, written canonically: (r, 1) is a
// version vector entry, any other counter a cloud dot.
function writeDotContext(rep: usize, repLen: i32, c: u64): void {
  if (c == 1) { part.varint(1); part.varint(<u64>repLen); part.raw(rep, repLen); part.varint(1); part.varint(0); }
  else { part.varint(0); part.varint(1); part.varint(<u64>repLen); part.raw(rep, repLen); part.varint(c); }
}

// Dots of the store, to skip them among the context's dots: a byte table
// (assembly/data) keyed by replica bytes then the counter's 8 bytes, built in
// one reused key buffer (replica ids are at most 255 bytes), no object per dot.
const storeDots = new ByteTable();
const dotKeyBuf: usize = memory.data(MAX_REPLICA + 8);
// dotKeyBuf := the key of (rep, c); returns its length.
function dotKey(rep: usize, repLen: i32, c: u64): usize {
  memory.copy(dotKeyBuf, rep, <usize>repLen);
  store<u64>(dotKeyBuf + <usize>repLen, c);
  return <usize>(repLen + 8);
}
function addStoreDot(rep: usize, repLen: i32, c: u64): void {
  const n = dotKey(rep, repLen, c);
  if (storeDots.add(dotKeyBuf, n) < 0) { setError(E_OUT_OF_MEMORY); stop = true; }
}
// Empties the table, giving a large one's memory back.
function dropStoreDots(): void {
  if (storeDots.keys.cap >= (16 << 10)) storeDots.free(); else storeDots.clear();
}

// AWSet, EWFlag, MVRegister (and AWMap's presence): context, then the store.
// Parts: each store dot with its payload and a context of that dot alone; then
// each other context dot alone, by replica then counter.
function walkCausal(r: Reader, tag: u8): void {
  const ccAt = r.p;
  if (counting) {
    // |parts| = |context|: every store dot is in the context.
    const n = r.varint();
    let total: u64 = 0;
    for (let i: u64 = 0; i < n; i++) { skipBytes(r); const v = r.varint(); total = v > U64.MAX_VALUE - total ? U64.MAX_VALUE : total + v; }
    const m = r.varint();
    for (let i: u64 = 0; i < m; i++) { skipBytes(r); r.varint(); }
    emitMany(total + m);
    // skip the store
    const k = r.varint();
    for (let i: u64 = 0; i < k; i++) skipStoreItem(r, tag);
    return;
  }
  skipContext(r);
  const ccEnd = r.p;
  dropStoreDots();
  const n = r.varint();
  for (let i: u64 = 0; i < n; i++) {
    if (tag == T_AWSET) {
      const e = r.p;
      skipBytes(r);
      const eEnd = r.p;
      const m = r.varint();
      for (let j: u64 = 0; j < m; j++) {
        const d = r.p;
        const rl = <i32>r.varint(); const rp = r.p; r.p += <usize>rl;
        const c = r.varint();
        addStoreDot(rp, rl, c);
        if (stop) continue;
        const mark = part.pos;
        writeDotContext(rp, rl, c);
        part.varint(1); part.raw(e, <i32>(eEnd - e)); part.varint(1); part.raw(d, <i32>(r.p - d));
        emit(mark);
      }
    } else {
      const d = r.p;
      const rl = <i32>r.varint(); const rp = r.p; r.p += <usize>rl;
      const c = r.varint();
      if (tag == T_MVREGISTER) skipBytes(r);
      addStoreDot(rp, rl, c);
      if (stop) continue;
      const mark = part.pos;
      writeDotContext(rp, rl, c);
      part.varint(1); part.raw(d, <i32>(r.p - d));
      emit(mark);
    }
  }
  if (stop) { dropStoreDots(); return; }
  const end = r.p;
  // The context's dots: merge the version vector and the cloud by replica.
  const cc = new Reader(ccAt, ccEnd);
  let vn = cc.varint();
  const vvAt = cc.p;
  for (let i: u64 = 0; i < vn; i++) { skipBytes(cc); cc.varint(); }
  let cn = cc.varint();
  const v = new Reader(vvAt, cc.p);
  const cl = new Reader(cc.p, ccEnd);
  let vRep: usize = 0, vLen: i32 = 0, vMax: u64 = 0;
  let cRep: usize = 0, cLen: i32 = 0, cC: u64 = 0;
  let haveV = vn > 0, haveC = cn > 0;
  if (haveV) { vLen = <i32>v.varint(); vRep = v.p; v.p += <usize>vLen; vMax = v.varint(); vn--; }
  if (haveC) { cLen = <i32>cl.varint(); cRep = cl.p; cl.p += <usize>cLen; cC = cl.varint(); cn--; }
  while ((haveV || haveC) && !stop) {
    // next replica in byte order
    let takeV = haveV && (!haveC || compare(vRep, vLen, cRep, cLen) <= 0);
    if (takeV) {
      for (let c: u64 = 1; c <= vMax && !stop; c++) contextDot(vRep, vLen, c);
      // this replica's cloud dots follow its version vector
      while (haveC && !stop && compare(vRep, vLen, cRep, cLen) == 0) {
        contextDot(cRep, cLen, cC);
        haveC = cn > 0;
        if (haveC) { cLen = <i32>cl.varint(); cRep = cl.p; cl.p += <usize>cLen; cC = cl.varint(); cn--; }
      }
      haveV = vn > 0;
      if (haveV) { vLen = <i32>v.varint(); vRep = v.p; v.p += <usize>vLen; vMax = v.varint(); vn--; }
    } else {
      contextDot(cRep, cLen, cC);
      haveC = cn > 0;
      if (haveC) { cLen = <i32>cl.varint(); cRep = cl.p; cl.p += <usize>cLen; cC = cl.varint(); cn--; }
    }
  }
  dropStoreDots();
  r.p = end;
}

function skipStoreItem(r: Reader, tag: u8): void {
  if (tag == T_AWSET) { skipBytes(r); const m = r.varint(); for (let j: u64 = 0; j < m; j++) { skipBytes(r); r.varint(); } }
  else { skipBytes(r); r.varint(); if (tag == T_MVREGISTER) skipBytes(r); }
}

// A context dot that is not in the store: a part with only that dot seen.
function contextDot(rep: usize, len: i32, c: u64): void {
  if (storeDots.count > 0 && storeDots.find(dotKeyBuf, dotKey(rep, len, c)) >= 0) return;
  const mark = part.pos;
  writeDotContext(rep, len, c);
  part.varint(0);
  emit(mark);
}

function compare(a: usize, alen: i32, b: usize, blen: i32): i32 {
  const n = min(alen, blen);
  for (let i = 0; i < n; i++) {
    const x = <i32>load<u8>(a + i), y = <i32>load<u8>(b + i);
    if (x != y) return x - y;
  }
  return alen - blen;
}
