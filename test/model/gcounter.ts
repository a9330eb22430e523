import { ByteWriter, Model, byByte, writeBin } from "./common.js";
import { bin } from "./common.js";
import { utf8 } from "../../host/crdt/bytes.js";

export type GCounterState = Map<string, number>; // replica (binary string) -> count
export type GCounterOp = { inc: number };

export const gcounterModel: Model<GCounterState, GCounterOp> = {
  spec: { tag: 1 },
  bottom: () => new Map(),
  clone: (s) => new Map(s),
  apply(s, op, replica) {
    const r = bin(utf8(replica));
    if (op.inc > 0) s.set(r, (s.get(r) ?? 0) + op.inc);
    return s;
  },
  join(a, b) {
    const out = new Map(a);
    for (const [r, v] of b) if (v > (out.get(r) ?? 0)) out.set(r, v);
    return out;
  },
  encodeBody(w: ByteWriter, s) {
    const ks = [...s.keys()].sort(byByte);
    w.varint(ks.length);
    for (const k of ks) { writeBin(w, k); w.varint(s.get(k)!); }
  },
  value: (s) => [...s.values()].reduce((a, b) => a + b, 0),
};
