// PNCounter as two plain maps of per-replica totals.
import { ByteWriter, Model, bin, byByte, writeBin } from "./common.js";
import { utf8 } from "../../host/crdt/bytes.js";

export interface PNCounterState { p: Map<string, number>; n: Map<string, number> }
export type PNCounterOp = { inc: number } | { dec: number };

const maxJoin = (a: Map<string, number>, b: Map<string, number>) => {
  const out = new Map(a);
  for (const [r, v] of b) if (v > (out.get(r) ?? 0)) out.set(r, v);
  return out;
};

const encodeCounts = (w: ByteWriter, m: Map<string, number>) => {
  const ks = [...m.keys()].sort(byByte);
  w.varint(ks.length);
  for (const k of ks) { writeBin(w, k); w.varint(m.get(k)!); }
};

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

export const pncounterModel: Model<PNCounterState, PNCounterOp> = {
  spec: { tag: 2 },
  bottom: () => ({ p: new Map(), n: new Map() }),
  clone: (s) => ({ p: new Map(s.p), n: new Map(s.n) }),
  apply(s, op, replica) {
    const r = bin(utf8(replica));
    const [m, k] = "inc" in op ? [s.p, op.inc] : [s.n, op.dec];
    if (k > 0) m.set(r, (m.get(r) ?? 0) + k);
    return s;
  },
  join: (a, b) => ({ p: maxJoin(a.p, b.p), n: maxJoin(a.n, b.n) }),
  encodeBody(w, s) { encodeCounts(w, s.p); encodeCounts(w, s.n); },
  value: (s) => sum(s.p) - sum(s.n),
};
