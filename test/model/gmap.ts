// Grow-only map: key -> nested model state, joined pointwise; a key with a
// bottom value stays.
import { ByteWriter, Model, bin, byByte, unbin, writeBin } from "./common.js";
import { Value, decodeValue, encodeValue } from "../../host/crdt/value.js";

export type GMapState<S> = Map<string, S>; // key bin -> nested state
export interface GMapOp<O> { key: Value; op: O }

export function gmapJoin<S>(v: Model<S, unknown>, a: GMapState<S>, b: GMapState<S>): GMapState<S> {
  const out = new Map<string, S>();
  for (const [k, x] of a) out.set(k, b.has(k) ? v.join(x, b.get(k)!) : v.clone(x));
  for (const [k, y] of b) if (!a.has(k)) out.set(k, v.clone(y));
  return out;
}

export function gmapEncode<S>(v: Model<S, unknown>, w: ByteWriter, s: GMapState<S>): void {
  const ks = [...s.keys()].sort(byByte);
  w.varint(ks.length);
  for (const k of ks) { writeBin(w, k); v.encodeBody(w, s.get(k)!); }
}

export function gmapModel<S, O>(v: Model<S, O>): Model<GMapState<S>, GMapOp<O>> {
  return {
    spec: { tag: 12, value: v.spec },
    bottom: () => new Map(),
    clone: (s) => new Map([...s].map(([k, x]) => [k, v.clone(x)])),
    apply(s, op, replica) {
      const k = bin(encodeValue(op.key));
      s.set(k, v.apply(s.get(k) ?? v.bottom(), op.op, replica));
      return s;
    },
    join: (a, b) => gmapJoin(v as Model<S, unknown>, a, b),
    encodeBody: (w, s) => gmapEncode(v as Model<S, unknown>, w, s),
    value: (s) => new Map([...s.keys()].sort(byByte).map((k) => [decodeValue(unbin(k)), v.value(s.get(k)!)])),
  };
}
