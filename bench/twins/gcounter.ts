// GCounter twin = test/model/gcounter.ts plus decode and an in-place join.
import { gcounterModel, GCounterState } from "../../test/model/gcounter.js";
import { encodeModelV1 } from "../../test/model/common.js";
import { ByteReader, done, readBin, readHeader } from "./read.js";

export const model = gcounterModel;

export function decodeBody(r: ByteReader): GCounterState {
  const s: GCounterState = new Map();
  const n = r.varint();
  let prev = "";
  for (let i = 0; i < n; i++) {
    const k = readBin(r);
    const v = r.varint();
    if (v === 0 || (i > 0 && !(prev < k))) throw new Error("noncanonical");
    prev = k;
    s.set(k, v);
  }
  return s;
}

export function decode(bytes: Uint8Array): GCounterState {
  const r = new ByteReader(bytes);
  readHeader(r);
  const s = decodeBody(r);
  done(r);
  return s;
}

// a := a ⊔ b, as the kernel joins (the model's join builds a new state).
export function joinInto(a: GCounterState, b: GCounterState): boolean {
  let changed = false;
  for (const [r, v] of b) if (v > (a.get(r) ?? 0)) { a.set(r, v); changed = true; }
  return changed;
}

export const encode = (s: GCounterState): Uint8Array => encodeModelV1(model, s);
