// The replication wire format (docs/replication.md): one small header, then a
// body per message kind. Parsing reads the whole message before anything is
// applied, so a malformed one is rejected as a unit.
import { ByteReader, ByteWriter, compareBytes, fromUtf8, utf8 } from "../crdt/bytes.js";
import { TrellisError } from "../wasm/errors.js";

export const MAGIC0 = 0x54, MAGIC1 = 0x50; // "TP": trellis protocol (states are "TR")
export const WIRE_VERSION = 1;

export const Kind = { Delta: 1, Ack: 2, State: 3, Digest: 4, Parts: 5 } as const;
export type MessageKind = "delta" | "ack" | "state" | "digest" | "parts";
export const KIND_NAMES: Record<number, MessageKind> = { 1: "delta", 2: "ack", 3: "state", 4: "digest", 5: "parts" };

export const HASH_BYTES = 8;

export type ReplicationErrorCode =
  | "BAD_MAGIC" | "BAD_VERSION" | "UNKNOWN_KIND" | "MALFORMED" | "BAD_STATE"
  | "TYPE_MISMATCH" | "KIND_MISMATCH" | "APPLY_FAILED";

// What onError receives: a message (or part of one) that was refused.
export class ReplicationError extends Error {
  readonly code: ReplicationErrorCode;
  readonly peer: string | undefined;
  override readonly cause: unknown;
  constructor(code: ReplicationErrorCode, message: string, peer?: string, cause?: unknown) {
    super(`${code}: ${message}${peer !== undefined ? ` (from ${peer})` : ""}`);
    this.name = "ReplicationError";
    this.code = code;
    this.peer = peer;
    this.cause = cause;
  }
}

export interface Entry { id: string; bytes: Uint8Array }          // a variable's state or delta-group
export interface VarHash { id: string; hash: Uint8Array }         // digest: a variable's state hash
export interface VarParts { id: string; hashes: Uint8Array[] | null } // parts: null = variable absent here

export type Message =
  | { kind: "delta"; session: number; seq: number; entries: Entry[] }
  | { kind: "state"; session: number; entries: Entry[] }
  | { kind: "ack"; session: number; acked: number; seq: number }
  | { kind: "digest"; session: number; seq: number; vars: VarHash[] }
  | { kind: "parts"; session: number; echo: number; seq: number; vars: VarParts[] };

// ---- writing ---------------------------------------------------------------

function header(kind: number, session: number, size: number): ByteWriter {
  const w = new ByteWriter(size + 16);
  w.u8(MAGIC0); w.u8(MAGIC1); w.u8(WIRE_VERSION); w.u8(kind);
  u32(w, session);
  return w;
}

function u32(w: ByteWriter, v: number): void {
  w.ensure(4);
  w.buf[w.pos++] = v & 0xff; w.buf[w.pos++] = (v >>> 8) & 0xff;
  w.buf[w.pos++] = (v >>> 16) & 0xff; w.buf[w.pos++] = (v >>> 24) & 0xff;
}

// Entries must be sorted by id bytes (the caller sorts once, see sortById).
function writeEntries(w: ByteWriter, entries: Entry[]): void {
  w.varint(entries.length);
  for (const e of entries) { w.string(e.id); w.bytes(e.bytes); }
}

export function encodeMessage(m: Message): Uint8Array {
  switch (m.kind) {
    case "delta": {
      const w = header(Kind.Delta, m.session, size(m.entries));
      w.varint(m.seq); writeEntries(w, m.entries); return w.finish();
    }
    case "state": {
      const w = header(Kind.State, m.session, size(m.entries));
      writeEntries(w, m.entries); return w.finish();
    }
    case "ack": {
      const w = header(Kind.Ack, m.session, 16);
      u32(w, m.acked); w.varint(m.seq); return w.finish();
    }
    case "digest": {
      const w = header(Kind.Digest, m.session, m.vars.length * 24);
      w.varint(m.seq); w.varint(m.vars.length);
      for (const v of m.vars) { w.string(v.id); w.raw(v.hash); }
      return w.finish();
    }
    case "parts": {
      let n = 16;
      for (const v of m.vars) n += 16 + (v.hashes ? v.hashes.length * HASH_BYTES : 0);
      const w = header(Kind.Parts, m.session, n);
      u32(w, m.echo); w.varint(m.seq); w.varint(m.vars.length);
      for (const v of m.vars) {
        w.string(v.id);
        if (v.hashes === null) { w.u8(0); continue; }
        w.u8(1); w.varint(v.hashes.length);
        for (const h of v.hashes) w.raw(h);
      }
      return w.finish();
    }
  }
}

const size = (es: Entry[]) => es.reduce((n, e) => n + e.bytes.length + e.id.length + 8, 8);

export function sortById<T extends { id: string }>(xs: T[]): T[] {
  const keyed = xs.map((x) => [utf8(x.id), x] as const);
  keyed.sort((a, b) => compareBytes(a[0], b[0]));
  return keyed.map((k) => k[1]);
}

// ---- reading ---------------------------------------------------------------

const malformed = (msg: string) => new ReplicationError("MALFORMED", msg);

function readU32(r: ByteReader): number {
  const b = r.raw(4);
  return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
}

// A variable id: non-empty UTF-8, strictly after the previous one in byte order.
function readId(r: ByteReader, prev: { b: Uint8Array | null }): string {
  const b = r.bytes();
  if (b.length === 0) throw malformed("empty variable id");
  if (prev.b && compareBytes(prev.b, b) >= 0) throw malformed("variable ids not strictly increasing");
  prev.b = b;
  return fromUtf8(b);
}

// Each item takes at least `min` bytes: a count beyond what is left is refused
// before anything is allocated.
function readCount(r: ByteReader, min: number): number {
  const n = r.varint();
  if (n * min > r.buf.length - r.pos) throw malformed(`count ${n} exceeds the message`);
  return n;
}

function readEntries(r: ByteReader): Entry[] {
  const n = readCount(r, 2);
  const out: Entry[] = [];
  const prev = { b: null as Uint8Array | null };
  for (let i = 0; i < n; i++) {
    const id = readId(r, prev);
    out.push({ id, bytes: r.bytes() });
  }
  return out;
}

// Throws ReplicationError; never returns a partial message.
export function decodeMessage(bytes: Uint8Array): Message {
  if (!(bytes instanceof Uint8Array)) throw malformed("a message is a Uint8Array");
  if (bytes.length < 8) throw malformed(`message of ${bytes.length} bytes is shorter than the header`);
  if (bytes[0] !== MAGIC0 || bytes[1] !== MAGIC1) throw new ReplicationError("BAD_MAGIC", "not a trellis replication message");
  if (bytes[2] !== WIRE_VERSION) throw new ReplicationError("BAD_VERSION", `wire version ${bytes[2]}, expected ${WIRE_VERSION}`);
  const kind = KIND_NAMES[bytes[3]];
  if (!kind) throw new ReplicationError("UNKNOWN_KIND", `message kind ${bytes[3]}`);
  const r = new ByteReader(bytes);
  r.pos = 4;
  let m: Message;
  try {
    const session = readU32(r);
    switch (kind) {
      case "delta": { const seq = r.varint(); m = { kind, session, seq, entries: readEntries(r) }; break; }
      case "state": m = { kind, session, entries: readEntries(r) }; break;
      case "ack": { const acked = readU32(r); m = { kind, session, acked, seq: r.varint() }; break; }
      case "digest": {
        const seq = r.varint();
        const n = readCount(r, 2 + HASH_BYTES);
        const vars: VarHash[] = [];
        const prev = { b: null as Uint8Array | null };
        for (let i = 0; i < n; i++) { const id = readId(r, prev); vars.push({ id, hash: r.raw(HASH_BYTES) }); }
        m = { kind, session, seq, vars };
        break;
      }
      case "parts": {
        const echo = readU32(r), seq = r.varint();
        const n = readCount(r, 3);
        const vars: VarParts[] = [];
        const prev = { b: null as Uint8Array | null };
        for (let i = 0; i < n; i++) {
          const id = readId(r, prev);
          const flag = r.u8();
          if (flag === 0) { vars.push({ id, hashes: null }); continue; }
          if (flag !== 1) throw malformed(`parts flag ${flag}`);
          const k = readCount(r, HASH_BYTES);
          const hashes: Uint8Array[] = [];
          for (let j = 0; j < k; j++) hashes.push(r.raw(HASH_BYTES));
          vars.push({ id, hashes });
        }
        m = { kind, session, echo, seq, vars };
        break;
      }
    }
  } catch (e) {
    if (e instanceof ReplicationError) throw e;
    if (e instanceof TrellisError) throw new ReplicationError("MALFORMED", `${kind} message: ${e.message}`, undefined, e);
    throw e;
  }
  if (!r.done) throw malformed(`${bytes.length - r.pos} bytes after the ${kind} message`);
  return m;
}

// ---- hashing ---------------------------------------------------------------

// 64 bits from two independent 32-bit multiply-xorshift lanes: enough that an
// accidental collision (which would hide a difference) is negligible among
// replicas that trust each other. Not a cryptographic hash.
export function hash64(b: Uint8Array): Uint8Array {
  let h1 = 0x811c9dc5 ^ b.length, h2 = 0x9747b28c ^ Math.imul(b.length, 0x85ebca6b);
  for (let i = 0; i < b.length; i++) {
    const x = b[i];
    h1 = Math.imul(h1 ^ x, 0x01000193);
    h2 = Math.imul(h2 ^ x, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  h1 = fmix(h1 ^ (h2 >>> 7)); h2 = fmix(h2 ^ h1);
  const out = new Uint8Array(8);
  out[0] = h1; out[1] = h1 >>> 8; out[2] = h1 >>> 16; out[3] = h1 >>> 24;
  out[4] = h2; out[5] = h2 >>> 8; out[6] = h2 >>> 16; out[7] = h2 >>> 24;
  return out;
}

function fmix(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// A Map/Set key for a hash.
export const hashKey = (h: Uint8Array): string => String.fromCharCode(...h);

export { utf8 };
