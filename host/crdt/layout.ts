// The v1 body layout of a state the kernel has already validated, for the few
// host readers that walk a body themselves (dataflow sources, trust checks).
// Format versions 2 and 3 (docs/format.md) write replicas as indices into a
// table, LWW timestamps above a base and sorted keys front-coded; this writes
// them out again (assembly/compact.ts does the same inside the kernel). The
// header keeps its version byte and spec; the table and base are dropped, so
// the body follows the spec at once, as in v1. Input in v1 is returned.
//
// Values in the body are in the encoding of the state's version: readers that
// decode them take states through current() first.
import { ByteReader, ByteWriter } from "./bytes.js";
import { Tag, TypeSpec, readSpec } from "./spec.js";
import { Kernel, kernel } from "../wasm/kernel.js";

// A state of version 1 or 2 (stored by an older build, or sent by an older
// peer) as the kernel re-encodes it: version 3, with its values rewritten and
// their lists re-sorted (docs/format.md, "Versions 1 and 2"). Other states are
// returned as they are.
export function current(state: Uint8Array, k: Kernel = kernel()): Uint8Array {
  if (state.length < 3 || state[0] !== 0x54 || state[1] !== 0x52 || (state[2] !== 1 && state[2] !== 2)) return state;
  const h = k.withReplica("decode", "", state);
  try { return k.bytes("encode", h); } finally { k.int("dispose", h); }
}

const hasTs = (s: TypeSpec): boolean =>
  s.tag === Tag.LWWRegister || (s.value !== undefined && hasTs(s.value)) ||
  (s.a !== undefined && hasTs(s.a)) || (s.b !== undefined && hasTs(s.b));

export function v1Layout(state: Uint8Array): Uint8Array {
  if (state.length < 3 || (state[2] !== 2 && state[2] !== 3)) return state;
  const r = new ByteReader(state);
  const version = state[2];
  r.raw(3);
  const spec = readSpec(r);
  const w = new ByteWriter(state.length * 2 + 16);
  w.raw(state.subarray(0, r.pos));
  const table: Uint8Array[] = [];
  for (let n = r.varint(); n > 0; n--) table.push(r.bytes());
  const base = hasTs(spec) ? r.bigVarint() : 0n;

  const v = () => w.varint(r.bigVarint());
  const rep = () => w.bytes(table[r.varint()]);
  const count = () => { const n = r.varint(); w.varint(n); return n; };
  const keys = (n: number, each: () => void) => {
    let prev = new Uint8Array(0);
    for (let i = 0; i < n; i++) {
      const shared = r.varint(), suffix = r.bytes();
      // A key whose last byte is 0x00 is written without it (format.md, "Sorted
      // keys"); version 2's keys were written whole.
      const n = shared + suffix.length;
      const tag = shared > 0 ? prev[0] : suffix[0];
      const z = version === 3 && n > 0 && ((tag >= 6 && tag <= 9) || (tag === 5 && n === 1)) ? 1 : 0;
      const k = new Uint8Array(n + z);
      k.set(prev.subarray(0, shared)); k.set(suffix, shared);
      w.bytes(k);
      prev = k;
      each();
    }
  };
  const context = () => {
    for (let i = count(); i > 0; i--) { rep(); v(); }
    for (let i = count(); i > 0; i--) { rep(); v(); }
  };
  const body = (s: TypeSpec): void => {
    switch (s.tag) {
      case Tag.GCounter: for (let i = count(); i > 0; i--) { rep(); v(); } break;
      case Tag.PNCounter: body({ tag: Tag.GCounter }); body({ tag: Tag.GCounter }); break;
      case Tag.MaxInt: v(); break;
      case Tag.IVar: { const f = r.u8(); w.u8(f); if (f === 1) w.bytes(r.bytes()); break; }
      case Tag.LWWRegister: {
        const f = r.u8(); w.u8(f);
        if (f === 1) { w.varint(base + r.bigVarint()); rep(); w.bytes(r.bytes()); }
        break;
      }
      case Tag.GSet: keys(count(), () => {}); break;
      case Tag.TwoPSet: body({ tag: Tag.GSet }); body({ tag: Tag.GSet }); break;
      case Tag.EWFlag: case Tag.MVRegister:
        context();
        for (let i = count(); i > 0; i--) { rep(); v(); if (s.tag === Tag.MVRegister) w.bytes(r.bytes()); }
        break;
      case Tag.AWSet: context(); keys(count(), () => { for (let j = count(); j > 0; j--) { rep(); v(); } }); break;
      case Tag.ORSet: keys(count(), () => { for (let j = count(); j > 0; j--) { rep(); v(); w.u8(r.u8()); } }); break;
      case Tag.GMap: keys(count(), () => body(s.value!)); break;
      case Tag.AWMap: body({ tag: Tag.AWSet }); keys(count(), () => body(s.value!)); break;
      case Tag.Pair: body(s.a!); body(s.b!); break;
      case Tag.TopK: keys(count(), v); break;
    }
  };
  body(spec);
  return w.finish();
}
