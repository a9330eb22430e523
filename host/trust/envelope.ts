// Signed envelopes (docs/security.md, "Signed envelopes"): what an author's
// delta-group travels in when peers do not trust each other. An envelope names
// its author (a did:key), the author's sequence number, the CIDs of the
// envelopes it causally depends on, one or more (variable, delta) items (one
// signature covers them all: the batch), a capability proof and an Ed25519
// signature. Its bytes are canonical dag-cbor, its address a CIDv1
// (dag-cbor, sha-256) of those bytes, and it is forwarded exactly as signed.
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { publicKeyFromDid } from "../identity/did.js";
import { verifySignature, type PeerIdentity } from "../identity/identity.js";
import { compareBytes, equalBytes, utf8 } from "../crdt/bytes.js";
import { TrustError } from "./errors.js";

export const ENVELOPE_VERSION = 1;
// Signed bytes = this prefix ‖ the canonical bytes without `sig`: a signature
// made for anything else (a handshake transcript, another format) never
// verifies as an envelope's.
export const SIGNING_PREFIX = utf8("trellis-envelope/1\0");
const SHA2_256 = 0x12;

export interface EnvelopeItem { variable: string; delta: Uint8Array }

export interface UnsignedEnvelope {
  author: string;          // the signer's did:key
  seq: number;             // the author's sequence number: 1, 2, 3, … (one chain per key, across variables)
  links: CID[];            // envelopes this one causally depends on (the author's previous one among them)
  items: EnvelopeItem[];   // at least one; sorted by variable, each variable once
  cap?: Uint8Array;        // capability proof (empty: the author claims to own the variables)
}

export interface Envelope extends Required<UnsignedEnvelope> {
  sig: Uint8Array;         // Ed25519 over SIGNING_PREFIX ‖ unsigned bytes
  bytes: Uint8Array;       // the canonical encoding: what is stored and forwarded
  cid: CID;                // CIDv1, dag-cbor, sha-256 of `bytes`
  signed: Uint8Array;      // SIGNING_PREFIX ‖ the canonical bytes without `sig`
}

export interface EnvelopeLimits {
  maxBytes: number;        // whole envelope (default 1 MiB)
  maxItems: number;        // (variable, delta) items (default 256)
  maxLinks: number;        // causal links (default 64)
  maxVariable: number;     // UTF-8 bytes of a variable id (default 256)
  maxCap: number;          // bytes of the capability proof (default 16 KiB)
}

export const DEFAULT_LIMITS: Readonly<EnvelopeLimits> = Object.freeze({
  maxBytes: 1 << 20, maxItems: 256, maxLinks: 64, maxVariable: 256, maxCap: 16 << 10,
});

const limitsOf = (l?: Partial<EnvelopeLimits>): EnvelopeLimits => ({ ...DEFAULT_LIMITS, ...l });

// Envelopes made by decodeEnvelope or signEnvelope (frozen), with the
// limits they were checked against: admission need not decode them again.
const checked = new WeakMap<Envelope, EnvelopeLimits>();
/** @internal */ export function _checkedWithin(e: Envelope, l?: Partial<EnvelopeLimits>): boolean {
  const c = checked.get(e);
  if (!c) return false;
  const w = limitsOf(l);
  return c.maxBytes <= w.maxBytes && c.maxItems <= w.maxItems && c.maxLinks <= w.maxLinks && c.maxVariable <= w.maxVariable && c.maxCap <= w.maxCap;
}
function sealed(e: Envelope, l: EnvelopeLimits): Envelope {
  Object.freeze(e.links); Object.freeze(e.items); for (const it of e.items) Object.freeze(it);
  checked.set(Object.freeze(e), l);
  return e;
}
const EMPTY = new Uint8Array(0);

// The checks shared by signing and decoding: what a well-formed envelope is.
function checkFields(u: UnsignedEnvelope, l: EnvelopeLimits): void {
  if (typeof u.author !== "string") throw new TrustError("MALFORMED", "author is not a string");
  try { publicKeyFromDid(u.author); } catch (e) { throw new TrustError("MALFORMED", `author: ${(e as Error).message}`, e); }
  if (typeof u.seq !== "number" || !Number.isSafeInteger(u.seq) || u.seq < 1) throw new TrustError("MALFORMED", `seq is an integer from 1 to 2^53-1, got ${String(u.seq).slice(0, 40)}`);
  if (!Array.isArray(u.links)) throw new TrustError("MALFORMED", "links is not a list");
  if (u.links.length > l.maxLinks) throw new TrustError("TOO_LARGE", `${u.links.length} links, at most ${l.maxLinks}`);
  let prev: Uint8Array | null = null;
  for (const c of u.links) {
    const cid = CID.asCID(c);
    if (!cid || cid.version !== 1 || cid.code !== dagCbor.code || cid.multihash.code !== SHA2_256 || cid.multihash.size !== 32) {
      throw new TrustError("MALFORMED", "a link is not a CIDv1 dag-cbor sha-256 envelope address");
    }
    // Sorted and unique: one canonical form for a set of links.
    if (prev && compareBytes(prev, cid.bytes) >= 0) throw new TrustError("MALFORMED", "links are not sorted by their bytes, or repeat");
    prev = cid.bytes;
  }
  if (!Array.isArray(u.items) || u.items.length === 0) throw new TrustError("MALFORMED", "items is not a non-empty list");
  if (u.items.length > l.maxItems) throw new TrustError("TOO_LARGE", `${u.items.length} items, at most ${l.maxItems}`);
  let prevVar: Uint8Array | null = null;
  for (const it of u.items) {
    if (typeof it?.variable !== "string" || it.variable.length === 0) throw new TrustError("MALFORMED", "an item's variable is not a non-empty string");
    if (!(it.delta instanceof Uint8Array)) throw new TrustError("MALFORMED", "an item's delta is not bytes");
    const v = utf8(it.variable);
    if (v.length > l.maxVariable) throw new TrustError("TOO_LARGE", `variable id of ${v.length} bytes, at most ${l.maxVariable}`);
    if (prevVar && compareBytes(prevVar, v) >= 0) throw new TrustError("MALFORMED", "items are not sorted by variable, or a variable repeats");
    prevVar = v;
  }
  const cap = u.cap ?? EMPTY;
  if (!(cap instanceof Uint8Array)) throw new TrustError("MALFORMED", "cap is not bytes");
  if (cap.length > l.maxCap) throw new TrustError("TOO_LARGE", `capability proof of ${cap.length} bytes, at most ${l.maxCap}`);
}

// The dag-cbor data model of an envelope. Items are [variable, delta] pairs;
// dag-cbor sorts map keys (shorter first, then bytewise), so the bytes are
// canonical whatever order the object was built in.
function node(u: UnsignedEnvelope, sig?: Uint8Array): Record<string, unknown> {
  const n: Record<string, unknown> = {
    v: ENVELOPE_VERSION, author: u.author, seq: u.seq, links: u.links.map((c) => CID.asCID(c)!),
    items: u.items.map((it) => [it.variable, it.delta]), cap: u.cap ?? EMPTY,
  };
  if (sig) n.sig = sig;
  return n;
}

function prefixed(unsigned: Uint8Array): Uint8Array {
  const out = new Uint8Array(SIGNING_PREFIX.length + unsigned.length);
  out.set(SIGNING_PREFIX); out.set(unsigned, SIGNING_PREFIX.length);
  return out;
}

export async function cidOf(bytes: Uint8Array): Promise<CID> {
  return CID.createV1(dagCbor.code, await sha256.digest(bytes));
}

// Links in canonical order (sorted by bytes, duplicates dropped): a helper for authors.
export function sortLinks(links: Iterable<CID>): CID[] {
  const by = new Map<string, CID>();
  for (const c of links) by.set(c.toString(), c);
  return [...by.values()].sort((a, b) => compareBytes(a.bytes, b.bytes));
}

// Signs an envelope as `identity` (its did must be the author: a key signs only for itself).
export async function signEnvelope(identity: PeerIdentity, u: UnsignedEnvelope, limits?: Partial<EnvelopeLimits>): Promise<Envelope> {
  const l = limitsOf(limits);
  checkFields(u, l);
  if (identity.did !== u.author) throw new TrustError("MALFORMED", `author ${u.author} is not the signer ${identity.did}`);
  const signed = prefixed(dagCbor.encode(node(u)));
  const sig = await identity.sign(signed);
  const bytes = dagCbor.encode(node(u, sig));
  if (bytes.length > l.maxBytes) throw new TrustError("TOO_LARGE", `envelope of ${bytes.length} bytes, at most ${l.maxBytes}`);
  return sealed({
    author: u.author, seq: u.seq, links: u.links.map((c) => CID.asCID(c)!), items: u.items.map((i) => ({ ...i })),
    cap: u.cap ?? EMPTY, sig, bytes, cid: await cidOf(bytes), signed,
  }, l);
}

const KEYS = ["author", "cap", "items", "links", "seq", "sig", "v"];

// Decodes hostile bytes: every failure is a TrustError, nothing is trusted
// before the checks, and only the canonical encoding is accepted (so one
// envelope has one CID). The signature is checked by verifyEnvelope / admit.
export async function decodeEnvelope(bytes: Uint8Array, limits?: Partial<EnvelopeLimits>): Promise<Envelope> {
  const l = limitsOf(limits);
  if (!(bytes instanceof Uint8Array)) throw new TrustError("MALFORMED", "an envelope is bytes");
  if (bytes.length > l.maxBytes) throw new TrustError("TOO_LARGE", `envelope of ${bytes.length} bytes, at most ${l.maxBytes}`);
  let n: unknown;
  try { n = dagCbor.decode(bytes); } catch (e) {
    throw new TrustError("MALFORMED", `not dag-cbor: ${(e as Error)?.message ?? String(e)}`.slice(0, 200), e);
  }
  if (typeof n !== "object" || n === null || Array.isArray(n) || n instanceof Uint8Array || CID.asCID(n)) throw new TrustError("MALFORMED", "an envelope is a map");
  const m = n as Record<string, unknown>;
  if (m.v !== ENVELOPE_VERSION) {
    if (typeof m.v === "number") throw new TrustError("BAD_VERSION", `envelope version ${m.v}, this reads ${ENVELOPE_VERSION}`);
    throw new TrustError("MALFORMED", "no envelope version");
  }
  if (!("sig" in m) || (m.sig instanceof Uint8Array && m.sig.length === 0)) throw new TrustError("UNSIGNED", "the envelope carries no signature");
  for (const k of Object.keys(m)) if (!KEYS.includes(k)) throw new TrustError("MALFORMED", `unknown field ${JSON.stringify(k.slice(0, 40))}`);
  for (const k of KEYS) if (!(k in m)) throw new TrustError("MALFORMED", `missing field ${k}`);
  if (!(m.sig instanceof Uint8Array) || m.sig.length !== 64) throw new TrustError("MALFORMED", "sig is not 64 bytes");
  if (!Array.isArray(m.items)) throw new TrustError("MALFORMED", "items is not a list");
  const items: EnvelopeItem[] = (m.items as unknown[]).map((it) => {
    if (!Array.isArray(it) || it.length !== 2) throw new TrustError("MALFORMED", "an item is not a [variable, delta] pair");
    return { variable: it[0] as string, delta: it[1] as Uint8Array };
  });
  const u: UnsignedEnvelope = { author: m.author as string, seq: m.seq as number, links: m.links as CID[], items, cap: m.cap as Uint8Array };
  checkFields(u, l);
  // dag-cbor's strict decoder already refuses non-minimal integers, indefinite
  // lengths and repeated keys; re-encoding also catches unsorted map keys.
  if (!equalBytes(dagCbor.encode(node(u, m.sig)), bytes)) throw new TrustError("NON_CANONICAL", "the bytes are not the canonical encoding of the envelope");
  return sealed({
    author: u.author, seq: u.seq, links: u.links, items, cap: u.cap!, sig: m.sig,
    bytes, cid: await cidOf(bytes), signed: prefixed(dagCbor.encode(node(u))),
  }, l);
}

// Whether the envelope's signature is its author's. Never throws.
export function verifyEnvelope(e: Envelope, verify: (did: string, data: Uint8Array, sig: Uint8Array) => Promise<boolean> = verifySignature): Promise<boolean> {
  return verify(e.author, e.signed, e.sig).catch(() => false);
}

export { CID };
