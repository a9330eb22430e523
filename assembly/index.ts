// The kernel ABI: plain i32/usize functions over handles and one input and
// one output buffer, so the host crosses the boundary once per batch and no
// managed object ever leaves Wasm. Negative results are -error codes
// (errors.ts). docs/abi.md documents every export.
import { Reader, Writer } from "./codec";
import {
  E_BAD_HANDLE, E_INVALID, E_TRAILING, E_TYPE_MISMATCH, E_TOO_LARGE, E_TRUNCATED,
  E_UNSUPPORTED, E_NOT_FOUND, E_OUT_OF_MEMORY, MAX_REPLICA, MAX_PARTS, MAX_KEY, takeError,
} from "./errors";
import { Lattice, Spec, beginBatch, T_MAXINT } from "./lattice";
import { readSpec, writeSpec, newBottom, specOfTag } from "./registry";
import { readState, readHeader, writeState } from "./state";
import { openState, writeCompact, doneWithInput } from "./compact";
import { setCapPages, alloc, release, resize, spanFreeBytes, LARGE } from "./data/index";
import { realPass } from "./data/mem";
import { setHashSeed as setSeed } from "./data/hash";
import { listMints } from "./mint";
import { sweptBytes, resetSwept } from "./data/finalize";
import { walk, joinMissing as walkJoinMissing, selected, MODE_COUNT, MODE_PARTS, MODE_HASH } from "./parts";


// One slot of the handle table. Slots are reused: a disposed handle's object
// waits in the table for the next put(), so a decode + dispose allocates no
// Handle after the first. The replica id is kept as bytes in a raw block the
// slot owns and reuses; the string the ops take is made on the first op. The
// pending delta-group is made on the first local op too (most states are
// decoded, merged and read, never written).
class Handle {
  live: bool = false;
  state: Lattice;
  pending: Lattice | null = null; // delta-group of local ops not yet taken
  rep: usize = 0;   // replica id bytes (raw block, kept across reuses)
  repCap: i32 = 0;
  repLen: i32 = 0;
  repStr: string | null = null;
  constructor(state: Lattice) { this.state = state; }

  // The pending delta-group, made (bottom) if there is none yet.
  group(): Lattice {
    let p = this.pending;
    if (p === null) { p = this.state.bottom(); this.pending = p; }
    return p;
  }

  // The replica id as ops take it (a key string, codec.ts).
  replica(): string {
    const c = this.repStr;
    if (c !== null) return c;
    const s = sameAsLast(this.rep, this.repLen) ? lastReplica : byteString(this.rep, this.repLen);
    lastReplica = s;
    this.repStr = s;
    return s;
  }
}

// A free slot keeps its Handle (and replica block) for reuse while fewer than
// POOL slots are free; beyond that it is emptied, so a burst of a million
// handles does not keep a million slots' memory once they are disposed.
const handles = new Array<Handle | null>();
const free = new Array<i32>();
const POOL = 1024;
// The input buffer is raw memory, so the old one is freed the moment it is
// replaced instead of lingering until a collection.
// Allocated by the first input() call (no start-up allocation, and no
// non-zero mutable global beside the stack pointer: test/wasi.test.ts).
let inPtr: usize = 0;
let inCap: i32 = 0;
// The output buffer: a managed one (TLSF). In page spans it would not double
// memory when a large encode grows it, but TLSF would then lose the room a
// freed large output leaves it, and TLSF grows by doubling all of memory when
// a small allocation finds none (test/data-layer.test.ts, TopK evictions:
// 156 MiB → 312 MiB). Until small blocks stop doubling memory, it stays here.
const out = new Writer();
// What a free slot's state points at, so a disposed state (a large managed
// one included) is not kept reachable until its slot is reused.
let deadState: Lattice | null = null;
function dead(): Lattice {
  let d = deadState;
  if (d === null) { d = newBottom(specOfTag(T_MAXINT)); deadState = d; }
  return d;
}

// A new handle for state and pending, with the replica id bytes rp[0..rn)
// (rs: their string, when known). Returns -OUT_OF_MEMORY, and takes nothing,
// when the id's block cannot grow: the caller then frees the states.
function put(state: Lattice, rp: usize, rn: i32, rs: string | null, pending: Lattice | null): i32 {
  let i: i32;
  if (free.length > 0) i = free.pop();
  else { handles.push(null); i = handles.length - 1; }
  let x = unchecked(handles[i]);
  if (x === null) { x = new Handle(dead()); unchecked(handles[i] = x); }
  if (rn > x.repCap) {
    const q = resize(x.rep, <usize>rn);
    if (q == 0) { free.push(i); return -E_OUT_OF_MEMORY; }
    x.rep = q; x.repCap = rn;
  }
  memory.copy(x.rep, rp, <usize>rn);
  x.repLen = rn; x.repStr = rs;
  x.live = true; x.state = state; x.pending = pending;
  return i + 1; // handles start at 1 so 0 is never valid
}

// Marks slot h-1 free; its state and pending group are the caller's to free.
function drop(h: i32): void {
  const x = unchecked(handles[h - 1])!;
  x.live = false; x.state = dead(); x.pending = null; x.repStr = null;
  if (free.length >= POOL) { release(x.rep); x.rep = 0; x.repCap = 0; unchecked(handles[h - 1] = null); }
  free.push(h - 1);
}

function handle(h: i32): Handle | null {
  if (h < 1 || h > handles.length) return null;
  const x = unchecked(handles[h - 1]);
  return x !== null && x.live ? x : null;
}

// One reader over the input buffer, reset per call (no object per call).
// A call reads its input with one reader at a time.
const rd = new Reader(0, 0);
function reader(len: i32): Reader {
  rd.p = inPtr;
  rd.end = inPtr + <usize>max(0, min(len, inCap));
  rd.err = 0; rd.dry = false; rd.rawLen = 0;
  return rd;
}

// The last replica string made: states of one node share their id, so its
// ops reuse one string instead of making one per state.
let lastReplica: string = "";

function sameAsLast(p: usize, n: i32): bool {
  const s = lastReplica;
  if (s.length != n) return false;
  const q = changetype<usize>(s);
  for (let i = 0; i < n; i++) if (<u32>load<u16>(q + (<usize>i << 1)) != <u32>load<u8>(p + <usize>i)) return false;
  return true;
}

// Bytes as a key string: one byte per UTF-16 unit (codec.ts, Reader.key).
function byteString(p: usize, n: i32): string {
  const s = changetype<string>(__new(<usize>n << 1, idof<string>()));
  const d = changetype<usize>(s);
  for (let i = 0; i < n; i++) store<u16>(d + (<usize>i << 1), load<u8>(p + <usize>i));
  return s;
}

// ---- buffers -------------------------------------------------------------

// Returns the input buffer, grown to hold at least len bytes. The host writes
// the call's input there, then calls with len. Valid until the next call.
// Returns 0 when the buffer cannot grow under the memory cap (the host then
// reports OUT_OF_MEMORY): 0 is never a buffer.
export function input(len: i32): usize {
  if (len > inCap || inPtr == 0) {
    // Doubling while small (many growing calls); once large, 1/8 more than
    // asked, so the next state of about the same size reuses the buffer but
    // a 10 MB state does not hold 16 MB of it (the merge budget, docs/abi.md).
    let cap = inCap << 1;
    if (cap < len) cap = max(len, 4096);
    if (<usize>len >= LARGE && len <= 0x7000_0000) cap = len + (len >> 3);
    // The old contents are dead (the host writes after this call): free, then allocate.
    release(inPtr);
    inPtr = alloc(<usize>cap);
    if (inPtr == 0) { inCap = 0; return 0; } // the host reports OUT_OF_MEMORY
    inCap = cap;
  }
  return inPtr;
}

// Gives a large input buffer back once an input is expanded (nothing then
// points into it): the join's new arrays may reuse its pages instead of
// growing memory beside it. The next call's input() allocates it again.
function dropInput(): void {
  if (<usize>inCap >= LARGE) { release(inPtr); inPtr = 0; inCap = 0; }
}

// The decoded state's replica id while the input it came in is dropped.
const repCopy: usize = memory.data(MAX_REPLICA);

// The output of the last call that returned a length.
export function output(): usize { return out.ptr; }

// The replica id at r: its bytes stay in the input (rawLen long), checked
// (at most MAX_REPLICA bytes of UTF-8).
function readReplica(r: Reader): usize { return r.replicaRaw(); }

// ---- lifecycle ----------------------------------------------------------

// input := replica spec. Returns a handle to a bottom state.
export function create(len: i32): i32 {
  const r = reader(len);
  const rp = readReplica(r), rn = r.rawLen;
  const spec = readSpec(r, 0);
  if (r.ok && !r.done) r.fail(E_TRAILING);
  if (!r.ok) return -r.err;
  const v = newBottom(spec);
  const h = put(v, rp, rn, null, null);
  if (h < 0) v.free();
  return h;
}

// input := replica state. Returns a handle to the decoded state.
export function decode(len: i32): i32 {
  const r = reader(len);
  let rp = readReplica(r);
  const rn = r.rawLen;
  if (!r.ok) return -r.err;
  const s = openState(r);
  if (s !== r && s.ok) { memory.copy(repCopy, rp, <usize>rn); rp = repCopy; dropInput(); }
  const v = s.ok ? readState(s) : null;
  if (s.ok && !s.done) s.fail(E_TRAILING);
  doneWithInput();
  if (!s.ok || v === null) {
    if (v !== null) v.free(); // decoded, but with bytes left over
    return -s.err;
  }
  const h = put(v, rp, rn, null, null);
  if (h < 0) v.free();
  return h;
}

// input := replica. Names the replica whose ops h makes from now on. The
// host decodes and creates states without one when the caller names none,
// and picks a random id only when the state is first written (or its id
// read): most decoded states are never written, and the id cost a third of
// a small decode (bench/boundary.ts).
export function setReplica(h: i32, len: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  const r = reader(len);
  const rp = readReplica(r), rn = r.rawLen;
  if (r.ok && !r.done) r.fail(E_TRAILING);
  if (!r.ok) return -r.err;
  if (rn > x.repCap) {
    const q = resize(x.rep, <usize>rn);
    if (q == 0) return -E_OUT_OF_MEMORY;
    x.rep = q; x.repCap = rn;
  }
  memory.copy(x.rep, rp, <usize>rn);
  x.repLen = rn; x.repStr = null;
  return 0;
}

export function dispose(h: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  x.state.free(); // data-layer memory goes back now, not at collection
  const p = x.pending;
  if (p !== null) p.free();
  drop(h);
  return 0;
}

export function clone(h: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  const c = x.state.clone();
  const e = takeError(); // out of memory while copying
  if (e != 0) { c.free(); return -e; }
  const n = put(c, x.rep, x.repLen, x.repStr, null);
  if (n < 0) c.free();
  return n;
}

// A copy of h's state and pending delta-group, to roll a failed host
// transaction back with restore(). Returns a new handle.
export function savepoint(h: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  const c = x.state.clone();
  const xp = x.pending;
  const p = xp !== null ? xp.clone() : null;
  const e = takeError();
  const n = e != 0 ? -e : put(c, x.rep, x.repLen, x.repStr, p);
  if (n < 0) { c.free(); if (p !== null) p.free(); }
  return n;
}

// Puts savepoint s's state and pending delta-group back into h; frees s.
export function restore(h: i32, s: i32): i32 {
  const x = handle(h), y = handle(s);
  if (x === null || y === null || h == s) return -E_BAD_HANDLE;
  x.state.free();
  const xp = x.pending;
  if (xp !== null) xp.free();
  x.state = y.state;
  x.pending = y.pending;
  drop(s);
  return 0;
}

// Writes the state's canonical encoding to the output; returns its length.
export function encode(h: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  out.reset();
  writeCompact(out, x.state);
  const e = takeError(); // a data-layer type could not get memory to order itself
  return e != 0 ? -e : out.pos;
}

// Writes the type spec (as in the header, without magic and version).
export function typeOf(h: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  out.reset();
  writeSpec(out, x.state.spec);
  return out.pos;
}

// The state's type tag (the spec's first byte): enough for the host to pick
// the class of a type without parameters, with no output to copy.
export function tagOf(h: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  return <i32>x.state.spec.tag;
}

// ---- lattice operations --------------------------------------------------

function sameType(a: Lattice, b: Lattice): bool { return a.spec.id == b.spec.id; }

// a := a ⊔ b. Returns 1 if a grew, 0 if not.
export function join(a: i32, b: i32): i32 {
  const x = handle(a), y = handle(b);
  if (x === null || y === null) return -E_BAD_HANDLE;
  if (!sameType(x.state, y.state)) return -E_TYPE_MISMATCH;
  return x.state.join(y.state) ? 1 : 0;
}

// input := state. Joins it into h: data-layer types stream the body into the
// state (a merge of sorted runs), others decode it whole first; either way a
// bad body leaves h unchanged. Returns 1/0.
export function joinBytes(h: i32, len: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  const r = openState(reader(len));
  if (!r.ok) { doneWithInput(); return -r.err; }
  if (r !== rd) dropInput();
  const spec = readHeader(r);
  if (spec === null) { doneWithInput(); return -r.err; }
  if (spec.id != x.state.spec.id) { doneWithInput(); return -E_TYPE_MISMATCH; }
  const g = x.state.joinBody(r);
  doneWithInput();
  return g;
}

export function leq(a: i32, b: i32): i32 {
  const x = handle(a), y = handle(b);
  if (x === null || y === null) return -E_BAD_HANDLE;
  if (!sameType(x.state, y.state)) return -E_TYPE_MISMATCH;
  return x.state.leq(y.state) ? 1 : 0;
}

export function isBottom(h: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  return x.state.isBottom() ? 1 : 0;
}

// Returns a new handle holding delta(a, b): the part of a that inflates b.
export function delta(a: i32, b: i32): i32 {
  const x = handle(a), y = handle(b);
  if (x === null || y === null) return -E_BAD_HANDLE;
  if (!sameType(x.state, y.state)) return -E_TYPE_MISMATCH;
  const d = x.state.deltaFrom(y.state);
  const e = takeError();
  if (e != 0) { d.free(); return -e; }
  const n = put(d, x.rep, x.repLen, x.repStr, null);
  if (n < 0) d.free();
  return n;
}

// ---- decomposition (parts.ts) ---------------------------------------------------
// Every decomposition walks the state's canonical bytes and builds one part
// at a time; none builds an array of states.

const enc = new Writer();
const partsTmp = new Writer();

// Encodes x's state into enc for a walk.
function encoded(x: Handle): void { enc.reset(); writeState(enc, x.state); }

// Output := count, then each irreducible part as (length, state). Returns
// length. This is the all-at-once form behind the host's decompose() array,
// so it refuses (TOO_LARGE) states of more than MAX_PARTS parts; the other
// decomposition calls below have no such limit.
export function decompose(h: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  encoded(x);
  const n = walk(enc.ptr, enc.pos, x.state.spec, MODE_COUNT, partsTmp, 0, 0);
  if (n < 0) return -takeError();
  if (n > <i64>MAX_PARTS) return -E_TOO_LARGE;
  partsTmp.reset();
  walk(enc.ptr, enc.pos, x.state.spec, MODE_PARTS, partsTmp, 0, <u64>n);
  out.reset();
  out.varint(<u64>n);
  out.raw(partsTmp.ptr, partsTmp.pos);
  return out.pos;
}

// The number of irreducible parts (an integer in an f64), or -code.
export function partCount(h: i32): f64 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  encoded(x);
  const n = walk(enc.ptr, enc.pos, x.state.spec, MODE_COUNT, partsTmp, 0, 0);
  if (n < 0) return -takeError();
  return <f64>n;
}

// Output := count, then parts number start .. start+max-1 (in decompose's
// order) as (length, state). Fewer than max parts means the end was reached.
// Costs a pass over the state up to the range's end; no limit on the state.
export function decomposeRange(h: i32, start: f64, max: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  if (!(start >= 0) || start > 9007199254740991.0 || max < 0) return -E_TOO_LARGE;
  encoded(x);
  const s = <u64>start;
  partsTmp.reset();
  const n = max == 0 ? <i64>0 : walk(enc.ptr, enc.pos, x.state.spec, MODE_PARTS, partsTmp, s, s + <u64>max);
  if (n < 0) return -takeError();
  const got = <u64>n > s ? min(<u64>n - s, <u64>max) : 0;
  out.reset();
  out.varint(got);
  out.raw(partsTmp.ptr, partsTmp.pos);
  return out.pos;
}

// Output := the 8-byte hash64 (host/replication/wire.ts) of each part, in
// decompose's order. Returns length (8 × parts).
export function partHashes(h: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  encoded(x);
  out.reset();
  const n = walk(enc.ptr, enc.pos, x.state.spec, MODE_HASH, out, 0, 0);
  if (n < 0) return -takeError();
  return out.pos;
}

// input := hashes (8 bytes each, sorted by their bytes, as partHashes writes
// them). Output := count:varint [state]: how many parts of h have a hash not
// in the input and, when any, the encoding of their join. Returns length.
export function joinMissing(h: i32, len: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  if (len < 0 || (len & 7) != 0) return -E_TRUNCATED;
  // the hashes move out of the input buffer, which the walk may not touch
  partsTmp.reset();
  partsTmp.raw(inPtr, len);
  encoded(x);
  const j = walkJoinMissing(enc.ptr, enc.pos, x.state.spec, partsTmp.ptr, len >> 3);
  const e = takeError();
  if (e != 0) return -e;
  out.reset();
  out.varint(selected);
  if (j !== null) { writeCompact(out, j); j.free(); }
  return out.pos;
}

// ---- what a delta mints (mint.ts) --------------------------------------------------

// input := state (typically a delta). Output := count record*: the dots,
// tokens, counter entries, writes, TopK entries and MaxInt value it holds,
// and per causal context what it covers of each replica (docs/abi.md, "Mint
// lists"). The state is decoded (validated) first. Returns length.
export function mints(len: i32): i32 {
  const r = openState(reader(len));
  if (!r.ok) return -r.err;
  // the state as the parsers read it: its expanded form (values in version 3)
  const p = r.p, n = <i32>(r.end - r.p);
  const v = readState(r);
  if (r.ok && !r.done) r.fail(E_TRAILING);
  if (!r.ok || v === null) { if (v !== null) v.free(); doneWithInput(); return -r.err; }
  // the body starts after 'T' 'R' version spec
  const h = new Reader(p + 3, p + <usize>n);
  readSpec(h, 0);
  out.reset();
  listMints(out, p, n, h.p, v.spec);
  v.free();
  doneWithInput();
  return out.pos;
}

// ---- ops and deltas --------------------------------------------------------

// input := count op*. Validates the whole batch first, so a bad op changes
// nothing; then applies each op's delta to the state and to the pending
// delta-group. Returns 1 if the state grew, 0 if not.
export function apply(h: i32, len: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  let r = reader(len);
  r.dry = true;
  const pending = x.group();
  const rep = x.replica();
  beginBatch(pending);
  const n = r.count(1);
  for (let i = 0; i < n && r.ok; i++) x.state.op(r, rep, true, 0);
  if (r.ok && !r.done) r.fail(E_TRAILING);
  if (!r.ok) return -r.err;
  r = reader(len);
  r.count(1);
  let changed = false;
  realPass(true);
  for (let i = 0; i < n; i++) {
    if (x.state.applyOp(r, rep, pending, 0)) changed = true;
  }
  realPass(false);
  // The dry pass accepted this batch, so the real pass cannot fail; if it
  // did, that is a kernel bug: trap (KERNEL_TRAP) rather than go on quietly.
  if (!r.ok) unreachable();
  return changed ? 1 : 0;
}

// Writes the pending delta-group of local ops (a state) and resets it.
export function takeDelta(h: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  out.reset();
  const p = x.pending;
  if (p === null) { // no local op since the last take: an empty delta-group
    const b = x.state.bottom();
    writeCompact(out, b);
    b.free();
    const e = takeError();
    return e != 0 ? -e : out.pos;
  }
  writeCompact(out, p);
  const e = takeError();
  if (e != 0) return -e; // the delta-group stays pending
  p.free();
  x.pending = null;
  return out.pos;
}

// ---- queries -------------------------------------------------------------

export function query(h: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  out.reset();
  x.state.query(out);
  const e = takeError(); // the output could not grow (memory cap)
  return e != 0 ? -e : out.pos;
}

// input := key. 1 if the element/key is present, 0 if not.
export function has(h: i32, len: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  const r = reader(len);
  const kn = r.varint();
  if (r.ok && kn > <u64>MAX_KEY) r.fail(E_TOO_LARGE);
  if (r.ok && kn > <u64>r.left) r.fail(E_TRUNCATED);
  if (r.ok && kn < <u64>r.left) r.fail(E_TRAILING);
  if (!r.ok) return -r.err;
  const v = x.state.hasBytes(r.p, <i32>kn);
  return v < 0 ? -E_UNSUPPORTED : v;
}

export function size(h: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  const v = x.state.size();
  return v < 0 ? -E_UNSUPPORTED : v;
}

// input := key. Writes the query of the map value under key; returns its length.
export function get(h: i32, len: i32): i32 {
  const x = handle(h);
  if (x === null) return -E_BAD_HANDLE;
  const r = reader(len);
  const k = r.key();
  if (r.ok && !r.done) r.fail(E_TRAILING);
  if (!r.ok) return -r.err;
  if (x.state.has(k) < 0) return -E_UNSUPPORTED;
  out.reset();
  return x.state.get(k, out) ? out.pos : -E_NOT_FOUND;
}

// Caps kernel memory at `pages` × 64 KiB (0: no cap but wasm32's 4 GiB). The
// data layer refuses, with OUT_OF_MEMORY, any allocation that could make memory
// grow past it (docs/abi.md, "Memory"). The JS host sets it from init's maxMemory.
export function setMemoryCap(pages: i32): void { setCapPages(pages); }

// Seeds the hash of every table (data/hash.ts): the host passes 64 random
// bits once, before the first state is made, so a peer cannot search for
// keys that collide in this instance's tables. Changing it while states are
// live would lose their keys.
export function setHashSeed(lo: u32, hi: u32): i32 {
  if (liveHandles() > 0) return -E_INVALID;
  setSeed((<u64>hi << 32) | <u64>lo);
  return 0;
}

// Bytes of kernel memory the large-block allocator holds free for reuse
// (docs/abi.md, "Memory"): memory.buffer.byteLength minus this bounds what
// the states and buffers hold.
export function memoryFree(): usize { return spanFreeBytes(); }

// Live handles, for leak tests.
export function liveHandles(): i32 { return handles.length - free.length; }

// Runs a full garbage collection. Call it only between calls: under the
// minimal runtime it is the only collection there is (docs/abi.md, "Runtime").
export function collect(): void { resetSwept(); __collect(); }

// Bytes of managed objects the last collect() freed: the garbage made since
// the collection before it (data/finalize.ts counts them). The host paces its
// collections by it (a MaxInt decode + dispose makes ~50 bytes, a 3-part
// decomposition ~600) instead of assuming the worst for every call
// (docs/abi.md, "Runtime").
export function swept(): f64 { return <f64>sweptBytes(); }

// 1 when garbage is collected only by collect() (the minimal runtime, which
// the release build uses: docs/abi.md, "Runtime"), 0 when the kernel also
// collects on its own (incremental).
export function hostCollects(): i32 { return ASC_RUNTIME == 1 ? 1 : 0; }
