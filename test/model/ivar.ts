// IVar as the assigned value's bytes (a binary string) or undefined.
import { Model, byByte, unbin, bin, writeBin } from "./common.js";
import { Value, decodeValue, encodeValue } from "../../host/crdt/value.js";

export type IVarState = string | undefined;
export type IVarOp = { set: Value };

export const ivarModel: Model<IVarState, IVarOp> = {
  spec: { tag: 5 },
  bottom: () => undefined,
  clone: (s) => s,
  // A second, different assignment is refused (the host throws PRECONDITION).
  apply(s, op) {
    const v = bin(encodeValue(op.set));
    return s === undefined ? v : s;
  },
  // Concurrent assignments: the byte-greater value wins.
  join: (a, b) => (a === undefined ? b : b === undefined ? a : byByte(a, b) >= 0 ? a : b),
  encodeBody(w, s) {
    if (s === undefined) { w.u8(0); return; }
    w.u8(1); writeBin(w, s);
  },
  value: (s) => (s === undefined ? undefined : decodeValue(unbin(s))),
};
