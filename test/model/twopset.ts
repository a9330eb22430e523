// TwoPSet as the textbook pair of grow-only sets (A, R). The kernel keeps a
// removed element only in R; encoding A \ R and R writes its bytes.
import { Model, bin } from "./common.js";
import { Value, encodeValue } from "../../host/crdt/value.js";
import { decodeSet, encodeSet } from "./gset.js";

export interface TwoPSetState { a: Set<string>; r: Set<string> }
export type TwoPSetOp = { add: Value } | { remove: Value };

const live = (s: TwoPSetState) => [...s.a].filter((e) => !s.r.has(e));

export const twopsetModel: Model<TwoPSetState, TwoPSetOp> = {
  spec: { tag: 9 },
  bottom: () => ({ a: new Set(), r: new Set() }),
  clone: (s) => ({ a: new Set(s.a), r: new Set(s.r) }),
  apply(s, op) {
    if ("add" in op) s.a.add(bin(encodeValue(op.add)));
    else {
      // The host removes only what is present (else PRECONDITION).
      const e = bin(encodeValue(op.remove));
      if (s.a.has(e) && !s.r.has(e)) s.r.add(e);
    }
    return s;
  },
  join: (x, y) => ({ a: new Set([...x.a, ...y.a]), r: new Set([...x.r, ...y.r]) }),
  encodeBody(w, s) { encodeSet(w, live(s)); encodeSet(w, s.r); },
  value: (s) => decodeSet(live(s)),
};
