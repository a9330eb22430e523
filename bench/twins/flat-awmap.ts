// Same-algorithm twin of AWMap<GCounter> (issue 10, item 10):
// assembly/types/awmap.ts in plain TypeScript, the product of the presence
// (the AWSet twin, bench/twins/flat-awset.ts) and the values (the kernel's
// GMap: keys interned in a byte table, one nested state per key, canonical
// key order kept incrementally), each value the GCounter twin of
// bench/twins/flat.ts (replica ids in a byte arena, counts in a Float64Array).
// As the kernel, a GMap of values other than LWWRegister holds one state
// object per key, so this twin does too.
import { ByteReader } from "./read.js";
import { Table } from "./flat.js";
import { AWSetFlat, decodeBody as decodePresence, encodeBody as encodePresence, joinInto as joinPresence } from "./flat-awset.js";
import { ByteTable, Cur, KeyOrder, Out, cmp, header, open } from "./layer.js";

export interface AWMapFlat { presence: AWSetFlat; keys: ByteTable; vals: Table[]; order: KeyOrder }

export const bottom = (): AWMapFlat => ({ presence: new AWSetFlat(), keys: new ByteTable(), vals: [], order: new KeyOrder() });

function cloneTable(t: Table): Table {
  const c = new Table();
  c.keys = t.keys.slice(0, Math.max(t.keyEnd, 1)); c.keyEnd = t.keyEnd;
  c.offs = t.offs.slice(0, t.count + 1); c.vals = t.vals.slice(0, t.count);
  c.count = t.count; c.sorted = t.sorted;
  return c;
}

// Componentwise: the presence as AWSet, the values as GMap (a new key takes
// a copy of the other's value, a known one joins it).
export function joinInto(a: AWMapFlat, x: AWMapFlat): boolean {
  let changed = joinPresence(a.presence, x.presence);
  const xk = x.keys;
  for (let j = 0; j < xk.count; j++) {
    const i = a.keys.add(xk.keys, xk.keyPtr(j), xk.keyLen(j));
    if (a.keys.added) { a.vals.push(cloneTable(x.vals[j])); changed = true; }
    else if (a.vals[i].joinTable(x.vals[j])) changed = true;
  }
  return changed;
}

// body := presence (an AWSet body) values (count (key:bytes, GCounter body)*
// sorted by key). One function, so a format change is one edit.
export function encodeBody(w: Out, s: AWMapFlat): void {
  encodePresence(w, s.presence);
  s.order.update(s.keys);
  const t = s.keys;
  w.varint(t.count);
  for (let q = 0; q < t.count; q++) {
    const i = s.order.idx[q];
    w.bytes(t.keys, t.keyPtr(i), t.keyLen(i));
    const v = s.vals[i];
    w.need(v.bodySize());
    w.p = v.write(w.buf, w.p);
  }
}

export function decodeBody(r: Cur, s: AWMapFlat): void {
  decodePresence(r, s.presence);
  const buf = r.buf, n = r.count(1), br = new ByteReader(buf);
  let pp = 0, pn = 0;
  for (let i = 0; i < n; i++) {
    const p = r.bytes(), len = r.n;
    if (i > 0 && cmp(buf, pp, pn, buf, p, len) >= 0) throw new Error("noncanonical keys");
    pp = p; pn = len;
    const v = new Table();
    br.pos = r.p;
    v.readInto(br);
    r.p = br.pos;
    s.keys.add(buf, p, len);
    s.vals.push(v);
  }
  s.order.identity(n); // read in byte order
}

export function decode(bytes: Uint8Array): AWMapFlat {
  const r = open(bytes), s = bottom();
  decodeBody(r, s);
  r.done();
  return s;
}

export function encode(s: AWMapFlat): Uint8Array {
  const w = header(13, 1);
  encodeBody(w, s);
  return w.finish();
}

export const awmapGCounterFlat = { bottom, decode, encode, joinInto };
