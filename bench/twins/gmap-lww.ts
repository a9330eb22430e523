// GMap<LWWRegister> twin = test/model/gmap.ts over test/model/lwwregister.ts,
// plus decode and an in-place join.
import { gmapModel, GMapState } from "../../test/model/gmap.js";
import { lwwregisterModel, LWWRegisterState, Write } from "../../test/model/lwwregister.js";
import { encodeModelV1 } from "../../test/model/common.js";
import { ByteReader, done, readBin, readHeader } from "./read.js";

export const model = gmapModel(lwwregisterModel);
export type State = GMapState<LWWRegisterState>;

export function decode(bytes: Uint8Array): State {
  const r = new ByteReader(bytes);
  readHeader(r);
  const s: State = new Map();
  const n = r.varint();
  let prev = "";
  for (let i = 0; i < n; i++) {
    const k = readBin(r);
    if (i > 0 && !(prev < k)) throw new Error("noncanonical");
    prev = k;
    if (r.u8() === 0) { s.set(k, undefined); continue; }
    const ts = r.varint();
    const rep = readBin(r);
    const v = readBin(r);
    s.set(k, { ts, r: rep, v });
  }
  done(r);
  return s;
}

const later = (a: Write, b: Write) => a.ts - b.ts || (a.r < b.r ? -1 : a.r > b.r ? 1 : 0) || (a.v < b.v ? -1 : a.v > b.v ? 1 : 0);

export function joinInto(a: State, b: State): boolean {
  let changed = false;
  for (const [k, y] of b) {
    if (!a.has(k)) { a.set(k, y); changed = true; continue; }
    const x = a.get(k);
    if (y !== undefined && (x === undefined || later(y, x) > 0)) { a.set(k, y); changed = true; }
  }
  return changed;
}

export const encode = (s: State): Uint8Array => encodeModelV1(model, s);
