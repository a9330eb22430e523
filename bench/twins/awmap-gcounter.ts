// AWMap<GCounter> twin: presence is the AWSet twin (the kernel's algorithm,
// see awset.ts), values a map key -> GCounter twin state, joined pointwise
// (test/model/awmap.ts has the same shape over the quadratic AWSet model).
import { ByteWriter, byByte, header, writeBin } from "../../test/model/common.js";
import { gcounterModel, GCounterState } from "../../test/model/gcounter.js";
import { ByteReader, done, readBin, readHeader } from "./read.js";
import * as aw from "./awset.js";
import * as gc from "./gcounter.js";

export interface State { presence: aw.State; values: Map<string, GCounterState> }

export const bottom = (): State => ({ presence: aw.bottom(), values: new Map() });

export function joinInto(a: State, b: State): boolean {
  let changed = aw.joinInto(a.presence, b.presence);
  for (const [k, y] of b.values) {
    const x = a.values.get(k);
    if (x === undefined) { a.values.set(k, new Map(y)); changed = true; }
    else if (gc.joinInto(x, y)) changed = true;
  }
  return changed;
}

export function encode(s: State): Uint8Array {
  const w = new ByteWriter(1024);
  header(w, { tag: 13, value: { tag: 1 } });
  aw.encodeBody(w, s.presence);
  const ks = [...s.values.keys()].sort(byByte);
  w.varint(ks.length);
  for (const k of ks) { writeBin(w, k); gcounterModel.encodeBody(w, s.values.get(k)!); }
  return w.finish();
}

export function decode(bytes: Uint8Array): State {
  const r = new ByteReader(bytes);
  readHeader(r);
  const presence = aw.decodeBody(r);
  const values = new Map<string, GCounterState>();
  const n = r.varint();
  let prev = "";
  for (let i = 0; i < n; i++) {
    const k = readBin(r);
    if (i > 0 && !(prev < k)) throw new Error("noncanonical keys");
    prev = k;
    values.set(k, gc.decodeBody(r));
  }
  done(r);
  return { presence, values };
}
