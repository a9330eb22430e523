// Enable-wins flag as the paper writes it: the set of live enable dots and the
// set of seen dots.
import { Model } from "./common.js";
import { dotKey, encodeContext, encodeDots, maxCounter, parseDot } from "./awset.js";
import { bin } from "./common.js";
import { utf8 } from "../../host/crdt/bytes.js";

export interface EWFlagState { dots: Set<string>; cc: Set<string> }
export type EWFlagOp = { enable: true } | { disable: true };

export const ewflagModel: Model<EWFlagState, EWFlagOp> = {
  spec: { tag: 4 },
  bottom: () => ({ dots: new Set(), cc: new Set() }),
  clone: (s) => ({ dots: new Set(s.dots), cc: new Set(s.cc) }),
  apply(s, op, replica) {
    s.dots.clear(); // both ops supersede the dots observed
    if ("enable" in op) {
      const r = bin(utf8(replica));
      const d = dotKey(r, maxCounter(s.cc, r) + 1);
      s.dots.add(d);
      s.cc.add(d);
    }
    return s;
  },
  join(a, b) {
    const dots = new Set<string>();
    for (const d of a.dots) if (b.dots.has(d) || !b.cc.has(d)) dots.add(d);
    for (const d of b.dots) if (a.dots.has(d) || !a.cc.has(d)) dots.add(d);
    return { dots, cc: new Set([...a.cc, ...b.cc]) };
  },
  encodeBody(w, s) {
    encodeContext(w, s.cc);
    encodeDots(w, [...s.dots].map(parseDot));
  },
  value: (s) => s.dots.size > 0,
};
