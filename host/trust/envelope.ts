// Signed envelopes (docs/security.md, "Signed envelopes"), version 2: what an
// author's delta-groups travel in when peers do not trust each other. The
// signed header names the author (a did:key), its sequence number, the CIDs
// of the envelopes it causally depends on, per item (variable, sha-256 of a
// salt and the delta, delta length) (one signature covers them all: the
// batch), and a capability proof. The deltas travel beside the header, each
// checked against its digest, so a server can leave out the deltas a reader
// may not read (redaction) and the reader still verifies and chains the
// header. The header is canonical dag-cbor, and the envelope's address a
// CIDv1 (dag-cbor, sha-256) of the header bytes. A squash envelope (`from`,
// `covers`) stands for a contiguous run of its author's envelopes.
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { publicKeyFromDid } from "../identity/did.js";
import type { PeerIdentity } from "../identity/identity.js";
import { verifyRaw } from "../identity/ed25519.js";
import { compareBytes, equalBytes, utf8 } from "../crdt/bytes.js";
import { TrustError } from "./errors.js";
import { ParsedSlot, encodeCarrier, parseCarrier, parseHeader, unsignedOf, withSig } from "./codec.js";

export const ENVELOPE_VERSION = 2;
// Signed bytes = this prefix ‖ the canonical header without `sig`: a signature
// made for anything else (a handshake transcript, another format, a version 1
// envelope) never verifies as an envelope's.
export const SIGNING_PREFIX = utf8("trellis-envelope/2\0");
const SHA2_256 = 0x12;
export const SALT_BYTES = 16;

// A delta-group for one variable. `salt` (16 bytes) is made at random when
// signing if absent; the header commits to sha-256(salt ‖ delta), so a peer
// served the header without the delta cannot confirm a guess of it.
export interface EnvelopeItem { variable: string; delta: Uint8Array; salt?: Uint8Array }
// What the signed header says of one item.
export interface ItemHeader { variable: string; digest: Uint8Array; length: number }

export interface UnsignedEnvelope {
  author: string;          // the signer's did:key
  seq: number;             // the author's sequence number: 1, 2, 3, … (one chain per key, across variables)
  from?: number;           // a squash envelope: it stands for the author's envelopes from..seq (default seq: one envelope)
  covers?: CID[];          // a squash: the CIDs of the envelopes from..seq, in sequence order (links to them resolve to it)
  links: CID[];            // envelopes this one causally depends on (the author's previous one among them)
  items: EnvelopeItem[];   // at least one; sorted by variable, each variable once
  cap?: Uint8Array;        // capability proof (empty: the author claims to own the variables)
}

export interface Envelope {
  author: string;
  seq: number;
  from: number;            // = seq, except in a squash
  covers: CID[];           // empty, except in a squash
  links: CID[];
  cap: Uint8Array;
  header: ItemHeader[];    // every item the author signed, in order
  items: EnvelopeItem[];   // the items whose deltas this copy carries (checked against their digests), in order
  redacted: string[];      // the variables whose deltas this copy leaves out
  sig: Uint8Array;         // Ed25519 over SIGNING_PREFIX ‖ the unsigned header
  head: Uint8Array;        // the canonical header (signed fields and sig): what the CID names
  bytes: Uint8Array;       // header and carried deltas: what is stored and forwarded
  cid: CID;                // CIDv1, dag-cbor, sha-256 of `head`
  signed: Uint8Array;      // SIGNING_PREFIX ‖ the canonical header without `sig`
}

export interface EnvelopeLimits {
  maxBytes: number;        // whole envelope, header and deltas (default 1 MiB)
  maxItems: number;        // (variable, delta) items (default 256)
  maxLinks: number;        // causal links (default 64)
  maxVariable: number;     // UTF-8 bytes of a variable id (default 256)
  maxCap: number;          // bytes of the capability proof (default 16 KiB)
  maxCovers: number;       // envelopes one squash stands for (default 4,096)
}

export const DEFAULT_LIMITS: Readonly<EnvelopeLimits> = Object.freeze({
  maxBytes: 1 << 20, maxItems: 256, maxLinks: 64, maxVariable: 256, maxCap: 16 << 10, maxCovers: 4096,
});

const limitsOf = (l?: Partial<EnvelopeLimits>): EnvelopeLimits => ({ ...DEFAULT_LIMITS, ...l });

// Envelopes made by decodeEnvelope, signEnvelope or redactEnvelope (frozen),
// with the limits they were checked against: admission need not decode them again.
const checked = new WeakMap<Envelope, EnvelopeLimits>();
/** @internal */ export function _checkedWithin(e: Envelope, l?: Partial<EnvelopeLimits>): boolean {
  const c = checked.get(e);
  if (!c) return false;
  const w = limitsOf(l);
  return c.maxBytes <= w.maxBytes && c.maxItems <= w.maxItems && c.maxLinks <= w.maxLinks && c.maxVariable <= w.maxVariable && c.maxCap <= w.maxCap && c.maxCovers <= w.maxCovers;
}
function sealed(e: Envelope, l: EnvelopeLimits): Envelope {
  Object.freeze(e.links); Object.freeze(e.covers); Object.freeze(e.header); Object.freeze(e.items); Object.freeze(e.redacted);
  for (const it of e.items) Object.freeze(it);
  for (const h of e.header) Object.freeze(h);
  checked.set(Object.freeze(e), l);
  return e;
}
const EMPTY = new Uint8Array(0);

function checkCid(c: unknown, what: string): CID {
  const cid = CID.asCID(c);
  if (!cid || cid.version !== 1 || cid.code !== dagCbor.code || cid.multihash.code !== SHA2_256 || cid.multihash.size !== 32) {
    throw new TrustError("MALFORMED", `${what} is not a CIDv1 dag-cbor sha-256 envelope address`);
  }
  return cid;
}

// did:keys that decoded to an Ed25519 key (bounded: cleared when full).
const goodDids = new Set<string>();

// The checks shared by signing and decoding: what a well-formed header is.
function checkHeader(u: Omit<UnsignedEnvelope, "items">, items: ItemHeader[], l: EnvelopeLimits): void {
  if (typeof u.author !== "string") throw new TrustError("MALFORMED", "author is not a string");
  if (!goodDids.has(u.author)) {
    try { publicKeyFromDid(u.author); } catch (e) { throw new TrustError("MALFORMED", `author: ${(e as Error).message}`, e); }
    // Each receiver sees a few authors many times: their did:keys are decoded once.
    if (goodDids.size >= 1024) goodDids.clear();
    goodDids.add(u.author);
  }
  if (typeof u.seq !== "number" || !Number.isSafeInteger(u.seq) || u.seq < 1) throw new TrustError("MALFORMED", `seq is an integer from 1 to 2^53-1, got ${String(u.seq).slice(0, 40)}`);
  if (u.from !== undefined) {
    if (typeof u.from !== "number" || !Number.isSafeInteger(u.from) || u.from < 1 || u.from >= u.seq) throw new TrustError("MALFORMED", `a squash's from is an integer from 1 to seq - 1, got ${String(u.from).slice(0, 40)}`);
    if (u.seq - u.from + 1 > l.maxCovers) throw new TrustError("TOO_LARGE", `a squash of ${u.seq - u.from + 1} envelopes, at most ${l.maxCovers}`);
    if (!Array.isArray(u.covers) || u.covers.length !== u.seq - u.from + 1) throw new TrustError("MALFORMED", "a squash covers one CID per envelope from..seq");
    u.covers.forEach((c) => checkCid(c, "a covered envelope"));
  } else if (u.covers !== undefined && !(Array.isArray(u.covers) && u.covers.length === 0)) throw new TrustError("MALFORMED", "covers without from");
  if (!Array.isArray(u.links)) throw new TrustError("MALFORMED", "links is not a list");
  if (u.links.length > l.maxLinks) throw new TrustError("TOO_LARGE", `${u.links.length} links, at most ${l.maxLinks}`);
  let prev: Uint8Array | null = null;
  for (const c of u.links) {
    const cid = checkCid(c, "a link");
    // Sorted and unique: one canonical form for a set of links.
    if (prev && compareBytes(prev, cid.bytes) >= 0) throw new TrustError("MALFORMED", "links are not sorted by their bytes, or repeat");
    prev = cid.bytes;
  }
  if (!Array.isArray(items) || items.length === 0) throw new TrustError("MALFORMED", "items is not a non-empty list");
  if (items.length > l.maxItems) throw new TrustError("TOO_LARGE", `${items.length} items, at most ${l.maxItems}`);
  let prevVar: Uint8Array | null = null;
  for (const it of items) {
    if (typeof it?.variable !== "string" || it.variable.length === 0) throw new TrustError("MALFORMED", "an item's variable is not a non-empty string");
    if (!(it.digest instanceof Uint8Array) || it.digest.length !== 32) throw new TrustError("MALFORMED", "an item's digest is not 32 bytes");
    if (typeof it.length !== "number" || !Number.isSafeInteger(it.length) || it.length < 0) throw new TrustError("MALFORMED", "an item's length is not a size");
    if (it.length > l.maxBytes) throw new TrustError("TOO_LARGE", `a delta of ${it.length} bytes, at most ${l.maxBytes}`);
    const v = utf8(it.variable);
    if (v.length > l.maxVariable) throw new TrustError("TOO_LARGE", `variable id of ${v.length} bytes, at most ${l.maxVariable}`);
    if (prevVar && compareBytes(prevVar, v) >= 0) throw new TrustError("MALFORMED", "items are not sorted by variable, or a variable repeats");
    prevVar = v;
  }
  const cap = u.cap ?? EMPTY;
  if (!(cap instanceof Uint8Array)) throw new TrustError("MALFORMED", "cap is not bytes");
  if (cap.length > l.maxCap) throw new TrustError("TOO_LARGE", `capability proof of ${cap.length} bytes, at most ${l.maxCap}`);
}

// The dag-cbor data model of a header. Items are [variable, digest, length];
// dag-cbor sorts map keys (shorter first, then bytewise), so the bytes are
// canonical whatever order the object was built in. `from` and `covers` are
// present only in a squash.
function node(u: Omit<UnsignedEnvelope, "items">, items: ItemHeader[], sig?: Uint8Array): Record<string, unknown> {
  const n: Record<string, unknown> = {
    v: ENVELOPE_VERSION, author: u.author, seq: u.seq, links: u.links.map((c) => CID.asCID(c)!),
    items: items.map((it) => [it.variable, it.digest, it.length]), cap: u.cap ?? EMPTY,
  };
  if (u.from !== undefined) { n.from = u.from; n.covers = u.covers!.map((c) => CID.asCID(c)!); }
  if (sig) n.sig = sig;
  return n;
}

function prefixed(unsigned: Uint8Array): Uint8Array {
  const out = new Uint8Array(SIGNING_PREFIX.length + unsigned.length);
  out.set(SIGNING_PREFIX); out.set(unsigned, SIGNING_PREFIX.length);
  return out;
}

// sha-256 of `b`: at once where the platform hashes synchronously (Node),
// else a promise (WebCrypto in browsers). Saves a turn per hash on Node.
function digestNow(b: Uint8Array): Uint8Array | Promise<Uint8Array> {
  const d = sha256.digest(b);
  return d instanceof Promise ? d.then((x) => x.digest) : d.digest;
}
function saltedDigest(salt: Uint8Array, delta: Uint8Array): Uint8Array | Promise<Uint8Array> {
  const b = new Uint8Array(salt.length + delta.length);
  b.set(salt); b.set(delta, salt.length);
  return digestNow(b);
}

// sha-256(salt ‖ delta): what the header commits to for one item.
export async function itemDigest(salt: Uint8Array, delta: Uint8Array): Promise<Uint8Array> {
  return saltedDigest(salt, delta);
}

// The bytes that travel: dag-cbor [header, [[salt, delta] or null per header item]].
function carrier(head: Uint8Array, header: ItemHeader[], items: EnvelopeItem[]): Uint8Array {
  const by = new Map(items.map((it) => [it.variable, it]));
  return encodeCarrier(head, header.map((h) => { const it = by.get(h.variable); return it ? { salt: it.salt!, delta: it.delta } : null; }));
}

function cidNow(bytes: Uint8Array): CID | Promise<CID> {
  const d = sha256.digest(bytes);
  return d instanceof Promise ? d.then((x) => CID.createV1(dagCbor.code, x)) : CID.createV1(dagCbor.code, d);
}

export async function cidOf(bytes: Uint8Array): Promise<CID> {
  return cidNow(bytes);
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
  if (!Array.isArray(u.items)) throw new TrustError("MALFORMED", "items is not a non-empty list");
  const items: EnvelopeItem[] = [];
  for (const it of u.items) {
    if (!(it?.delta instanceof Uint8Array)) throw new TrustError("MALFORMED", "an item's delta is not bytes");
    if (it.salt !== undefined && (!(it.salt instanceof Uint8Array) || it.salt.length !== SALT_BYTES)) throw new TrustError("MALFORMED", `an item's salt is ${SALT_BYTES} bytes`);
    items.push({ variable: it.variable, delta: it.delta, salt: it.salt ?? globalThis.crypto.getRandomValues(new Uint8Array(SALT_BYTES)) });
  }
  const header: ItemHeader[] = [];
  for (const it of items) header.push({ variable: it.variable, digest: await saltedDigest(it.salt!, it.delta), length: it.delta.length });
  const f = { author: u.author, seq: u.seq, from: u.from, covers: u.from !== undefined ? u.covers : undefined, links: u.links, cap: u.cap };
  checkHeader(f, header, l);
  if (identity.did !== u.author) throw new TrustError("MALFORMED", `author ${u.author} is not the signer ${identity.did}`);
  const unsigned = dagCbor.encode(node(f, header));
  const signed = prefixed(unsigned);
  const sig = await identity.sign(signed);
  // The signed header is the unsigned one with the `sig` entry spliced in
  // (one encoding, not two); a signer giving another size than Ed25519's
  // gets the reference encoding (which no receiver accepts: sig is 64 bytes).
  const head = sig instanceof Uint8Array && sig.length === 64 ? withSig(unsigned, sig) : dagCbor.encode(node(f, header, sig));
  const bytes = carrier(head, header, items);
  if (bytes.length > l.maxBytes) throw new TrustError("TOO_LARGE", `envelope of ${bytes.length} bytes, at most ${l.maxBytes}`);
  return sealed({
    author: u.author, seq: u.seq, from: u.from ?? u.seq, covers: (u.from !== undefined ? u.covers! : []).map((c) => CID.asCID(c)!),
    links: u.links.map((c) => CID.asCID(c)!), cap: u.cap ?? EMPTY, header, items, redacted: [],
    sig, head, bytes, cid: await cidNow(head), signed,
  }, l);
}

// A copy of `e` that carries only the deltas of the variables `keep` accepts
// (read gating: a peer gets the whole signed header, so the author's chain
// stays whole, and only the deltas it may read). No signature is made: the
// header is unchanged, and so is the CID. Returns `e` itself if nothing is left out.
export function redactEnvelope(e: Envelope, keep: (variable: string) => boolean): Envelope {
  const items = e.items.filter((it) => keep(it.variable));
  if (items.length === e.items.length) return e;
  const redacted = e.header.filter((h) => !items.some((it) => it.variable === h.variable)).map((h) => h.variable);
  const l = checked.get(e) ?? limitsOf();
  return sealed({ ...e, items, redacted, bytes: carrier(e.head, e.header, items) }, l);
}

const KEYS = new Set(["author", "cap", "items", "links", "seq", "sig", "v", "from", "covers"]);
const REQUIRED = ["author", "cap", "items", "links", "seq", "sig", "v"];

function notDagCbor(e: unknown): TrustError {
  return new TrustError("MALFORMED", `not dag-cbor: ${(e as Error)?.message ?? String(e)}`.slice(0, 200), e);
}

// The header bytes and carried deltas of an envelope's bytes (shape only):
// the fast reader if the bytes are canonical (codec.ts), else the reference.
function split(bytes: Uint8Array): { head: Uint8Array; deltas: unknown[] } {
  const p = parseCarrier(bytes);
  return p ? { head: p.head, deltas: p.slots } : splitCarrier(bytes);
}
function splitCarrier(bytes: Uint8Array): { head: Uint8Array; deltas: unknown[] } {
  let n: unknown;
  try { n = dagCbor.decode(bytes); } catch (e) { throw notDagCbor(e); }
  if (!Array.isArray(n) || n.length !== 2 || !(n[0] instanceof Uint8Array) || !Array.isArray(n[1])) {
    // A bare version 1 envelope was a map with `v`: name the version.
    const v = (n as Record<string, unknown> | null)?.v;
    if (n && typeof n === "object" && !Array.isArray(n) && typeof v === "number" && v !== ENVELOPE_VERSION) throw new TrustError("BAD_VERSION", `envelope version ${v}, this reads ${ENVELOPE_VERSION}`);
    throw new TrustError("MALFORMED", "an envelope is [header, deltas]");
  }
  return { head: n[0], deltas: n[1] };
}

// The CID of an envelope's bytes (its header's), without checking the rest:
// enough to find one already admitted.
export async function envelopeCid(bytes: Uint8Array): Promise<CID> {
  if (!(bytes instanceof Uint8Array)) throw new TrustError("MALFORMED", "an envelope is bytes");
  return cidNow(split(bytes).head);
}

// A received envelope, split and hashed once: its CID if `held` says it is
// held already (nothing more is decoded), else the envelope, decoded as by
// decodeEnvelope (throwing its TrustErrors).
/** @internal */ export async function _decodeUnlessHeld(bytes: Uint8Array, held: (cid: CID) => boolean, limits?: Partial<EnvelopeLimits>): Promise<Envelope | CID> {
  if (!(bytes instanceof Uint8Array)) throw new TrustError("MALFORMED", "an envelope is bytes");
  const s = split(bytes);
  const cid = await cidNow(s.head);
  if (held(cid)) return cid;
  return decodeSplit(bytes, s, cid, limits);
}

// A carried slot: [salt, delta] from the reference decoder, or the fast reader's pair.
function slotOf(d: unknown): { salt: Uint8Array; delta: Uint8Array } | undefined {
  if (d instanceof ParsedSlot) return d;
  return Array.isArray(d) && d.length === 2 && d[0] instanceof Uint8Array && d[1] instanceof Uint8Array ? { salt: d[0], delta: d[1] } : undefined;
}

// Decodes hostile bytes: every failure is a TrustError, nothing is trusted
// before the checks, and only the canonical header is accepted (so one
// envelope has one CID). Each carried delta must match its digest and length
// in the header (BAD_DIGEST). The signature is checked by verifyEnvelope / admit.
export async function decodeEnvelope(bytes: Uint8Array, limits?: Partial<EnvelopeLimits>): Promise<Envelope> {
  return decodeSplit(bytes, null, null, limits);
}

async function decodeSplit(bytes: Uint8Array, parts: { head: Uint8Array; deltas: unknown[] } | null, cid: CID | null, limits?: Partial<EnvelopeLimits>): Promise<Envelope> {
  const l = limitsOf(limits);
  if (!(bytes instanceof Uint8Array)) throw new TrustError("MALFORMED", "an envelope is bytes");
  if (bytes.length > l.maxBytes) throw new TrustError("TOO_LARGE", `envelope of ${bytes.length} bytes, at most ${l.maxBytes}`);
  const { head, deltas } = parts ?? split(bytes);
  let f: Omit<UnsignedEnvelope, "items">, header: ItemHeader[], sig: Uint8Array, signed: Uint8Array;
  const p = parseHeader(head);
  if (p) {
    // The canonical bytes, read in one pass (codec.ts): no re-encoding to
    // check them, and the signed bytes are the header without its `sig` entry.
    f = { author: p.author, seq: p.seq, from: p.from, covers: p.covers, links: p.links, cap: p.cap };
    header = p.items;
    checkHeader(f, header, l);
    sig = p.sig;
    signed = unsignedOf(head, p, SIGNING_PREFIX);
  } else {
    // The reference path: anything the fast reader does not take is decoded
    // generically, checked, and refused with its reason unless re-encoding
    // it gives its bytes back.
    let n: unknown;
    try { n = dagCbor.decode(head); } catch (e) { throw notDagCbor(e); }
    if (typeof n !== "object" || n === null || Array.isArray(n) || n instanceof Uint8Array || CID.asCID(n)) throw new TrustError("MALFORMED", "an envelope header is a map");
    const m = n as Record<string, unknown>;
    if (m.v !== ENVELOPE_VERSION) {
      if (typeof m.v === "number") throw new TrustError("BAD_VERSION", `envelope version ${m.v}, this reads ${ENVELOPE_VERSION}`);
      throw new TrustError("MALFORMED", "no envelope version");
    }
    if (!("sig" in m) || (m.sig instanceof Uint8Array && m.sig.length === 0)) throw new TrustError("UNSIGNED", "the envelope carries no signature");
    for (const k of Object.keys(m)) if (!KEYS.has(k)) throw new TrustError("MALFORMED", `unknown field ${JSON.stringify(k.slice(0, 40))}`);
    for (const k of REQUIRED) if (!(k in m)) throw new TrustError("MALFORMED", `missing field ${k}`);
    if (("from" in m) !== ("covers" in m)) throw new TrustError("MALFORMED", "a squash has both from and covers");
    if (!(m.sig instanceof Uint8Array) || m.sig.length !== 64) throw new TrustError("MALFORMED", "sig is not 64 bytes");
    if (!Array.isArray(m.items)) throw new TrustError("MALFORMED", "items is not a list");
    header = (m.items as unknown[]).map((it) => {
      if (!Array.isArray(it) || it.length !== 3) throw new TrustError("MALFORMED", "an item is not a [variable, digest, length] triple");
      return { variable: it[0] as string, digest: it[1] as Uint8Array, length: it[2] as number };
    });
    f = { author: m.author as string, seq: m.seq as number, from: m.from as number | undefined, covers: m.covers as CID[] | undefined, links: m.links as CID[], cap: m.cap as Uint8Array };
    checkHeader(f, header, l);
    // dag-cbor's strict decoder already refuses non-minimal integers, indefinite
    // lengths and repeated keys; re-encoding also catches unsorted map keys.
    if (!equalBytes(dagCbor.encode(node(f, header, m.sig)), head)) throw new TrustError("NON_CANONICAL", "the bytes are not the canonical encoding of the envelope");
    sig = m.sig;
    signed = prefixed(dagCbor.encode(node(f, header)));
  }
  if (deltas.length !== header.length) throw new TrustError("MALFORMED", `${deltas.length} delta slots for ${header.length} items`);
  const items: EnvelopeItem[] = [], redacted: string[] = [];
  for (let i = 0; i < header.length; i++) {
    const h = header[i];
    if (deltas[i] === null) { redacted.push(h.variable); continue; }
    const d = slotOf(deltas[i]);
    if (!d || d.salt.length !== SALT_BYTES) throw new TrustError("MALFORMED", "a carried delta is not [salt, delta] or null");
    if (d.delta.length !== h.length || !equalBytes(await saltedDigest(d.salt, d.delta), h.digest)) {
      throw new TrustError("BAD_DIGEST", `the delta of ${JSON.stringify(h.variable.slice(0, 60))} does not match its digest in the signed header`);
    }
    items.push({ variable: h.variable, delta: d.delta, salt: d.salt });
  }
  return sealed({
    author: f.author, seq: f.seq, from: f.from ?? f.seq, covers: f.covers ?? [], links: f.links, cap: f.cap ?? EMPTY, header, items, redacted,
    sig, head, bytes, cid: cid ?? await cidNow(head), signed,
  }, l);
}

// verifySignature, with each author's did:key decoded to its public key once
// (a receiver verifies a few authors' envelopes many times). Never throws.
const authorKeys = new Map<string, Uint8Array | null>();
export function verifyAuthor(did: string, data: Uint8Array, sig: Uint8Array): Promise<boolean> {
  let pub = authorKeys.get(did);
  if (pub === undefined) {
    try { pub = publicKeyFromDid(did); } catch { pub = null; }
    if (authorKeys.size >= 1024) authorKeys.clear();
    authorKeys.set(did, pub);
  }
  return pub ? verifyRaw(pub, data, sig) : Promise.resolve(false);
}

// Whether the envelope's signature is its author's. Never throws.
export function verifyEnvelope(e: Envelope, verify: (did: string, data: Uint8Array, sig: Uint8Array) => Promise<boolean> = verifyAuthor): Promise<boolean> {
  return verify(e.author, e.signed, e.sig).catch(() => false);
}

export { CID };
