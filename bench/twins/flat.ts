// Same-algorithm twins (issue 10, item 10): what assembly/data and the ported
// kernels do (GSet, TwoPSet, GCounter, PNCounter), written in plain
// TypeScript over typed arrays, so the kernel table shows what Wasm itself
// buys. No Map, Set or string per element:
// - a set is a sorted run: its canonical entries (varint length, bytes) back
//   to back in one Uint8Array plus a Uint32Array of where each starts; decode
//   checks order and copies, encode is one copy, join is one streaming merge;
// - a counter is a byte arena of replica ids with a Uint32Array of offsets
//   and the counts in a Float64Array by index (exact to 2^53; the bench's
//   counts are small), kept in replica order after decodes and bulk joins, so
//   joining two large counters is one streaming merge (ids copied in streaks)
//   and encoding walks them in place; an interning open-addressing index
//   (32-bit hash beside index + 1 per slot, linear probing, load ≤ 7/8) is
//   built only when a point update (a small delta) needs it, and entries it
//   appends out of order are merged or encoded through a sorted index.
// Checks done on decode: bounds, lengths, strict order, no empty replica id,
// no zero count. The kernels also check each element is a canonical value;
// the twins do not, so they do a little less work than the kernels.
import { ByteReader, done, readHeader } from "./read.js";

// ---- bytes -----------------------------------------------------------------

export function cmp(a: Uint8Array, ap: number, an: number, b: Uint8Array, bp: number, bn: number): number {
  const n = an < bn ? an : bn;
  for (let i = 0; i < n; i++) {
    const d = a[ap + i] - b[bp + i];
    if (d !== 0) return d;
  }
  return an - bn;
}

// Reads a varint at p of buf; returns [value, next position] packed in the
// module-level out (no allocation per call).
export let vNext = 0;
export function varintAt(buf: Uint8Array, p: number): number {
  let v = 0, mul = 1;
  for (;;) {
    if (p >= buf.length) throw new Error("truncated");
    const b = buf[p++];
    v += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) break;
    mul *= 128;
    if (mul > 2 ** 56) throw new Error("varint too long");
  }
  vNext = p;
  return v;
}

export function putVarint(out: Uint8Array, p: number, v: number): number {
  if (v < 0x80000000) { // 31 bits: integer shifts (counts, lengths, most counters)
    while (v >= 0x80) { out[p++] = (v & 0x7f) | 0x80; v >>>= 7; }
    out[p++] = v;
    return p;
  }
  while (v >= 0x80) { out[p++] = (v % 128) | 0x80; v = Math.floor(v / 128); }
  out[p++] = v;
  return p;
}

export const varintSize = (v: number): number => { let n = 1; while (v >= 0x80) { v = Math.floor(v / 128); n++; } return n; };

function header(tag: number, bodyLen: number): [Uint8Array, number] {
  const out = new Uint8Array(4 + bodyLen);
  out[0] = 0x54; out[1] = 0x52; out[2] = 1; out[3] = tag;
  return [out, 4];
}

// ---- sorted runs -----------------------------------------------------------

export interface Run { data: Uint8Array; offs: Uint32Array; count: number; bytes: number }

export const emptyRun = (): Run => ({ data: new Uint8Array(0), offs: new Uint32Array(0), count: 0, bytes: 0 });

// Body length and payload start of entry i.
let eBody = 0;
function entryLen(r: Run, i: number): number {
  const n = varintAt(r.data, r.offs[i]);
  eBody = vNext;
  return n;
}

// Reads count + entries at r.pos, checking strict order; copies them in one go.
export function readRun(r: ByteReader): Run {
  const buf = r.buf;
  const n = r.varint();
  if (n > buf.length - r.pos) throw new Error("count exceeds input");
  const start = r.pos;
  const offs = new Uint32Array(n);
  let p = start, prevBody = 0, prevLen = 0;
  for (let i = 0; i < n; i++) {
    offs[i] = p - start;
    const len = varintAt(buf, p);
    const body = vNext;
    if (len > buf.length - body) throw new Error("truncated");
    if (i > 0 && cmp(buf, prevBody, prevLen, buf, body, len) >= 0) throw new Error("noncanonical");
    prevBody = body; prevLen = len;
    p = body + len;
  }
  r.pos = p;
  return { data: buf.slice(start, p), offs, count: n, bytes: p - start };
}

// Copies src[s, e) to dst at o: short stretches byte by byte (a subarray per
// entry would allocate), long ones with set().
export function copy(dst: Uint8Array, o: number, src: Uint8Array, s: number, e: number): void {
  if (e - s > 32) dst.set(src.subarray(s, e), o);
  else for (let i = s; i < e; i++) dst[o++] = src[i];
}

// a ⊔ b as a new run (exact-size arrays, as the kernel reserves), and whether
// b added anything. As the kernel: cursors walk both runs' entries, and taken
// entries are copied in streaks (a stretch of consecutive entries from one
// side, one copy), the rests in one copy each.
function mergeRuns(a: Run, b: Run): [Run, boolean] {
  const data = new Uint8Array(a.bytes + b.bytes);
  const offs = new Uint32Array(a.count + b.count);
  const ad = a.data, bd = b.data;
  let i = 0, j = 0, k = 0, o = 0, changed = false;
  let pa = 0, pb = 0;
  // The pending streak: bytes [ps, pe) of side sd (0: a, 1: b), written at w.
  let sd = 0, ps = 0, pe = 0, w = 0;
  const flush = () => { copy(data, w, sd === 0 ? ad : bd, ps, pe); w += pe - ps; };
  while (i < a.count && j < b.count) {
    let la = ad[pa], ba = pa + 1;
    if (la >= 0x80) { la = varintAt(ad, pa); ba = vNext; }
    let lb = bd[pb], bb = pb + 1;
    if (lb >= 0x80) { lb = varintAt(bd, pb); bb = vNext; }
    const c = cmp(ad, ba, la, bd, bb, lb);
    if (c <= 0) {
      const size = ba + la - pa;
      if (sd !== 0 || pe !== pa) { flush(); sd = 0; ps = pa; }
      pe = pa + size;
      offs[k++] = o; o += size;
      pa += size; i++;
      if (c === 0) { pb = bb + lb; j++; }
    } else {
      const size = bb + lb - pb;
      if (sd !== 1 || pe !== pb) { flush(); sd = 1; ps = pb; }
      pe = pb + size;
      offs[k++] = o; o += size;
      pb += size; j++;
      changed = true;
    }
  }
  flush();
  if (j < b.count) changed = true;
  // The rests are contiguous: one copy each.
  for (const [src, x] of [[a, i], [b, j]] as [Run, number][]) {
    if (x >= src.count) continue;
    const base = src.offs[x], shift = o - base;
    for (let y = x; y < src.count; y++) offs[k++] = src.offs[y] + shift;
    data.set(src.data.subarray(base, src.bytes), o);
    o += src.bytes - base;
  }
  return [{ data, offs, count: k, bytes: o }, changed];
}

// The entries of a not in b (b sorted), as a new run.
function minusRun(a: Run, b: Run): Run {
  if (b.count === 0) return a;
  const data = new Uint8Array(a.bytes);
  const offs = new Uint32Array(a.count);
  let j = 0, k = 0, o = 0;
  for (let i = 0; i < a.count; i++) {
    const an = entryLen(a, i), ap = eBody;
    let c = 1;
    while (j < b.count) {
      const bn = entryLen(b, j), bp = eBody;
      c = cmp(b.data, bp, bn, a.data, ap, an);
      if (c >= 0) break;
      j++;
    }
    if (j < b.count && c === 0) continue;
    const s = a.offs[i], e = i + 1 < a.count ? a.offs[i + 1] : a.bytes;
    offs[k++] = o;
    data.set(a.data.subarray(s, e), o);
    o += e - s;
  }
  return { data, offs, count: k, bytes: o };
}

export function runBody(r: Run): number { return varintSize(r.count) + r.bytes; }
export function writeRun(out: Uint8Array, p: number, r: Run): number {
  p = putVarint(out, p, r.count);
  out.set(r.data.subarray(0, r.bytes), p);
  return p + r.bytes;
}

// ---- GSet ------------------------------------------------------------------

// As the kernel: a run, plus a hash table of elements joined in a few at a
// time since the last fold (disjoint from the run), so a single-op delta does
// not rewrite the run. The tail is folded in (sorted, merged) when order is needed.
export interface GSetFlat { run: Run; tail: Table }

// Index of element b[p..p+n) in the run, or -1 (binary search).
function findRun(r: Run, b: Uint8Array, p: number, n: number): number {
  let lo = 0, hi = r.count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const len = entryLen(r, mid);
    const c = cmp(r.data, eBody, len, b, p, n);
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1; else hi = mid;
  }
  return -1;
}

export function fold(s: GSetFlat): void {
  const t = s.tail;
  if (t.count === 0) return;
  const idx = t.order() ?? Uint32Array.from({ length: t.count }, (_, i) => i);
  let bytes = 0;
  for (let i = 0; i < t.count; i++) { const n = t.offs[i + 1] - t.offs[i]; bytes += varintSize(n) + n; }
  const tr: Run = { data: new Uint8Array(bytes), offs: new Uint32Array(t.count), count: t.count, bytes };
  let o = 0;
  for (let j = 0; j < idx.length; j++) {
    const i = idx[j], a = t.offs[i], e = t.offs[i + 1];
    tr.offs[j] = o;
    o = putVarint(tr.data, o, e - a);
    tr.data.set(t.keys.subarray(a, e), o);
    o += e - a;
  }
  s.run = mergeRuns(s.run, tr)[0];
  s.tail = new Table();
}

const small = (k: number, n: number): boolean => k <= 8 || k * 32 < n;

export const gset = {
  bottom: (): GSetFlat => ({ run: emptyRun(), tail: new Table() }),
  decode(bytes: Uint8Array): GSetFlat {
    const r = new ByteReader(bytes);
    readHeader(r);
    const s = { run: readRun(r), tail: new Table() };
    done(r);
    return s;
  },
  encode(s: GSetFlat): Uint8Array {
    fold(s);
    const [out, p] = header(8, runBody(s.run));
    writeRun(out, p, s.run);
    return out;
  },
  joinInto(a: GSetFlat, b: GSetFlat): boolean {
    const k = b.run.count + b.tail.count;
    if (k === 0) return false;
    if (small(k, a.run.count + a.tail.count)) {
      let changed = false;
      const t = a.tail, r = b.run;
      t.reserve(k, r.bytes + b.tail.keyEnd);
      const add = (buf: Uint8Array, p: number, n: number) => {
        if (findRun(a.run, buf, p, n) < 0 && t.raise(buf, p, n, 1)) changed = true;
      };
      for (let i = 0; i < r.count; i++) { const n = entryLen(r, i); add(r.data, eBody, n); }
      for (let i = 0; i < b.tail.count; i++) add(b.tail.keys, b.tail.offs[i], b.tail.offs[i + 1] - b.tail.offs[i]);
      return changed;
    }
    fold(a); fold(b);
    const [m, changed] = mergeRuns(a.run, b.run);
    if (changed) a.run = m;
    return changed;
  },
  // The join streamed from canonical bytes, as the kernel's merge(bytes): a
  // few elements are checked whole, then hashed in from the bytes; many are
  // read as a run and merged.
  merge(a: GSetFlat, bytes: Uint8Array): boolean {
    const r = new ByteReader(bytes);
    readHeader(r);
    const start = r.pos, n = r.varint();
    if (n > bytes.length - r.pos) throw new Error("count exceeds input");
    if (!small(n, a.run.count + a.tail.count)) {
      r.pos = start;
      const run = readRun(r);
      done(r);
      fold(a);
      const [m, changed] = mergeRuns(a.run, run);
      if (changed) a.run = m;
      return changed;
    }
    const from = r.pos;
    let p = from, pb = 0, pl = 0;
    for (let i = 0; i < n; i++) {
      const len = varintAt(bytes, p), body = vNext;
      if (len > bytes.length - body) throw new Error("truncated");
      if (i > 0 && cmp(bytes, pb, pl, bytes, body, len) >= 0) throw new Error("noncanonical");
      pb = body; pl = len; p = body + len;
    }
    if (p !== bytes.length) throw new Error("trailing bytes");
    if (n === 0) return false;
    const t = a.tail;
    t.reserve(n, p - from);
    let changed = false;
    p = from;
    for (let i = 0; i < n; i++) {
      const len = varintAt(bytes, p), body = vNext;
      if (findRun(a.run, bytes, body, len) < 0 && t.raise(bytes, body, len, 1)) changed = true;
      p = body + len;
    }
    return changed;
  },
};

// ---- TwoPSet ---------------------------------------------------------------

// As the kernel: two GSets, `a` every element ever added (removed ones
// included) and `r` the tombstones, so neither deletes; the canonical adds
// list a \ r is made by one merge walk when encoding.
export interface TwoPSetFlat { a: GSetFlat; r: GSetFlat }

export const twopset = {
  bottom: (): TwoPSetFlat => ({ a: gset.bottom(), r: gset.bottom() }),
  decode(bytes: Uint8Array): TwoPSetFlat {
    const rd = new ByteReader(bytes);
    readHeader(rd);
    const s = { a: { run: readRun(rd), tail: new Table() }, r: { run: readRun(rd), tail: new Table() } };
    done(rd);
    if (minusRun(s.a.run, s.r.run).count !== s.a.run.count) throw new Error("noncanonical: removed element listed live");
    return s;
  },
  encode(s: TwoPSetFlat): Uint8Array {
    fold(s.a); fold(s.r);
    const live = minusRun(s.a.run, s.r.run);
    const [out, p] = header(9, runBody(live) + runBody(s.r.run));
    writeRun(out, writeRun(out, p, live), s.r.run);
    return out;
  },
  // As the kernel: whether x grows is whether y ⊑ x fails (x.a may gain
  // elements x has removed, which changes nothing), checked before joining.
  joinInto(x: TwoPSetFlat, y: TwoPSetFlat): boolean {
    const grew = !twopsetLeq(y, x);
    gset.joinInto(x.r, y.r);
    gset.joinInto(x.a, y.a);
    return grew;
  },
  // As the kernel's merge(bytes): a few incoming elements are checked, then
  // hashed into the two sets' tails from the bytes; a large body is decoded
  // whole and joined.
  merge(x: TwoPSetFlat, bytes: Uint8Array): boolean {
    const rd = new ByteReader(bytes);
    readHeader(rd);
    const na = varintAt(bytes, rd.pos), aStart = vNext, aEnd = checkList(bytes, aStart, na);
    const nr = varintAt(bytes, aEnd), rStart = vNext, rEnd = checkList(bytes, rStart, nr);
    if (rEnd !== bytes.length) throw new Error("trailing bytes");
    if (!small(na + nr, x.a.run.count + x.a.tail.count + x.r.run.count + x.r.tail.count)) return twopset.joinInto(x, twopset.decode(bytes));
    // No element in both lists: one walk over the two sorted input lists.
    let pr = rStart, jr = 0, pa = aStart;
    for (let i = 0; i < na; i++) {
      const al = varintAt(bytes, pa), ab = vNext;
      let c = -1;
      while (jr < nr) {
        const rl = varintAt(bytes, pr), rb = vNext;
        c = cmp(bytes, rb, rl, bytes, ab, al);
        if (c >= 0) break;
        pr = rb + rl; jr++;
      }
      if (jr < nr && c === 0) throw new Error("noncanonical: removed element listed live");
      pa = ab + al;
    }
    x.a.tail.reserve(na, aEnd - aStart);
    x.r.tail.reserve(nr, rEnd - rStart);
    const has = (s: GSetFlat, p: number, n: number) => findRun(s.run, bytes, p, n) >= 0 || s.tail.lookup(bytes, p, n) >= 0;
    let changed = false;
    // Tombstones first, so an add they cover is seen as no change.
    let p = rStart;
    for (let i = 0; i < nr; i++) {
      const l = varintAt(bytes, p), b = vNext;
      if (!has(x.r, b, l)) { x.r.tail.raise(bytes, b, l, 1); changed = true; }
      p = b + l;
    }
    p = aStart;
    for (let i = 0; i < na; i++) {
      const l = varintAt(bytes, p), b = vNext;
      if (!has(x.a, b, l)) {
        x.a.tail.raise(bytes, b, l, 1);
        if (!has(x.r, b, l)) changed = true;
      }
      p = b + l;
    }
    return changed;
  },
};

// Checks n length-prefixed entries at p (bounds, strict order): their end.
function checkList(buf: Uint8Array, p: number, n: number): number {
  if (n > buf.length - p) throw new Error("count exceeds input");
  let pb = 0, pl = 0;
  for (let i = 0; i < n; i++) {
    const len = varintAt(buf, p), body = vNext;
    if (len > buf.length - body) throw new Error("truncated");
    if (i > 0 && cmp(buf, pb, pl, buf, body, len) >= 0) throw new Error("noncanonical");
    pb = body; pl = len; p = body + len;
  }
  return p;
}

// Pointwise on the chain absent < added < removed: every tombstone of y is
// in x.r, every live element of y is in x.a or x.r. Few against many: point
// lookups; many against many: cursor walks over the folded runs (the kernel's leq).
function twopsetLeq(y: TwoPSetFlat, x: TwoPSetFlat): boolean {
  const ny = y.a.run.count + y.a.tail.count + y.r.run.count + y.r.tail.count;
  const nx = x.a.run.count + x.a.tail.count + x.r.run.count + x.r.tail.count;
  if (ny * 16 >= nx) {
    fold(y.a); fold(y.r); fold(x.a); fold(x.r);
    return coveredRun(y.r.run, emptyRun(), x.r.run, emptyRun()) && coveredRun(y.a.run, y.r.run, x.a.run, x.r.run);
  }
  const inSet = (s: GSetFlat, b: Uint8Array, p: number, n: number) => findRun(s.run, b, p, n) >= 0 || s.tail.lookup(b, p, n) >= 0;
  for (let i = 0; i < y.r.run.count; i++) { const n = entryLen(y.r.run, i); if (!inSet(x.r, y.r.run.data, eBody, n)) return false; }
  const rt = y.r.tail;
  for (let i = 0; i < rt.count; i++) if (!inSet(x.r, rt.keys, rt.offs[i], rt.offs[i + 1] - rt.offs[i])) return false;
  const live = (b: Uint8Array, p: number, n: number) => inSet(y.r, b, p, n) || inSet(x.a, b, p, n) || inSet(x.r, b, p, n);
  for (let i = 0; i < y.a.run.count; i++) { const n = entryLen(y.a.run, i); if (!live(y.a.run.data, eBody, n)) return false; }
  const at = y.a.tail;
  for (let i = 0; i < at.count; i++) if (!live(at.keys, at.offs[i], at.offs[i + 1] - at.offs[i])) return false;
  return true;
}

// Moves cursor j of run r to the first entry ≥ b[p..p+n) (in adv): whether it is equal.
let adv = 0;
function advance(r: Run, j: number, b: Uint8Array, p: number, n: number): boolean {
  for (; j < r.count; j++) {
    const m = entryLen(r, j), c = cmp(r.data, eBody, m, b, p, n);
    if (c >= 0) { adv = j; return c === 0; }
  }
  adv = j;
  return false;
}

// Every entry of a that is not in skip is in b or c (sorted runs, one walk).
function coveredRun(a: Run, skip: Run, b: Run, c: Run): boolean {
  let js = 0, jb = 0, jc = 0;
  for (let i = 0; i < a.count; i++) {
    const n = entryLen(a, i), p = eBody;
    if (advance(skip, js, a.data, p, n)) { js = adv + 1; continue; }
    js = adv;
    if (advance(b, jb, a.data, p, n)) { jb = adv + 1; continue; }
    jb = adv;
    if (advance(c, jc, a.data, p, n)) { jc = adv + 1; continue; }
    return false;
  }
  return true;
}

// ---- GCounter --------------------------------------------------------------

// 32-bit multiply-xorshift hash of bytes (the kernel's is 64-bit over words;
// JS has no fast 64-bit multiply, so this is the idiom a TS port would use).
export function hash(b: Uint8Array, p: number, n: number): number {
  let h = 0x9e3779b9 ^ n;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ b[p + i], 0x85ebca6b) ^ (h >>> 15);
  h ^= h >>> 16; h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15; h = Math.imul(h, 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

export class Table {
  slots: Uint32Array | null = null; // the index: pairs hash, index + 1 (0 = empty); null until a point update
  mask = 0;
  count = 0;
  keys = new Uint8Array(32);
  keyEnd = 0;
  offs = new Uint32Array(9); // key i is keys[offs[i] .. offs[i + 1])
  vals = new Float64Array(8);
  sorted = true; // index order is replica byte order

  find(b: Uint8Array, p: number, n: number, h: number): number {
    const s = this.slots!, mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const idx = s[(i << 1) + 1];
      if (idx === 0) return -1;
      if (s[i << 1] === h) {
        const k = idx - 1, o = this.offs[k];
        if (this.offs[k + 1] - o === n && cmp(this.keys, o, n, b, p, n) === 0) return k;
      }
    }
  }

  // Room for `more` keys of `bytes` bytes in all (arrays only).
  room(more: number, bytes: number): void {
    const want = this.count + more;
    if (this.keyEnd + bytes > this.keys.length) {
      const k = new Uint8Array(Math.max(this.keyEnd + bytes, this.keys.length * 2));
      k.set(this.keys.subarray(0, this.keyEnd)); this.keys = k;
    }
    if (want + 1 > this.offs.length) {
      const cap = Math.max(want + 1, this.offs.length * 2);
      const o = new Uint32Array(cap); o.set(this.offs.subarray(0, this.count + 1)); this.offs = o;
      const v = new Float64Array(cap); v.set(this.vals.subarray(0, this.count)); this.vals = v;
    }
  }

  // Room for `more` keys and the index for them (built here if missing; load ≤ 7/8).
  reserve(more: number, bytes: number): void {
    this.room(more, bytes);
    const want = this.count + more;
    let n = this.slots === null ? 16 : this.mask + 1;
    while (want * 8 > n * 7) n *= 2;
    if (this.slots === null || n !== this.mask + 1) {
      const s = new Uint32Array(n * 2), mask = n - 1;
      for (let k = 0; k < this.count; k++) {
        const h = hash(this.keys, this.offs[k], this.offs[k + 1] - this.offs[k]);
        let i = h & mask;
        while (s[(i << 1) + 1] !== 0) i = (i + 1) & mask;
        s[i << 1] = h; s[(i << 1) + 1] = k + 1;
      }
      this.slots = s; this.mask = mask;
    }
  }

  // Index of a key, or -1: the index if built, else a binary search (sorted).
  lookup(b: Uint8Array, p: number, n: number): number {
    if (this.count === 0) return -1;
    if (this.slots !== null) return this.find(b, p, n, hash(b, p, n));
    let lo = 0, hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1, o = this.offs[mid];
      const c = cmp(this.keys, o, this.offs[mid + 1] - o, b, p, n);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1; else hi = mid;
    }
    return -1;
  }

  // count(key) := max(count, v), room and index reserved; whether it grew.
  raise(b: Uint8Array, p: number, n: number, v: number): boolean {
    const h = hash(b, p, n);
    const k = this.find(b, p, n, h);
    if (k >= 0) {
      if (v <= this.vals[k]) return false;
      this.vals[k] = v;
      return true;
    }
    const s = this.slots!, mask = this.mask;
    let i = h & mask;
    while (s[(i << 1) + 1] !== 0) i = (i + 1) & mask;
    const idx = this.count++;
    s[i << 1] = h; s[(i << 1) + 1] = idx + 1;
    if (this.sorted && idx > 0) {
      const o = this.offs[idx - 1];
      if (cmp(this.keys, o, this.offs[idx] - o, b, p, n) > 0) this.sorted = false;
    }
    this.keys.set(b.subarray(p, p + n), this.keyEnd);
    this.keyEnd += n;
    this.offs[idx + 1] = this.keyEnd;
    this.vals[idx] = v;
    return true;
  }

  // Indices in replica byte order (null: index order is that order).
  order(): Uint32Array | null {
    if (this.sorted) return null;
    const idx = new Uint32Array(this.count);
    for (let i = 0; i < idx.length; i++) idx[i] = i;
    const k = this.keys, o = this.offs;
    idx.sort((x, y) => cmp(k, o[x], o[x + 1] - o[x], k, o[y], o[y + 1] - o[y]));
    return idx;
  }

  bodySize(): number {
    let n = varintSize(this.count) + this.keyEnd;
    for (let i = 0; i < this.count; i++) n += varintSize(this.offs[i + 1] - this.offs[i]) + varintSize(this.vals[i]);
    return n;
  }

  write(out: Uint8Array, p: number): number {
    p = putVarint(out, p, this.count);
    const idx = this.order();
    for (let j = 0; j < this.count; j++) {
      const i = idx === null ? j : idx[j], s = this.offs[i], e = this.offs[i + 1];
      p = putVarint(out, p, e - s);
      copy(out, p, this.keys, s, e);
      p = putVarint(out, p + e - s, this.vals[i]);
    }
    return p;
  }

  // Reads a body (checked: order, no empty id, no zero count) into an empty
  // table: appended in order, no hashing.
  readInto(r: ByteReader): void {
    const buf = r.buf;
    const n = r.varint();
    if (n > buf.length - r.pos) throw new Error("count exceeds input");
    // A body nested in a larger state (an AWMap value) reserves for its own
    // entries, not for the rest of the input; longer ids grow the arena.
    this.room(n, Math.min(buf.length - r.pos, n * 32));
    let p = r.pos, prevBody = 0, prevLen = 0;
    for (let i = 0; i < n; i++) {
      const len = varintAt(buf, p);
      const body = vNext;
      if (len === 0 || len > buf.length - body) throw new Error(len === 0 ? "empty replica id" : "truncated");
      if (len > 255) throw new Error("replica id over 255 bytes");
      if (i > 0 && cmp(buf, prevBody, prevLen, buf, body, len) >= 0) throw new Error("noncanonical");
      const v = varintAt(buf, body + len);
      if (v === 0) throw new Error("zero count");
      if (this.keyEnd + len > this.keys.length) this.room(0, len);
      copy(this.keys, this.keyEnd, buf, body, body + len);
      this.keyEnd += len;
      this.offs[i + 1] = this.keyEnd;
      this.vals[i] = v;
      prevBody = body; prevLen = len;
      p = vNext;
    }
    this.count = n;
    r.pos = p;
  }

  // this := this ⊔ o; whether it grew. A few entries: point updates through
  // the index; many: one streaming merge into new arrays, replacing these.
  joinTable(o: Table): boolean {
    if (o.count === 0) return false;
    if (small(o.count, this.count)) {
      this.reserve(o.count, o.keyEnd);
      let changed = false;
      for (let i = 0; i < o.count; i++) {
        if (this.raise(o.keys, o.offs[i], o.offs[i + 1] - o.offs[i], o.vals[i])) changed = true;
      }
      return changed;
    }
    const ia = this.order(), ib = o.order();
    const na = this.count, nb = o.count;
    const keys = new Uint8Array(this.keyEnd + o.keyEnd), offs = new Uint32Array(na + nb + 1), vals = new Float64Array(na + nb);
    const ak = this.keys, ao = this.offs, av = this.vals, bk = o.keys, bo = o.offs, bv = o.vals;
    let i = 0, j = 0, k = 0, w = 0, changed = false;
    // The pending streak of ids: bytes [ps, pe) of side sd (0: this, 1: o).
    let sd = 0, ps = 0, pe = 0, kw = 0;
    const take = (side: number, s: number, e: number, v: number) => {
      if (sd !== side || pe !== s) { copy(keys, kw, sd === 0 ? ak : bk, ps, pe); kw += pe - ps; sd = side; ps = s; }
      pe = e;
      w += e - s;
      offs[++k] = w;
      vals[k - 1] = v;
    };
    while (i < na && j < nb) {
      const x = ia === null ? i : ia[i], y = ib === null ? j : ib[j];
      const xs = ao[x], xe = ao[x + 1], ys = bo[y], ye = bo[y + 1];
      const c = cmp(ak, xs, xe - xs, bk, ys, ye - ys);
      if (c < 0) { take(0, xs, xe, av[x]); i++; }
      else if (c > 0) { take(1, ys, ye, bv[y]); j++; changed = true; }
      else {
        if (bv[y] > av[x]) changed = true;
        take(0, xs, xe, Math.max(av[x], bv[y])); i++; j++;
      }
    }
    for (; i < na; i++) { const x = ia === null ? i : ia[i]; take(0, ao[x], ao[x + 1], av[x]); }
    if (j < nb) changed = true;
    for (; j < nb; j++) { const y = ib === null ? j : ib[j]; take(1, bo[y], bo[y + 1], bv[y]); }
    copy(keys, kw, sd === 0 ? ak : bk, ps, pe);
    if (changed) {
      this.keys = keys; this.offs = offs; this.vals = vals;
      this.keyEnd = w; this.count = k; this.sorted = true;
      this.slots = null; this.mask = 0;
    }
    return changed;
  }
}

export const gcounter = {
  bottom: (): Table => new Table(),
  decode(bytes: Uint8Array): Table {
    const r = new ByteReader(bytes);
    readHeader(r);
    const t = new Table();
    t.readInto(r);
    done(r);
    return t;
  },
  encode(t: Table): Uint8Array {
    const [out, p] = header(1, t.bodySize());
    t.write(out, p);
    return out;
  },
  joinInto: (a: Table, b: Table): boolean => a.joinTable(b),
  // The join streamed from canonical bytes, as the kernel's merge(bytes).
  merge(a: Table, bytes: Uint8Array): boolean {
    const r = new ByteReader(bytes);
    readHeader(r);
    const s = r.pos, e = scanCounter(bytes, s);
    if (e !== bytes.length) throw new Error("trailing bytes");
    return joinCounterBody(a, bytes, s);
  },
};

// Checks a GCounter body at p as readInto does (order, no empty id, no zero
// count) without copying it: its end.
function scanCounter(buf: Uint8Array, p: number): number {
  const n = varintAt(buf, p);
  p = vNext;
  if (n > buf.length - p) throw new Error("count exceeds input");
  let pb = 0, pl = 0;
  for (let i = 0; i < n; i++) {
    const len = varintAt(buf, p), body = vNext;
    if (len === 0 || len > buf.length - body) throw new Error(len === 0 ? "empty replica id" : "truncated");
    if (len > 255) throw new Error("replica id over 255 bytes");
    if (i > 0 && cmp(buf, pb, pl, buf, body, len) >= 0) throw new Error("noncanonical");
    if (varintAt(buf, body + len) === 0) throw new Error("zero count");
    pb = body; pl = len; p = vNext;
  }
  return p;
}

// a := a ⊔ the checked GCounter body at buf[s]: a few entries raised from
// the bytes through the index, many read as a table and merged.
function joinCounterBody(a: Table, buf: Uint8Array, s: number): boolean {
  const n = varintAt(buf, s);
  let p = vNext;
  if (n === 0) return false;
  if (!small(n, a.count)) {
    const r = new ByteReader(buf);
    r.pos = s;
    const t = new Table();
    t.readInto(r);
    return a.joinTable(t);
  }
  a.reserve(n, buf.length - p);
  let changed = false;
  for (let i = 0; i < n; i++) {
    const len = varintAt(buf, p), body = vNext, v = varintAt(buf, body + len);
    p = vNext;
    if (a.raise(buf, body, len, v)) changed = true;
  }
  return changed;
}

export interface PNFlat { p: Table; n: Table }

export const pncounter = {
  bottom: (): PNFlat => ({ p: new Table(), n: new Table() }),
  decode(bytes: Uint8Array): PNFlat {
    const r = new ByteReader(bytes);
    readHeader(r);
    const p = new Table(), n = new Table();
    p.readInto(r); n.readInto(r);
    done(r);
    return { p, n };
  },
  encode(s: PNFlat): Uint8Array {
    const [out, p] = header(2, s.p.bodySize() + s.n.bodySize());
    s.n.write(out, s.p.write(out, p));
    return out;
  },
  joinInto(a: PNFlat, b: PNFlat): boolean {
    const x = a.p.joinTable(b.p);
    return a.n.joinTable(b.n) || x;
  },
  // Both bodies checked, then each joined from the bytes (the kernel's merge(bytes)).
  merge(a: PNFlat, bytes: Uint8Array): boolean {
    const r = new ByteReader(bytes);
    readHeader(r);
    const sp = r.pos, sn = scanCounter(bytes, sp);
    if (scanCounter(bytes, sn) !== bytes.length) throw new Error("trailing bytes");
    const x = joinCounterBody(a.p, bytes, sp);
    return joinCounterBody(a.n, bytes, sn) || x;
  },
};
