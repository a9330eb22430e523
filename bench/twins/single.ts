// Twins of the single-value types MaxInt, IVar and LWWRegister: the models
// (test/model/maxint.ts, ivar.ts, lwwregister.ts) as they are, the state held
// in a box so that a join can happen in place, plus decode.
import { maxintModel } from "../../test/model/maxint.js";
import { ivarModel, IVarState } from "../../test/model/ivar.js";
import { lwwregisterModel, LWWRegisterState } from "../../test/model/lwwregister.js";
import { Model, encodeModelV1 } from "../../test/model/common.js";
import { ByteReader, done, readBin, readHeader } from "./read.js";

export interface Box<S> { v: S }

function boxed<S>(m: Model<S, unknown>, body: (r: ByteReader) => S) {
  return {
    model: m,
    bottom: (): Box<S> => ({ v: m.bottom() }),
    decode(bytes: Uint8Array): Box<S> {
      const r = new ByteReader(bytes);
      readHeader(r);
      const v = body(r);
      done(r);
      return { v };
    },
    encode: (s: Box<S>): Uint8Array => encodeModelV1(m, s.v),
    joinInto(a: Box<S>, b: Box<S>): boolean {
      const v = m.join(a.v, b.v);
      if (v === a.v) return false;
      a.v = v;
      return true;
    },
  };
}

export const maxint = boxed<number>(maxintModel as Model<number, unknown>, (r) => r.varint());
export const ivar = boxed<IVarState>(ivarModel as Model<IVarState, unknown>, (r) => (r.u8() === 0 ? undefined : readBin(r)));
export const lwwregister = boxed<LWWRegisterState>(lwwregisterModel as Model<LWWRegisterState, unknown>,
  (r) => (r.u8() === 0 ? undefined : { ts: r.varint(), r: readBin(r), v: readBin(r) }));
