// Same-algorithm AWSet twin (issue 10, item 10): assembly/types/awset.ts in
// plain TypeScript over typed arrays (bench/twins/layer.ts for the byte
// table, dot map and causal context). Elements interned in a byte table, each
// with a linked list of dots in one pool (replica index, counter, next);
// joins run in place, element by element; a dot -> element index is built
// only when a small delta meets a large set, so that joining it touches only
// the dots it names; canonical order is produced when encoding.
// Differences from the kernel, both small: the kernel packs an element's
// first dot inline beside it (the pool here is already flat arrays), and it
// counts the room a join takes before it starts (out of memory: nothing
// changed; JS grows its arrays instead).
// joinInto joins a decoded state; merge() streams canonical bytes as the
// kernel's merge(bytes) does.
import { ByteTable, Context, Cur, DotMap, NONE, Out, Scratch, SeenDots, cmp, decodeContext, encodeContext, growF64, growU32, header, open, sortByKey } from "./layer.js";

export class AWSetFlat {
  cc = new Context();
  elems = new ByteTable();
  head = new Int32Array(16);   // per element: its first pool dot + 1 (0: none)
  prep = new Uint32Array(16);  // per pool dot: replica index
  pctr = new Float64Array(16); //   counter
  pnext = new Int32Array(16);  //   next dot of the element + 1 (0: end), or the next free slot + 1
  plen = 0;
  freeDot = 0; // free pool slots, linked through pnext
  live = 0;    // elements with a dot
  ndots = 0;
  index: DotMap | null = null; // (replica, counter) -> element

  present(ei: number): boolean { return this.head[ei] !== 0; }

  // Room for e more elements of `bytes` bytes and n more dots.
  reserve(e: number, bytes: number, n: number): void {
    this.elems.reserve(e, bytes);
    const ne = this.elems.count + e;
    if (ne > this.head.length) { const h = new Int32Array(ne); h.set(this.head); this.head = h; }
    const np = this.plen + n;
    if (np > this.prep.length) {
      this.prep = growU32(this.prep, np); this.pctr = growF64(this.pctr, np);
      const nx = new Int32Array(this.prep.length); nx.set(this.pnext); this.pnext = nx;
    }
  }
  isBottom(): boolean { return this.live === 0 && this.cc.isEmpty(); }

  intern(b: Uint8Array, p: number, n: number): number {
    const ei = this.elems.add(b, p, n);
    if (this.elems.added) {
      if (ei >= this.head.length) { const h = new Int32Array(this.head.length * 2); h.set(this.head); this.head = h; }
      this.head[ei] = 0;
    }
    return ei;
  }

  link(ei: number, ri: number, c: number): void {
    if (this.head[ei] === 0) this.live++;
    this.ndots++;
    if (this.index !== null) this.index.put(ri, c, ei);
    let k: number;
    if (this.freeDot !== 0) { k = this.freeDot - 1; this.freeDot = this.pnext[k]; }
    else {
      k = this.plen++;
      if (k >= this.prep.length) {
        this.prep = growU32(this.prep, k + 1); this.pctr = growF64(this.pctr, k + 1);
        const nx = new Int32Array(this.prep.length); nx.set(this.pnext); this.pnext = nx;
      }
    }
    this.prep[k] = ri; this.pctr[k] = c; this.pnext[k] = this.head[ei];
    this.head[ei] = k + 1;
  }

  // Removes dot q (pool index + 1) of ei; prev: the dot before it, or 0.
  unlink(ei: number, prev: number, q: number): void {
    const k = q - 1;
    if (this.index !== null) this.index.delete(this.prep[k], this.pctr[k]);
    this.ndots--;
    const nx = this.pnext[k];
    if (prev === 0) this.head[ei] = nx; else this.pnext[prev - 1] = nx;
    this.pnext[k] = this.freeDot;
    this.freeDot = q;
    if (this.head[ei] === 0) this.live--;
  }

  // Elements whose dots were all removed stay interned; once they outnumber
  // the live ones, the live ones move to a new table (as the kernel).
  compact(): void {
    const dead = this.elems.count - this.live;
    if (dead < 1024 || dead < this.live) return;
    const t = new ByteTable(), h = new Int32Array(Math.max(16, this.live));
    for (let ei = 0; ei < this.elems.count; ei++) {
      if (!this.present(ei)) continue;
      h[t.add(this.elems.keys, this.elems.keyPtr(ei), this.elems.keyLen(ei))] = this.head[ei];
    }
    this.elems = t; this.head = h;
    this.index = null;
  }

  ensureIndex(): DotMap {
    if (this.index !== null) return this.index;
    const ix = new DotMap();
    ix.reserve(this.ndots);
    for (let ei = 0; ei < this.elems.count; ei++) {
      for (let q = this.head[ei]; q !== 0; q = this.pnext[q - 1]) ix.put(this.prep[q - 1], this.pctr[q - 1], ei);
    }
    return (this.index = ix);
  }
}

// Scratch reused by every join (the kernel's module state).
const xmapS = new Scratch(), backS = new Scratch();
let txRep = new Uint32Array(16), txCtr = new Float64Array(16), txN = 0;
// The elements a join's store walk met (dropSeen skips them): one bit each,
// cleared per join (as the kernel's bitmap).
let met = new Int32Array(4);
function resetMet(n: number): void {
  const words = (n + 31) >>> 5;
  if (met.length < words) met = new Int32Array(Math.max(words, met.length * 2)); else met.fill(0, 0, words);
}
const isMet = (ei: number): boolean => (met[ei >>> 5] & (1 << (ei & 31))) !== 0;
const setMet = (ei: number): void => { met[ei >>> 5] |= 1 << (ei & 31); };

function txPush(ri: number, c: number): void {
  if (txN >= txRep.length) { txRep = growU32(txRep, txN + 1); txCtr = growF64(txCtr, txN + 1); }
  txRep[txN] = ri; txCtr[txN] = c; txN++;
}
// Many incoming dots on one element: sorted by (replica, counter) for binary
// search, as the kernel does past 8 (insertion sort: such lists are short).
let txSorted = false;
function txSort(): void {
  txSorted = txN > 8;
  if (!txSorted) return;
  for (let i = 1; i < txN; i++) {
    const r = txRep[i], c = txCtr[i];
    let j = i - 1;
    while (j >= 0 && (txRep[j] > r || (txRep[j] === r && txCtr[j] > c))) { txRep[j + 1] = txRep[j]; txCtr[j + 1] = txCtr[j]; j--; }
    txRep[j + 1] = r; txCtr[j + 1] = c;
  }
}
function txHas(ri: number, c: number): boolean {
  if (txSorted) {
    let lo = 0, hi = txN;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1, r = txRep[mid];
      if (r === ri && txCtr[mid] === c) return true;
      if (r < ri || (r === ri && txCtr[mid] < c)) lo = mid + 1; else hi = mid;
    }
    return false;
  }
  for (let j = 0; j < txN; j++) if (txCtr[j] === c && txRep[j] === ri) return true;
  return false;
}

// Element ei meets the incoming dots tx (our replica indices) of a state with
// context xcc: a dot survives if both sides have it, or one side has it and
// the other has not seen it.
function meet(a: AWSetFlat, ei: number, xcc: Context, back: Uint32Array): boolean {
  let changed = false, prev = 0;
  txSort();
  for (let q = a.head[ei]; q !== 0;) {
    const k = q - 1, nx = a.pnext[k];
    const b = back[a.prep[k]];
    if (b !== NONE && xcc.has(b, a.pctr[k]) && !txHas(a.prep[k], a.pctr[k])) { a.unlink(ei, prev, q); changed = true; }
    else prev = q;
    q = nx;
  }
  for (let j = 0; j < txN; j++) {
    if (a.cc.has(txRep[j], txCtr[j])) continue; // seen here: kept above or removed here
    a.link(ei, txRep[j], txCtr[j]);
    changed = true;
  }
  return changed;
}

function dropDot(a: AWSetFlat, ix: DotMap, ri: number, c: number): boolean {
  const ei = ix.get(ri, c);
  if (ei < 0 || isMet(ei)) return false;
  let prev = 0;
  for (let q = a.head[ei]; q !== 0; q = a.pnext[q - 1]) {
    if (a.pctr[q - 1] === c && a.prep[q - 1] === ri) { a.unlink(ei, prev, q); return true; }
    prev = q;
  }
  return false;
}

// For the elements the other store did not name: drop our dots it has seen.
function dropSeen(a: AWSetFlat, xcc: Context, xmap: Uint32Array, back: Uint32Array): boolean {
  let changed = false;
  if (a.live > 32 && xcc.size() < Math.min(a.live >> 2, 1 << 14)) {
    const ix = a.ensureIndex();
    for (let j = 0; j < xcc.replicas; j++) {
      const ri = xmap[j];
      if (ri === NONE) continue;
      for (let c = 1; c <= xcc.vv[j]; c++) changed = dropDot(a, ix, ri, c) || changed;
    }
    const cl = xcc.cloud;
    for (let s = 0; s < cl.capacity; s++) if (cl.usedAt(s)) changed = dropDot(a, ix, xmap[cl.repAt(s)], cl.ctrAt(s)) || changed;
    return changed;
  }
  for (let ei = 0; ei < a.elems.count; ei++) {
    if (isMet(ei)) continue;
    let prev = 0;
    for (let q = a.head[ei]; q !== 0;) {
      const k = q - 1, nx = a.pnext[k];
      const b = back[a.prep[k]];
      if (b !== NONE && xcc.has(b, a.pctr[k])) { a.unlink(ei, prev, q); changed = true; } else prev = q;
      q = nx;
    }
  }
  return changed;
}

export function joinInto(a: AWSetFlat, x: AWSetFlat): boolean {
  a.compact();
  if (x.isBottom()) return false;
  const xmap = a.cc.mapFrom(x.cc, xmapS);
  const back = a.cc.mapTo(x.cc, backS);
  const m = a.elems.count + x.elems.count;
  resetMet(m);
  let changed = false;
  const xk = x.elems.keys;
  for (let xe = 0; xe < x.elems.count; xe++) {
    if (!x.present(xe)) continue;
    txN = 0;
    let unseen = false;
    for (let q = x.head[xe]; q !== 0; q = x.pnext[q - 1]) {
      const ri = xmap[x.prep[q - 1]], c = x.pctr[q - 1];
      txPush(ri, c);
      if (!a.cc.has(ri, c)) unseen = true;
    }
    const p = x.elems.keyPtr(xe), n = x.elems.keyLen(xe);
    let ei = a.elems.find(xk, p, n);
    if (ei < 0) {
      if (!unseen) continue; // all seen here and not kept: removed here
      ei = a.intern(xk, p, n);
    }
    setMet(ei);
    changed = meet(a, ei, x.cc, back) || changed;
  }
  changed = dropSeen(a, x.cc, xmap, back) || changed;
  if (a.cc.joinMapped(x.cc, xmap)) changed = true;
  return changed;
}

// Checks a canonical store against its context xcc (elements strictly
// increasing with ≥ 1 dot each, dots strictly increasing, every dot in xcc,
// none on two elements), leaving r after it. Throws on bad input.
// What scanStore counted: the key bytes and dots of the store.
let scanBytes = 0, scanDots = 0;

function scanStore(r: Cur, xcc: Context, seen: SeenDots): void {
  const buf = r.buf, n = r.count(2);
  scanBytes = 0; scanDots = 0;
  seen.init(xcc, (r.buf.length - r.p) * 8); // bitmaps cost at most one bit per input bit
  let pp = 0, pn = 0;
  for (let i = 0; i < n; i++) {
    const p = r.bytes(), len = r.n;
    if (i > 0 && cmp(buf, pp, pn, buf, p, len) >= 0) throw new Error("noncanonical elements");
    pp = p; pn = len;
    const m = r.count(2);
    if (m === 0) throw new Error("noncanonical: element without dots");
    scanBytes += len; scanDots += m;
    let dp = 0, dl = 0, dc = 0;
    for (let j = 0; j < m; j++) {
      const rp = r.bytes(), rl = r.n;
      const c = r.varint();
      if (rl === 0 || c === 0) throw new Error("invalid dot");
      if (j > 0) {
        const o = cmp(buf, dp, dl, buf, rp, rl);
        if (o > 0 || (o === 0 && dc >= c)) throw new Error("noncanonical dots");
      }
      dp = rp; dl = rl; dc = c;
      const ri = xcc.findRep(buf, rp, rl);
      if (!xcc.has(ri, c)) throw new Error("dot outside context");
      if (!seen.add(ri, c)) throw new Error("one dot on two elements");
    }
  }
}

const xccScratch = new Context(), seenScratch = new SeenDots();

// a := a ⊔ the state whose canonical bytes are given, streamed as the
// kernel's joinBody: the incoming context is decoded (into scratch), the
// store checked whole, then met element by element from the bytes; the
// incoming state is never built. Bad input throws before anything changes.
export function merge(a: AWSetFlat, bytes: Uint8Array): boolean {
  a.compact();
  const r = open(bytes), xcc = xccScratch, seen = seenScratch;
  xcc.clear();
  decodeContext(r, xcc);
  const storeAt = r.p;
  scanStore(r, xcc, seen);
  r.done();
  const xmap = a.cc.mapFrom(xcc, xmapS);
  const back = a.cc.mapTo(xcc, backS);
  r.p = storeAt;
  const buf = r.buf, n = r.varint();
  const m = a.elems.count + n;
  resetMet(m);
  let changed = false;
  for (let i = 0; i < n; i++) {
    const p = r.bytes(), len = r.n;
    const k = r.varint();
    txN = 0;
    let unseen = false;
    for (let j = 0; j < k; j++) {
      const rp = r.bytes(), rl = r.n;
      const c = r.varint();
      const ri = xmap[xcc.findRep(buf, rp, rl)];
      txPush(ri, c);
      if (!a.cc.has(ri, c)) unseen = true;
    }
    let ei = a.elems.find(buf, p, len);
    if (ei < 0) {
      if (!unseen) continue;
      ei = a.intern(buf, p, len);
    }
    setMet(ei);
    changed = meet(a, ei, xcc, back) || changed;
  }
  changed = dropSeen(a, xcc, xmap, back) || changed;
  if (a.cc.joinMapped(xcc, xmap)) changed = true;
  return changed;
}

// One element's dots as (rank of replica, counter), sorted: canonical order.
let dsRank = new Uint32Array(16), dsCtr = new Float64Array(16);
function sortedDots(s: AWSetFlat, ei: number, rank: Uint32Array): number {
  let n = 0;
  for (let q = s.head[ei]; q !== 0; q = s.pnext[q - 1]) {
    if (n >= dsRank.length) { dsRank = growU32(dsRank, n + 1); dsCtr = growF64(dsCtr, n + 1); }
    const r = rank[s.prep[q - 1]], c = s.pctr[q - 1];
    let j = n++;
    while (j > 0 && (dsRank[j - 1] > r || (dsRank[j - 1] === r && dsCtr[j - 1] > c))) { dsRank[j] = dsRank[j - 1]; dsCtr[j] = dsCtr[j - 1]; j--; }
    dsRank[j] = r; dsCtr[j] = c;
  }
  return n;
}

// body := context, count, then (element, dots) sorted by element; dots sorted
// by (replica bytes, counter). One function, so a format change is one edit.
export function encodeBody(w: Out, s: AWSetFlat): void {
  const order = s.cc.sortedReps(), rank = Context.ranks(order);
  encodeContext(w, s.cc, order, rank);
  let idx = new Uint32Array(s.live);
  let k = 0;
  for (let ei = 0; ei < s.elems.count; ei++) if (s.present(ei)) idx[k++] = ei;
  idx = sortByKey(s.elems, idx, k);
  w.varint(k);
  const ek = s.elems.keys, rk = s.cc.reps;
  for (let i = 0; i < k; i++) {
    const ei = idx[i];
    w.bytes(ek, s.elems.keyPtr(ei), s.elems.keyLen(ei));
    const m = sortedDots(s, ei, rank);
    w.varint(m);
    for (let j = 0; j < m; j++) {
      const ri = order[dsRank[j]];
      w.bytes(rk.keys, rk.keyPtr(ri), rk.keyLen(ri));
      w.varint(dsCtr[j]);
    }
  }
}


// Reads a body into an empty state as the kernel does: the context, one
// checking pass over the store (scanStore), then a second that interns and links.
export function decodeBody(r: Cur, s: AWSetFlat): void {
  decodeContext(r, s.cc);
  const storeAt = r.p, seen = seenScratch;
  scanStore(r, s.cc, seen);
  const end = r.p, buf = r.buf, cc = s.cc;
  r.p = storeAt;
  const n = r.varint();
  s.reserve(n, scanBytes, scanDots);
  for (let i = 0; i < n; i++) {
    const p = r.bytes(), len = r.n;
    const ei = s.intern(buf, p, len);
    const m = r.varint();
    for (let j = 0; j < m; j++) {
      const rp = r.bytes(), rl = r.n;
      s.link(ei, cc.findRep(buf, rp, rl), r.varint());
    }
  }
  r.p = end;
}

export const bottom = (): AWSetFlat => new AWSetFlat();

export function decode(bytes: Uint8Array): AWSetFlat {
  const r = open(bytes), s = new AWSetFlat();
  decodeBody(r, s);
  r.done();
  return s;
}

export function encode(s: AWSetFlat): Uint8Array {
  const w = header(10);
  encodeBody(w, s);
  return w.finish();
}

export const awsetFlat = { bottom, decode, encode, joinInto, merge };
