// Same-algorithm twin of TopK(k) (issue 10, item 10): assembly/types/topk.ts
// in plain TypeScript over typed arrays. A sorted run of entries by id bytes
// (the body's order, so encode is one pass): the score, and where the id sits
// in an arena of id bytes; evicted ids leave garbage in the arena, compacted
// when it outweighs the live ids. A few incoming entries are joined one by
// one (the lowest-ranked entry cached); more are merged by id, then ranked
// once. merge() streams a small body entry by entry from the bytes, as the
// kernel's merge(bytes). Scores are JS numbers (exact to 2^53; the kernel's
// are u64).
import { ByteReader, readHeader } from "./read.js";
import { Cur, Out, cmp, copy, growF64, growU32, sortIdx } from "./layer.js";

const ONE_BY_ONE = 8;

export class TopKFlat {
  k: number;
  n = 0;
  score = new Float64Array(16);
  off = new Uint32Array(16);
  len = new Uint32Array(16);
  ids = new Uint8Array(64);
  idsLen = 0;
  garbage = 0;
  lowOk = false;
  lowIdx = 0;
  constructor(k: number) { this.k = k; }

  get full(): boolean { return this.n >= this.k; }

  // Index of id b[p..p+n), or −(insertion point) − 1.
  find(b: Uint8Array, p: number, n: number): number {
    let lo = 0, hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = cmp(this.ids, this.off[mid], this.len[mid], b, p, n);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1; else hi = mid;
    }
    return -lo - 1;
  }
  // Entry i ranks above (s, b[p..p+n)).
  ranksAbove(i: number, s: number, b: Uint8Array, p: number, n: number): boolean {
    const si = this.score[i];
    return si > s || (si === s && cmp(this.ids, this.off[i], this.len[i], b, p, n) < 0);
  }
  low(): number {
    if (this.lowOk) return this.lowIdx;
    let l = 0;
    for (let i = 1; i < this.n; i++) if (this.ranksAbove(l, this.score[i], this.ids, this.off[i], this.len[i])) l = i;
    this.lowIdx = l; this.lowOk = true;
    return l;
  }
  // Room for e more entries with ids of `bytes` bytes; compacts the arena
  // first when most of it is garbage.
  reserve(e: number, bytes: number): void {
    if (this.garbage > 4096 && this.garbage > (this.idsLen >> 1)) this.compact();
    const want = this.n + e;
    if (want > this.score.length) { this.score = growF64(this.score, want); this.off = growU32(this.off, want); this.len = growU32(this.len, want); }
    if (this.idsLen + bytes > this.ids.length) {
      const b = new Uint8Array(Math.max(this.idsLen + bytes, this.ids.length * 2)); b.set(this.ids.subarray(0, this.idsLen)); this.ids = b;
    }
  }
  private compact(): void {
    const live = this.idsLen - this.garbage, q = new Uint8Array(Math.max(live, 64));
    let at = 0;
    for (let i = 0; i < this.n; i++) { copy(q, at, this.ids, this.off[i], this.off[i] + this.len[i]); this.off[i] = at; at += this.len[i]; }
    this.ids = q; this.idsLen = at; this.garbage = 0;
  }
  // Inserts (b[p..p+n), s) at index `at` into reserved room.
  insertAt(at: number, b: Uint8Array, p: number, n: number, s: number): void {
    if (at < this.n) { this.score.copyWithin(at + 1, at, this.n); this.off.copyWithin(at + 1, at, this.n); this.len.copyWithin(at + 1, at, this.n); }
    this.n++;
    copy(this.ids, this.idsLen, b, p, p + n);
    this.score[at] = s; this.off[at] = this.idsLen; this.len[at] = n;
    this.idsLen += n;
  }
  private removeAt(i: number): void {
    this.garbage += this.len[i];
    this.score.copyWithin(i, i + 1, this.n); this.off.copyWithin(i, i + 1, this.n); this.len.copyWithin(i, i + 1, this.n);
    this.n--;
  }
  // this := this ⊔ {(id, s)} into reserved room; whether it grew.
  joinOne(b: Uint8Array, p: number, n: number, s: number): boolean {
    const i = this.find(b, p, n);
    if (i >= 0) {
      if (this.score[i] >= s) return false;
      this.score[i] = s;
      if (this.lowOk && this.lowIdx === i) this.lowOk = false;
      return true;
    }
    if (!this.full) { this.insertAt(-i - 1, b, p, n, s); this.lowOk = false; return true; }
    const l = this.low();
    if (this.ranksAbove(l, s, b, p, n)) return false;
    this.removeAt(l);
    this.insertAt(-this.find(b, p, n) - 1, b, p, n, s);
    this.lowOk = false;
    return true;
  }
}

// Entry indices of t in rank order (score descending, then id ascending).
function rankOrder(t: TopKFlat): Uint32Array {
  const n = t.n;
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return sortIdx(idx, n, (x, y) => (t.score[y] - t.score[x]) || cmp(t.ids, t.off[x], t.len[x], t.ids, t.off[y], t.len[y]));
}

// Merges the two runs by id (max score), ranks the union once when it holds
// more than k, and keeps the k best. The state changed iff an entry that rose
// (new, or a greater score) survived.
function joinMerge(a: TopKFlat, x: TopKFlat): boolean {
  const na = a.n, nb = x.n;
  const u = new TopKFlat(a.k);
  u.reserve(na + nb, a.idsLen - a.garbage + x.idsLen);
  const rose = new Uint8Array(na + nb);
  let i = 0, j = 0;
  while (i < na || j < nb) {
    const c = i === na ? 1 : j === nb ? -1 : cmp(a.ids, a.off[i], a.len[i], x.ids, x.off[j], x.len[j]);
    if (c < 0) { u.insertAt(u.n, a.ids, a.off[i], a.len[i], a.score[i]); i++; }
    else if (c > 0) { rose[u.n] = 1; u.insertAt(u.n, x.ids, x.off[j], x.len[j], x.score[j]); j++; }
    else {
      const up = x.score[j] > a.score[i];
      rose[u.n] = up ? 1 : 0;
      u.insertAt(u.n, a.ids, a.off[i], a.len[i], up ? x.score[j] : a.score[i]);
      i++; j++;
    }
  }
  const n = u.n;
  let changed = false;
  if (n <= a.k) {
    for (let t = 0; t < n; t++) if (rose[t] !== 0) { changed = true; break; }
  } else {
    const idx = rankOrder(u);
    for (let t = a.k; t < n; t++) rose[idx[t]] = 2;
    let w = 0;
    for (let t = 0; t < n; t++) {
      const f = rose[t];
      if (f === 2) { u.garbage += u.len[t]; continue; }
      if (f === 1) changed = true;
      u.score[w] = u.score[t]; u.off[w] = u.off[t]; u.len[w] = u.len[t];
      w++;
    }
    u.n = w;
  }
  if (!changed) return false;
  a.n = u.n; a.score = u.score; a.off = u.off; a.len = u.len; a.ids = u.ids; a.idsLen = u.idsLen; a.garbage = u.garbage;
  a.lowOk = false;
  return true;
}

export function joinInto(a: TopKFlat, x: TopKFlat): boolean {
  if (x.n === 0) return false;
  if (x.n <= ONE_BY_ONE) {
    a.reserve(x.n, x.idsLen);
    let changed = false;
    for (let i = 0; i < x.n; i++) if (a.joinOne(x.ids, x.off[i], x.len[i], x.score[i])) changed = true;
    return changed;
  }
  return joinMerge(a, x);
}

// body := count (≤ k), then (id:bytes, score) sorted strictly by id. One
// function, so a format change is one edit.
export function encodeBody(w: Out, s: TopKFlat): void {
  w.varint(s.n);
  for (let i = 0; i < s.n; i++) { w.bytes(s.ids, s.off[i], s.len[i]); w.varint(s.score[i]); }
}

export function decodeBody(r: Cur, s: TopKFlat): void {
  const buf = r.buf, n = r.count(2);
  if (n > s.k) throw new Error("more entries than k");
  s.reserve(n, 0);
  for (let i = 0; i < n; i++) {
    const p = r.bytes(), len = r.n;
    const sc = r.varint();
    if (i > 0 && cmp(s.ids, s.off[i - 1], s.len[i - 1], buf, p, len) >= 0) throw new Error("noncanonical ids");
    s.reserve(0, len);
    s.insertAt(i, buf, p, len, sc);
  }
}

// A twin for TopK(k).
export function topkFlat(k: number) {
  const head = new Out(8);
  head.u8(0x54); head.u8(0x52); head.u8(1); head.u8(15); head.varint(k);
  const prefix = head.finish().slice();
  const open = (bytes: Uint8Array): Cur => {
    const r = new ByteReader(bytes);
    if (readHeader(r).k !== k) throw new Error("type mismatch");
    return new Cur(bytes, r.pos);
  };
  return {
    bottom: (): TopKFlat => new TopKFlat(k),
    decode(bytes: Uint8Array): TopKFlat {
      const r = open(bytes), s = new TopKFlat(k);
      decodeBody(r, s);
      r.done();
      return s;
    },
    encode(s: TopKFlat): Uint8Array {
      const w = new Out(prefix.length + 16 * s.n + s.idsLen);
      w.raw(prefix, 0, prefix.length);
      encodeBody(w, s);
      return w.finish();
    },
    joinInto,
    // A small body is checked in place, then joined entry by entry from the
    // bytes; a larger one is decoded first and takes the merge path.
    merge(a: TopKFlat, bytes: Uint8Array): boolean {
      const r = open(bytes), start = r.p, buf = bytes;
      const n = r.count(2);
      if (n > k) throw new Error("more entries than k");
      let pp = 0, pn = 0, total = 0;
      for (let i = 0; i < n; i++) {
        const p = r.bytes(), len = r.n;
        r.varint();
        if (i > 0 && cmp(buf, pp, pn, buf, p, len) >= 0) throw new Error("noncanonical ids");
        pp = p; pn = len; total += len;
      }
      r.done();
      r.p = start;
      if (n > ONE_BY_ONE) { const x = new TopKFlat(k); decodeBody(r, x); return joinMerge(a, x); }
      a.reserve(n, total);
      r.varint();
      let changed = false;
      for (let i = 0; i < n; i++) {
        const p = r.bytes(), len = r.n;
        if (a.joinOne(buf, p, len, r.varint())) changed = true;
      }
      return changed;
    },
  };
}
