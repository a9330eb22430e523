// ORSet twin, written here rather than taken from test/model/orset.ts: the
// model keys tokens by JSON strings (parsed again on every encode) and mints a
// counter by scanning the whole set. This is the kernel's algorithm
// (assembly/types/orset.ts) over JS Maps: element -> tokens sorted by dot,
// joined by a merge of the two sorted lists, a token removed if removed on
// either side. Tokens are immutable (a flag change makes a new one).
import { ByteWriter, byByte, header, writeBin } from "../../test/model/common.js";
import { ByteReader, done, readBin, readHeader } from "./read.js";

export interface Token { r: string; c: number; rm: boolean }
export type State = Map<string, Token[]>;

export const bottom = (): State => new Map();
const cmp = (a: Token, b: Token) => (a.r < b.r ? -1 : a.r > b.r ? 1 : a.c - b.c);

export function joinInto(a: State, b: State): boolean {
  let changed = false;
  for (const [e, theirs] of b) {
    const mine = a.get(e);
    if (!mine) { a.set(e, theirs.slice()); changed = true; continue; }
    const out: Token[] = [];
    let i = 0, j = 0, grew = false;
    while (i < mine.length || j < theirs.length) {
      const c = i === mine.length ? 1 : j === theirs.length ? -1 : cmp(mine[i], theirs[j]);
      if (c < 0) out.push(mine[i++]);
      else if (c > 0) { out.push(theirs[j++]); grew = true; }
      else {
        if (theirs[j].rm && !mine[i].rm) { out.push(theirs[j]); grew = true; } else out.push(mine[i]);
        i++; j++;
      }
    }
    if (grew) { a.set(e, out); changed = true; }
  }
  return changed;
}

export function encode(s: State): Uint8Array {
  const w = new ByteWriter(1024);
  header(w, { tag: 11 });
  const es = [...s.keys()].sort(byByte);
  w.varint(es.length);
  for (const e of es) {
    writeBin(w, e);
    const ts = s.get(e)!;
    w.varint(ts.length);
    for (const t of ts) { writeBin(w, t.r); w.varint(t.c); w.u8(t.rm ? 1 : 0); }
  }
  return w.finish();
}

export function decode(bytes: Uint8Array): State {
  const r = new ByteReader(bytes);
  readHeader(r);
  const s: State = new Map();
  const n = r.varint();
  let prev = "";
  for (let i = 0; i < n; i++) {
    const e = readBin(r);
    const m = r.varint();
    if (m === 0 || (i > 0 && !(prev < e))) throw new Error("noncanonical elements");
    prev = e;
    const ts: Token[] = [];
    for (let j = 0; j < m; j++) {
      const t = { r: readBin(r), c: r.varint(), rm: false };
      const f = r.u8();
      if (f > 1 || t.c === 0 || (j > 0 && cmp(ts[j - 1], t) >= 0)) throw new Error("noncanonical tokens");
      t.rm = f === 1;
      ts.push(t);
    }
    s.set(e, ts);
  }
  done(r);
  return s;
}
