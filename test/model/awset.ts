// Add-wins set as the paper writes it: a set of (element, dot) pairs and a set
// of seen dots, with no compaction tricks beyond what the encoding requires.
import { ByteWriter, Model, bin, byByte, writeBin } from "./common.js";
import { encodeValue, decodeValue, Value } from "../../host/crdt/value.js";
import { utf8 } from "../../host/crdt/bytes.js";

export type Dot = string; // `${replicaBin}\u0000${counter}` is ambiguous, so use JSON
export interface AWSetState { store: Map<string, Set<string>>; cc: Set<string> } // element bin -> dot keys
export type AWSetOp = { add: Value } | { remove: Value } | { clear: true };

export const dotKey = (r: string, c: number) => JSON.stringify([r, c]);
export const parseDot = (d: string) => JSON.parse(d) as [string, number];

export function maxCounter(cc: Set<string>, r: string): number {
  let m = 0;
  for (const d of cc) { const [dr, c] = parseDot(d); if (dr === r && c > m) m = c; }
  return m;
}

// Compact causal context encoding: vv (contiguous prefix per replica), then cloud.
export function encodeContext(w: ByteWriter, cc: Set<string>): void {
  const per = new Map<string, number[]>();
  for (const d of cc) { const [r, c] = parseDot(d); (per.get(r) ?? per.set(r, []).get(r)!).push(c); }
  const vv: [string, number][] = [];
  const cloud: [string, number][] = [];
  for (const r of [...per.keys()].sort(byByte)) {
    const cs = per.get(r)!.sort((a, b) => a - b);
    let top = 0;
    while (cs.includes(top + 1)) top++;
    if (top > 0) vv.push([r, top]);
    for (const c of cs) if (c > top) cloud.push([r, c]);
  }
  w.varint(vv.length);
  for (const [r, c] of vv) { writeBin(w, r); w.varint(c); }
  encodeDots(w, cloud);
}

export function encodeDots(w: ByteWriter, dots: [string, number][]): void {
  dots.sort((a, b) => byByte(a[0], b[0]) || a[1] - b[1]);
  w.varint(dots.length);
  for (const [r, c] of dots) { writeBin(w, r); w.varint(c); }
}

export const awsetModel: Model<AWSetState, AWSetOp> = {
  spec: { tag: 10 },
  bottom: () => ({ store: new Map(), cc: new Set() }),
  clone: (s) => ({ store: new Map([...s.store].map(([e, ds]) => [e, new Set(ds)])), cc: new Set(s.cc) }),
  apply(s, op, replica) {
    const r = bin(utf8(replica));
    if ("clear" in op) { s.store.clear(); return s; }
    const e = bin(encodeValue("add" in op ? op.add : op.remove));
    s.store.delete(e); // both ops supersede the dots observed for e
    if ("add" in op) {
      const d = dotKey(r, maxCounter(s.cc, r) + 1);
      s.store.set(e, new Set([d]));
      s.cc.add(d);
    }
    return s;
  },
  join(a, b) {
    const out: AWSetState = { store: new Map(), cc: new Set([...a.cc, ...b.cc]) };
    for (const e of new Set([...a.store.keys(), ...b.store.keys()])) {
      const da = a.store.get(e) ?? new Set<string>();
      const db = b.store.get(e) ?? new Set<string>();
      const keep = new Set<string>();
      for (const d of da) if (db.has(d) || !b.cc.has(d)) keep.add(d);
      for (const d of db) if (da.has(d) || !a.cc.has(d)) keep.add(d);
      if (keep.size > 0) out.store.set(e, keep);
    }
    return out;
  },
  encodeBody(w, s) {
    encodeContext(w, s.cc);
    const es = [...s.store.keys()].sort(byByte);
    w.varint(es.length);
    for (const e of es) { writeBin(w, e); encodeDots(w, [...s.store.get(e)!].map(parseDot)); }
  },
  value: (s) => [...s.store.keys()].sort(byByte).map((e) => decodeValue(Uint8Array.from(e, (c) => c.charCodeAt(0)))),
};
