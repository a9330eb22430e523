// LWWRegister as one write (timestamp, replica bytes, value bytes) or undefined.
import { Model, bin, byByte, unbin, writeBin } from "./common.js";
import { Value, decodeValue, encodeValue } from "../../host/crdt/value.js";
import { fromUtf8, utf8 } from "../../host/crdt/bytes.js";

export interface Write { ts: number; r: string; v: string }
export type LWWRegisterState = Write | undefined;
// after: the write goes at max(ts, current + 1) (kernel op 1, the host's default).
export type LWWRegisterOp = { set: Value; ts: number; after?: boolean };

const cmp = (a: Write, b: Write) => a.ts - b.ts || byByte(a.r, b.r) || byByte(a.v, b.v);
const greater = (a: LWWRegisterState, b: LWWRegisterState) =>
  a === undefined ? b : b === undefined ? a : cmp(a, b) >= 0 ? a : b;

export const lwwregisterModel: Model<LWWRegisterState, LWWRegisterOp> = {
  spec: { tag: 6 },
  bottom: () => undefined,
  clone: (s) => s,
  apply: (s, op, replica) => {
    const ts = op.after && s !== undefined && s.ts >= op.ts ? s.ts + 1 : op.ts;
    return greater(s, { ts, r: bin(utf8(replica)), v: bin(encodeValue(op.set)) });
  },
  join: greater,
  encodeBody(w, s) {
    if (s === undefined) { w.u8(0); return; }
    w.u8(1); w.varint(s.ts); writeBin(w, s.r); writeBin(w, s.v);
  },
  // As LWWRegister.entry returns it.
  value: (s) => (s === undefined ? undefined
    : { value: decodeValue(unbin(s.v)), timestamp: s.ts, replica: fromUtf8(unbin(s.r)) }),
};
