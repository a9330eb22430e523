// PNCounter twin = test/model/pncounter.ts (two maps of per-replica totals)
// plus decode and an in-place join (reusing the GCounter twin's).
import { pncounterModel, PNCounterState } from "../../test/model/pncounter.js";
import { encodeModelV1 } from "../../test/model/common.js";
import { ByteReader, done, readHeader } from "./read.js";
import * as gc from "./gcounter.js";

export const model = pncounterModel;
export const bottom = (): PNCounterState => ({ p: new Map(), n: new Map() });

export function decode(bytes: Uint8Array): PNCounterState {
  const r = new ByteReader(bytes);
  readHeader(r);
  const s = { p: gc.decodeBody(r), n: gc.decodeBody(r) };
  done(r);
  return s;
}

export function joinInto(a: PNCounterState, b: PNCounterState): boolean {
  const x = gc.joinInto(a.p, b.p);
  return gc.joinInto(a.n, b.n) || x;
}

export const encode = (s: PNCounterState): Uint8Array => encodeModelV1(model, s);
