// The twins read and write the expanded layout: format v1's (replica ids
// inline, whole timestamps and keys) with version 3's user values, as the
// kernels parse inside; the kernel writes v3. A kernel state shown to a twin,
// or compared with one, goes through v1Layout (the kernel's expansion of v3's
// replica table, timestamp base and front-coded keys, in TS) with the version
// byte set to 1. Twin bytes reach the kernel as v3 (test/model/compact.ts).
import { v1Layout } from "../../host/crdt/layout.js";

export function asV1(b: Uint8Array): Uint8Array {
  const x = v1Layout(b);
  if (x === b) return b;
  const c = x.slice();
  c[2] = 1;
  return c;
}
