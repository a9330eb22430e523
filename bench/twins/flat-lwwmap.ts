// Same-algorithm twin of GMap<LWWRegister> laid out flat (issue 10, item 10):
// assembly/types/lwwmap.ts in plain TypeScript over typed arrays. Keys
// interned in a byte table; per key a record in three flat arrays
// (timestamp, writer index into a replica table or −1 for a bottom register,
// where the value's entry (varint length, bytes) starts in one value arena).
// An overwrite appends the new value; the arena is compacted once most of it
// is overwritten values. Canonical key order is kept incrementally
// (KeyOrder). joinInto joins a decoded state; merge() streams canonical bytes
// in two passes as the kernel's merge(bytes). Difference from the kernel: it
// reserves what a join takes first (out of memory: nothing changed).
import { ByteTable, Cur, KeyOrder, Out, cmp, copy, growF64, header, open } from "./layer.js";
import { varintAt, vNext } from "./flat.js";

export class LWWMapFlat {
  keys = new ByteTable();
  ts = new Float64Array(16);
  wr = new Int32Array(16);     // writer index, −1: bottom register
  voff = new Uint32Array(16);  // value entry offset in vals
  reps = new ByteTable();
  vals = new Uint8Array(256);
  vlen = 0;
  dead = 0;                    // arena bytes of overwritten values
  order = new KeyOrder();

  // Room for n more keys (their bytes grow the arena as they come).
  reserve(n: number): void {
    this.keys.reserve(n, 0);
    const want = this.keys.count + n;
    if (want > this.ts.length) {
      this.ts = growF64(this.ts, want);
      const w = new Int32Array(this.ts.length); w.set(this.wr); this.wr = w;
      const v = new Uint32Array(this.ts.length); v.set(this.voff); this.voff = v;
    }
  }

  // Index of key b[p..p+n), added with a bottom register if new (keys.added).
  slot(b: Uint8Array, p: number, n: number): number {
    const i = this.keys.add(b, p, n);
    if (this.keys.added) {
      if (i >= this.ts.length) {
        this.ts = growF64(this.ts, i + 1);
        const w = new Int32Array(this.ts.length); w.set(this.wr); this.wr = w;
        const v = new Uint32Array(this.ts.length); v.set(this.voff); this.voff = v;
      }
      this.wr[i] = -1;
    }
    return i;
  }

  // Key i's register < the write (t, writer rb[rp..rp+rn), value entry at vb[ve]).
  below(i: number, t: number, rb: Uint8Array, rp: number, rn: number, vb: Uint8Array, ve: number): boolean {
    if (this.wr[i] < 0) return true;
    const ti = this.ts[i];
    if (ti !== t) return ti < t;
    const w = this.wr[i];
    const c = cmp(this.reps.keys, this.reps.keyPtr(w), this.reps.keyLen(w), rb, rp, rn);
    if (c !== 0) return c < 0;
    const an = varintAt(this.vals, this.voff[i]), ab = vNext;
    const bn = varintAt(vb, ve), bb = vNext;
    return cmp(this.vals, ab, an, vb, bb, bn) < 0;
  }

  // Key i := that write (the value entry is copied to this arena).
  set(i: number, t: number, rb: Uint8Array, rp: number, rn: number, vb: Uint8Array, ve: number, vbytes: number): void {
    const w = this.reps.add(rb, rp, rn);
    if (this.wr[i] >= 0) this.dead += entryBytes(this.vals, this.voff[i]);
    if (this.vlen + vbytes > this.vals.length) {
      const v = new Uint8Array(Math.max(this.vlen + vbytes, this.vals.length * 2)); v.set(this.vals.subarray(0, this.vlen)); this.vals = v;
    }
    copy(this.vals, this.vlen, vb, ve, ve + vbytes);
    this.ts[i] = t; this.wr[i] = w; this.voff[i] = this.vlen;
    this.vlen += vbytes;
  }

  compact(): void {
    if (this.dead <= (this.vlen >> 1)) return;
    const nv = new Uint8Array(Math.max(256, this.vlen - this.dead));
    let o = 0;
    for (let i = 0; i < this.keys.count; i++) {
      if (this.wr[i] < 0) continue;
      const s = this.voff[i], n = entryBytes(this.vals, s);
      copy(nv, o, this.vals, s, s + n);
      this.voff[i] = o; o += n;
    }
    this.vals = nv; this.vlen = o; this.dead = 0;
  }
}

// Bytes of the value entry (varint length, bytes) at b[p].
function entryBytes(b: Uint8Array, p: number): number { const n = varintAt(b, p); return vNext - p + n; }

export function joinInto(a: LWWMapFlat, x: LWWMapFlat): boolean {
  if (x.keys.count === 0 || x === a) return false;
  let changed = false;
  const xk = x.keys.keys, xr = x.reps;
  for (let j = 0; j < x.keys.count; j++) {
    const i = a.slot(xk, x.keys.keyPtr(j), x.keys.keyLen(j));
    if (a.keys.added) changed = true;
    const w = x.wr[j];
    if (w < 0) continue;
    const rp = xr.keyPtr(w), rn = xr.keyLen(w), ve = x.voff[j];
    if (a.below(i, x.ts[j], xr.keys, rp, rn, x.vals, ve)) {
      a.set(i, x.ts[j], xr.keys, rp, rn, x.vals, ve, entryBytes(x.vals, ve));
      changed = true;
    }
  }
  a.compact();
  return changed;
}

// Checks a body (keys strictly increasing, flag 0 or 1, no empty writer
// id), leaving r after it. Throws on bad input.
function scan(r: Cur): void {
  const buf = r.buf, n = r.count(2);
  let pp = 0, pn = 0;
  for (let i = 0; i < n; i++) {
    const p = r.bytes(), len = r.n;
    if (i > 0 && cmp(buf, pp, pn, buf, p, len) >= 0) throw new Error("noncanonical keys");
    pp = p; pn = len;
    const f = r.u8();
    if (f > 1) throw new Error("invalid flag");
    if (f === 0) continue;
    r.varint();
    r.bytes();
    if (r.n === 0) throw new Error("empty replica id");
    r.bytes();
  }
}

// a := a ⊔ the state whose canonical bytes are given, streamed as the
// kernel's joinBody: one pass checks the whole body, a second joins entry
// by entry from the bytes. Bad input throws before anything changes.
export function merge(a: LWWMapFlat, bytes: Uint8Array): boolean {
  const r = open(bytes), start = r.p;
  scan(r);
  r.done();
  r.p = start;
  const buf = r.buf, n = r.varint();
  let changed = false;
  for (let j = 0; j < n; j++) {
    const p = r.bytes(), len = r.n;
    const i = a.slot(buf, p, len);
    if (a.keys.added) changed = true;
    if (r.u8() === 0) continue;
    const t = r.varint();
    const rp = r.bytes(), rn = r.n;
    const ve = r.p;
    r.bytes();
    if (a.below(i, t, buf, rp, rn, buf, ve)) { a.set(i, t, buf, rp, rn, buf, ve, r.p - ve); changed = true; }
  }
  a.compact();
  return changed;
}

// body := count (key:bytes, 0x00 | 0x01 timestamp replica:bytes value:bytes)*,
// keys sorted by bytes. One function, so a format change is one edit.
export function encodeBody(w: Out, s: LWWMapFlat): void {
  s.order.update(s.keys);
  const kk = s.keys.keys, rk = s.reps;
  w.varint(s.keys.count);
  for (let q = 0; q < s.keys.count; q++) {
    const i = s.order.idx[q];
    w.bytes(kk, s.keys.keyPtr(i), s.keys.keyLen(i));
    const wi = s.wr[i];
    if (wi < 0) { w.u8(0); continue; }
    w.u8(1);
    w.varint(s.ts[i]);
    w.bytes(rk.keys, rk.keyPtr(wi), rk.keyLen(wi));
    w.raw(s.vals, s.voff[i], entryBytes(s.vals, s.voff[i]));
  }
}

// Reads a body into an empty state with the kernel's checks: keys strictly
// increasing, flag 0 or 1, no empty writer id.
export function decodeBody(r: Cur, s: LWWMapFlat): void {
  const buf = r.buf, n = r.count(2);
  s.reserve(n);
  let pp = 0, pn = 0;
  for (let i = 0; i < n; i++) {
    const p = r.bytes(), len = r.n;
    if (i > 0 && cmp(buf, pp, pn, buf, p, len) >= 0) throw new Error("noncanonical keys");
    pp = p; pn = len;
    const f = r.u8();
    if (f > 1) throw new Error("invalid flag");
    const k = s.slot(buf, p, len);
    if (f === 0) continue;
    const t = r.varint();
    const rp = r.bytes(), rn = r.n;
    if (rn === 0) throw new Error("empty replica id");
    const ve = r.p;
    r.bytes();
    s.set(k, t, buf, rp, rn, buf, ve, r.p - ve);
  }
  s.order.identity(n); // read in byte order
}

export const bottom = (): LWWMapFlat => new LWWMapFlat();

export function decode(bytes: Uint8Array): LWWMapFlat {
  const r = open(bytes), s = new LWWMapFlat();
  decodeBody(r, s);
  r.done();
  return s;
}

export function encode(s: LWWMapFlat): Uint8Array {
  const w = header(12, 6);
  encodeBody(w, s);
  return w.finish();
}

export const lwwmapFlat = { bottom, decode, encode, joinInto, merge };
