// TwoPSet twin = test/model/twopset.ts (the pair of grow-only sets A, R) plus
// decode and an in-place join. Decoding yields A = the live elements; the
// model's encoding writes A \ R, so the bytes are the same.
import { twopsetModel, TwoPSetState } from "../../test/model/twopset.js";
import { encodeModelV1 } from "../../test/model/common.js";
import { ByteReader, done, readHeader } from "./read.js";
import * as gs from "./gset.js";

export const model = twopsetModel;
export const bottom = (): TwoPSetState => ({ a: new Set(), r: new Set() });

export function decode(bytes: Uint8Array): TwoPSetState {
  const r = new ByteReader(bytes);
  readHeader(r);
  const s = { a: gs.decodeBody(r), r: gs.decodeBody(r) };
  done(r);
  for (const e of s.r) if (s.a.has(e)) throw new Error("noncanonical: removed element listed live");
  return s;
}

export function joinInto(x: TwoPSetState, y: TwoPSetState): boolean {
  const n = x.a.size + x.r.size;
  for (const e of y.a) x.a.add(e);
  for (const e of y.r) x.r.add(e);
  return x.a.size + x.r.size !== n;
}

export const encode = (s: TwoPSetState): Uint8Array => encodeModelV1(model, s);
