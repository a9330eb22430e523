// Framing of a whole state: header (magic, format version, type spec) + body,
// in the expanded form (compact.ts turns it into v2 at the kernel's edge).
import { Reader, Writer } from "./codec";
import { E_BAD_MAGIC, E_BAD_VERSION, takeError } from "./errors";
import { Lattice, Spec } from "./lattice";
import { readSpec, writeSpec, newBottom } from "./registry";

export const MAGIC0: u8 = 0x54; // 'T'
export const MAGIC1: u8 = 0x52; // 'R'
// The version encode writes (compact.ts): 3. Versions 1 and 2 still decode
// (legacy.ts rewrites their values).
export const FORMAT_VERSION: u8 = 3;
export const V1: u8 = 1;
export const V2: u8 = 2;
// The version byte of the expanded form the kernels parse and write inside
// (compact.ts): never accepted from outside, never written out.
export const EXPANDED: u8 = 0x82;


export function writeHeader(w: Writer, s: Spec): void {
  w.u8(MAGIC0); w.u8(MAGIC1); w.u8(EXPANDED);
  writeSpec(w, s);
}

export function writeState(w: Writer, v: Lattice): void {
  writeHeader(w, v.spec);
  v.encode(w);
}

// header := 'T' 'R' version spec. Returns null and sets r.err on failure.
export function readHeader(r: Reader): Spec | null {
  const m0 = r.u8(), m1 = r.u8();
  if (!r.ok) return null;
  if (m0 != MAGIC0 || m1 != MAGIC1) { r.fail(E_BAD_MAGIC); return null; }
  const ver = r.u8();
  if (!r.ok) return null;
  // Every version arrives here expanded, with version 3's values
  // (compact.ts openState); anything else is refused.
  if (ver != EXPANDED) { r.fail(E_BAD_VERSION); return null; }
  r.version = FORMAT_VERSION;
  const spec = readSpec(r, 0);
  if (!r.ok) return null;
  return spec;
}

// state := header body. Returns null and sets r.err on failure.
export function readState(r: Reader): Lattice | null {
  const spec = readHeader(r);
  if (spec === null) return null;
  const v = newBottom(spec);
  v.decode(r, 0);
  const e = takeError();
  if (e != 0) r.fail(e);
  if (!r.ok) { v.free(); return null; }
  return v;
}
