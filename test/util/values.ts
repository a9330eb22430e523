import type { Value } from "../../dist/host/index.node.js";

// v with every −0 as 0: the value codec writes −0 as 0 (docs/format.md), so
// a round trip is compared against this.
export const noNegZero = (v: Value): Value =>
  Object.is(v, -0) ? 0
    : Array.isArray(v) ? v.map(noNegZero)
    : v !== null && typeof v === "object" && !(v instanceof Uint8Array)
      ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, noNegZero(x)]))
      : v;
