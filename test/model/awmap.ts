// Add-wins map: an AWSet model of present keys times a GMap model of values.
// A remove drops the key's presence dots and, for causal value types, applies
// the value's own clear op; other values are kept, hidden.
import { Model, bin, byByte, unbin } from "./common.js";
import { AWSetState, awsetModel, dotKey, maxCounter } from "./awset.js";
import { GMapState, gmapEncode, gmapJoin } from "./gmap.js";
import { clearOpFor } from "./nested.js";
import { utf8 } from "../../host/crdt/bytes.js";
import { Value, decodeValue, encodeValue } from "../../host/crdt/value.js";

export interface AWMapState<S> { presence: AWSetState; values: GMapState<S> }
export type AWMapOp<O> = { key: Value; op: O } | { remove: Value } | { clear: true };

export function awmapModel<S, O>(v: Model<S, O>): Model<AWMapState<S>, AWMapOp<O>> {
  const clearOp = clearOpFor(v.spec) as O | undefined;
  const removeKey = (s: AWMapState<S>, k: string, replica: string) => {
    s.presence.store.delete(k);
    if (clearOp !== undefined && s.values.has(k)) s.values.set(k, v.apply(s.values.get(k)!, clearOp, replica));
  };
  return {
    spec: { tag: 13, value: v.spec },
    bottom: () => ({ presence: awsetModel.bottom(), values: new Map() }),
    clone: (s) => ({ presence: awsetModel.clone(s.presence), values: new Map([...s.values].map(([k, x]) => [k, v.clone(x)])) }),
    apply(s, op, replica) {
      if ("clear" in op) {
        for (const k of new Set([...s.presence.store.keys(), ...s.values.keys()])) removeKey(s, k, replica);
        return s;
      }
      if ("remove" in op) { removeKey(s, bin(encodeValue(op.remove)), replica); return s; }
      const k = bin(encodeValue(op.key));
      const r = bin(utf8(replica));
      const d = dotKey(r, maxCounter(s.presence.cc, r) + 1);
      s.presence.store.set(k, new Set([d]));
      s.presence.cc.add(d);
      s.values.set(k, v.apply(s.values.get(k) ?? v.bottom(), op.op, replica));
      return s;
    },
    join: (a, b) => ({
      presence: awsetModel.join(a.presence, b.presence),
      values: gmapJoin(v as Model<S, unknown>, a.values, b.values),
    }),
    encodeBody(w, s) {
      awsetModel.encodeBody(w, s.presence);
      gmapEncode(v as Model<S, unknown>, w, s.values);
    },
    value: (s) => new Map([...s.presence.store.keys()].sort(byByte)
      .map((k) => [decodeValue(unbin(k)), v.value(s.values.get(k) ?? v.bottom())])),
  };
}
