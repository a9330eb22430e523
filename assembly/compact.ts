// The compact form (versions 2 and 3, docs/format.md): what every state
// leaves the kernel as, and the form peers and storage exchange. Inside, the
// kernels parse and write the *expanded* form: the compact layout with each
// replica id inline, each LWW timestamp absolute and each sorted key whole,
// which is version 1's layout, with version 3's user values. This file is the
// one place that knows the difference:
//
//   expand:  compact → expanded, checking what only the compact form can
//            get wrong (table order, unreferenced entries, out-of-range
//            indices, the timestamp base, non-maximal shared prefixes); the
//            type parsers then check everything else.
//   compact: expanded → compact version 3, in two passes over the expanded
//            bytes: collect the replicas referenced and the least timestamp,
//            then write the table, the base and the body.
//
// Versions 1 and 2 hold the old user values: legacy.ts rewrites them (a
// version 2 input is expanded first), once, on the way in.
//
// The expanded form carries the header version byte EXPANDED, which no
// external input may carry (openState refuses it), so it never leaves the
// kernel and never needs to be canonical against anything but itself.
import { Reader, Writer } from "./codec";
import {
  E_BAD_MAGIC, E_BAD_VERSION, E_INVALID, E_NONCANONICAL, E_OUT_OF_MEMORY, E_OVERFLOW, E_TOO_LARGE,
  E_TRAILING, E_TRUNCATED, MAX_KEY, MAX_REPLICA, setError,
} from "./errors";
import { ByteTable, Vec, LARGE, alloc, canAlloc, compareBytes, equalBytes, release, resize, sortedIndex } from "./data/index";
import {
  Lattice, Spec, T_GCOUNTER, T_PNCOUNTER, T_MAXINT, T_EWFLAG, T_IVAR, T_LWWREGISTER,
  T_MVREGISTER, T_GSET, T_TWOPSET, T_AWSET, T_ORSET, T_GMAP, T_AWMAP, T_PAIR, T_TOPK,
} from "./lattice";
import { readSpec, writeSpec } from "./registry";
import { MAGIC0, MAGIC1, FORMAT_VERSION, V1, V2, EXPANDED, readState, writeState } from "./state";
import { XBuf } from "./xbuf";
import { transcode, doneTranscoding } from "./legacy";

// A shared prefix is the longest common one, but at most this long: a key of
// a few bytes can then expand to at most 255 more, which bounds what a hostile
// list of short entries costs to expand (about 85 × its size) instead of
// letting each reuse a megabyte of the key before it.
export const MAX_PREFIX: i32 = 255;

// Whether a spec has an LWWRegister anywhere (then the state has a timestamp base).
export function hasTimestamps(s: Spec): bool {
  if (s.tag == T_LWWREGISTER) return true;
  if (s.a !== null && hasTimestamps(s.a!)) return true;
  return s.b !== null && hasTimestamps(s.b!);
}

// ---- expand: compact v2 → expanded ---------------------------------------------

// Inputs from this size up are measured before they are expanded.
const MEASURE_FROM: i32 = 16 << 10;

const tabPtr = new Vec<u32>();  // table entry i: where its bytes start in the input
const tabLen = new Vec<u32>();  // and how many
const tabUsed = new Vec<u8>();  // referenced by the body
let tsBase: u64 = 0;
let tsSeen = false;             // a timestamp was read
let tsMinSeen = false;          // one of them was the base

// Reads one compact v2 state at r (its header included) and writes its
// expanded form to w, from its start (measured first when large). r ends
// after the state; on bad input r.err is set (w is then garbage).
export function expand(r: Reader, w: XBuf): void {
  if (r.left >= MEASURE_FROM) {
    const at = r.p;
    w.start(true);
    expandPass(r, w);
    if (!r.ok) return;
    if (!w.reserve(w.size)) { r.fail(E_OUT_OF_MEMORY); return; }
    r.p = at;
  }
  w.start(false);
  expandPass(r, w);
}

function expandPass(r: Reader, w: XBuf): void {
  const m0 = r.u8(), m1 = r.u8();
  if (!r.ok) return;
  if (m0 != MAGIC0 || m1 != MAGIC1) { r.fail(E_BAD_MAGIC); return; }
  const ver = r.u8();
  if (ver != FORMAT_VERSION && ver != V2) { r.fail(E_BAD_VERSION); return; }
  cutKeys = ver == FORMAT_VERSION;
  const specAt = r.p;
  const spec = readSpec(r, 0);
  if (!r.ok) return;
  w.u8(MAGIC0); w.u8(MAGIC1); w.u8(EXPANDED);
  w.raw(specAt, <i32>(r.p - specAt));

  // table := count replica:bytes*, strictly increasing
  const n = r.count(1);
  tabPtr.clear(); tabLen.clear(); tabUsed.clear();
  if (!tabPtr.reserve(n) || !tabLen.reserve(n) || !tabUsed.reserve(n)) { r.fail(E_OUT_OF_MEMORY); return; }
  for (let i = 0; i < n && r.ok; i++) {
    const p = r.replicaRaw(), len = r.rawLen;
    if (!r.ok) return;
    if (i > 0 && compareBytes(<usize>tabPtr.get(i - 1), <usize>tabLen.get(i - 1), p, <usize>len) >= 0) { r.fail(E_NONCANONICAL); return; }
    tabPtr.pushReserved(<u32>p); tabLen.pushReserved(<u32>len); tabUsed.pushReserved(0);
  }
  const timed = hasTimestamps(spec);
  tsBase = timed ? r.varint() : 0;
  tsSeen = false; tsMinSeen = false;
  if (!r.ok) return;

  expandBody(r, w, spec);
  if (!r.ok) return;
  for (let i = 0; i < n; i++) if (tabUsed.get(i) == 0) { r.fail(E_NONCANONICAL); return; }
  // The base is the least timestamp, or 0 when there is none.
  if (timed && (tsSeen ? !tsMinSeen : tsBase != 0)) { r.fail(E_NONCANONICAL); return; }
  if (w.failed) r.fail(E_OUT_OF_MEMORY);
}

@inline function copyVarint(r: Reader, w: XBuf): void { w.varint(r.varint()); }

// bytes, copied as they are (a value: the type parser checks it).
function copyBytes(r: Reader, w: XBuf): void {
  const n = r.varint();
  if (!r.ok) return;
  if (n > <u64>MAX_KEY) { r.fail(E_TOO_LARGE); return; }
  if (n > <u64>r.left) { r.fail(E_TRUNCATED); return; }
  w.varint(n);
  w.raw(r.p, <i32>n);
  r.p += <usize>n;
}

// replica:varint, an index into the table → replica:bytes.
function expandRep(r: Reader, w: XBuf): void {
  const i = r.varint();
  if (!r.ok) return;
  if (i >= <u64>tabPtr.len) { r.fail(E_INVALID); return; }
  const k = <i32>i;
  tabUsed.set(k, 1);
  const n = tabLen.get(k);
  w.varint(<u64>n);
  w.raw(<usize>tabPtr.get(k), <i32>n);
}

function expandTs(r: Reader, w: XBuf): void {
  const d = r.varint();
  if (!r.ok) return;
  // A timestamp of 2^64 − 1 (or one past it) is refused like v1's: OVERFLOW.
  if (d >= U64.MAX_VALUE - tsBase) { r.fail(E_OVERFLOW); return; }
  tsSeen = true;
  if (d == 0) tsMinSeen = true;
  w.varint(tsBase + d);
}

// The keys of one sorted list: shared-prefix-len:varint suffix:bytes, against
// the key before (written whole in w; its offset there, since w may move).
// A key whose last byte is 0x00 (a string, bytes, array or object value, or
// the number +0: docs/format.md, "Sorted keys") is written without it: the
// reader appends it when the key's tag says so. `tag` is the key's first byte.
class KeyCursor { off: i32 = 0; len: i32 = 0; tag: u32 = 0; }

// Whether the input's keys leave out a final 0x00 (version 3; version 2
// wrote them whole).
let cutKeys = true;

// Whether a key of n bytes with this first byte had its final 0x00 left out.
@inline function endsInZero(tag: u32, n: i32): bool {
  return (tag >= 6 && tag <= 9) || (tag == 5 && n == 1);
}

function expandKey(r: Reader, w: XBuf, prev: KeyCursor): void {
  const lcp = r.varint();
  if (!r.ok) return;
  const sn = r.varint();
  if (!r.ok) return;
  if (lcp > <u64>prev.len || lcp > <u64>MAX_PREFIX) { r.fail(E_NONCANONICAL); return; }
  if (sn > <u64>r.left) { r.fail(E_TRUNCATED); return; }
  const l = <i32>lcp, s = <i32>sn;
  if (l + s > MAX_KEY) { r.fail(E_TOO_LARGE); return; }
  const tag: u32 = l > 0 ? prev.tag : s > 0 ? <u32>load<u8>(r.p) : 0;
  // +0 written whole (05 00) would be a second form of 05.
  if (cutKeys && tag == 5 && l + s == 2 && s > 0 && load<u8>(r.p + <usize>(s - 1)) == 0) { r.fail(E_NONCANONICAL); return; }
  const z = cutKeys && l + s > 0 && endsInZero(tag, l + s) ? 1 : 0;
  const n = l + s + z;
  if (n > MAX_KEY) { r.fail(E_TOO_LARGE); return; }
  w.varint(<u64>n);
  if (w.sizing) { // the writing pass checks the prefix: it has the key before
    w.size += <u64>n;
    r.p += <usize>s;
    prev.len = n; prev.tag = tag;
    return;
  }
  // Maximal: the key's byte after the prefix (the suffix's first, or the
  // appended 0x00) may not be the one the previous key has there (unless the
  // cap stopped the prefix). A key that is not greater than the one before
  // is left to the type parser, which refuses the order.
  if (l < MAX_PREFIX && l < prev.len && (s > 0 || z > 0)) {
    const next: u32 = s > 0 ? <u32>load<u8>(r.p) : 0;
    if (next == <u32>load<u8>(w.ptr + <usize>(prev.off + l))) { r.fail(E_NONCANONICAL); return; }
  }
  if (!w.ensure(n)) { r.fail(E_OUT_OF_MEMORY); return; }
  const at = w.pos;
  memory.copy(w.ptr + <usize>at, w.ptr + <usize>prev.off, <usize>l);
  memory.copy(w.ptr + <usize>(at + l), r.p, <usize>s);
  if (z > 0) store<u8>(w.ptr + <usize>(at + l + s), 0);
  w.pos += n;
  r.p += <usize>s;
  prev.off = at; prev.len = n; prev.tag = tag;
}

function expandContext(r: Reader, w: XBuf): void {
  const n = r.count(2);
  w.varint(<u64>n);
  for (let i = 0; i < n && r.ok; i++) { expandRep(r, w); copyVarint(r, w); }
  const m = r.count(2);
  w.varint(<u64>m);
  for (let i = 0; i < m && r.ok; i++) { expandRep(r, w); copyVarint(r, w); }
}

function expandBody(r: Reader, w: XBuf, s: Spec): void {
  switch (s.tag) {
    case T_GCOUNTER: {
      const n = r.count(2);
      w.varint(<u64>n);
      for (let i = 0; i < n && r.ok; i++) { expandRep(r, w); copyVarint(r, w); }
      break;
    }
    case T_PNCOUNTER: expandBody(r, w, GCOUNTER); expandBody(r, w, GCOUNTER); break;
    case T_MAXINT: copyVarint(r, w); break;
    case T_IVAR: {
      const f = r.u8();
      if (!r.ok) return;
      if (f > 1) { r.fail(E_INVALID); return; }
      w.u8(f);
      if (f == 1) copyBytes(r, w);
      break;
    }
    case T_LWWREGISTER: {
      const f = r.u8();
      if (!r.ok) return;
      if (f > 1) { r.fail(E_INVALID); return; }
      w.u8(f);
      if (f == 1) { expandTs(r, w); expandRep(r, w); copyBytes(r, w); }
      break;
    }
    case T_GSET: {
      const n = r.count(2);
      w.varint(<u64>n);
      const prev = new KeyCursor();
      for (let i = 0; i < n && r.ok; i++) expandKey(r, w, prev);
      break;
    }
    case T_TWOPSET: expandBody(r, w, GSET); expandBody(r, w, GSET); break;
    case T_EWFLAG: case T_MVREGISTER: case T_AWSET: {
      expandContext(r, w);
      const n = r.count(2);
      w.varint(<u64>n);
      const prev = new KeyCursor();
      for (let i = 0; i < n && r.ok; i++) {
        if (s.tag == T_AWSET) {
          expandKey(r, w, prev);
          const m = r.count(2);
          w.varint(<u64>m);
          for (let j = 0; j < m && r.ok; j++) { expandRep(r, w); copyVarint(r, w); }
        } else {
          expandRep(r, w); copyVarint(r, w);
          if (s.tag == T_MVREGISTER) copyBytes(r, w);
        }
      }
      break;
    }
    case T_ORSET: {
      const n = r.count(3);
      w.varint(<u64>n);
      const prev = new KeyCursor();
      for (let i = 0; i < n && r.ok; i++) {
        expandKey(r, w, prev);
        const m = r.count(3);
        w.varint(<u64>m);
        for (let j = 0; j < m && r.ok; j++) { expandRep(r, w); copyVarint(r, w); w.u8(r.u8()); }
      }
      break;
    }
    case T_GMAP: {
      const n = r.count(3);
      w.varint(<u64>n);
      const prev = new KeyCursor();
      for (let i = 0; i < n && r.ok; i++) { expandKey(r, w, prev); expandBody(r, w, s.a!); }
      break;
    }
    case T_AWMAP: {
      expandBody(r, w, AWSET);
      const n = r.count(3);
      w.varint(<u64>n);
      const prev = new KeyCursor();
      for (let i = 0; i < n && r.ok; i++) { expandKey(r, w, prev); expandBody(r, w, s.a!); }
      break;
    }
    case T_PAIR: expandBody(r, w, s.a!); expandBody(r, w, s.b!); break;
    case T_TOPK: {
      const n = r.count(3);
      w.varint(<u64>n);
      const prev = new KeyCursor();
      for (let i = 0; i < n && r.ok; i++) { expandKey(r, w, prev); copyVarint(r, w); }
      break;
    }
  }
}

// ---- compact: expanded → compact v2 ---------------------------------------------

const reps = new ByteTable();    // the replicas the body references (pass 1)
const order = new Vec<u32>();    // their indices in byte order
const rank = new Vec<u32>();     // index → position in the table
let minTs: u64 = 0;
let collecting = true;
// Whether every replica reference so far was new and above the one before
// (a GCounter's entries, an LWW map's single writer...): then the table is
// already in byte order, nothing needs sorting, and the k-th reference of the
// second pass is table entry k. A 100k-replica GCounter's encode spent most
// of its time sorting the table and hashing each id twice.
let mono = true;
let monoP: usize = 0, monoN: usize = 0;
let monoNext: u32 = 0;
// The previous reference (lastN −1: none yet in this pass) and, in the
// second pass, the index written for it.
let lastP: usize = 0, lastN: i32 = -1;
let lastRank: u32 = 0;

// Appends the compact form of the expanded state at [p, p + len) to w.
// False after setError (OUT_OF_MEMORY) when tables could not grow.
export function compactInto(p: usize, len: i32, w: Writer): bool {
  const r = new Reader(p, p + <usize>len);
  r.u8(); r.u8(); r.u8(); // 'T' 'R' EXPANDED
  const specAt = r.p;
  const spec = readSpec(r, 0);
  const bodyAt = r.p;

  reps.clear();
  minTs = U64.MAX_VALUE;
  collecting = true;
  mono = true; monoNext = 0; lastN = -1;
  compactBody(r, w, spec);
  if (!r.ok) return false; // a replica could not be interned: setError was called
  if (!mono) {
    rank.clear();
    if (!sortedIndex(reps, order) || !rank.reserve(reps.count)) { setError(E_OUT_OF_MEMORY); return false; }
    rank.len = reps.count;
    for (let k = 0; k < order.len; k++) rank.set(<i32>order.get(k), <u32>k);
  }

  w.u8(MAGIC0); w.u8(MAGIC1); w.u8(FORMAT_VERSION);
  w.raw(specAt, <i32>(bodyAt - specAt));
  w.varint(<u64>reps.count);
  for (let k = 0; k < reps.count; k++) {
    const i = mono ? k : <i32>order.get(k);
    const n = reps.keyLen(i);
    w.varint(<u64>n);
    w.raw(reps.keyPtr(i), <i32>n);
  }
  if (hasTimestamps(spec)) {
    if (minTs == U64.MAX_VALUE) minTs = 0; // no timestamp
    w.varint(minTs);
  }
  collecting = false;
  lastN = -1;
  r.p = bodyAt;
  compactBody(r, w, spec);
  if (!r.ok) unreachable(); // the expanded form is the kernel's own
  // clear() costs the table's slot count: a decomposition compacts each of
  // millions of parts, so a table grown by one state of many replicas goes.
  if (reps.mask > 1023 || reps.count > 1024) { reps.free(); order.free(); rank.free(); }
  return !w.failed;
}

// The compact encoding of a state, appended to w (writeState's v2).
const scratch = new Writer(true);
export function writeCompact(w: Writer, v: Lattice): void {
  const start = w.pos;
  w.u8(MAGIC0); w.u8(MAGIC1); w.u8(FORMAT_VERSION);
  writeSpec(w, v.spec);
  if (v.encodeCompact(w)) return;
  w.pos = start;
  scratch.reset();
  writeState(scratch, v);
  if (scratch.failed) return; // setError was called
  compactInto(scratch.ptr, scratch.pos, w);
  shrink(scratch, KEEP_EXPANDED);
}

// A scratch buffer above `keep` bytes goes back to the allocator after use, so
// one large state does not hold its expanded size for the life of the instance.
export function shrink(w: Writer, keep: i32 = 1 << 20): void { w.shrink(keep); }

// The expanded form of a state being encoded is usually 1.5-3 × its compact
// one (replica ids and shared key prefixes written out). Its buffer is kept
// for the next call while small; a larger one (a span) goes back, so the
// pages serve the next state or encoding instead of staying reserved.
const KEEP_EXPANDED: i32 = 64 << 10;

function passBytes(r: Reader, w: Writer): void {
  const n = <i32>r.varint();
  if (!collecting) { w.varint(<u64>n); w.raw(r.p, n); }
  r.p += <usize>n;
}

@inline function passVarint(r: Reader, w: Writer): void {
  const v = r.varint();
  if (!collecting) w.varint(v);
}

function compactRep(r: Reader, w: Writer): void {
  const n = <i32>r.varint();
  const p = r.p;
  r.p += <usize>n;
  // The same replica as the reference before (a single writer's map, a
  // replica's run of dots): nothing to add, and the same index to write.
  if (lastN >= 0 && equalBytes(lastP, <usize>lastN, p, <usize>n)) {
    if (!collecting) w.varint(<u64>lastRank);
    return;
  }
  lastP = p; lastN = n;
  if (collecting) {
    if (mono && (reps.count == 0 || compareBytes(monoP, monoN, p, <usize>n) < 0)) {
      monoP = p; monoN = <usize>n;
      // New by order alone: appended without hashing while the table has no index.
      if (reps.slots == 0) {
        if (reps.reserveUnindexed(1, n)) { reps.appendUnindexed(p, <usize>n); return; }
      } else if (reps.add(p, <usize>n) >= 0) return;
      setError(E_OUT_OF_MEMORY); r.fail(E_OUT_OF_MEMORY);
      return;
    }
    if (mono) { mono = false; if (!reps.buildIndex()) { setError(E_OUT_OF_MEMORY); r.fail(E_OUT_OF_MEMORY); return; } }
    if (reps.add(p, <usize>n) < 0) { setError(E_OUT_OF_MEMORY); r.fail(E_OUT_OF_MEMORY); }
  } else {
    lastRank = mono ? monoNext++ : rank.get(reps.find(p, <usize>n));
    w.varint(<u64>lastRank);
  }
}

function compactTs(r: Reader, w: Writer): void {
  const t = r.varint();
  if (collecting) { if (t < minTs) minTs = t; }
  else w.varint(t - minTs);
}

class PrevKey { p: usize = 0; len: i32 = 0; }

function compactKey(r: Reader, w: Writer, prev: PrevKey): void {
  const n = <i32>r.varint();
  const p = r.p;
  r.p += <usize>n;
  if (collecting) return;
  const most = min(min(n, prev.len), MAX_PREFIX);
  let l = 0;
  while (l < most && load<u8>(p + <usize>l) == load<u8>(prev.p + <usize>l)) l++;
  // A final 0x00 is left out (expandKey puts it back); a key is never a
  // prefix of the one after it, so l stays below n.
  const z = n > 0 && load<u8>(p + <usize>(n - 1)) == 0 ? 1 : 0;
  w.varint(<u64>l);
  w.varint(<u64>(n - l - z));
  w.raw(p + <usize>l, n - l - z);
  prev.p = p; prev.len = n;
}

function compactContext(r: Reader, w: Writer): void {
  const n = <i32>r.varint();
  if (!collecting) w.varint(<u64>n);
  for (let i = 0; i < n; i++) { compactRep(r, w); passVarint(r, w); }
  const m = <i32>r.varint();
  if (!collecting) w.varint(<u64>m);
  for (let i = 0; i < m; i++) { compactRep(r, w); passVarint(r, w); }
}

@inline function count(r: Reader, w: Writer): i32 {
  const n = r.varint();
  if (!collecting) w.varint(n);
  return <i32>n;
}

function compactBody(r: Reader, w: Writer, s: Spec): void {
  switch (s.tag) {
    case T_GCOUNTER: {
      const n = count(r, w);
      for (let i = 0; i < n; i++) { compactRep(r, w); passVarint(r, w); }
      break;
    }
    case T_PNCOUNTER: compactBody(r, w, GCOUNTER); compactBody(r, w, GCOUNTER); break;
    case T_MAXINT: passVarint(r, w); break;
    case T_IVAR: {
      const f = r.u8();
      if (!collecting) w.u8(f);
      if (f == 1) passBytes(r, w);
      break;
    }
    case T_LWWREGISTER: {
      const f = r.u8();
      if (!collecting) w.u8(f);
      if (f == 1) { compactTs(r, w); compactRep(r, w); passBytes(r, w); }
      break;
    }
    case T_GSET: {
      const n = count(r, w);
      const prev = new PrevKey();
      for (let i = 0; i < n; i++) compactKey(r, w, prev);
      break;
    }
    case T_TWOPSET: compactBody(r, w, GSET); compactBody(r, w, GSET); break;
    case T_EWFLAG: case T_MVREGISTER: case T_AWSET: {
      compactContext(r, w);
      const n = count(r, w);
      const prev = new PrevKey();
      for (let i = 0; i < n; i++) {
        if (s.tag == T_AWSET) {
          compactKey(r, w, prev);
          const m = count(r, w);
          for (let j = 0; j < m; j++) { compactRep(r, w); passVarint(r, w); }
        } else {
          compactRep(r, w); passVarint(r, w);
          if (s.tag == T_MVREGISTER) passBytes(r, w);
        }
      }
      break;
    }
    case T_ORSET: {
      const n = count(r, w);
      const prev = new PrevKey();
      for (let i = 0; i < n; i++) {
        compactKey(r, w, prev);
        const m = count(r, w);
        for (let j = 0; j < m; j++) {
          compactRep(r, w); passVarint(r, w);
          const f = r.u8();
          if (!collecting) w.u8(f);
        }
      }
      break;
    }
    case T_GMAP: {
      const n = count(r, w);
      const prev = new PrevKey();
      for (let i = 0; i < n; i++) { compactKey(r, w, prev); compactBody(r, w, s.a!); }
      break;
    }
    case T_AWMAP: {
      compactBody(r, w, AWSET);
      const n = count(r, w);
      const prev = new PrevKey();
      for (let i = 0; i < n; i++) { compactKey(r, w, prev); compactBody(r, w, s.a!); }
      break;
    }
    case T_PAIR: compactBody(r, w, s.a!); compactBody(r, w, s.b!); break;
    case T_TOPK: {
      const n = count(r, w);
      const prev = new PrevKey();
      for (let i = 0; i < n; i++) { compactKey(r, w, prev); passVarint(r, w); }
      break;
    }
  }
}

const GCOUNTER = new Spec(T_GCOUNTER);
const GSET = new Spec(T_GSET);
const AWSET = new Spec(T_AWSET);

// ---- reading states from outside -------------------------------------------------

const expanded = new XBuf();
const legacy = new XBuf(); // a version 2 input's expansion, before its values are rewritten
const xr = new Reader(0, 0);

// Reads the state at r (from r.p; r ends after it) into `expanded`, in the
// form the parsers read: version 3 is expanded; versions 1 and 2 (version 2
// expanded first) have their values rewritten to version 3's (legacy.ts).
// Other version bytes, the expanded one included (only the kernel writes it),
// are left for readHeader to refuse: the caller reads r then. Returns whether
// `expanded` holds the state; on bad input r.err is set.
function intoExpanded(r: Reader): bool {
  if (r.left < 3 || load<u8>(r.p) != MAGIC0 || load<u8>(r.p + 1) != MAGIC1) return false;
  const v = load<u8>(r.p + 2);
  if (v == FORMAT_VERSION) { expand(r, expanded); return true; }
  if (v == V2) {
    expand(r, legacy);
    if (!r.ok) return true;
    const x = new Reader(legacy.ptr, legacy.ptr + <usize>legacy.pos);
    transcode(x, expanded);
    if (!x.ok) r.fail(x.err);
    return true;
  }
  if (v == V1) { transcode(r, expanded); return true; }
  if (v == EXPANDED) r.fail(E_BAD_VERSION);
  return false;
}

// A reader over the one state r holds from r.p to r.end, in expanded form:
// r itself when the version byte is not one this build reads (readHeader
// then refuses it). On failure the returned reader has err set.
export function openState(r: Reader): Reader {
  if (!intoExpanded(r)) return r;
  if (r.ok && !r.done) r.fail(E_TRAILING);
  if (!r.ok) return r;
  xr.p = expanded.ptr; xr.end = expanded.ptr + <usize>expanded.pos;
  xr.err = 0; xr.dry = false; xr.rawLen = 0; xr.version = FORMAT_VERSION;
  return xr;
}

// Reads one state (any version) at r, which may hold more after it: r ends
// after it. Returns null with r.err set on bad input.
export function readAnyState(r: Reader): Lattice | null {
  if (!intoExpanded(r)) return r.ok ? readState(r) : null;
  if (!r.ok) { doneWithInput(); return null; }
  const x = new Reader(expanded.ptr, expanded.ptr + <usize>expanded.pos);
  const s = readState(x);
  if (x.ok && !x.done) x.fail(E_TRAILING);
  doneWithInput();
  if (!x.ok) { if (s !== null) s.free(); r.fail(x.err); return null; }
  return s;
}

// Frees the expanded copy of a large input once the call is done.
export function doneWithInput(): void { expanded.done(); legacy.done(); doneTranscoding(); }
