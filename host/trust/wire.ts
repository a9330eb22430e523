// The trustless replication wire format (docs/security.md, "Trustless
// replication"): two message kinds beside the trusted protocol's, with their
// own magic ("TE"), so a node in one mode refuses the other's messages as
// BAD_MAGIC instead of misreading them.
//
//   "T" "E" version:u8 kind:u8 body
//   kind 1 envelopes: varint n, n × (varint len, envelope bytes)   in causal order
//   kind 2 frontier:  varint n, n × (varint len, author did, varint seq, 8-byte head)
//   kind 3 proof:     varint len, the sender's capability proof (encodeProof bytes; read gating)
//   kind 4 revocations: varint n (≤ 256), n × (varint len, revocation record)
//   kind 5 reconcile: flags:u8 (bit 0: opens a session; no other bit), varint session (< 2^32),
//                     varint len (≤ 1 MiB), one range-based reconciliation message
//                     (host/replication/reconcile-wire.ts) over the envelope CIDs
//
// A frontier is what the sender has admitted: per author, its last sequence
// number and the last 8 bytes of that envelope's CID (so a fork shows).
import { ByteReader, ByteWriter, compareBytes, fromUtf8, utf8 } from "../crdt/bytes.js";
import { TrellisError } from "../wasm/errors.js";
import { TrustError } from "./errors.js";

export const TMAGIC0 = 0x54, TMAGIC1 = 0x45;
export const TWIRE_VERSION = 1;
export const HEAD_BYTES = 8;
export const MAX_ENVELOPES_PER_MESSAGE = 4096;

export interface FrontierEntry { author: string; seq: number; head: Uint8Array }
export type TrustMessage =
  | { kind: "envelopes"; envelopes: Uint8Array[] }
  | { kind: "frontier"; authors: FrontierEntry[] }
  // The sender's capability proof (encodeProof bytes), for read gating (gate.ts).
  | { kind: "proof"; proof: Uint8Array }
  // Revocation records (revocation.ts), relayed apart from envelopes: every
  // node must learn them, even one a read gate withholds an author's chain from.
  | { kind: "revocations"; records: Uint8Array[] }
  // One message of a range-based reconciliation session (sync.ts, catch-up):
  // `open` starts the session numbered `session` (chosen by its initiator);
  // the later messages of either side carry the same number.
  | { kind: "reconcile"; open: boolean; session: number; body: Uint8Array };

// A reconcile message's body, at most (the reconciler's own message limit).
export const MAX_RECONCILE_BODY = 1 << 20;

export const MAX_REVOCATIONS_PER_MESSAGE = 256;

// A proof message's bytes, at most (a proof's own limit is 16 KiB).
export const MAX_PROOF_MESSAGE = 64 << 10;

function header(kind: number, size: number): ByteWriter {
  const w = new ByteWriter(size + 8);
  w.u8(TMAGIC0); w.u8(TMAGIC1); w.u8(TWIRE_VERSION); w.u8(kind);
  return w;
}

export function encodeTrustMessage(m: TrustMessage): Uint8Array {
  if (m.kind === "proof") {
    const w = header(3, m.proof.length + 8);
    w.bytes(m.proof);
    return w.finish();
  }
  if (m.kind === "revocations") {
    const w = header(4, m.records.reduce((n, e) => n + e.length + 4, 4));
    w.varint(m.records.length);
    for (const e of m.records) w.bytes(e);
    return w.finish();
  }
  if (m.kind === "reconcile") {
    if (!Number.isInteger(m.session) || m.session < 0 || m.session > 0xffffffff) throw new RangeError("a reconcile session number is a u32");
    const w = header(5, m.body.length + 16);
    w.u8(m.open ? 1 : 0); w.varint(m.session); w.bytes(m.body);
    return w.finish();
  }
  if (m.kind === "envelopes") {
    const w = header(1, m.envelopes.reduce((n, e) => n + e.length + 4, 4));
    w.varint(m.envelopes.length);
    for (const e of m.envelopes) w.bytes(e);
    return w.finish();
  }
  const w = header(2, m.authors.length * 80);
  // Sorted by author bytes: one canonical message for one frontier.
  const sorted = m.authors.map((a) => [utf8(a.author), a] as const).sort((x, y) => compareBytes(x[0], y[0]));
  w.varint(sorted.length);
  for (const [, a] of sorted) { w.string(a.author); w.varint(a.seq); w.raw(a.head); }
  return w.finish();
}

const bad = (msg: string) => new TrustError("MALFORMED", msg);

// Hostile bytes: every failure is a TrustError MALFORMED, never a partial message.
export function decodeTrustMessage(bytes: Uint8Array): TrustMessage {
  if (!(bytes instanceof Uint8Array) || bytes.length < 5) throw bad("a trustless message is at least 5 bytes");
  if (bytes[0] !== TMAGIC0 || bytes[1] !== TMAGIC1) throw bad("not a trustless replication message (magic)");
  if (bytes[2] !== TWIRE_VERSION) throw new TrustError("BAD_VERSION", `trustless wire version ${bytes[2]}, this reads ${TWIRE_VERSION}`);
  const r = new ByteReader(bytes);
  r.pos = 4;
  let m: TrustMessage;
  try {
    if (bytes[3] === 3) {
      if (bytes.length > MAX_PROOF_MESSAGE) throw new TrustError("TOO_LARGE", `a proof message of ${bytes.length} bytes, at most ${MAX_PROOF_MESSAGE}`);
      m = { kind: "proof", proof: r.bytes() };
      if (!r.done) throw bad(`${bytes.length - r.pos} bytes after the message`);
      return m;
    }
    if (bytes[3] === 5) {
      // The size first: nothing is copied or parsed from a body over the limit.
      if (bytes.length > MAX_RECONCILE_BODY + 32) throw new TrustError("TOO_LARGE", `a reconcile message of ${bytes.length} bytes, at most ${MAX_RECONCILE_BODY + 32}`);
      const flags = r.u8();
      if (flags > 1) throw bad(`reconcile flags ${flags}`);
      const session = r.varint();
      if (session > 0xffffffff) throw bad("a reconcile session number beyond 2^32");
      m = { kind: "reconcile", open: flags === 1, session, body: r.bytes() };
      if (m.body.length > MAX_RECONCILE_BODY) throw new TrustError("TOO_LARGE", `a reconcile body of ${m.body.length} bytes, at most ${MAX_RECONCILE_BODY}`);
      if (!r.done) throw bad(`${bytes.length - r.pos} bytes after the message`);
      return m;
    }
    const n = r.varint();
    if (n * 2 > r.buf.length - r.pos) throw bad(`count ${n} exceeds the message`);
    if (bytes[3] === 1) {
      if (n > MAX_ENVELOPES_PER_MESSAGE) throw new TrustError("TOO_LARGE", `${n} envelopes in one message, at most ${MAX_ENVELOPES_PER_MESSAGE}`);
      const envelopes: Uint8Array[] = [];
      for (let i = 0; i < n; i++) envelopes.push(r.bytes());
      m = { kind: "envelopes", envelopes };
    } else if (bytes[3] === 4) {
      if (n > MAX_REVOCATIONS_PER_MESSAGE) throw new TrustError("TOO_LARGE", `${n} revocation records in one message, at most ${MAX_REVOCATIONS_PER_MESSAGE}`);
      const records: Uint8Array[] = [];
      for (let i = 0; i < n; i++) records.push(r.bytes());
      m = { kind: "revocations", records };
    } else if (bytes[3] === 2) {
      const authors: FrontierEntry[] = [];
      let prev: Uint8Array | null = null;
      for (let i = 0; i < n; i++) {
        const a = r.bytes();
        if (prev && compareBytes(prev, a) >= 0) throw bad("frontier authors not strictly increasing");
        prev = a;
        const seq = r.varint();
        if (!Number.isSafeInteger(seq)) throw bad("frontier sequence beyond 2^53");
        authors.push({ author: fromUtf8(a), seq, head: r.raw(HEAD_BYTES) });
      }
      m = { kind: "frontier", authors };
    } else throw bad(`unknown trustless message kind ${bytes[3]}`);
  } catch (e) {
    if (e instanceof TrustError) throw e;
    if (e instanceof TrellisError || e instanceof RangeError) throw bad(`truncated or malformed: ${(e as Error).message}`);
    throw e;
  }
  if (!r.done) throw bad(`${bytes.length - r.pos} bytes after the message`);
  return m;
}
