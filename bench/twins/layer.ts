// The data layer of assembly/data in plain TypeScript over typed arrays, for
// the same-algorithm twins of the causal and map types (issue 10, item 10):
// a byte table (arena + offsets, interned through open addressing over a
// hash of the bytes), a hash map of packed dots (replica index, counter), a
// compact causal context (per-state replica table, version vector by replica
// index, dot cloud), the incremental canonical key order, and the cursor and
// growing writer the codecs use. No Map, Set, string or object per element.
//
// Counters and timestamps are JS numbers: exact to 2^53 (the kernel's are
// u64); the bench's and the tests' histories stay far below.
import { cmp, copy, hash, putVarint, varintAt, vNext } from "./flat.js";
import { ByteReader, readHeader } from "./read.js";

export { cmp, copy, hash };

// ---- codec -----------------------------------------------------------------

// A read cursor over canonical bytes; every read is bounds-checked.
export class Cur {
  buf: Uint8Array;
  p: number;
  n = 0; // length of the byte string bytes() read last
  constructor(buf: Uint8Array, p: number) { this.buf = buf; this.p = p; }
  varint(): number { const v = varintAt(this.buf, this.p); this.p = vNext; return v; }
  u8(): number { if (this.p >= this.buf.length) throw new Error("truncated"); return this.buf[this.p++]; }
  // A length-prefixed byte string: its start (length in this.n).
  bytes(): number {
    const n = this.varint();
    if (n > this.buf.length - this.p) throw new Error("truncated");
    const s = this.p;
    this.p += n; this.n = n;
    return s;
  }
  // A count of items each at least `min` bytes long (refuses counts the input cannot hold).
  count(min: number): number {
    const n = this.varint();
    if (n * min > this.buf.length - this.p) throw new Error("count exceeds input");
    return n;
  }
  done(): void { if (this.p !== this.buf.length) throw new Error("trailing bytes"); }
}

// A cursor after the header of bytes (magic, version 1, type spec).
export function open(bytes: Uint8Array): Cur {
  const r = new ByteReader(bytes);
  readHeader(r);
  return new Cur(bytes, r.pos);
}

// A growing output buffer (the kernel's Writer).
export class Out {
  buf: Uint8Array;
  p = 0;
  constructor(cap = 256) { this.buf = new Uint8Array(cap); }
  need(n: number): void {
    if (this.p + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.p + n, this.buf.length * 2));
    b.set(this.buf.subarray(0, this.p));
    this.buf = b;
  }
  u8(v: number): void { this.need(1); this.buf[this.p++] = v; }
  varint(v: number): void { this.need(10); this.p = putVarint(this.buf, this.p, v); }
  raw(src: Uint8Array, s: number, n: number): void { this.need(n); copy(this.buf, this.p, src, s, s + n); this.p += n; }
  // A length-prefixed byte string.
  bytes(src: Uint8Array, s: number, n: number): void { this.varint(n); this.raw(src, s, n); }
  finish(): Uint8Array { return this.buf.subarray(0, this.p); }
}

// An output buffer starting with the header of a type whose spec is `tags`.
export function header(...tags: number[]): Out {
  const o = new Out(256);
  o.u8(0x54); o.u8(0x52); o.u8(1);
  for (const t of tags) o.u8(t);
  return o;
}

// ---- byte table ------------------------------------------------------------

// Byte strings interned in insertion order: key i is keys[offs[i] .. offs[i + 1]).
// Open addressing with linear probing, load ≤ 7/8; each key's hash is kept
// so growing the index does not hash the bytes again. No deletes.
export class ByteTable {
  keys = new Uint8Array(64);
  offs = new Uint32Array(17);
  khash = new Uint32Array(16);
  count = 0;
  slots = new Int32Array(16); // key index + 1 (0: empty)
  mask = 15;
  added = false; // whether the last add() interned a new key

  get keyEnd(): number { return this.offs[this.count]; }
  keyPtr(i: number): number { return this.offs[i]; }
  keyLen(i: number): number { return this.offs[i + 1] - this.offs[i]; }

  find(b: Uint8Array, p: number, n: number): number {
    if (this.count === 0) return -1;
    const h = hash(b, p, n), s = this.slots, mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const k = s[i] - 1;
      if (k < 0) return -1;
      if (this.khash[k] === h) {
        const o = this.offs[k];
        if (this.offs[k + 1] - o === n && cmp(this.keys, o, n, b, p, n) === 0) return k;
      }
    }
  }

  // Index of b[p..p+n), interned if new (this.added says which).
  add(b: Uint8Array, p: number, n: number): number {
    const h = hash(b, p, n);
    let s = this.slots, mask = this.mask;
    let i = h & mask;
    for (; ; i = (i + 1) & mask) {
      const k = s[i] - 1;
      if (k < 0) break;
      if (this.khash[k] === h) {
        const o = this.offs[k];
        if (this.offs[k + 1] - o === n && cmp(this.keys, o, n, b, p, n) === 0) { this.added = false; return k; }
      }
    }
    const idx = this.count;
    if ((idx + 1) * 8 > (mask + 1) * 7) {
      this.grow();
      s = this.slots; mask = this.mask;
      i = h & mask;
      while (s[i] !== 0) i = (i + 1) & mask;
    }
    const end = this.offs[idx];
    if (end + n > this.keys.length) {
      const k = new Uint8Array(Math.max(end + n, this.keys.length * 2));
      k.set(this.keys.subarray(0, end)); this.keys = k;
    }
    if (idx + 2 > this.offs.length) { const o = new Uint32Array(this.offs.length * 2); o.set(this.offs); this.offs = o; }
    if (idx >= this.khash.length) { const kh = new Uint32Array(this.khash.length * 2); kh.set(this.khash); this.khash = kh; }
    copy(this.keys, end, b, p, p + n);
    this.offs[idx + 1] = end + n;
    this.khash[idx] = h;
    s[i] = idx + 1;
    this.count = idx + 1;
    this.added = true;
    return idx;
  }

  // Room for n more keys of `bytes` bytes in all (as the kernel reserves
  // before a decode or join), so adding them does not grow step by step.
  reserve(n: number, bytes: number): void {
    const want = this.count + n, end = this.offs[this.count];
    if (end + bytes > this.keys.length) { const k = new Uint8Array(end + bytes); k.set(this.keys.subarray(0, end)); this.keys = k; }
    if (want + 1 > this.offs.length) { const o = new Uint32Array(want + 1); o.set(this.offs.subarray(0, this.count + 1)); this.offs = o; }
    if (want > this.khash.length) { const kh = new Uint32Array(want); kh.set(this.khash.subarray(0, this.count)); this.khash = kh; }
    let cap = this.mask + 1;
    while (want * 8 > cap * 7) cap *= 2;
    if (cap !== this.mask + 1) this.grow(cap);
  }

  private grow(n = (this.mask + 1) * 2): void {
    const mask = n - 1, s = new Int32Array(n);
    for (let k = 0; k < this.count; k++) {
      let i = this.khash[k] & mask;
      while (s[i] !== 0) i = (i + 1) & mask;
      s[i] = k + 1;
    }
    this.slots = s; this.mask = mask;
  }

  // Empties the table for reuse (small again if it had grown).
  clear(): void {
    if (this.mask > 63) { this.slots = new Int32Array(16); this.mask = 15; } else this.slots.fill(0);
    if (this.count > 64) { this.keys = new Uint8Array(64); this.offs = new Uint32Array(17); this.khash = new Uint32Array(16); }
    this.count = 0; this.offs[0] = 0;
  }

  cmpKeys(x: number, y: number): number {
    const o = this.offs;
    return cmp(this.keys, o[x], o[x + 1] - o[x], this.keys, o[y], o[y + 1] - o[y]);
  }
}

// Sorts idx[0..n) (indices into t) by their keys' bytes, as the kernel's
// sortByKey: insertion sort of runs of 16, then merges of doubling width.
export function sortByKey(t: ByteTable, idx: U32, n: number): U32 {
  return sortIdx(idx, n, (x, y) => t.cmpKeys(x, y));
}

export function sortIdx(idx: U32, n: number, less: (x: number, y: number) => number): U32 {
  const RUN = 16;
  for (let s = 0; s < n; s += RUN) {
    const e = Math.min(s + RUN, n);
    for (let i = s + 1; i < e; i++) {
      const v = idx[i];
      let j = i - 1;
      while (j >= s && less(idx[j], v) > 0) { idx[j + 1] = idx[j]; j--; }
      idx[j + 1] = v;
    }
  }
  if (n <= RUN) return idx;
  let src = idx, dst = new Uint32Array(idx.length);
  for (let w = RUN; w < n; w <<= 1) {
    for (let lo = 0; lo < n; lo += w << 1) {
      const mid = Math.min(lo + w, n), hi = Math.min(lo + (w << 1), n);
      let i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        const x = src[i], y = src[j];
        if (less(x, y) <= 0) { dst[k++] = x; i++; } else { dst[k++] = y; j++; }
      }
      while (i < mid) dst[k++] = src[i++];
      while (j < hi) dst[k++] = src[j++];
    }
    const t = src; src = dst; dst = t;
  }
  return src;
}

// The canonical order of a ByteTable's keys, kept incrementally (the
// kernel's KeyOrder): keys added since the last update are sorted and merged in.
export class KeyOrder {
  idx = new Uint32Array(0);
  len = 0;
  update(t: ByteTable): void {
    const have = this.len, n = t.count;
    if (have === n) return;
    let fresh = new Uint32Array(n - have);
    for (let i = have; i < n; i++) fresh[i - have] = i;
    fresh = sortByKey(t, fresh, n - have);
    if (have === 0) { this.idx = fresh; this.len = n; return; }
    const merged = new Uint32Array(n), a = this.idx, nb = n - have;
    let i = 0, j = 0, k = 0;
    while (i < have && j < nb) {
      const x = a[i], y = fresh[j];
      if (t.cmpKeys(x, y) < 0) { merged[k++] = x; i++; } else { merged[k++] = y; j++; }
    }
    while (i < have) merged[k++] = a[i++];
    while (j < nb) merged[k++] = fresh[j++];
    this.idx = merged; this.len = n;
  }
  // Keys 0 .. n − 1 are in byte order already (decoded from canonical bytes).
  identity(n: number): void {
    this.idx = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.idx[i] = i;
    this.len = n;
  }
}

// ---- dots ------------------------------------------------------------------

function dotHash(r: number, c: number): number {
  const lo = c >>> 0, hi = (c / 4294967296) >>> 0;
  let h = Math.imul(lo ^ Math.imul(r + 1, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h ^ hi, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// Dot (replica index, counter) -> u32, open addressing with linear probing
// and backward-shift deletes (no tombstones), load ≤ 7/8.
export class DotMap {
  rep = new Int32Array(16); // replica + 1 (0: empty)
  ctr = new Float64Array(16);
  val = new Uint32Array(16);
  mask = 15;
  count = 0;
  get capacity(): number { return this.mask + 1; }

  private slot(r: number, c: number): number {
    const mask = this.mask, rp = this.rep, ct = this.ctr;
    for (let i = dotHash(r, c) & mask; ; i = (i + 1) & mask) {
      const x = rp[i];
      if (x === 0 || (x === r + 1 && ct[i] === c)) return i;
    }
  }
  has(r: number, c: number): boolean { return this.count !== 0 && this.rep[this.slot(r, c)] !== 0; }
  get(r: number, c: number): number {
    if (this.count === 0) return -1;
    const i = this.slot(r, c);
    return this.rep[i] === 0 ? -1 : this.val[i];
  }
  reserve(n: number): void {
    let cap = this.mask + 1;
    while ((this.count + n) * 8 > cap * 7) cap *= 2;
    if (cap !== this.mask + 1) this.rehash(cap);
  }
  private rehash(cap: number): void {
    const or = this.rep, oc = this.ctr, ov = this.val;
    this.rep = new Int32Array(cap); this.ctr = new Float64Array(cap); this.val = new Uint32Array(cap);
    this.mask = cap - 1;
    for (let s = 0; s < or.length; s++) {
      if (or[s] === 0) continue;
      const i = this.slot(or[s] - 1, oc[s]);
      this.rep[i] = or[s]; this.ctr[i] = oc[s]; this.val[i] = ov[s];
    }
  }
  put(r: number, c: number, v: number): void {
    this.reserve(1);
    const i = this.slot(r, c);
    if (this.rep[i] === 0) { this.rep[i] = r + 1; this.ctr[i] = c; this.count++; }
    this.val[i] = v;
  }
  // Adds the dot if absent: whether it was new.
  add(r: number, c: number): boolean {
    this.reserve(1);
    const i = this.slot(r, c);
    if (this.rep[i] !== 0) return false;
    this.rep[i] = r + 1; this.ctr[i] = c; this.count++;
    return true;
  }
  delete(r: number, c: number): boolean {
    if (this.count === 0) return false;
    let i = this.slot(r, c);
    const rp = this.rep, ct = this.ctr, vl = this.val, mask = this.mask;
    if (rp[i] === 0) return false;
    this.count--;
    // Backward shift: move later entries of the cluster into the hole when
    // their home slot is not between the hole and them.
    for (let j = (i + 1) & mask; rp[j] !== 0; j = (j + 1) & mask) {
      const home = dotHash(rp[j] - 1, ct[j]) & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        rp[i] = rp[j]; ct[i] = ct[j]; vl[i] = vl[j];
        i = j;
      }
    }
    rp[i] = 0;
    return true;
  }
  clear(): void {
    if (this.mask > 63) { this.rep = new Int32Array(16); this.ctr = new Float64Array(16); this.val = new Uint32Array(16); this.mask = 15; }
    else this.rep.fill(0);
    this.count = 0;
  }
  usedAt(s: number): boolean { return this.rep[s] !== 0; }
  repAt(s: number): number { return this.rep[s] - 1; }
  ctrAt(s: number): number { return this.ctr[s]; }
}

// ---- causal context --------------------------------------------------------

type F64 = Float64Array<ArrayBuffer>;
type U32 = Uint32Array<ArrayBuffer>;
function growF64(a: F64, n: number): F64 {
  if (n <= a.length) return a;
  const b = new Float64Array(Math.max(n, a.length * 2)); b.set(a); return b;
}
function growU32(a: U32, n: number): U32 {
  if (n <= a.length) return a;
  const b = new Uint32Array(Math.max(n, a.length * 2)); b.set(a); return b;
}
export { growF64, growU32 };

export const NONE = 0xffffffff;

// Version vector (by replica index) + cloud of non-contiguous dots, with the
// replicas interned per context (assembly/data/context.ts).
export class Context {
  reps = new ByteTable();
  vv = new Float64Array(4);
  top = new Float64Array(4);     // highest cloud dot ever added, per replica
  ccount = new Uint32Array(4);   // cloud dots now, per replica
  cloud = new DotMap();

  get replicas(): number { return this.reps.count; }
  // Empties the context for reuse (the kernel's scratch context, freed after each streamed join).
  clear(): void { this.reps.clear(); this.cloud.clear(); }
  findRep(b: Uint8Array, p: number, n: number): number { return this.reps.find(b, p, n); }
  rep(b: Uint8Array, p: number, n: number): number {
    const i = this.reps.add(b, p, n);
    if (this.reps.added) {
      this.vv = growF64(this.vv, i + 1); this.top = growF64(this.top, i + 1); this.ccount = growU32(this.ccount, i + 1);
      this.vv[i] = 0; this.top[i] = 0; this.ccount[i] = 0;
    }
    return i;
  }

  isEmpty(): boolean {
    if (this.cloud.count !== 0) return false;
    for (let i = 0; i < this.replicas; i++) if (this.vv[i] !== 0) return false;
    return true;
  }
  size(): number {
    let n = this.cloud.count;
    for (let i = 0; i < this.replicas; i++) n += this.vv[i];
    return n;
  }
  has(ri: number, c: number): boolean {
    if (ri < 0) return false;
    if (c <= this.vv[ri]) return c !== 0;
    return this.ccount[ri] !== 0 && this.cloud.has(ri, c);
  }
  maxOf(ri: number): number {
    if (ri < 0) return 0;
    return Math.max(this.vv[ri], this.top[ri]);
  }
  addDot(ri: number, c: number): boolean {
    if (this.has(ri, c)) return false;
    if (c === this.vv[ri] + 1) { this.vv[ri] = c; this.compact(ri); }
    else {
      this.cloud.put(ri, c, 0);
      this.ccount[ri]++;
      if (c > this.top[ri]) this.top[ri] = c;
    }
    return true;
  }
  compact(ri: number): void {
    let v = this.vv[ri], n = this.ccount[ri];
    while (n !== 0 && this.cloud.delete(ri, v + 1)) { v++; n--; }
    this.vv[ri] = v; this.ccount[ri] = n;
  }
  private dropCloudUpTo(ri: number, v: number): void {
    let n = this.ccount[ri];
    if (n === 0) return;
    const from = this.vv[ri], cl = this.cloud;
    if (v - from <= n * 4) {
      for (let c = from + 1; c <= v && n !== 0; c++) if (cl.delete(ri, c)) n--;
    } else {
      let i = 0;
      while (i < cl.capacity && n !== 0) {
        if (cl.usedAt(i) && cl.repAt(i) === ri && cl.ctrAt(i) <= v) { cl.delete(ri, cl.ctrAt(i)); n--; continue; }
        i++;
      }
    }
    this.ccount[ri] = n;
  }

  // map[j] := this's index of o's replica j, interning those with dots (else NONE if absent).
  mapFrom(o: Context, map: Scratch): Uint32Array {
    const m = map.get(o.replicas);
    for (let j = 0; j < o.replicas; j++) {
      const p = o.reps.keyPtr(j), n = o.reps.keyLen(j);
      const k = o.vv[j] !== 0 || o.ccount[j] !== 0 ? this.rep(o.reps.keys, p, n) : this.findRep(o.reps.keys, p, n);
      m[j] = k < 0 ? NONE : k;
    }
    return m;
  }
  // back[i] := o's index of this's replica i, or NONE.
  mapTo(o: Context, back: Scratch): Uint32Array {
    const m = back.get(this.replicas);
    for (let i = 0; i < this.replicas; i++) {
      const k = o.findRep(this.reps.keys, this.reps.keyPtr(i), this.reps.keyLen(i));
      m[i] = k < 0 ? NONE : k;
    }
    return m;
  }

  // this := this ∪ o (o's replicas mapped by map): whether it grew.
  joinMapped(o: Context, map: Uint32Array): boolean {
    let changed = false;
    for (let j = 0; j < o.replicas; j++) {
      const v = o.vv[j];
      if (v === 0) continue;
      const i = map[j], mine = this.vv[i];
      if (v <= mine) continue;
      const n = this.ccount[i];
      let missing = n < v - mine;
      if (!missing) for (let c = mine + 1; c <= v; c++) if (!this.cloud.has(i, c)) { missing = true; break; }
      if (missing) changed = true;
      this.dropCloudUpTo(i, v);
      this.vv[i] = v;
      this.compact(i);
    }
    const cl = o.cloud;
    if (cl.count !== 0) {
      this.cloud.reserve(cl.count);
      for (let s = 0; s < cl.capacity; s++) if (cl.usedAt(s) && this.addDot(map[cl.repAt(s)], cl.ctrAt(s))) changed = true;
    }
    return changed;
  }

  // The replica indices in byte order of their ids.
  sortedReps(): Uint32Array {
    const n = this.replicas, idx = new Uint32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    return sortByKey(this.reps, idx, n);
  }
  // rank[i] := position of replica i in byte order.
  static ranks(order: Uint32Array): Uint32Array {
    const r = new Uint32Array(order.length);
    for (let k = 0; k < order.length; k++) r[order[k]] = k;
    return r;
  }
}

// A reusable Uint32Array (the kernel's module-level scratch vectors).
export class Scratch {
  a = new Uint32Array(16);
  get(n: number): Uint32Array { if (n > this.a.length) this.a = new Uint32Array(Math.max(n, this.a.length * 2)); return this.a; }
}

// context := count (replica, counter)* count (replica, counter)*: the
// version vector (counter ≥ 1) by replica bytes, then the cloud's dots by
// (replica bytes, counter). `order`: Context.sortedReps(); `rank` its inverse.
export function encodeContext(w: Out, cc: Context, order: Uint32Array, rank: Uint32Array): void {
  let n = 0;
  for (let i = 0; i < cc.replicas; i++) if (cc.vv[i] !== 0) n++;
  w.varint(n);
  const rk = cc.reps;
  for (let k = 0; k < order.length; k++) {
    const i = order[k], v = cc.vv[i];
    if (v === 0) continue;
    w.bytes(rk.keys, rk.keyPtr(i), rk.keyLen(i));
    w.varint(v);
  }
  // The cloud sorted by (rank, counter): packed in one Float64Array (rank · 2^32... would
  // overflow exactness), so sort slot indices instead.
  const cl = cc.cloud, m = cl.count;
  w.varint(m);
  if (m === 0) return;
  let idx = new Uint32Array(m);
  let k = 0;
  for (let s = 0; s < cl.capacity; s++) if (cl.usedAt(s)) idx[k++] = s;
  idx = sortIdx(idx, m, (x, y) => (rank[cl.repAt(x)] - rank[cl.repAt(y)]) || (cl.ctrAt(x) - cl.ctrAt(y)));
  for (let q = 0; q < m; q++) {
    const ri = cl.repAt(idx[q]);
    w.bytes(rk.keys, rk.keyPtr(ri), rk.keyLen(ri));
    w.varint(cl.ctrAt(idx[q]));
  }
}

// Reads a canonical context into cc (empty), with the kernel's checks: no
// empty replica, counters ≥ 1, strict order, cloud dots above vv + 1.
export function decodeContext(r: Cur, cc: Context): void {
  const buf = r.buf;
  const n = r.count(2);
  let pp = 0, pn = 0;
  for (let i = 0; i < n; i++) {
    const p = r.bytes(), len = r.n;
    const c = r.varint();
    if (len === 0 || c === 0) throw new Error("invalid dot");
    if (i > 0 && cmp(buf, pp, pn, buf, p, len) >= 0) throw new Error("noncanonical vv");
    pp = p; pn = len;
    const ri = cc.rep(buf, p, len); // may grow cc.vv: index it after
    cc.vv[ri] = c;
  }
  const m = r.count(2);
  cc.cloud.reserve(m);
  let pc = 0;
  for (let i = 0; i < m; i++) {
    const p = r.bytes(), len = r.n;
    const c = r.varint();
    if (len === 0 || c === 0) throw new Error("invalid dot");
    if (i > 0) {
      const o = cmp(buf, pp, pn, buf, p, len);
      if (o > 0 || (o === 0 && pc >= c)) throw new Error("noncanonical cloud");
    }
    pp = p; pn = len; pc = c;
    const ri = cc.rep(buf, p, len);
    if (c <= cc.vv[ri] + 1) throw new Error("noncanonical cloud");
    cc.addDot(ri, c);
  }
}

// Which dots a decode has met so far, to refuse one dot on two elements (the
// kernel's SeenDots): a dot (r, c ≤ vv[r]) is one bit of a bitmap over
// 1..vv[r], within a budget tied to the input's size; the others go to a
// dot map.
export class SeenDots {
  base = new Float64Array(4); // per replica: first bit of its bitmap + 1 (0: none)
  lim = new Float64Array(4);  // per replica: the bitmap covers counters 1..lim
  bits = new Int32Array(0);
  map = new DotMap();

  init(cc: Context, budgetBits: number): void {
    const n = cc.replicas;
    if (this.base.length < n) { this.base = new Float64Array(n); this.lim = new Float64Array(n); }
    let used = 0;
    for (let i = 0; i < n; i++) {
      const v = cc.vv[i];
      if (v !== 0 && v <= budgetBits - used) { this.base[i] = used + 1; this.lim[i] = v; used += Math.ceil(v / 32) * 32; }
      else { this.base[i] = 0; this.lim[i] = 0; }
    }
    const words = used / 32;
    if (this.bits.length < words || this.bits.length > 4 * words + 64) this.bits = new Int32Array(words);
    else this.bits.fill(0, 0, words);
    this.map.clear();
  }

  // Notes dot (ri, c): whether it is new.
  add(ri: number, c: number): boolean {
    const b = this.base[ri];
    if (b !== 0 && c >= 1 && c <= this.lim[ri]) {
      const bit = b - 1 + c - 1, w = bit >>> 5, m = 1 << (bit & 31);
      if ((this.bits[w] & m) !== 0) return false;
      this.bits[w] |= m;
      return true;
    }
    return this.map.add(ri, c);
  }
}
