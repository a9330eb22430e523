// Helpers shared by the plain-TypeScript models. Models are deliberately simple
// implementations of each type's algorithm over JS Maps, writing the same
// canonical bytes as the kernels, so tests can compare byte for byte and
// benchmarks can use them as the kernels' plain-TS twins.
import { ByteWriter } from "../../host/crdt/bytes.js";
import { TypeSpec, writeSpec } from "../../host/crdt/spec.js";
import { compactV1 } from "./compact.js";

export { ByteWriter };

// Byte strings as JS "binary strings" (one char per byte): Map keys whose `<`
// order is byte order, as in the kernels.
export const bin = (b: Uint8Array): string => {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
};
export const unbin = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
export const byByte = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function writeBin(w: ByteWriter, s: string): void {
  w.varint(s.length);
  w.ensure(s.length);
  for (let i = 0; i < s.length; i++) w.buf[w.pos++] = s.charCodeAt(i);
}

// The v1 header: models write the v1 layout (replica ids inline, timestamps
// whole, keys whole), which kernels still decode; encodeModel turns it into
// the v2 the kernels write (compact.ts).
export function header(w: ByteWriter, spec: TypeSpec): void {
  w.u8(0x54); w.u8(0x52); w.u8(1);
  writeSpec(w, spec);
}

// A model of one type: pure functions over a plain state S, ops O as data.
export interface Model<S, O> {
  spec: TypeSpec;
  bottom(): S;
  clone(s: S): S;
  // The state after applying op at replica (may mutate and return s).
  apply(s: S, op: O, replica: string): S;
  // a ⊔ b as a new state.
  join(a: S, b: S): S;
  // Body encoding in the canonical format (no header).
  encodeBody(w: ByteWriter, s: S): void;
  // The query value, normalised as the matching fixture's `value(c)` returns it.
  value(s: S): unknown;
}

// The canonical (v2) encoding, as the kernels write it.
export function encodeModel<S>(m: Model<S, unknown>, s: S): Uint8Array {
  return compactV1(encodeModelV1(m, s));
}

// The v1 encoding of the same state (stored data from older builds).
export function encodeModelV1<S>(m: Model<S, unknown>, s: S): Uint8Array {
  const w = new ByteWriter();
  header(w, m.spec);
  m.encodeBody(w, s);
  return w.finish();
}
