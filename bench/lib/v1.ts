// The twins read and write format v1's layout; the kernel writes v2. A
// kernel state shown to a twin, or compared with one, goes through v1Layout
// (the kernel's expansion of v2's replica table, timestamp base and
// front-coded keys, in TS) with the version byte set to 1.
import { v1Layout } from "../../host/crdt/layout.js";

export function asV1(b: Uint8Array): Uint8Array {
  const x = v1Layout(b);
  if (x === b) return b;
  const c = x.slice();
  c[2] = 1;
  return c;
}
