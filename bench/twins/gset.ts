// GSet twin = test/model/gset.ts plus decode and an in-place join.
import { gsetModel, GSetState } from "../../test/model/gset.js";
import { encodeModelV1 } from "../../test/model/common.js";
import { ByteReader, done, readBin, readHeader } from "./read.js";

export const model = gsetModel;

export function decodeBody(r: ByteReader): GSetState {
  const s: GSetState = new Set();
  const n = r.varint();
  let prev = "";
  for (let i = 0; i < n; i++) {
    const e = readBin(r);
    if (i > 0 && !(prev < e)) throw new Error("noncanonical");
    prev = e;
    s.add(e);
  }
  return s;
}

export function decode(bytes: Uint8Array): GSetState {
  const r = new ByteReader(bytes);
  readHeader(r);
  const s = decodeBody(r);
  done(r);
  return s;
}

export function joinInto(a: GSetState, b: GSetState): boolean {
  const n = a.size;
  for (const e of b) a.add(e);
  return a.size !== n;
}

export const encode = (s: GSetState): Uint8Array => encodeModelV1(model, s);
