// A fast path for the envelope format (docs/security.md, "Signed envelopes"):
// a reader of the exact canonical dag-cbor bytes of an envelope, in one pass
// over them, with no generic CBOR objects and no re-encoding.
//
// It is a filter, not a second definition of the format: it accepts only
// bytes that are, field for field, what @ipld/dag-cbor writes for an
// envelope (the key order, minimal integer and length heads, definite
// lengths, UTF-8 text, CID links as tag 42), and returns null for anything
// else. envelope.ts then takes the reference path (dag-cbor decode, checks,
// re-encode and compare), which accepts or refuses the bytes with its typed
// error. So the fast path never changes what is accepted or which error a
// refusal gets; it only skips work for canonical input. The semantic checks
// (sizes, sorting, did:key, limits) run on its output as on the reference's.
import { CID } from "multiformats/cid";
import { Digest } from "multiformats/hashes/digest";

const DAG_CBOR = 0x71, SHA2_256 = 0x12;

// Text decoding for the fast path: a string that is not valid UTF-8 is not
// canonical (the reference path refuses it); ignoreBOM keeps a leading
// U+FEFF, which is then refused here (see text()).
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export interface ParsedItem { variable: string; digest: Uint8Array; length: number }
export interface ParsedHeader {
  author: string;
  seq: number;
  from?: number;
  covers?: CID[];
  links: CID[];
  items: ParsedItem[];
  cap: Uint8Array;
  sig: Uint8Array;
  signedFrom: number;       // the `sig` entry's bytes are head[signedFrom, signedTo)
  signedTo: number;
}
// A carried [salt, delta] the fast reader found (a class of its own: no
// value the reference decoder returns is one).
export class ParsedSlot { constructor(readonly salt: Uint8Array, readonly delta: Uint8Array) {} }

// Thrown inside the reader: the caller returns null (not this module's
// error to report; the reference path names it).
const NOT_FAST = Symbol("not canonical for the fast path");

class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array) {}
  // A head of major type `major`: its argument, minimal, at most 2^53 - 1.
  head(major: number): number {
    const b = this.b;
    if (this.pos >= b.length) throw NOT_FAST;
    const ib = b[this.pos++];
    if (ib >> 5 !== major) throw NOT_FAST;
    const ai = ib & 31;
    if (ai < 24) return ai;
    let n: number;
    if (ai === 24) { this.need(1); n = b[this.pos]; this.pos += 1; if (n < 24) throw NOT_FAST; return n; }
    if (ai === 25) { this.need(2); n = (b[this.pos] << 8) | b[this.pos + 1]; this.pos += 2; if (n < 0x100) throw NOT_FAST; return n; }
    if (ai === 26) { this.need(4); n = this.u32(this.pos); this.pos += 4; if (n < 0x10000) throw NOT_FAST; return n; }
    if (ai === 27) {
      this.need(8);
      const hi = this.u32(this.pos), lo = this.u32(this.pos + 4);
      this.pos += 8;
      // Above 2^53 - 1 the reference decodes a bigint, which the checks refuse.
      if (hi === 0 || hi > 0x1fffff) throw NOT_FAST;
      return hi * 0x100000000 + lo;
    }
    throw NOT_FAST; // indefinite lengths, reserved values
  }
  u32(at: number): number { const b = this.b; return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0; }
  need(n: number): void { if (n > this.b.length - this.pos) throw NOT_FAST; }
  bytes(): Uint8Array {
    const n = this.head(2);
    this.need(n);
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  text(): string {
    const n = this.head(3);
    this.need(n);
    const at = this.pos;
    this.pos += n;
    const b = this.b;
    // ASCII (every did:key and most variable ids) without TextDecoder.
    let ascii = n <= 64;
    for (let i = at; ascii && i < at + n; i++) if (b[i] > 0x7f) ascii = false;
    if (ascii) return String.fromCharCode.apply(null, b.subarray(at, at + n) as unknown as number[]);
    if (n >= 3 && b[at] === 0xef && b[at + 1] === 0xbb && b[at + 2] === 0xbf) throw NOT_FAST;
    try { return UTF8.decode(b.subarray(at, at + n)); } catch { throw NOT_FAST; }
  }
  // An exact byte sequence (a map key, a fixed head).
  expect(bs: Uint8Array): void {
    this.need(bs.length);
    for (let i = 0; i < bs.length; i++) if (this.b[this.pos + i] !== bs[i]) throw NOT_FAST;
    this.pos += bs.length;
  }
  // A link: tag 42, bytes(0x00 ‖ CIDv1 dag-cbor sha-256 of 32 bytes); any
  // other link is left to the reference path (which refuses it).
  cid(): CID {
    this.expect(CID_HEAD);
    const at = this.pos;
    this.need(32);
    this.pos += 32;
    // Made from its parts (the head above fixed version, codec and hash):
    // what CID.decode would build, without reading the varints again.
    const b = this.b, bytes = b.subarray(at - 4, at + 32);
    return new CID(1, DAG_CBOR, new Digest(SHA2_256, 32, b.subarray(at, at + 32), bytes.subarray(2)), bytes);
  }
  cids(): CID[] {
    const n = this.head(4);
    // Each link is 41 bytes: a count beyond what remains is refused before any work.
    if (n * 41 > this.b.length - this.pos) throw NOT_FAST;
    const out: CID[] = [];
    for (let i = 0; i < n; i++) out.push(this.cid());
    return out;
  }
}

const enc = (s: string): Uint8Array => Uint8Array.from([0x60 + s.length, ...Array.from(s, (c) => c.charCodeAt(0))]);
const K_V = enc("v"), K_CAP = enc("cap"), K_SEQ = enc("seq"), K_SIG = enc("sig"), K_FROM = enc("from");
const K_ITEMS = enc("items"), K_LINKS = enc("links"), K_AUTHOR = enc("author"), K_COVERS = enc("covers");
// tag 42, bytes(37), 0x00 (the identity multibase), CIDv1, dag-cbor (0x71), sha2-256 (0x12), 32 bytes.
const CID_HEAD = Uint8Array.of(0xd8, 0x2a, 0x58, 0x25, 0x00, 0x01, 0x71, 0x12, 0x20);
const SIG_HEAD = Uint8Array.of(0x58, 0x40);
const ITEM_DIGEST_HEAD = Uint8Array.of(0x58, 0x20);
const VERSION_2 = Uint8Array.of(0x02);

// The header of a version 2 envelope, if `head` is exactly its canonical
// encoding; null otherwise. Keys in dag-cbor's order (shorter first, then
// bytewise): v, cap, seq, sig, [from], items, links, author, [covers].
export function parseHeader(head: Uint8Array): ParsedHeader | null {
  const r = new Reader(head);
  try {
    const n = r.head(5);
    if (n !== 7 && n !== 9) return null;
    const squash = n === 9;
    r.expect(K_V); r.expect(VERSION_2);
    r.expect(K_CAP); const cap = r.bytes();
    r.expect(K_SEQ); const seq = r.head(0);
    const signedFrom = r.pos;
    r.expect(K_SIG); r.expect(SIG_HEAD);
    r.need(64);
    const sig = head.subarray(r.pos, r.pos + 64);
    r.pos += 64;
    const signedTo = r.pos;
    let from: number | undefined;
    if (squash) { r.expect(K_FROM); from = r.head(0); }
    r.expect(K_ITEMS);
    const k = r.head(4);
    // Each item is at least 37 bytes: a count beyond what remains is refused before any work.
    if (k * 37 > head.length - r.pos) return null;
    const items: ParsedItem[] = [];
    for (let i = 0; i < k; i++) {
      if (r.head(4) !== 3) return null;
      const variable = r.text();
      r.expect(ITEM_DIGEST_HEAD);
      r.need(32);
      const digest = head.subarray(r.pos, r.pos + 32);
      r.pos += 32;
      items.push({ variable, digest, length: r.head(0) });
    }
    r.expect(K_LINKS); const links = r.cids();
    r.expect(K_AUTHOR); const author = r.text();
    let covers: CID[] | undefined;
    if (squash) { r.expect(K_COVERS); covers = r.cids(); }
    if (r.pos !== head.length) return null;
    return { author, seq, from, covers, links, items, cap, sig, signedFrom, signedTo };
  } catch (e) {
    if (e === NOT_FAST) return null;
    throw e;
  }
}

// `prefix` ‖ the canonical header without its `sig` entry (what is signed),
// cut from a header parseHeader accepted: one fewer map entry, the same
// bytes otherwise (the map's count is one byte: at most 9 entries).
export function unsignedOf(head: Uint8Array, p: ParsedHeader, prefix: Uint8Array): Uint8Array {
  const at = prefix.length;
  const out = new Uint8Array(at + head.length - (p.signedTo - p.signedFrom));
  out.set(prefix);
  out[at] = head[0] - 1;
  out.set(head.subarray(1, p.signedFrom), at + 1);
  out.set(head.subarray(p.signedTo), at + p.signedFrom);
  return out;
}

// The signed header from its canonical unsigned encoding (as dag-cbor wrote
// it) and the signature: the `sig` entry goes after `seq`, its place in key
// order. Throws if `unsigned` is not an unsigned envelope header.
export function withSig(unsigned: Uint8Array, sig: Uint8Array): Uint8Array {
  if (sig.length !== 64) throw new RangeError("an Ed25519 signature is 64 bytes");
  const r = new Reader(unsigned);
  let at: number;
  try {
    const n = r.head(5);
    if (n !== 6 && n !== 8) throw NOT_FAST;
    r.expect(K_V); r.expect(VERSION_2);
    r.expect(K_CAP); r.bytes();
    r.expect(K_SEQ); r.head(0);
    at = r.pos;
  } catch (e) {
    if (e === NOT_FAST) throw new RangeError("not an unsigned envelope header");
    throw e;
  }
  const out = new Uint8Array(unsigned.length + K_SIG.length + SIG_HEAD.length + 64);
  out[0] = unsigned[0] + 1;
  out.set(unsigned.subarray(1, at), 1);
  let w = at;
  out.set(K_SIG, w); w += K_SIG.length;
  out.set(SIG_HEAD, w); w += SIG_HEAD.length;
  out.set(sig, w); w += 64;
  out.set(unsigned.subarray(at), w);
  return out;
}

// The carrier, dag-cbor [header bytes, [[salt, delta] or null per item]], if
// `bytes` is exactly its canonical encoding (definite, minimal, nothing
// after); null otherwise. Byte strings are views of `bytes`, not copies.
export function parseCarrier(bytes: Uint8Array): { head: Uint8Array; slots: (ParsedSlot | null)[] } | null {
  const r = new Reader(bytes);
  try {
    if (r.head(4) !== 2) return null;
    const head = r.bytes();
    const n = r.head(4);
    if (n > bytes.length - r.pos) return null; // each slot is at least one byte
    const slots: (ParsedSlot | null)[] = [];
    for (let i = 0; i < n; i++) {
      if (r.pos < bytes.length && bytes[r.pos] === 0xf6) { r.pos++; slots.push(null); continue; }
      if (r.head(4) !== 2) return null;
      const salt = r.bytes(), delta = r.bytes();
      slots.push(new ParsedSlot(salt, delta));
    }
    if (r.pos !== bytes.length) return null;
    return { head, slots };
  } catch (e) {
    if (e === NOT_FAST) return null;
    throw e;
  }
}

// A definite head of major type `major` with argument n (< 2^32 here: the
// carrier's sizes are bounded by the envelope limit), minimal.
function headLen(n: number): number { return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5; }
function putHead(out: Uint8Array, at: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) { out[at] = m | n; return at + 1; }
  if (n < 0x100) { out[at] = m | 24; out[at + 1] = n; return at + 2; }
  if (n < 0x10000) { out[at] = m | 25; out[at + 1] = n >>> 8; out[at + 2] = n & 0xff; return at + 3; }
  out[at] = m | 26; out[at + 1] = n >>> 24; out[at + 2] = (n >>> 16) & 0xff; out[at + 3] = (n >>> 8) & 0xff; out[at + 4] = n & 0xff;
  return at + 5;
}

// The carrier's canonical bytes (what dag-cbor writes for the same value),
// in one allocation.
export function encodeCarrier(head: Uint8Array, slots: ({ salt: Uint8Array; delta: Uint8Array } | null)[]): Uint8Array {
  let size = 1 + headLen(head.length) + head.length + headLen(slots.length);
  for (const s of slots) size += s ? 1 + headLen(s.salt.length) + s.salt.length + headLen(s.delta.length) + s.delta.length : 1;
  const out = new Uint8Array(size);
  let w = putHead(out, 0, 4, 2);
  w = putHead(out, w, 2, head.length); out.set(head, w); w += head.length;
  w = putHead(out, w, 4, slots.length);
  for (const s of slots) {
    if (!s) { out[w++] = 0xf6; continue; }
    w = putHead(out, w, 4, 2);
    w = putHead(out, w, 2, s.salt.length); out.set(s.salt, w); w += s.salt.length;
    w = putHead(out, w, 2, s.delta.length); out.set(s.delta, w); w += s.delta.length;
  }
  return out;
}
