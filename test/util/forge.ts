// Hand-made trellis states (docs/format.md) for forgeries: what an attacker
// with a valid key puts in the envelopes it signs.
import { dot, rep, str, varint } from "./bytes.js";

type D = [string, bigint | number];
// Canonical order: the version vector by replica (ids here are ASCII, so string order is byte order).
export const ctx = (vv: D[], cloud: D[] = []) =>
  [...varint(vv.length), ...[...vv].sort((a, b) => (a[0] < b[0] ? -1 : 1)).flatMap(([r, c]) => dot(r, c)), ...varint(cloud.length), ...cloud.flatMap(([r, c]) => dot(r, c))];
export const state = (spec: number[], body: number[]) => Uint8Array.from([0x54, 0x52, 1, ...spec, ...body]);
export const awset = (vv: D[], cloud: D[], elems: [string, D[]][]) =>
  state([10], [...ctx(vv, cloud), ...varint(elems.length), ...elems.flatMap(([e, ds]) => [...str(e), ...varint(ds.length), ...ds.flatMap(([r, c]) => dot(r, c))])]);
export const gcounter = (entries: D[]) => state([1], [...varint(entries.length), ...entries.flatMap(([r, v]) => dot(r, v))]);
export const lww = (ts: bigint | number, w: string, v: string) => state([6], [1, ...varint(ts), ...rep(w), ...str(v)]);
export const maxint = (v: bigint | number) => state([3], varint(v));
export const topk = (k: number, entries: D[]) => state([15, ...varint(k)], [...varint(entries.length), ...entries.flatMap(([id, s]) => [...str(id), ...varint(s)])]);
export const MAX64 = 2n ** 64n - 1n;
export const SAT = MAX64 - 1n; // the kernel refuses MAX64 itself (its next op would wrap)
