// TopK as the untruncated map id -> best score; only encoding and value cut it
// to the k best. The kernel truncates on every join, so agreement also checks
// that truncation commutes with join.
import { Model, bin, byByte, unbin, writeBin } from "./common.js";
import { Value, decodeValue, encodeValue } from "../../host/crdt/value.js";

export type TopKState = Map<string, number>;
export type TopKOp = { id: Value; score: number };

export const topkModel = (k: number): Model<TopKState, TopKOp> => {
  const best = (s: TopKState) =>
    [...s].sort((x, y) => y[1] - x[1] || byByte(x[0], y[0])).slice(0, k);
  return {
    spec: { tag: 15, k },
    bottom: () => new Map(),
    clone: (s) => new Map(s),
    apply(s, op) {
      const id = bin(encodeValue(op.id));
      if (op.score > (s.get(id) ?? -1)) s.set(id, op.score);
      return s;
    },
    join(a, b) {
      const out = new Map(a);
      for (const [id, v] of b) if (v > (out.get(id) ?? -1)) out.set(id, v);
      return out;
    },
    encodeBody(w, s) {
      const top = best(s).sort((x, y) => byByte(x[0], y[0]));
      w.varint(top.length);
      for (const [id, v] of top) { writeBin(w, id); w.varint(v); }
    },
    value: (s) => best(s).map(([id, score]) => ({ id: decodeValue(unbin(id)), score })),
  };
};
