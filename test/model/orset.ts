// Observed-remove set with tombstones: element -> token -> removed?
import { Model, bin, byByte, unbin, writeBin } from "./common.js";
import { dotKey, parseDot } from "./awset.js";
import { utf8 } from "../../host/crdt/bytes.js";
import { Value, decodeValue, encodeValue } from "../../host/crdt/value.js";

export type ORSetState = Map<string, Map<string, boolean>>; // element bin -> dot key -> removed
export type ORSetOp = { add: Value } | { remove: Value };

export const orsetModel: Model<ORSetState, ORSetOp> = {
  spec: { tag: 11 },
  bottom: () => new Map(),
  clone: (s) => new Map([...s].map(([e, ts]) => [e, new Map(ts)])),
  apply(s, op, replica) {
    const r = bin(utf8(replica));
    if ("add" in op) {
      let top = 0; // the highest counter r has used, on any element
      for (const ts of s.values()) for (const d of ts.keys()) { const [dr, c] = parseDot(d); if (dr === r && c > top) top = c; }
      const e = bin(encodeValue(op.add));
      if (!s.has(e)) s.set(e, new Map());
      s.get(e)!.set(dotKey(r, top + 1), false);
    } else {
      const ts = s.get(bin(encodeValue(op.remove)));
      if (ts) for (const d of ts.keys()) ts.set(d, true);
    }
    return s;
  },
  join(a, b) {
    const out = orsetModel.clone(a);
    for (const [e, ts] of b) {
      if (!out.has(e)) out.set(e, new Map());
      const mine = out.get(e)!;
      for (const [d, rm] of ts) mine.set(d, rm || (mine.get(d) ?? false));
    }
    return out;
  },
  encodeBody(w, s) {
    const es = [...s.keys()].sort(byByte);
    w.varint(es.length);
    for (const e of es) {
      writeBin(w, e);
      const ts = [...s.get(e)!].map(([d, rm]) => [...parseDot(d), rm] as [string, number, boolean]);
      ts.sort((x, y) => byByte(x[0], y[0]) || x[1] - y[1]);
      w.varint(ts.length);
      for (const [r, c, rm] of ts) { writeBin(w, r); w.varint(c); w.u8(rm ? 1 : 0); }
    }
  },
  value: (s) => [...s].filter(([, ts]) => [...ts.values()].some((rm) => !rm))
    .map(([e]) => e).sort(byByte).map((e) => decodeValue(unbin(e)) as Value),
};
