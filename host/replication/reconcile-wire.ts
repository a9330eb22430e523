// The wire format of range-based set reconciliation (reconcile.ts;
// docs/replication.md, "Range-based reconciliation"). One message is a version
// byte and a run of ranges that partition the id space from its start, each
// given by its exclusive upper bound and a mode:
//
//   message := version:u8 (= 1) range*
//   range   := bound mode:varint payload
//   bound   := ts:varint (0 = infinity, else ts - previous bound's ts + 1)
//              prefixLen:u8 (0..32) prefix:bytes[prefixLen]
//   payload := (Skip 0)        nothing: the sender has nothing to say about it
//            | (Fingerprint 1) 16 bytes
//            | (IdList 2)      count:varint id:bytes[32]*count   (all the sender's ids in the range)
//            | (Diff 3)        count:varint id:bytes[32]*count   (the sender's ids the receiver's IdList lacked)
//                              bits:varint bitfield:bytes[bits]  (bit i: the sender lacks the receiver's i-th id in the range)
//
// Decoding treats the bytes as hostile: limits are checked before anything is
// allocated, bounds must increase, and nothing may follow an infinite bound.
import { ByteReader, ByteWriter } from "../crdt/bytes.js";
import { TrellisError } from "../wasm/errors.js";

export const RECONCILE_VERSION = 1;
export const ID_BYTES = 32;
export const FINGERPRINT_BYTES = 16;

export const Mode = { Skip: 0, Fingerprint: 1, IdList: 2, Diff: 3 } as const;
export type ModeCode = (typeof Mode)[keyof typeof Mode];

export type ReconcileErrorCode =
  | "BAD_VERSION"     // a version byte this code does not read
  | "MALFORMED"       // truncated, unknown mode, bounds out of order, bad field
  | "TOO_LARGE"       // over a limit: message bytes, ranges or ids in one message
  | "PROTOCOL"        // well-formed but impossible from an honest peer (a Diff that does not fit our IdList, a repeated id)
  | "TOO_MANY_ROUNDS" // the session went on past maxRounds
  | "BAD_INPUT";      // the local caller's fault: an id that is not 32 bytes, a bad timestamp or option

export class ReconcileError extends Error {
  override readonly name = "ReconcileError";
  constructor(readonly code: ReconcileErrorCode, message: string, override readonly cause?: unknown) {
    super(`${code}: ${message}`);
  }
}

// A range's exclusive upper bound: the smallest key (ts, id) with ts = `ts`
// and an id starting with `prefix` (then zeros). ts = Infinity: past every item.
export interface Bound { ts: number; prefix: Uint8Array }
export const INFINITY: Bound = Object.freeze({ ts: Infinity, prefix: new Uint8Array(0) });

export type Range =
  | { upper: Bound; mode: typeof Mode.Skip }
  | { upper: Bound; mode: typeof Mode.Fingerprint; fingerprint: Uint8Array }
  | { upper: Bound; mode: typeof Mode.IdList; ids: Uint8Array[] }
  | { upper: Bound; mode: typeof Mode.Diff; ids: Uint8Array[]; lacks: Uint8Array };

export interface WireLimits {
  maxMessageBytes: number; // a whole message (default 1 MiB)
  maxRanges: number;       // ranges in one message (default 16384)
  maxIds: number;          // ids in one message, IdLists and Diffs together (default 16384: 512 KiB)
}

export const DEFAULT_WIRE_LIMITS: Readonly<WireLimits> = Object.freeze({ maxMessageBytes: 1 << 20, maxRanges: 16384, maxIds: 16384 });

// -1, 0, 1: bounds in key order (ts, then the prefix padded with zeros).
export function compareBounds(a: Bound, b: Bound): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  const n = Math.max(a.prefix.length, b.prefix.length);
  for (let i = 0; i < n; i++) {
    const x = a.prefix[i] ?? 0, y = b.prefix[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export function encodeRanges(ranges: Range[]): Uint8Array {
  let size = 1;
  for (const r of ranges) size += 16 + r.upper.prefix.length + ("ids" in r ? r.ids.length * ID_BYTES + 8 : 0) + FINGERPRINT_BYTES + ("lacks" in r ? r.lacks.length + 4 : 0);
  const w = new ByteWriter(size);
  w.u8(RECONCILE_VERSION);
  let prevTs = 0;
  for (const r of ranges) {
    const { ts, prefix } = r.upper;
    if (ts === Infinity) w.varint(0);
    else { w.varint(ts - prevTs + 1); prevTs = ts; }
    w.u8(prefix.length); w.raw(prefix);
    w.varint(r.mode);
    switch (r.mode) {
      case Mode.Skip: break;
      case Mode.Fingerprint: w.raw(r.fingerprint); break;
      case Mode.IdList: w.varint(r.ids.length); for (const id of r.ids) w.raw(id); break;
      case Mode.Diff:
        w.varint(r.ids.length); for (const id of r.ids) w.raw(id);
        w.varint(r.lacks.length); w.raw(r.lacks);
        break;
    }
  }
  return w.finish();
}

const malformed = (m: string) => new ReconcileError("MALFORMED", m);

// Throws ReconcileError; never returns a partial message. Ids and fingerprints
// are views into `bytes` (no copy).
export function decodeRanges(bytes: Uint8Array, limits: Partial<WireLimits> = {}): Range[] {
  const l = { ...DEFAULT_WIRE_LIMITS, ...limits };
  if (!(bytes instanceof Uint8Array)) throw malformed("a message is a Uint8Array");
  if (bytes.length > l.maxMessageBytes) throw new ReconcileError("TOO_LARGE", `message of ${bytes.length} bytes, at most ${l.maxMessageBytes}`);
  if (bytes.length === 0) throw malformed("empty message");
  if (bytes[0] !== RECONCILE_VERSION) throw new ReconcileError("BAD_VERSION", `reconcile version ${bytes[0]}, this reads ${RECONCILE_VERSION}`);
  const r = new ByteReader(bytes);
  r.pos = 1;
  const out: Range[] = [];
  let ids = 0, prevTs = 0;
  let prev: Bound | null = null;
  const count = (what: string, min: number): number => {
    const n = r.varint();
    if (n * min > bytes.length - r.pos) throw malformed(`${what} count ${n} exceeds the message`);
    return n;
  };
  try {
    while (!r.done) {
      if (out.length >= l.maxRanges) throw new ReconcileError("TOO_LARGE", `more than ${l.maxRanges} ranges`);
      if (prev?.ts === Infinity) throw malformed("a range after the infinite bound");
      const code = r.varint();
      let ts = Infinity;
      if (code !== 0) {
        ts = prevTs + code - 1;
        if (!Number.isSafeInteger(ts)) throw malformed("timestamp beyond 2^53");
        prevTs = ts;
      }
      const len = r.u8();
      if (len > ID_BYTES) throw malformed(`bound prefix of ${len} bytes`);
      if (ts === Infinity && len !== 0) throw malformed("the infinite bound has a prefix");
      const upper: Bound = { ts, prefix: r.raw(len) };
      if (prev && compareBounds(prev, upper) >= 0) throw malformed("bounds not strictly increasing");
      prev = upper;
      const mode = r.varint();
      switch (mode) {
        case Mode.Skip: out.push({ upper, mode }); break;
        case Mode.Fingerprint: out.push({ upper, mode, fingerprint: r.raw(FINGERPRINT_BYTES) }); break;
        case Mode.IdList:
        case Mode.Diff: {
          const n = count("id", ID_BYTES);
          ids += n;
          if (ids > l.maxIds) throw new ReconcileError("TOO_LARGE", `more than ${l.maxIds} ids in one message`);
          const list: Uint8Array[] = new Array(n);
          for (let i = 0; i < n; i++) list[i] = r.raw(ID_BYTES);
          if (mode === Mode.IdList) { out.push({ upper, mode, ids: list }); break; }
          const bits = count("bitfield", 1);
          out.push({ upper, mode, ids: list, lacks: r.raw(bits) });
          break;
        }
        default: throw malformed(`unknown mode ${mode}`);
      }
    }
  } catch (e) {
    if (e instanceof ReconcileError) throw e;
    if (e instanceof TrellisError) throw new ReconcileError("MALFORMED", e.message, e);
    throw e;
  }
  return out;
}
