// MaxInt as a plain number.
import { Model } from "./common.js";

export type MaxIntState = number;
export type MaxIntOp = { set: number };

export const maxintModel: Model<MaxIntState, MaxIntOp> = {
  spec: { tag: 3 },
  bottom: () => 0,
  clone: (s) => s,
  apply: (s, op) => Math.max(s, op.set),
  join: (a, b) => Math.max(a, b),
  encodeBody(w, s) { w.varint(s); },
  value: (s) => s,
};
