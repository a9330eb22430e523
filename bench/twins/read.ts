// The twins' missing piece: decoding the canonical format back into the models'
// plain states (the models only encode). Same checks of order as the kernels,
// so both sides do comparable work.
import { ByteReader } from "../../host/crdt/bytes.js";
import { readSpec, TypeSpec } from "../../host/crdt/spec.js";

export { ByteReader };

export function readHeader(r: ByteReader): TypeSpec {
  if (r.u8() !== 0x54 || r.u8() !== 0x52) throw new Error("bad magic");
  if (r.u8() !== 1) throw new Error("bad version");
  return readSpec(r);
}

// A length-prefixed byte string as a binary string (one char per byte), the
// models' key representation.
export function readBin(r: ByteReader): string {
  const n = r.varint();
  if (n > r.buf.length - r.pos) throw new Error("truncated");
  const b = r.buf;
  let s = "";
  for (let i = r.pos, end = r.pos + n; i < end; i++) s += String.fromCharCode(b[i]);
  r.pos += n;
  return s;
}

export function done(r: ByteReader): void { if (!r.done) throw new Error("trailing bytes"); }
