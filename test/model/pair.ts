// Product of two models, componentwise.
import { Model } from "./common.js";

export type PairState<A, B> = [A, B];
export type PairOp<OA, OB> = { first: OA } | { second: OB };

export function pairModel<A, OA, B, OB>(ma: Model<A, OA>, mb: Model<B, OB>): Model<PairState<A, B>, PairOp<OA, OB>> {
  return {
    spec: { tag: 14, a: ma.spec, b: mb.spec },
    bottom: () => [ma.bottom(), mb.bottom()],
    clone: (s) => [ma.clone(s[0]), mb.clone(s[1])],
    apply(s, op, replica) {
      if ("first" in op) return [ma.apply(s[0], op.first, replica), s[1]];
      return [s[0], mb.apply(s[1], op.second, replica)];
    },
    join: (a, b) => [ma.join(a[0], b[0]), mb.join(a[1], b[1])],
    encodeBody(w, s) { ma.encodeBody(w, s[0]); mb.encodeBody(w, s[1]); },
    value: (s) => [ma.value(s[0]), mb.value(s[1])],
  };
}
