// Same-algorithm ORSet twin (issue 10, item 10): assembly/types/orset.ts in
// plain TypeScript over typed arrays. Elements interned in a byte table,
// replica ids in a second one, a token is (counter; replica index << 1 |
// removed) in two flat arrays. Element i's tokens are a contiguous run, kept
// in canonical order (replica bytes, then counter); a run that grows is
// rewritten at the arrays' end, and the arrays are compacted once more than
// half of them is such dead runs. Canonical element order is kept
// incrementally (KeyOrder). joinInto joins a decoded state; merge() streams
// canonical bytes in two passes as the kernel's merge(bytes). Differences
// from the kernel: out of memory is not handled (JS grows its arrays), and
// it does not keep each replica's top counter (for minting, which the
// bench's joins do not need).
import { ByteTable, Cur, KeyOrder, Out, Scratch, cmp, growF64, growU32, header, open } from "./layer.js";

export class ORSetFlat {
  elems = new ByteTable();
  first = new Uint32Array(16); // per element: its run's first token
  cnt = new Uint32Array(16);   //   and length
  tctr = new Float64Array(16); // per token: counter
  tw = new Uint32Array(16);    //   replica index << 1 | removed
  ntok = 0;
  reps = new ByteTable();
  order = new KeyOrder();
  dead = 0;                    // tokens in runs no element points to

  rep(t: number): number { return this.tw[t] >>> 1; }
  removed(t: number): boolean { return (this.tw[t] & 1) !== 0; }

  roomToks(n: number): void {
    if (this.ntok + n > this.tctr.length) { this.tctr = growF64(this.tctr, this.ntok + n); this.tw = growU32(this.tw, this.ntok + n); }
  }
  // Appends a token (room reserved).
  push(ri: number, c: number, removed: boolean): void {
    const t = this.ntok++;
    this.tctr[t] = c; this.tw[t] = (ri << 1) | (removed ? 1 : 0);
  }
  // Starts element b[p..p+n)'s run at the end of the token arrays: its index.
  startRun(b: Uint8Array, p: number, n: number): number {
    const i = this.elems.add(b, p, n);
    if (this.elems.added) {
      if (i >= this.first.length) { this.first = growU32(this.first, i + 1); this.cnt = growU32(this.cnt, i + 1); }
      this.cnt[i] = 0;
    } else this.dead += this.cnt[i];
    this.first[i] = this.ntok;
    return i;
  }
  endRun(i: number): void { this.cnt[i] = this.ntok - this.first[i]; }

  compact(): void {
    const live = this.ntok - this.dead;
    if (this.dead <= live) return;
    const c = new Float64Array(Math.max(16, live)), w = new Uint32Array(c.length);
    let k = 0;
    for (let i = 0; i < this.elems.count; i++) {
      const f = this.first[i], n = this.cnt[i];
      this.first[i] = k;
      c.set(this.tctr.subarray(f, f + n), k); w.set(this.tw.subarray(f, f + n), k);
      k += n;
    }
    this.tctr = c; this.tw = w; this.ntok = k; this.dead = 0;
  }

  // Order of token a of this and token b of x: replica bytes, then counter.
  cmpTok(a: number, x: ORSetFlat, b: number): number {
    const ra = this.rep(a), rb = x.rep(b);
    if (x !== this || ra !== rb) {
      const c = cmp(this.reps.keys, this.reps.keyPtr(ra), this.reps.keyLen(ra), x.reps.keys, x.reps.keyPtr(rb), x.reps.keyLen(rb));
      if (c !== 0) return c;
    }
    return this.tctr[a] - x.tctr[b];
  }

  // Whether x's element j brings anything to element i here.
  adds(i: number, x: ORSetFlat, j: number): boolean {
    const af = this.first[i], ae = af + this.cnt[i], bf = x.first[j], be = bf + x.cnt[j];
    let a = af;
    for (let b = bf; b < be; b++) {
      let c = 1;
      while (a < ae && (c = this.cmpTok(a, x, b)) < 0) a++;
      if (a === ae || c !== 0) return true;
      if (x.removed(b) && !this.removed(a)) return true;
      a++;
    }
    return false;
  }
}

const mapS = new Scratch();

// Per element, a merge of two sorted token lists: union of tokens, a token
// removed if removed on either side.
export function joinInto(a: ORSetFlat, x: ORSetFlat): boolean {
  if (x.elems.count === 0 || x === a) return false;
  const map = mapS.get(x.reps.count);
  for (let r = 0; r < x.reps.count; r++) map[r] = a.reps.add(x.reps.keys, x.reps.keyPtr(r), x.reps.keyLen(r));
  // The room the merged runs take, counted first (as the kernel).
  let need = 0;
  const xk = x.elems.keys;
  for (let j = 0; j < x.elems.count; j++) {
    const i = a.elems.find(xk, x.elems.keyPtr(j), x.elems.keyLen(j));
    if (i < 0) need += x.cnt[j];
    else if (a.adds(i, x, j)) need += x.cnt[j] + a.cnt[i];
  }
  a.roomToks(need);
  let changed = false;
  for (let j = 0; j < x.elems.count; j++) {
    const p = x.elems.keyPtr(j), n = x.elems.keyLen(j);
    const i = a.elems.find(xk, p, n);
    if (i >= 0 && !a.adds(i, x, j)) continue;
    changed = true;
    const af = i >= 0 ? a.first[i] : 0, ae = af + (i >= 0 ? a.cnt[i] : 0);
    const bf = x.first[j], be = bf + x.cnt[j];
    const k = a.startRun(xk, p, n);
    let ta = af, tb = bf;
    while (ta < ae || tb < be) {
      const c = ta === ae ? 1 : tb === be ? -1 : a.cmpTok(ta, x, tb);
      if (c < 0) { a.push(a.rep(ta), a.tctr[ta], a.removed(ta)); ta++; }
      else if (c > 0) { a.push(map[x.rep(tb)], x.tctr[tb], x.removed(tb)); tb++; }
      else { a.push(a.rep(ta), a.tctr[ta], a.removed(ta) || x.removed(tb)); ta++; tb++; }
    }
    a.endRun(k);
  }
  a.compact();
  return changed;
}

// One element's incoming tokens, replicas as indices here (the kernel's tmp).
let tmpC = new Float64Array(16), tmpW = new Uint32Array(16), tmpN = 0;

// Reads and checks one element's tokens into tmp, interning the writers.
function readTokens(a: ORSetFlat, r: Cur): void {
  const buf = r.buf, m = r.count(3);
  if (m === 0) throw new Error("noncanonical: element without tokens");
  if (m > tmpC.length) { tmpC = growF64(tmpC, m); tmpW = growU32(tmpW, m); }
  let dp = 0, dl = 0, dc = 0;
  for (let j = 0; j < m; j++) {
    const rp = r.bytes(), rl = r.n;
    const c = r.varint();
    const f = r.u8();
    if (rl === 0 || c === 0 || f > 1) throw new Error("invalid token");
    if (j > 0) {
      const o = cmp(buf, dp, dl, buf, rp, rl);
      if (o > 0 || (o === 0 && dc >= c)) throw new Error("noncanonical tokens");
    }
    dp = rp; dl = rl; dc = c;
    tmpC[j] = c; tmpW[j] = (a.reps.add(buf, rp, rl) << 1) | f;
  }
  tmpN = m;
}

// Order of token t here and incoming token b of tmp.
function cmpTmp(a: ORSetFlat, t: number, b: number): number {
  const ra = a.rep(t), rb = tmpW[b] >>> 1;
  if (ra !== rb) return a.reps.cmpKeys(ra, rb);
  return a.tctr[t] - tmpC[b];
}

// Whether the incoming tokens tmp bring anything to element i.
function addsTmp(a: ORSetFlat, i: number): boolean {
  const af = a.first[i], ae = af + a.cnt[i];
  let t = af;
  for (let b = 0; b < tmpN; b++) {
    let c = 1;
    while (t < ae && (c = cmpTmp(a, t, b)) < 0) t++;
    if (t === ae || c !== 0) return true;
    if ((tmpW[b] & 1) !== 0 && !a.removed(t)) return true;
    t++;
  }
  return false;
}

// a := a ⊔ the state whose canonical bytes are given, streamed as the
// kernel's joinBody: one pass checks the whole body, interns its writers
// and counts the room the changed runs take; a second merges them from the
// bytes. Bad input throws before the state changes (a writer interned for it
// is unused, and not part of the state's value or bytes, as in the kernel).
export function merge(a: ORSetFlat, bytes: Uint8Array): boolean {
  const r = open(bytes), start = r.p, buf = bytes;
  const n = r.count(2);
  let pp = 0, pn = 0, need = 0;
  for (let i = 0; i < n; i++) {
    const p = r.bytes(), len = r.n;
    if (i > 0 && cmp(buf, pp, pn, buf, p, len) >= 0) throw new Error("noncanonical elements");
    pp = p; pn = len;
    readTokens(a, r);
    const at = a.elems.find(buf, p, len);
    if (at < 0) need += tmpN;
    else if (addsTmp(a, at)) need += tmpN + a.cnt[at];
  }
  r.done();
  a.roomToks(need);
  r.p = start;
  r.varint();
  let changed = false;
  for (let i = 0; i < n; i++) {
    const p = r.bytes(), len = r.n;
    readTokens(a, r);
    const at = a.elems.find(buf, p, len);
    if (at >= 0 && !addsTmp(a, at)) continue;
    changed = true;
    const af = at >= 0 ? a.first[at] : 0, ae = af + (at >= 0 ? a.cnt[at] : 0);
    const k = a.startRun(buf, p, len);
    let t = af, b = 0;
    while (t < ae || b < tmpN) {
      const c = t === ae ? 1 : b === tmpN ? -1 : cmpTmp(a, t, b);
      if (c < 0) { a.push(a.rep(t), a.tctr[t], a.removed(t)); t++; continue; }
      const bx = (tmpW[b] & 1) !== 0;
      if (c > 0) a.push(tmpW[b] >>> 1, tmpC[b], bx);
      else { a.push(a.rep(t), a.tctr[t], a.removed(t) || bx); t++; }
      b++;
    }
    a.endRun(k);
  }
  a.compact();
  return changed;
}

// body := count (element, count (replica, counter, flag:u8)*)*, elements
// sorted by bytes, tokens by (replica bytes, counter). One function, so a
// format change is one edit.
export function encodeBody(w: Out, s: ORSetFlat): void {
  s.order.update(s.elems);
  const ek = s.elems.keys, rk = s.reps;
  w.varint(s.elems.count);
  for (let q = 0; q < s.elems.count; q++) {
    const i = s.order.idx[q];
    w.bytes(ek, s.elems.keyPtr(i), s.elems.keyLen(i));
    const f = s.first[i], n = s.cnt[i];
    w.varint(n);
    for (let t = f; t < f + n; t++) {
      const ri = s.rep(t);
      w.bytes(rk.keys, rk.keyPtr(ri), rk.keyLen(ri));
      w.varint(s.tctr[t]);
      w.u8(s.removed(t) ? 1 : 0);
    }
  }
}

// Reads a body into an empty state with the kernel's checks: elements
// strictly increasing, each with ≥ 1 token, tokens strictly increasing, no
// empty replica id, counter ≥ 1, flag 0 or 1.
export function decodeBody(r: Cur, s: ORSetFlat): void {
  const buf = r.buf, n = r.count(2);
  s.elems.reserve(n, 0);
  s.first = growU32(s.first, n); s.cnt = growU32(s.cnt, n);
  let pp = 0, pn = 0;
  for (let i = 0; i < n; i++) {
    const p = r.bytes(), len = r.n;
    if (i > 0 && cmp(buf, pp, pn, buf, p, len) >= 0) throw new Error("noncanonical elements");
    pp = p; pn = len;
    const m = r.count(3);
    if (m === 0) throw new Error("noncanonical: element without tokens");
    s.roomToks(m);
    const k = s.startRun(buf, p, len);
    let dp = 0, dl = 0, dc = 0;
    for (let j = 0; j < m; j++) {
      const rp = r.bytes(), rl = r.n;
      const c = r.varint();
      const f = r.u8();
      if (rl === 0 || c === 0 || f > 1) throw new Error("invalid token");
      if (j > 0) {
        const o = cmp(buf, dp, dl, buf, rp, rl);
        if (o > 0 || (o === 0 && dc >= c)) throw new Error("noncanonical tokens");
      }
      dp = rp; dl = rl; dc = c;
      s.push(s.reps.add(buf, rp, rl), c, f === 1);
    }
    s.endRun(k);
  }
  s.order.identity(n); // read in byte order
}

export const bottom = (): ORSetFlat => new ORSetFlat();

export function decode(bytes: Uint8Array): ORSetFlat {
  const r = open(bytes), s = new ORSetFlat();
  decodeBody(r, s);
  r.done();
  return s;
}

export function encode(s: ORSetFlat): Uint8Array {
  const w = header(11);
  encodeBody(w, s);
  return w.finish();
}

export const orsetFlat = { bottom, decode, encode, joinInto, merge };
