// Same-algorithm twins of EWFlag and MVRegister (issue 10, item 10):
// assembly/causalfun.ts in plain TypeScript over typed arrays. A causal
// context (bench/twins/layer.ts: replicas interned per state, version vector
// by replica index, dot cloud) and a store of a few dots sorted by (replica
// index, counter) with their values back to back in one arena. A join builds
// the new store whole and swaps it in, as the kernel does.
import { Context, Cur, NONE, Out, Scratch, cmp, copy, decodeContext, encodeContext, growF64, growU32, header, open, sortIdx } from "./layer.js";

// The store: a few dots with their values (the kernel's DotFun).
export class DotFun {
  n = 0;
  rep = new Uint32Array(4);
  ctr = new Float64Array(4);
  voff = new Uint32Array(5);   // value i is vals[voff[i] .. voff[i + 1])
  vals = new Uint8Array(0);

  // Index of (ri, c) (sorted store), or −1.
  find(ri: number, c: number): number {
    let lo = 0, hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.rep[mid];
      if (r === ri && this.ctr[mid] === c) return mid;
      if (r < ri || (r === ri && this.ctr[mid] < c)) lo = mid + 1; else hi = mid;
    }
    return -1;
  }
  lowerBound(ri: number): number {
    let lo = 0, hi = this.n;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (this.rep[mid] < ri) lo = mid + 1; else hi = mid; }
    return lo;
  }
  // Room for k more entries of `bytes` value bytes.
  reserve(k: number, bytes: number): void {
    this.rep = growU32(this.rep, this.n + k); this.ctr = growF64(this.ctr, this.n + k);
    this.voff = growU32(this.voff, this.n + k + 1);
    const end = this.voff[this.n];
    if (end + bytes > this.vals.length) { const v = new Uint8Array(Math.max(end + bytes, this.vals.length * 2)); v.set(this.vals.subarray(0, end)); this.vals = v; }
  }
  // Appends in reserved room.
  append(ri: number, c: number, src: Uint8Array, p: number, len: number): void {
    const i = this.n++, o = this.voff[i];
    this.rep[i] = ri; this.ctr[i] = c;
    copy(this.vals, o, src, p, p + len);
    this.voff[i + 1] = o + len;
  }
  // Sorts by (replica index, counter), values alongside.
  sort(): void {
    const n = this.n;
    let sorted = true;
    for (let i = 1; i < n && sorted; i++) sorted = this.rep[i - 1] < this.rep[i] || (this.rep[i - 1] === this.rep[i] && this.ctr[i - 1] < this.ctr[i]);
    if (sorted) return;
    let perm = new Uint32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    perm = sortIdx(perm, n, (x, y) => (this.rep[x] - this.rep[y]) || (this.ctr[x] - this.ctr[y]));
    const out = new DotFun();
    out.reserve(n, this.voff[n]);
    for (let k = 0; k < n; k++) { const i = perm[k]; out.append(this.rep[i], this.ctr[i], this.vals, this.voff[i], this.voff[i + 1] - this.voff[i]); }
    this.take(out);
  }
  take(o: DotFun): void { this.n = o.n; this.rep = o.rep; this.ctr = o.ctr; this.voff = o.voff; this.vals = o.vals; }
}

export class CausalFunFlat { cc = new Context(); f = new DotFun(); }

const mapS = new Scratch(), backS = new Scratch();

// a := a ⊔ x: a dot survives if both sides have it, or one side has it and
// the other has not seen it.
export function joinInto(sa: CausalFunFlat, sx: CausalFunFlat): boolean {
  const map = sa.cc.mapFrom(sx.cc, mapS), back = sa.cc.mapTo(sx.cc, backS);
  const a = sa.f, x = sx.f, acc = sa.cc, xcc = sx.cc;
  const kept = new DotFun();
  kept.reserve(a.n + x.n, a.voff[a.n] + x.voff[x.n]);
  let dropped = false, added = false;
  for (let i = 0; i < a.n; i++) {
    const ri = a.rep[i], c = a.ctr[i], xb = back[ri];
    if (xb !== NONE && xcc.has(xb, c) && x.find(xb, c) < 0) { dropped = true; continue; } // x saw it go
    kept.append(ri, c, a.vals, a.voff[i], a.voff[i + 1] - a.voff[i]);
  }
  for (let j = 0; j < x.n; j++) {
    const ri = map[x.rep[j]], c = x.ctr[j];
    if (acc.has(ri, c)) continue; // seen here: kept above or removed here
    kept.append(ri, c, x.vals, x.voff[j], x.voff[j + 1] - x.voff[j]);
    added = true;
  }
  if (added) kept.sort();
  if (dropped || added) a.take(kept);
  const grew = acc.joinMapped(xcc, map);
  return dropped || added || grew;
}

// body := context count (replica, counter [, value:bytes])*, entries sorted
// by (replica bytes, counter). One function, so a format change is one edit.
export function encodeBody(w: Out, st: CausalFunFlat, valued: boolean): void {
  const order = st.cc.sortedReps(), rank = Context.ranks(order), s = st.f;
  encodeContext(w, st.cc, order, rank);
  w.varint(s.n);
  const rk = st.cc.reps;
  for (let k = 0; k < order.length; k++) {
    const ri = order[k];
    for (let i = s.lowerBound(ri); i < s.n && s.rep[i] === ri; i++) {
      w.bytes(rk.keys, rk.keyPtr(ri), rk.keyLen(ri));
      w.varint(s.ctr[i]);
      if (valued) w.bytes(s.vals, s.voff[i], s.voff[i + 1] - s.voff[i]);
    }
  }
}

// Reads a body with the kernel's checks: entries strictly increasing by
// (replica bytes, counter), every dot in the context.
export function decodeBody(r: Cur, st: CausalFunFlat, valued: boolean): void {
  const s = st.f, cc = st.cc;
  decodeContext(r, cc);
  const buf = r.buf, n = r.count(valued ? 3 : 2);
  s.reserve(n, 0);
  let pp = 0, pn = 0, pc = 0, outside = false;
  for (let i = 0; i < n; i++) {
    const rp = r.bytes(), rl = r.n;
    const c = r.varint();
    if (rl === 0 || c === 0) throw new Error("invalid dot");
    let vp = 0, vn = 0;
    if (valued) { vp = r.bytes(); vn = r.n; }
    if (i > 0) {
      const o = cmp(buf, pp, pn, buf, rp, rl);
      if (o > 0 || (o === 0 && pc >= c)) throw new Error("noncanonical entries");
    }
    pp = rp; pn = rl; pc = c;
    const ri = cc.findRep(buf, rp, rl);
    if (!cc.has(ri, c)) { if (valued) throw new Error("dot outside context"); outside = true; continue; }
    s.reserve(1, vn);
    s.append(ri, c, buf, vp, vn);
  }
  if (outside) throw new Error("dot outside context");
  s.sort();
}

function twin(tag: number, valued: boolean) {
  return {
    bottom: (): CausalFunFlat => new CausalFunFlat(),
    decode(bytes: Uint8Array): CausalFunFlat {
      const r = open(bytes), s = new CausalFunFlat();
      decodeBody(r, s, valued);
      r.done();
      return s;
    },
    encode(s: CausalFunFlat): Uint8Array {
      const w = header(tag);
      encodeBody(w, s, valued);
      return w.finish();
    },
    joinInto,
  };
}

export const ewflagFlat = twin(4, false);
export const mvregisterFlat = twin(7, true);
