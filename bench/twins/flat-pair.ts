// Same-algorithm twin of Pair<GCounter, GSet> (issue 10, item 10): the
// product of the GCounter and GSet twins of bench/twins/flat.ts, joined
// componentwise as assembly/types/pair.ts does.
import { GSetFlat, Table, fold, gset, readRun, runBody, writeRun } from "./flat.js";
import { ByteReader, done, readHeader } from "./read.js";

export interface PairFlat { a: Table; b: GSetFlat }

export const bottom = (): PairFlat => ({ a: new Table(), b: gset.bottom() });

export function joinInto(x: PairFlat, y: PairFlat): boolean {
  const ca = x.a.joinTable(y.a);
  const cb = gset.joinInto(x.b, y.b);
  return ca || cb;
}

// body := GCounter body, GSet body. One function, so a format change is one edit.
export function encode(s: PairFlat): Uint8Array {
  fold(s.b);
  const head = [0x54, 0x52, 1, 14, 1, 8];
  const out = new Uint8Array(head.length + s.a.bodySize() + runBody(s.b.run));
  out.set(head);
  writeRun(out, s.a.write(out, head.length), s.b.run);
  return out;
}

export function decode(bytes: Uint8Array): PairFlat {
  const r = new ByteReader(bytes);
  readHeader(r);
  const a = new Table();
  a.readInto(r);
  const s = { a, b: { run: readRun(r), tail: new Table() } };
  done(r);
  return s;
}

export const pairFlat = { bottom, decode, encode, joinInto };
