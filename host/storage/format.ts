// The storage layout, byte for byte (docs/storage.md). Keys sort so that one
// scan meets the header first, then declarations, the delta log, meta records
// and snapshots. Every value is framed as
//
//   crc:u32be  version:u8  payload
//
// where crc is the CRC-32C of key ‖ version ‖ payload, so a flipped byte in
// either the value or the key it is stored under is detected.
import CRC32C from "crc-32/crc32c.js";
import { ByteReader, ByteWriter, fromUtf8, utf8 } from "../crdt/bytes.js";
import { StorageError } from "./errors.js";

export const FORMAT_VERSION = 1;

export const P_HEADER = 0x00;
export const P_DECL = 0x44;  // 'D'
export const P_ENV = 0x45;   // 'E': admitted signed envelopes (trustless mode), in admission order
export const P_LOG = 0x4c;   // 'L'
export const P_META = 0x4d;  // 'M'
export const P_SNAP = 0x53;  // 'S'

export const HEADER_KEY = new Uint8Array([P_HEADER, ...utf8("trellis")]);
// The number of the last batch written, put in every batch when the store has
// an ack mark (StoreOptions.ackMark); sorts right after the header.
export const SEAL_KEY = new Uint8Array([P_HEADER, ...utf8("trellis.batch")]);

export function crc32c(parts: Uint8Array[]): number {
  let c = 0;
  for (const p of parts) c = CRC32C.buf(p, c);
  return c >>> 0;
}

// Keys ------------------------------------------------------------------

export function seqKey(prefix: number, seq: number): Uint8Array {
  const k = new Uint8Array(9);
  k[0] = prefix;
  const dv = new DataView(k.buffer);
  dv.setUint32(1, Math.floor(seq / 2 ** 32));
  dv.setUint32(5, seq >>> 0);
  return k;
}

export function keySeq(key: Uint8Array): number {
  if (key.length !== 9) throw new StorageError("CORRUPT", "sequence key is not 9 bytes", key);
  const dv = new DataView(key.buffer, key.byteOffset, 9);
  const hi = dv.getUint32(1);
  if (hi >= 2 ** 21) throw new StorageError("CORRUPT", "sequence number beyond 2^53", key);
  return hi * 2 ** 32 + dv.getUint32(5);
}

export function nameKey(prefix: number, name: string): Uint8Array {
  const b = utf8(name);
  const k = new Uint8Array(1 + b.length);
  k[0] = prefix;
  k.set(b, 1);
  return k;
}

export function keyName(key: Uint8Array): string {
  try { return fromUtf8(key.subarray(1)); } catch (e) {
    throw new StorageError("CORRUPT", "name in key is not UTF-8", key, { cause: e });
  }
}

// Values ----------------------------------------------------------------

// Frames a payload written by `fill` for `key`.
export function frame(key: Uint8Array, fill: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter(64);
  w.raw(new Uint8Array(4));
  w.u8(FORMAT_VERSION);
  fill(w);
  const out = w.finish();
  const c = crc32c([key, out.subarray(4)]);
  new DataView(out.buffer).setUint32(0, c);
  return out;
}

// Checks a value's checksum and version, then parses its payload with `read`,
// which must consume it exactly. Any failure is CORRUPT, naming the key.
export function unframe<T>(key: Uint8Array, value: Uint8Array, read: (r: ByteReader) => T): T {
  if (value.length < 5) throw new StorageError("CORRUPT", `record of ${value.length} bytes is too short`, key);
  const want = new DataView(value.buffer, value.byteOffset, 4).getUint32(0);
  const got = crc32c([key, value.subarray(4)]);
  if (want !== got) {
    throw new StorageError("CORRUPT", `checksum mismatch (stored ${hex32(want)}, computed ${hex32(got)})`, key);
  }
  // A checksummed record from a newer format: refuse, don't guess.
  if (value[4] !== FORMAT_VERSION) throw new StorageError("UNSUPPORTED", `record format version ${value[4]}`, key);
  const r = new ByteReader(value.subarray(5));
  let out: T;
  try { out = read(r); } catch (e) {
    throw new StorageError("CORRUPT", `bad framing: ${(e as Error).message}`, key, { cause: e });
  }
  if (!r.done) throw new StorageError("CORRUPT", "bytes after the record", key);
  return out;
}

const hex32 = (n: number) => n.toString(16).padStart(8, "0");

export { ByteReader, ByteWriter, utf8, fromUtf8 };
