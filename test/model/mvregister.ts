// Multi-value register as the paper writes it: dot -> value, and the seen dots.
import { Model, bin, byByte, unbin, writeBin } from "./common.js";
import { dotKey, encodeContext, maxCounter, parseDot } from "./awset.js";
import { utf8 } from "../../host/crdt/bytes.js";
import { Value, decodeValue, encodeValue } from "../../host/crdt/value.js";

export interface MVRegisterState { entries: Map<string, string>; cc: Set<string> } // dot key -> value bin
export type MVRegisterOp = { set: Value } | { clear: true };

export const mvregisterModel: Model<MVRegisterState, MVRegisterOp> = {
  spec: { tag: 7 },
  bottom: () => ({ entries: new Map(), cc: new Set() }),
  clone: (s) => ({ entries: new Map(s.entries), cc: new Set(s.cc) }),
  apply(s, op, replica) {
    s.entries.clear(); // a write overwrites every value it observed
    if ("set" in op) {
      const r = bin(utf8(replica));
      const d = dotKey(r, maxCounter(s.cc, r) + 1);
      s.entries.set(d, bin(encodeValue(op.set)));
      s.cc.add(d);
    }
    return s;
  },
  join(a, b) {
    const entries = new Map<string, string>();
    for (const [d, v] of a.entries) if (b.entries.has(d) || !b.cc.has(d)) entries.set(d, v);
    for (const [d, v] of b.entries) if (a.entries.has(d) || !a.cc.has(d)) entries.set(d, v);
    return { entries, cc: new Set([...a.cc, ...b.cc]) };
  },
  encodeBody(w, s) {
    encodeContext(w, s.cc);
    const es = [...s.entries].map(([d, v]) => [...parseDot(d), v] as [string, number, string]);
    es.sort((x, y) => byByte(x[0], y[0]) || x[1] - y[1]);
    w.varint(es.length);
    for (const [r, c, v] of es) { writeBin(w, r); w.varint(c); writeBin(w, v); }
  },
  value: (s) => [...new Set(s.entries.values())].sort(byByte).map((v) => decodeValue(unbin(v))),
};
