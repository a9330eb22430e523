// GSet as a plain set of element bytes (binary strings).
import { ByteWriter, Model, bin, byByte, unbin, writeBin } from "./common.js";
import { Value, decodeValue, encodeValue } from "../../host/crdt/value.js";

export type GSetState = Set<string>;
export type GSetOp = { add: Value };

export function encodeSet(w: ByteWriter, s: Iterable<string>): void {
  const es = [...s].sort(byByte);
  w.varint(es.length);
  for (const e of es) writeBin(w, e);
}

export const decodeSet = (s: Iterable<string>): Value[] => [...s].sort(byByte).map((e) => decodeValue(unbin(e)));

export const gsetModel: Model<GSetState, GSetOp> = {
  spec: { tag: 8 },
  bottom: () => new Set(),
  clone: (s) => new Set(s),
  apply: (s, op) => s.add(bin(encodeValue(op.add))),
  join: (a, b) => new Set([...a, ...b]),
  encodeBody: encodeSet,
  value: decodeSet,
};
