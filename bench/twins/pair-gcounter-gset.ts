// Pair<GCounter, GSet> twin = test/model/pair.ts over the GCounter and GSet
// twins (models plus decode and in-place join), componentwise.
import { pairModel } from "../../test/model/pair.js";
import { GCounterState } from "../../test/model/gcounter.js";
import { GSetState } from "../../test/model/gset.js";
import { encodeModelV1 } from "../../test/model/common.js";
import { ByteReader, done, readHeader } from "./read.js";
import * as gc from "./gcounter.js";
import * as gs from "./gset.js";

export type State = [GCounterState, GSetState];
export const model = pairModel(gc.model, gs.model);
export const bottom = (): State => [new Map(), new Set()];

export function decode(bytes: Uint8Array): State {
  const r = new ByteReader(bytes);
  readHeader(r);
  const s: State = [gc.decodeBody(r), gs.decodeBody(r)];
  done(r);
  return s;
}

export function joinInto(a: State, b: State): boolean {
  const x = gc.joinInto(a[0], b[0]);
  return gs.joinInto(a[1], b[1]) || x;
}

export const encode = (s: State): Uint8Array => encodeModelV1(model as never, s);
