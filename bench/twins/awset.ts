// AWSet twin, written here rather than taken from test/model/awset.ts: the
// model keeps dots as a Set of JSON strings and recomputes the compact context
// on every encode (quadratic: 1e5 elements take minutes), which measures the
// model's simplicity, not the algorithm. This twin is the kernel's algorithm
// (assembly/types/awset.ts, assembly/dots.ts) in plain TypeScript over JS Maps:
// element -> dots, a causal context of version vector + dot cloud, and the
// dot index that lets a small delta skip the scan of every element.
import { ByteWriter, byByte, header, writeBin } from "../../test/model/common.js";
import { ByteReader, done, readBin, readHeader } from "./read.js";

export interface Dot { r: string; c: number }
export interface Context { vv: Map<string, number>; cloud: Map<string, Set<number>> }
// index: replica -> counter -> element, built on the first join with a small
// delta and kept current by join (as the kernel does since its dot index).
export interface State { entries: Map<string, Dot[]>; cc: Context; index?: Map<string, Map<number, string>> }

export const bottom = (): State => ({ entries: new Map(), cc: { vv: new Map(), cloud: new Map() } });

function ccSize(cc: Context): number {
  let n = 0;
  for (const v of cc.vv.values()) n += v;
  for (const x of cc.cloud.values()) n += x.size;
  return n;
}

function indexAdd(ix: Map<string, Map<number, string>>, d: Dot, e: string): void {
  let m = ix.get(d.r);
  if (!m) ix.set(d.r, (m = new Map()));
  m.set(d.c, e);
}

function buildIndex(s: State): Map<string, Map<number, string>> {
  const ix = new Map<string, Map<number, string>>();
  for (const [e, ds] of s.entries) for (const d of ds) indexAdd(ix, d, e);
  s.index = ix;
  return ix;
}

// Step 1 of join when b's context is small: look up each dot b has seen.
function dropSeenSmall(a: State, b: State): boolean {
  const ix = a.index ?? buildIndex(a);
  let changed = false;
  const seen: Dot[] = [];
  for (const [r, v] of b.cc.vv) for (let c = 1; c <= v; c++) seen.push({ r, c });
  for (const [r, x] of b.cc.cloud) for (const c of x) seen.push({ r, c });
  for (const d of seen) {
    const byCounter = ix.get(d.r);
    const e = byCounter?.get(d.c);
    if (e === undefined) continue;
    const theirs = b.entries.get(e);
    if (theirs && hasDot(theirs, d)) continue;
    const kept = a.entries.get(e)!.filter((x) => !(x.c === d.c && x.r === d.r));
    if (kept.length === 0) a.entries.delete(e); else a.entries.set(e, kept);
    byCounter!.delete(d.c);
    changed = true;
  }
  return changed;
}

export function contains(cc: Context, r: string, c: number): boolean {
  if (c <= (cc.vv.get(r) ?? 0)) return true;
  return cc.cloud.get(r)?.has(c) ?? false;
}

function compact(cc: Context, r: string): void {
  const s = cc.cloud.get(r);
  if (!s) return;
  let base = cc.vv.get(r) ?? 0;
  const start = base;
  while (s.has(base + 1)) { s.delete(base + 1); base++; }
  if (base !== start) cc.vv.set(r, base);
  if (s.size === 0) cc.cloud.delete(r);
}

function addDot(cc: Context, r: string, c: number): boolean {
  if (contains(cc, r, c)) return false;
  if (c === (cc.vv.get(r) ?? 0) + 1) { cc.vv.set(r, c); compact(cc, r); }
  else { let s = cc.cloud.get(r); if (!s) cc.cloud.set(r, (s = new Set())); s.add(c); }
  return true;
}

export function joinContext(a: Context, b: Context): boolean {
  let changed = false;
  for (const [r, v] of b.vv) {
    const mine = a.vv.get(r) ?? 0;
    if (v <= mine) continue;
    let missing = true;
    const s = a.cloud.get(r);
    if (s) {
      if (s.size >= v - mine) { missing = false; for (let c = mine + 1; c <= v; c++) if (!s.has(c)) { missing = true; break; } }
      for (const c of s) if (c <= v) s.delete(c);
      if (s.size === 0) a.cloud.delete(r);
    }
    if (missing) changed = true;
    a.vv.set(r, v);
    compact(a, r);
  }
  for (const [r, s] of b.cloud) for (const c of s) if (addDot(a, r, c)) changed = true;
  return changed;
}

export const dotLess = (a: Dot, b: Dot) => a.r < b.r || (a.r === b.r && a.c < b.c);
export const byDot = (a: Dot, b: Dot) => (dotLess(a, b) ? -1 : dotLess(b, a) ? 1 : 0);
export const hasDot = (a: Dot[], d: Dot) => a.some((x) => x.c === d.c && x.r === d.r);

// a := a ⊔ b, the kernel's join.
export function joinInto(a: State, b: State): boolean {
  let changed = false;
  if (a.entries.size > 32 && ccSize(b.cc) < Math.min(a.entries.size >> 2, 1 << 14)) changed = dropSeenSmall(a, b);
  else for (const [e, ds] of a.entries) {
    const theirs = b.entries.get(e);
    const kept = ds.filter((d) => !contains(b.cc, d.r, d.c) || (theirs !== undefined && hasDot(theirs, d)));
    if (kept.length !== ds.length) {
      changed = true;
      if (a.index) for (const d of ds) if (!hasDot(kept, d)) a.index.get(d.r)?.delete(d.c);
      if (kept.length === 0) a.entries.delete(e); else a.entries.set(e, kept);
    }
  }
  for (const [e, ds] of b.entries) {
    let cur = a.entries.get(e);
    let added = false;
    for (const d of ds) {
      if (contains(a.cc, d.r, d.c)) continue;
      if (!cur) a.entries.set(e, (cur = []));
      cur.push(d);
      if (a.index) indexAdd(a.index, d, e);
      added = true;
    }
    if (added) { cur!.sort(byDot); changed = true; }
  }
  if (joinContext(a.cc, b.cc)) changed = true;
  return changed;
}

export const join = (a: State, b: State): State => { const c = clone(a); joinInto(c, b); return c; };

export function clone(s: State): State {
  const c = bottom();
  for (const [e, ds] of s.entries) c.entries.set(e, ds.slice());
  for (const [r, v] of s.cc.vv) c.cc.vv.set(r, v);
  for (const [r, x] of s.cc.cloud) c.cc.cloud.set(r, new Set(x));
  return c;
}

export function writeDots(w: ByteWriter, ds: Dot[]): void {
  w.varint(ds.length);
  for (const d of ds) { writeBin(w, d.r); w.varint(d.c); }
}

export function writeContext(w: ByteWriter, cc: Context): void {
  const rs = [...cc.vv.keys()].sort(byByte);
  w.varint(rs.length);
  for (const r of rs) { writeBin(w, r); w.varint(cc.vv.get(r)!); }
  const cloud: Dot[] = [];
  for (const [r, x] of cc.cloud) for (const c of x) cloud.push({ r, c });
  writeDots(w, cloud.sort(byDot));
}

export function encodeBody(w: ByteWriter, s: State): void {
  writeContext(w, s.cc);
  const es = [...s.entries.keys()].sort(byByte);
  w.varint(es.length);
  for (const e of es) { writeBin(w, e); writeDots(w, s.entries.get(e)!); }
}

export function encode(s: State): Uint8Array {
  const w = new ByteWriter(1024);
  header(w, { tag: 10 });
  encodeBody(w, s);
  return w.finish();
}

export function readDots(r: ByteReader): Dot[] {
  const n = r.varint();
  const out: Dot[] = [];
  for (let i = 0; i < n; i++) {
    const d = { r: readBin(r), c: r.varint() };
    if (d.c === 0 || (i > 0 && !dotLess(out[i - 1], d))) throw new Error("noncanonical dots");
    out.push(d);
  }
  return out;
}

export function readContext(r: ByteReader): Context {
  const cc: Context = { vv: new Map(), cloud: new Map() };
  const n = r.varint();
  let prev = "";
  for (let i = 0; i < n; i++) {
    const rep = readBin(r);
    const c = r.varint();
    if (c === 0 || (i > 0 && !(prev < rep))) throw new Error("noncanonical vv");
    prev = rep;
    cc.vv.set(rep, c);
  }
  for (const d of readDots(r)) {
    if (d.c <= (cc.vv.get(d.r) ?? 0) + 1) throw new Error("noncanonical cloud");
    let x = cc.cloud.get(d.r);
    if (!x) cc.cloud.set(d.r, (x = new Set()));
    x.add(d.c);
  }
  return cc;
}

export function decodeBody(r: ByteReader): State {
  const s = bottom();
  s.cc = readContext(r);
  const m = r.varint();
  let prev = "";
  for (let i = 0; i < m; i++) {
    const e = readBin(r);
    const ds = readDots(r);
    if ((i > 0 && !(prev < e)) || ds.length === 0) throw new Error("noncanonical entries");
    for (const d of ds) if (!contains(s.cc, d.r, d.c)) throw new Error("dot outside context");
    prev = e;
    s.entries.set(e, ds);
  }
  return s;
}

export function decode(bytes: Uint8Array): State {
  const r = new ByteReader(bytes);
  readHeader(r);
  const s = decodeBody(r);
  done(r);
  return s;
}
