// Admission of signed envelopes (docs/security.md, "Admission rules"): one
// envelope checked against what this receiver has admitted so far, before any
// of its deltas is joined. A rejection is a TrustError with a code and
// changes nothing in the ledger; only an admitted envelope is recorded.
//
// Only an author mints its replicas' dots and counter entries, in the order of
// its own chain (sequence numbers, each envelope linking to the previous one).
// So what an envelope E "has seen" of replica r is what r's author had minted
// up to the last of its envelopes in E's causal past. The ledger keeps, per
// admitted envelope, a version vector over authors (the highest sequence of
// each author in its past), and per author and (variable, path, replica) the
// running maximum after each of its envelopes that raised it. An author's own
// dots and counters may advance past its history only by a bounded step;
// another replica's dots may be covered (by a causal context or an ORSet
// removal) only up to what the envelopes the author links to had seen (after
// Kleppmann, "Making CRDTs Byzantine Fault Tolerant", PaPoC 2022). Memory:
// 4 bytes per author in each envelope's past (a frozen Clock), and one entry
// per raised key; a run a squash replaced at this node, once collapsed, 32
// bytes of digest per envelope (docs/security.md, "Memory" and "The
// ledger's bound").
import { didOfReplica } from "../identity/identity.js";
import { mintsOf, type Mint, type PathSegment } from "../replication/mint.js";
import type { Kernel } from "../wasm/kernel.js";
import { kernel } from "../wasm/kernel.js";
import { CID, _checkedWithin, decodeEnvelope, verifyEnvelope, type Envelope, type EnvelopeItem, type EnvelopeLimits } from "./envelope.js";
import { TrustError, type TrustErrorCode } from "./errors.js";

export interface MintLimits {
  maxDotAdvance: bigint;   // how far one envelope may move an author's dot counter (default 10,000)
  maxIncrement: bigint;    // how far one envelope may raise one of the author's counter entries (default 1,000,000)
  maxValue: bigint;        // largest counter entry, MaxInt value or TopK score (default 2^53 - 1)
  maxSkewMs: number;       // how far an LWW timestamp may lie ahead of the receiver's clock (default 60,000 ms)
}

export const DEFAULT_MINT_LIMITS: Readonly<MintLimits> = Object.freeze({
  maxDotAdvance: 10_000n, maxIncrement: 1_000_000n, maxValue: BigInt(Number.MAX_SAFE_INTEGER), maxSkewMs: 60_000,
});

export interface AdmitOptions {
  now?: () => number;                                    // the receiver's clock, ms (default Date.now)
  limits?: Partial<MintLimits>;
  limitsFor?: (variable: string) => Partial<MintLimits> | undefined; // per-variable overrides
  envelopeLimits?: Partial<EnvelopeLimits>;
  verify?: (did: string, data: Uint8Array, sig: Uint8Array) => Promise<boolean>; // default: identity's verifySignature
  kernel?: Kernel;
  // Capabilities (docs/security.md, "Capabilities"): called once the signature
  // verifies, before any other check; throwing (a TrustError, or anything,
  // reported as UNAUTHORIZED) rejects the envelope and changes nothing.
  // Default: any authenticated identity may write (the mint checks still apply).
  authorize?: (envelope: Envelope) => Promise<void> | void;
  // Reading back this node's own store: a link that is neither admitted nor
  // refused counts as refused (it was settled when the envelope was admitted
  // first; the refused set is not stored).
  settledLinks?: boolean;
  // A squash envelope (docs/security.md, "Squash envelopes"): called, after
  // the chain and mint checks, with the highest sequence of the squash's
  // range this receiver already holds (from - 1 if none), to check the
  // squash against the covered envelopes it holds; throwing a TrustError
  // rejects it (BAD_SQUASH: kept as evidence) and changes nothing.
  squash?: (envelope: Envelope, heldTo: number) => void;
  // Run every check, commit nothing.
  dryRun?: boolean;
  // Record no refusal, count nothing, keep no evidence (a tentative check).
  quiet?: boolean;
  // Links a squash admitted here was admitted without (they had not arrived):
  // until they do, what links to that squash saw is not all known here, so an
  // envelope covering dots beyond it waits for them (pending) instead of
  // being refused (UNSEEN_CONTEXT).
  deferred?: () => string[];
}

// Proof that an author signed two envelopes with one sequence number: both
// are signed by the author, so anyone can check it.
export interface Equivocation {
  author: string;
  seq: number;
  admitted: CID;          // the one this receiver admitted first
  conflicting: CID;
  conflictingBytes: Uint8Array;
}

export type AdmitResult =
  | { status: "admitted"; envelope: Envelope }
  | { status: "duplicate"; envelope: Envelope }                  // already admitted: nothing to do
  | { status: "filled"; envelope: Envelope; filled: string[] }    // admitted before with these variables redacted; this copy carries them, now admitted too
  | { status: "pending"; envelope: Envelope; missing: CID[] }    // signed, but links not admitted yet: retry later
  | { status: "rejected"; error: TrustError; evidence?: Equivocation };

// Per key, the sequences that raised it and the running maximum after each;
// histories are also a list in order of their last sequence (prev, next), so
// that a collapse visits only those raised in or after its run.
interface History { seqs: number[]; maxes: bigint[]; prev: History | undefined; next: History | undefined }
// bySeq[i] = the key (cidKey) of the envelope with sequence base + 1 + i;
// below base, a sequence is in a collapsed run (runs, by `from`) or, for the
// few envelopes left live before one, in `older`. keys: histories by key;
// last: the list's tail. redacted: per variable, the sequences at which an
// admitted copy left its delta out, and the running count of envelopes they
// stand for (a squash stands for its whole range).
interface AuthorState {
  seq: number; base: number; bySeq: string[]; older: Map<number, string> | undefined; runs: Run[];
  keys: Map<string, History>; last: History | undefined; redacted: Map<string, { seqs: number[]; total: number[] }>;
}
const newAuthor = (): AuthorState => ({ seq: 0, base: 0, bySeq: [], older: undefined, runs: [], keys: new Map(), last: undefined, redacted: new Map() });

// A run of an author's envelopes that a squash replaced here (collapse()):
// its sequences from..to resolve to the squash's entry; `key` is the
// squash's own CID key. Its covered CIDs are kept as digests, in segments.
interface Run { from: number; to: number; entry: Admitted; key: string; segs: Segment[] }
// The digests of covered CIDs from..from + n - 1, 32 bytes each in sequence
// order; `base` is the first one's ordinal in the ledger's digest table.
interface Segment { from: number; n: number; digests: Uint8Array; base: number; run: Run }

// Every envelope CID is v1, dag-cbor, sha-256 (envelope.ts checkCid): its
// bytes are these four, then the 32-byte digest.
const CID_PREFIX = "\x01\x71\x12\x20";

// The digests of every collapsed run, found by an open-addressing table of
// 4-byte ordinals, at most 3/4 full and grown by a quarter (so at least 3/5
// full after growing): 32 + 5 to 7 bytes a covered CID, against a Map entry
// and a 36-character key string. The slot mixes two digest words with a
// per-ledger random key, so an author grinding CIDs cannot line them up on
// one probe chain.
class Digests {
  readonly segs: Segment[] = [];   // by base
  count = 0;
  #slots = new Uint32Array(256);   // ordinal + 1 (0: empty)
  readonly #k = globalThis.crypto.getRandomValues(new Uint32Array(2));
  // A slot: the mixed hash scaled to the table's size (any size, not only powers of two).
  #slot(w0: number, w1: number): number {
    let h = Math.imul(w0 ^ this.#k[0], 0x9e3779b1) ^ Math.imul(w1 ^ this.#k[1], 0x85ebca77);
    h ^= h >>> 15; h = Math.imul(h, 0x2c1b3c6d); h ^= h >>> 12;
    return Math.floor((h >>> 0) / 0x100000000 * this.#slots.length);
  }
  #put(o: number, d: Uint8Array, at: number): void {
    const n = this.#slots.length;
    let j = this.#slot(word(d, at), word(d, at + 4));
    while (this.#slots[j] !== 0) if (++j === n) j = 0;
    this.#slots[j] = o + 1;
  }
  add(seg: Segment): void {
    seg.base = this.count;
    this.segs.push(seg);
    this.count += seg.n;
    if (this.count * 4 > this.#slots.length * 3) {
      let n = this.#slots.length;
      while (this.count * 4 > n * 3) n = Math.ceil(n * 1.25);
      this.#slots = new Uint32Array(n);
      for (const s of this.segs) for (let i = 0; i < s.n; i++) this.#put(s.base + i, s.digests, 32 * i);
    } else for (let i = 0; i < seg.n; i++) this.#put(seg.base + i, seg.digests, 32 * i);
  }
  // The segment and index holding the CID whose key is `k`.
  find(k: string): [Segment, number] | undefined {
    if (this.count === 0 || k.length !== 36 || !k.startsWith(CID_PREFIX)) return undefined;
    const n = this.#slots.length;
    for (let j = this.#slot(keyWord(k, 4), keyWord(k, 8)); ; j = j + 1 === n ? 0 : j + 1) {
      const v = this.#slots[j];
      if (v === 0) return undefined;
      const o = v - 1;
      let lo = 0, hi = this.segs.length - 1;
      while (lo < hi) { const mid = (lo + hi + 1) >>> 1; if (this.segs[mid].base <= o) lo = mid; else hi = mid - 1; }
      const s = this.segs[lo], i = o - s.base, at = 32 * i;
      let eq = true;
      for (let b = 0; b < 32 && eq; b++) eq = s.digests[at + b] === k.charCodeAt(4 + b);
      if (eq) return [s, i];
    }
  }
}
const word = (d: Uint8Array, at: number) => (d[at] << 24 | d[at + 1] << 16 | d[at + 2] << 8 | d[at + 3]) >>> 0;
const keyWord = (k: string, at: number) => (k.charCodeAt(at) << 24 | k.charCodeAt(at + 1) << 16 | k.charCodeAt(at + 2) << 8 | k.charCodeAt(at + 3)) >>> 0;
// The key of the CID at index i of a segment.
const segKey = (s: Segment, i: number) => CID_PREFIX + String.fromCharCode.apply(null, s.digests.subarray(32 * i, 32 * i + 32) as unknown as number[]);
// The author's run holding sequence s, if any.
function runAt(runs: Run[], s: number): Run | undefined {
  let lo = 0, hi = runs.length;
  while (lo < hi) { const mid = (lo + hi) >>> 1; if (runs[mid].from <= s) lo = mid + 1; else hi = mid; }
  const r = runs[lo - 1];
  return r && s <= r.to ? r : undefined;
}

// Authors by index, per ledger: clocks are indexed by it.
class Authors {
  readonly names: string[] = [];
  readonly index = new Map<string, number>();
  of(a: string): number {
    let i = this.index.get(a);
    if (i === undefined) { i = this.names.length; this.names.push(a); this.index.set(a, i); }
    return i;
  }
}

// What an admitted envelope's causal past holds of each author: the highest
// sequence, by the ledger's author index (0: none). While a clock is built
// (joining its links' clocks) it is a Uint32Array; once committed it is
// frozen into a string of two UTF-16 units per author (high, low 16 bits):
// 4 bytes an author plus a 16-byte header, instead of a Map per envelope
// (about 50 bytes an author) or a typed array (about 180 bytes of headers).
// Sequences past 2^32 - 1 are refused before commit (an author would need
// that many envelopes first).
export class Clock {
  #a: Uint32Array | undefined;
  #s = "";
  readonly #authors: Authors;
  /** @internal */ constructor(authors: Authors) { this.#authors = authors; this.#a = new Uint32Array(0); }
  #len(): number { return this.#a ? this.#a.length : this.#s.length >> 1; }
  #at(i: number): number { return this.#a ? this.#a[i] : this.#s.charCodeAt(2 * i) * 0x10000 + this.#s.charCodeAt(2 * i + 1); }
  // Back to an array, at least n long, to change it.
  #thaw(n: number): Uint32Array {
    const len = this.#len();
    if (this.#a && n <= len) return this.#a;
    const b = new Uint32Array(Math.max(n, len));
    for (let i = 0; i < len; i++) b[i] = this.#at(i);
    this.#a = b; this.#s = "";
    return b;
  }
  get(author: string): number | undefined {
    const i = this.#authors.index.get(author);
    const s = i === undefined || i >= this.#len() ? 0 : this.#at(i);
    return s === 0 ? undefined : s;
  }
  set(author: string, seq: number): this {
    if (!(Number.isInteger(seq) && seq >= 0 && seq <= 0xffffffff)) throw new RangeError(`sequence ${seq} out of range`);
    const i = this.#authors.of(author);
    this.#thaw(i + 1)[i] = seq;
    return this;
  }
  // Raises each author's entry (but `except`'s) to at least `o`'s.
  /** @internal */ _join(o: Clock, except = -1): void {
    const n = o.#len();
    const a = this.#thaw(n);
    for (let i = 0; i < n; i++) { const x = o.#at(i); if (x > a[i] && i !== except) a[i] = x; }
  }
  /** @internal */ _copy(): Clock { const c = new Clock(this.#authors); c._join(this); return c; }
  // Frozen as it is kept: trailing zeros dropped, in a string.
  /** @internal */ _freeze(): void {
    const a = this.#a;
    if (!a) return;
    let n = a.length;
    while (n > 0 && a[n - 1] === 0) n--;
    const units = new Uint16Array(2 * n);
    for (let i = 0; i < n; i++) { units[2 * i] = a[i] >>> 16; units[2 * i + 1] = a[i] & 0xffff; }
    let s = "";
    for (let i = 0; i < units.length; i += 8192) s += String.fromCharCode.apply(null, units.subarray(i, i + 8192) as unknown as number[]);
    // A flat string (a concatenation of chunks is a tree of strings).
    this.#s = n > 4096 ? s.split("").join("") : s;
    this.#a = undefined;
  }
  // The entry of the author with index i (0: none).
  /** @internal */ _at(i: number): number { return i < this.#len() ? this.#at(i) : 0; }
  *[Symbol.iterator](): IterableIterator<[string, number]> {
    const n = this.#len();
    for (let i = 0; i < n; i++) { const x = this.#at(i); if (x > 0) yield [this.#authors.names[i], x]; }
  }
  // o's entries, moved here (o is not used after).
  /** @internal */ _take(o: Clock): void { this.#a = o.#a; this.#s = o.#s; }
}

// An admitted envelope: its author, range (from = seq but for a squash) and
// clock (one object, the clock's own: `vc` is itself). redacted: the variables whose deltas the
// admitted copy left out (until a fuller copy fills them).
class Admitted extends Clock {
  redacted: string[] | undefined;
  constructor(authors: Authors, readonly author: string, readonly from: number, readonly seq: number, vc: Clock, redacted: string[]) {
    super(authors);
    this._take(vc);
    this.redacted = redacted.length ? [...redacted] : undefined;
  }
  get vc(): Clock { return this; }
}

// The ledger's key for a CID: its bytes as a latin1 string (36 characters
// for an envelope's), not its base32 form, which costs an encoding per new
// CID object (every link of every envelope decoded). A string is taken too
// (a base32 CID, parsed; an unparsable one matches nothing).
// Kept per CID object: the same link is looked up several times while it
// is admitted, and a held envelope's CID at every duplicate.
const keys = new WeakMap<CID, string>();
function cidKey(c: CID | string): string {
  if (typeof c === "string") {
    let x: CID;
    try { x = CID.parse(c); } catch { return ""; }
    c = x;
  }
  let k = keys.get(c);
  if (k === undefined) keys.set(c, (k = String.fromCharCode.apply(null, c.bytes as unknown as number[])));
  return k;
}

// The CID a key stands for (a new object: the ledger keeps keys, not CID
// objects, which cost about 1 KiB each with their byte views).
function cidOfKey(k: string): CID {
  const b = new Uint8Array(k.length);
  for (let i = 0; i < k.length; i++) b[i] = k.charCodeAt(i);
  return CID.decode(b);
}

const MAX_EVIDENCE = 1024;
const MAX_REFUSED = 4096;
const MAX_EVIDENCE_PER_AUTHOR = 16;

// What one receiver has admitted. Grows with every admitted envelope; a run
// a squash replaced at this node shrinks to the squash's entry and 32 bytes
// of digest per envelope (collapse(); docs/security.md, "The ledger's bound").
export class TrustLedger {
  #authors = new Map<string, AuthorState>();
  #envelopes = new Map<string, Admitted>();
  #covered = new Digests();
  #collapsedTo: number[] = [];            // by author index: the end of its last collapsed run
  #heads = new Map<string, CID | undefined>();
  readonly #names = new Authors();
  #evidence: Equivocation[] = [];
  #evidenceBy = new Map<string, number>();
  readonly rejected: Partial<Record<TrustErrorCode, number>> = {};
  admitted = 0;

  // The entry a CID key resolves to: its own, or the squash's whose run holds it.
  #get(k: string): Admitted | undefined {
    return this.#envelopes.get(k) ?? this.#covered.find(k)?.[0].run.entry;
  }
  has(cid: CID | string): boolean { return this.#has(cidKey(cid)); }
  #has(k: string): boolean { return this.#envelopes.has(k) || this.#covered.find(k) !== undefined; }
  // Signed envelopes this ledger refused (the most recent 4,096). A link to
  // one counts as settled: an honest author may have admitted what this
  // receiver refused (the other fork of an equivocation, or an envelope of
  // the equivocator's that builds on it), and its envelopes must not wait
  // for it forever. Such a link adds nothing to what the author has seen.
  refused(cid: CID | string): boolean { return this.#refused.has(cidKey(cid)); }
  // Admitted or refused: nothing to wait for.
  settled(cid: CID | string): boolean { return this.has(cid) || this.#refused.has(cidKey(cid)); }
  #refused = new Map<string, true>();
  /** @internal */ _refuse(cid: CID | string): void {
    const c = cidKey(cid);
    if (this.#refused.has(c) || this.#has(c)) return;
    this.#refused.set(c, true);
    if (this.#refused.size > MAX_REFUSED) this.#refused.delete(this.#refused.keys().next().value!);
  }
  // The author's last admitted sequence number (0: none).
  lastSeq(author: string): number { return this.#authors.get(author)?.seq ?? 0; }
  // The CID of the author's envelope with that sequence number, if admitted.
  cidAt(author: string, seq: number): CID | undefined {
    const k = this._keyAt(author, seq);
    return k === undefined ? undefined : this.#heads.has(k) ? this.#head(k) : cidOfKey(k);
  }
  // A clock whose entry for an author lies inside one of its collapsed runs
  // (joined from an envelope that linked into the run before it collapsed)
  // takes the squash's clock, as it would at a node that resolved that link
  // to the squash; again for what that brings (at most 64 rounds: past
  // them, _seenAt still answers inside a run with the squash's values).
  /** @internal */ _close(vc: Clock): void {
    for (let round = 0; round < 64; round++) {
      let changed = false;
      const n = this.#collapsedTo.length;
      for (let i = 0; i < n; i++) {
        const to = this.#collapsedTo[i], v = vc._at(i);
        if (!to || v === 0 || v >= to) continue;
        const r = runAt(this.#authors.get(this.#names.names[i])!.runs, v);
        if (!r || v === r.to) continue;
        vc._join(r.entry);
        changed = true;
      }
      if (!changed) return;
    }
  }
  // The highest sequence of `author` in the causal past of the envelope
  // `cid` names (closed over collapsed runs, as _close).
  /** @internal */ _saw(cid: CID | string, author: string): number {
    const x = this.#get(cidKey(cid));
    if (!x) return 0;
    const c = x._copy();
    this._close(c);
    return c.get(author) ?? 0;
  }
  // The key of the author's envelope with sequence s.
  /** @internal */ _keyAt(author: string, s: number): string | undefined {
    const a = this.#authors.get(author);
    return a && this.#keyAt(a, s);
  }
  #keyAt(a: AuthorState, s: number): string | undefined {
    if (s > a.base) return a.bySeq[s - a.base - 1];
    if (s < 1) return undefined;
    const k = a.older?.get(s);
    if (k !== undefined) return k;
    const r = runAt(a.runs, s);
    if (!r) return undefined;
    const g = r.segs.find((x) => x.from <= s && s < x.from + x.n)!;
    return segKey(g, s - g.from);
  }
  // The sequence of the envelope a CID names (for one in a collapsed run,
  // its own, not the squash's).
  /** @internal */ _seqOf(cid: CID | string): number | undefined {
    const k = cidKey(cid);
    const e = this.#envelopes.get(k);
    if (e) return e.seq;
    const f = this.#covered.find(k);
    return f && f[0].from + f[1];
  }
  /** @internal */ _clock(): Clock { return new Clock(this.#names); }
  // Admitted envelopes no admitted envelope links to: what a new envelope of
  // this node links to, so that it depends on everything seen.
  // (Heads keep a CID object, decoded once: they are asked for at every
  // envelope signed here, and there are at most as many as authors.)
  heads(): CID[] { return [...this.#heads.keys()].map((k) => this.#head(k)); }
  #head(k: string): CID {
    let c = this.#heads.get(k);
    if (c === undefined) this.#heads.set(k, (c = cidOfKey(k)));
    return c;
  }
  // The highest dot or counter entry admitted for (variable, path, replica).
  high(variable: string, replica: string, path: PathSegment[] = [], kind: "dot" | "increment" | "decrement" = "dot"): bigint {
    const did = didOfReplica(replica);
    if (!did) return 0n;
    return this._seen(did, keyOf(variable, path, replica, kind === "dot" ? "d" : kind === "increment" ? "i" : "n"), this.lastSeq(did));
  }
  get evidence(): readonly Equivocation[] { return this.#evidence; }
  // CIDs admitted (a squash's and each it covers count one each).
  get size(): number { return this.#envelopes.size + this.#covered.count; }

  /** @internal */ _author(a: string) { return this.#authors.get(a); }
  /** @internal */ _envelope(c: CID | string) { return this.#get(cidKey(c)); }
  /** @internal */ _reject(e: TrustError): void { this.rejected[e.code] = (this.rejected[e.code] ?? 0) + 1; }
  /** @internal */ _evidence(ev: Equivocation): boolean {
    const n = this.#evidenceBy.get(ev.author) ?? 0;
    const dup = this.#evidence.some((x) => x.author === ev.author && x.seq === ev.seq && x.conflicting.equals(ev.conflicting));
    if (dup || n >= MAX_EVIDENCE_PER_AUTHOR || this.#evidence.length >= MAX_EVIDENCE) return false;
    this.#evidence.push(ev);
    this.#evidenceBy.set(ev.author, n + 1);
    return true;
  }
  // The highest dot or counter entry of `key` that `did` had minted up to its envelope `upTo`.
  /** @internal */ _seen(did: string, key: string, upTo: number, inRun = true): bigint { return this._seenAt(did, key, upTo, inRun)[0]; }
  // ...and the sequence of the envelope that raised it to that (0: none).
  // A collapsed run keeps one entry per key, at its end. Asked inside it (a
  // clock kept from before the collapse, of an envelope that linked into
  // the run), it answers with the run's last values: the squash's, which a
  // link into the run now grants. With `inRun` false (the author's own
  // history before a squash that starts inside a collapsed run), it answers
  // with what was minted before the run, as a node that only ever saw the
  // squash does.
  /** @internal */ _seenAt(did: string, key: string, upTo: number, inRun = true): [bigint, number] {
    const a = this.#authors.get(did), h = a?.keys.get(key);
    if (!h || upTo <= 0) return [0n, 0];
    if (inRun && upTo < a!.seq && a!.runs.length) { const r = runAt(a!.runs, upTo); if (r) upTo = r.to; }
    const i = lastAtMost(h.seqs, upTo);
    return i < 0 ? [0n, 0] : [h.maxes[i], h.seqs[i]];
  }
  // How many of `did`'s envelopes with a sequence in (after, upTo] carried
  // `variable` redacted here: each may have minted what this receiver never saw.
  /** @internal */ _redactedIn(did: string, variable: string, after: number, upTo: number): number {
    const r = this.#authors.get(did)?.redacted.get(variable);
    if (!r || upTo <= after) return 0;
    const hi = lastAtMost(r.seqs, upTo), lo = lastAtMost(r.seqs, after);
    return (hi < 0 ? 0 : r.total[hi]) - (lo < 0 ? 0 : r.total[lo]);
  }
  // Key `k` of author `a` raised to at least `v` at sequence `seq` (later
  // running maxima include it).
  #raiseAt(a: AuthorState, k: string, seq: number, v: bigint): void {
    let h = a.keys.get(k);
    if (!h) a.keys.set(k, (h = { seqs: [], maxes: [], prev: undefined, next: undefined }));
    const n = h.seqs.length;
    if (n === 0 || h.seqs[n - 1] < seq) {
      // Appended (every commit): the history's last sequence moves up.
      h.seqs.push(seq); h.maxes.push(n > 0 && h.maxes[n - 1] > v ? h.maxes[n - 1] : v);
    } else {
      const i = lastAtMost(h.seqs, seq);
      if (i >= 0 && h.seqs[i] === seq) { if (v > h.maxes[i]) h.maxes[i] = v; }
      else { h.seqs.splice(i + 1, 0, seq); h.maxes.splice(i + 1, 0, i >= 0 && h.maxes[i] > v ? h.maxes[i] : v); }
      for (let j = i + 1; j < h.seqs.length; j++) if (h.maxes[j] < v) h.maxes[j] = v;
      return; // its last sequence, and so its place in the list, is unchanged
    }
    // Into the list, after the last history whose last sequence is at most its own.
    if (h.prev) h.prev.next = h.next;
    if (h.next) h.next.prev = h.prev;
    if (a.last === h) a.last = h.prev;
    const at = h.seqs[h.seqs.length - 1];
    let p = a.last, q: History | undefined;
    while (p && p.seqs[p.seqs.length - 1] > at) { q = p; p = p.prev; }
    h.prev = p; h.next = q;
    if (p) p.next = h;
    if (q) q.prev = h; else a.last = h;
  }
  // Records an admitted envelope. A squash (from < seq) that this receiver
  // already holds in part (up to `last`) adds the rest of its range; every
  // CID it covers is then known here and resolves to it (a link to one of
  // them counts as a link to the squash), and the head is the CID of the
  // range's last envelope, which the author's next envelope links to.
  // A fuller copy of an admitted envelope: its new items' raised keys go into
  // the author's history at the envelope's sequence (later running maxima
  // include them), and its variables are no longer redacted here.
  /** @internal */ _fill(e: Envelope, raised: Map<string, bigint>, variables: string[]): void {
    const a = this.#authors.get(e.author)!;
    for (const [k, v] of raised) this.#raiseAt(a, k, e.seq, v);
    for (const v of variables) {
      const r = a.redacted.get(v);
      if (!r) continue;
      const i = r.seqs.indexOf(e.seq);
      if (i < 0) continue;
      const w = r.total[i] - (i > 0 ? r.total[i - 1] : 0);
      r.seqs.splice(i, 1); r.total.splice(i, 1);
      for (let j = i; j < r.total.length; j++) r.total[j] -= w;
    }
    const entry = this.#envelopes.get(cidKey(e.cid))!;
    entry.redacted = entry.redacted!.filter((v) => !variables.includes(v));
    if (entry.redacted.length === 0) entry.redacted = undefined;
  }
  // What `src` had seen is added to what `target` (and every CID resolving
  // to it) had seen: a squash admitted before one of its links arrived.
  /** @internal */ _widen(target: CID | string, src: CID | string): void {
    const t = this.#get(cidKey(target)), f = this.#get(cidKey(src));
    if (!t || !f || t === f) return;
    const own = t.vc.get(t.author);
    t.vc._join(f.vc, this.#names.of(t.author));
    this._close(t.vc);
    if (own !== undefined) t.vc.set(t.author, own);
    t.vc._freeze();
  }
  /** @internal */ _commit(e: Envelope, vc: Clock, raised: Map<string, bigint>): void {
    const c = cidKey(e.cid);
    const a: AuthorState = this.#authors.get(e.author) ?? newAuthor();
    const last = a.seq;
    vc._freeze();
    const entry = new Admitted(this.#names, e.author, e.from, e.seq, vc, e.redacted);
    this.#envelopes.set(c, entry);
    this.admitted++;
    if (e.seq <= last) {
      // A squash of what is held: an alias. What it mints beyond the run
      // held (nothing, if it is the run's join) counts from its sequence.
      for (const [k, v] of raised) this.#raiseAt(a, k, e.seq, v);
      return;
    }
    for (let s = last + 1; s <= e.seq; s++) {
      const cs = e.from < e.seq ? cidKey(e.covers[s - e.from]) : c;
      a.bySeq[s - a.base - 1] = cs;
      this.#envelopes.set(cs, entry);
    }
    a.seq = e.seq;
    for (const [k, v] of raised) this.#raiseAt(a, k, e.seq, v);
    for (const v of e.redacted) {
      let r = a.redacted.get(v);
      if (!r) a.redacted.set(v, (r = { seqs: [], total: [] }));
      r.seqs.push(e.seq); r.total.push((r.total[r.total.length - 1] ?? 0) + e.seq - e.from + 1);
    }
    this.#authors.set(e.author, a);
    for (const l of e.links) this.#heads.delete(cidKey(l));
    const head = this.#keyAt(a, e.seq)!;
    if (!this.#heads.has(head)) this.#heads.set(head, undefined);
  }

  // Collapses the run of an admitted squash, once this node holds the squash
  // in place of it (TrustHub calls it when it replaced the run in its log;
  // docs/security.md, "The ledger's bound"). Every CID the squash covers
  // then resolves to the squash's entry (a link into the run grants what
  // the squash saw, as at a node that only ever saw the squash); the run's
  // per-envelope clocks go, its keys' running maxima become one per key at
  // the run's end, its redactions are the squash's, and its CIDs are kept
  // as 32-byte digests (a replay is still a duplicate, another envelope with
  // one of its sequences still equivocation). A clock kept here that saw
  // the run's middle is widened to the squash's, as it would be at a node
  // that resolved that link to the squash. Runs collapsed before inside its
  // range join it. Returns false, changing nothing, if it is not an admitted
  // squash whose range is all held as its covers, or if it overlaps a
  // collapsed run without containing it.
  collapse(squash: Envelope): boolean {
    const e = squash, sk = cidKey(e.cid);
    const entry = this.#envelopes.get(sk), a = this.#authors.get(e.author);
    if (e.from >= e.seq || !entry || !a || entry.author !== e.author || entry.from !== e.from || entry.seq !== e.seq || a.seq < e.seq) return false;
    const runs = a.runs;
    let lo = 0;
    while (lo < runs.length && runs[lo].to < e.from) lo++;
    let hi = lo;
    while (hi < runs.length && runs[hi].from <= e.seq) hi++;
    const inner = runs.slice(lo, hi);
    // (A run of exactly this range is collapsed already, by this squash or another.)
    if (inner.some((r) => r.from < e.from || r.to > e.seq || (r.from === e.from && r.to === e.seq))) return false;
    const keyOfSeq = (s: number) => cidKey(e.covers[s - e.from]);
    // Outside the runs it contains, every sequence must be held as its cover.
    for (let s = e.from, i = 0; s <= e.seq; s++) {
      if (i < inner.length && s === inner[i].from) { s = inner[i++].to; continue; }
      if (this.#keyAt(a, s) !== keyOfSeq(s)) return false;
    }
    const run: Run = { from: e.from, to: e.seq, entry, key: sk, segs: [] };
    const segment = (from: number, to: number) => {
      const n = to - from + 1, digests = new Uint8Array(32 * n);
      for (let s = from; s <= to; s++) {
        const c = e.covers[s - e.from];
        digests.set(c.multihash.digest, 32 * (s - from));
        this.#envelopes.delete(cidKey(c));
      }
      const g: Segment = { from, n, digests, base: 0, run };
      this.#covered.add(g);
      run.segs.push(g);
    };
    let s = e.from;
    for (const r of inner) {
      if (s < r.from) segment(s, r.from - 1);
      for (const g of r.segs) { g.run = run; run.segs.push(g); }
      if (this.#envelopes.has(r.key)) this.#envelopes.set(r.key, entry);
      s = r.to + 1;
    }
    if (s <= e.seq) segment(s, e.seq);
    runs.splice(lo, hi - lo, run);
    // Sequences by key: the run leaves bySeq (live ones before it move to `older`).
    if (e.seq > a.base) {
      for (let t = a.base + 1; t < e.from; t++) (a.older ??= new Map()).set(t, a.bySeq[t - a.base - 1]);
      a.bySeq = a.bySeq.slice(e.seq - a.base);
      a.base = e.seq;
    }
    if (a.older) {
      for (let t = e.from; t <= e.seq; t++) a.older.delete(t);
      if (a.older.size === 0) a.older = undefined;
    }
    // Keys: one running maximum at the run's end for those raised in it.
    for (let h = a.last; h && h.seqs[h.seqs.length - 1] >= e.from; h = h.prev) {
      const i0 = lastAtMost(h.seqs, e.from - 1) + 1, i1 = lastAtMost(h.seqs, e.seq);
      if (i1 < i0 || (i1 === i0 && h.seqs[i1] === e.seq)) continue;
      // New arrays: splice would keep the old backing stores' length.
      h.seqs = [...h.seqs.slice(0, i0), e.seq, ...h.seqs.slice(i1 + 1)];
      h.maxes = [...h.maxes.slice(0, i0), h.maxes[i1], ...h.maxes.slice(i1 + 1)];
    }
    // Redactions: the squash's (its whole range, if it leaves the variable out).
    const mine = entry.redacted ?? [];
    for (const v of mine) if (!a.redacted.has(v)) a.redacted.set(v, { seqs: [], total: [] });
    for (const [v, r] of a.redacted) {
      const i0 = lastAtMost(r.seqs, e.from - 1) + 1, i1 = lastAtMost(r.seqs, e.seq);
      const before = i0 > 0 ? r.total[i0 - 1] : 0;
      const old = i1 >= i0 ? r.total[i1] - before : 0;
      const now = mine.includes(v) ? e.seq - e.from + 1 : 0;
      if (i1 < i0 && now === 0) continue;
      r.seqs = [...r.seqs.slice(0, i0), ...(now > 0 ? [e.seq] : []), ...r.seqs.slice(i1 + 1)];
      r.total = [...r.total.slice(0, i0), ...(now > 0 ? [before + now] : []), ...r.total.slice(i1 + 1).map((t) => t + now - old)];
      if (r.seqs.length === 0) a.redacted.delete(v);
    }
    const ai = this.#names.of(e.author);
    if (!(this.#collapsedTo[ai] >= e.seq)) this.#collapsedTo[ai] = e.seq;
    return true;
  }
}

// The last index i with xs[i] <= x (xs ascending), or -1.
function lastAtMost(xs: number[], x: number): number {
  let lo = 0, hi = xs.length;
  while (lo < hi) { const mid = (lo + hi) >>> 1; if (xs[mid] <= x) lo = mid + 1; else hi = mid; }
  return lo - 1;
}

function pathKey(p: PathSegment[]): string {
  return p.map((s) => s === "first" ? "f" : s === "second" ? "s" : "k" + Array.from(s.key, (b) => b.toString(16).padStart(2, "0")).join("")).join("/");
}
// Kinds: d = dots, tokens and what contexts cover; i / n = counter increments / decrements.
function keyOf(variable: string, path: PathSegment[], replica: string, kind: "d" | "i" | "n"): string {
  return `${kind}\0${variable}\0${pathKey(path)}\0${replica}`;
}

// Checks one envelope (bytes or decoded) and, if it is admitted, records it
// in the ledger. Never throws: every refusal is a result.
// What a receiver whose links saw `vc` (a clock by author) had seen of a key
// (`seen`), and how many envelopes' worth of minting (own keys) or of unseen
// minting (another's keys) lie beyond it (`slack`): redacted copies minted
// what it never saw, and a squash stands for its range. Shared by admission
// and by filling in a redacted copy.
function allowance(ledger: TrustLedger, env: Envelope, vc: Clock) {
  const steps = env.seq - env.from + 1;
  // (The author's own history is asked where the envelope starts, and as
  // at a node that only ever saw the squashes before it.)
  const seen = (key: string, replica: string): bigint => {
    const did = didOfReplica(replica);
    return did ? ledger._seen(did, key, vc.get(did) ?? 0, did !== env.author) : 0n;
  };
  const slack = (variable: string, key: string, replica: string, own: boolean): bigint => {
    const did = didOfReplica(replica);
    if (!did) return own ? BigInt(steps) : 0n;
    const upTo = vc.get(did) ?? 0;
    const at = ledger._seenAt(did, key, upTo, did !== env.author)[1];
    return BigInt(ledger._redactedIn(did, variable, at, upTo) + (own ? steps : 0));
  };
  return { seen, slack };
}

export async function admit(ledger: TrustLedger, input: Uint8Array | Envelope, o: AdmitOptions = {}): Promise<AdmitResult> {
  const reject = (error: TrustError, evidence?: Equivocation): AdmitResult => { if (!o.quiet) ledger._reject(error); return { status: "rejected", error, evidence }; };
  let env: Envelope;
  try {
    // An envelope this module decoded or signed (frozen) is taken as is; any
    // other object is decoded again from its bytes.
    env = input instanceof Uint8Array ? await decodeEnvelope(input, o.envelopeLimits)
      : _checkedWithin(input, o.envelopeLimits) ? input : await decodeEnvelope(input.bytes, o.envelopeLimits);
  } catch (e) {
    return reject(e instanceof TrustError ? e : new TrustError("MALFORMED", String((e as Error)?.message ?? e), e));
  }
  const cid = env.cid;
  // Only a CID's own entry is filled (not a squash's it resolves to).
  const fills = (): EnvelopeItem[] => {
    const x = ledger._envelope(cid);
    const r = x && x.from === env.from && x.seq === env.seq ? x.redacted : undefined;
    return r ? env.items.filter((it) => r.includes(it.variable)) : [];
  };
  if (ledger.has(cid)) return fills().length ? fill(ledger, env, fills(), o, reject) : { status: "duplicate", envelope: env };
  if (!(await verifyEnvelope(env, o.verify))) return reject(new TrustError("BAD_SIGNATURE", `envelope ${cid} is not signed by ${env.author}`));
  // From here on the author really signed it: a refusal is remembered (see refused()).
  const refuse = (error: TrustError, evidence?: Equivocation): AdmitResult => { if (!o.quiet) ledger._refuse(cid); return reject(error, evidence); };
  if (o.authorize) {
    try { await o.authorize(env); } catch (e) {
      return refuse(e instanceof TrustError ? e : new TrustError("UNAUTHORIZED", String((e as Error)?.message ?? e), e));
    }
  }

  // Everything from here is synchronous, so no other admission interleaves
  // between the checks and the commit. The same envelope may have been
  // admitted while its signature was checked: that is a duplicate, not a fork.
  if (ledger.has(cid)) return fills().length ? fill(ledger, env, fills(), o, reject) : { status: "duplicate", envelope: env };
  const author = ledger._author(env.author);
  const last = author?.seq ?? 0;
  const squash = env.from < env.seq;
  const equivocation = (s: number, other: CID): AdmitResult => {
    const admitted = cidOfKey(ledger._keyAt(env.author, s)!);
    const ev: Equivocation = { author: env.author, seq: s, admitted, conflicting: other, conflictingBytes: env.bytes };
    if (!o.quiet) ledger._evidence(ev);
    return refuse(new TrustError("EQUIVOCATION", `${env.author} signed ${other} and ${admitted} with sequence ${s}`), ev);
  };
  if (!squash && env.seq <= last) return equivocation(env.seq, env.cid);
  // A squash must name, for every sequence of its range held here, the envelope held.
  if (squash) for (let s = env.from; s <= Math.min(last, env.seq); s++) {
    if (ledger._keyAt(env.author, s) !== cidKey(env.covers[s - env.from])) return equivocation(s, env.cid);
  }
  // ...and the rest of its range, envelopes not admitted here (each CID
  // once): a CID admitted as another envelope cannot be one of them.
  if (squash && env.seq > last) {
    const named = new Set<string>();
    for (let s = env.from; s <= env.seq; s++) {
      const k = cidKey(env.covers[s - env.from]);
      if (named.has(k) || (s > last && ledger.has(env.covers[s - env.from]))) return refuse(new TrustError("BAD_SQUASH", `squash ${env.cid} of ${env.author} names ${env.covers[s - env.from]} twice, or as its envelope ${s} though it is another envelope`));
      named.add(k);
    }
  }
  const missing = o.settledLinks ? [] : env.links.filter((l) => !ledger.settled(l));
  if (missing.length > 0) return { status: "pending", envelope: env, missing };
  // The envelope before this one (before a squash's range) must be held and linked.
  const before = env.from - 1;
  if (before > last || (!squash && env.seq !== last + 1)) return refuse(new TrustError("BAD_SEQUENCE", `${env.author}'s next sequence is ${last + 1}, got ${env.from}`));
  // Clocks keep sequences in 32 bits: a chain that long is refused, not wrapped.
  if (env.seq > 0xffffffff) return refuse(new TrustError("BAD_SEQUENCE", `sequence ${env.seq} of ${env.author} is past 2^32 - 1`));
  const prev = before > 0 ? ledger._keyAt(env.author, before)! : "";
  if (before > 0 && !env.links.some((l) => cidKey(l) === prev)) {
    return refuse(new TrustError("BAD_SEQUENCE", `envelope ${env.from} of ${env.author} does not link to its envelope ${before}`));
  }

  // What the author has seen: per author, the highest sequence its links reach.
  const vc = ledger._clock();
  for (const l of env.links) { const x = ledger._envelope(l); if (x) vc._join(x.vc); }
  ledger._close(vc);
  // A squash is checked as one envelope standing where its range starts:
  // what its links saw, its author's own history before the range, and the
  // range's worth of steps. (A link to an envelope of the range, or to one
  // that follows it, grants nothing more of the author's own: a node that
  // learnt the range from another squash resolves such links to that one,
  // which over-approximates what they saw.)
  if (squash && (vc.get(env.author) ?? 0) > before) vc.set(env.author, before);
  const { seen, slack } = allowance(ledger, env, vc);
  const raised = new Map<string, bigint>();
  const now = (o.now ?? Date.now)();
  const k = o.kernel ?? kernel();
  try {
    for (const it of env.items) {
      const lim: MintLimits = { ...DEFAULT_MINT_LIMITS, ...o.limits, ...o.limitsFor?.(it.variable) };
      let mints: Mint[];
      try { mints = mintsOf(it.delta, k); } catch (e) {
        throw new TrustError("BAD_DELTA", `${JSON.stringify(it.variable)}: ${(e as Error)?.message ?? String(e)}`, e);
      }
      checkItem(env.author, it.variable, mints, seen, (key, replica, own) => slack(it.variable, key, replica, own), raised, lim, now);
    }
    if (squash) o.squash?.(env, Math.min(last, env.seq));
  } catch (e) {
    const err = e instanceof TrustError ? e : new TrustError("BAD_DELTA", String((e as Error)?.message ?? e), e);
    const unsure = err.code === "UNSEEN_CONTEXT" ? o.deferred?.() ?? [] : [];
    if (unsure.length) return { status: "pending", envelope: env, missing: unsure.slice(0, 64).map((c) => CID.parse(c)) };
    if (err.code === "BAD_SQUASH" && last >= env.from) {
      const ev: Equivocation = { author: env.author, seq: env.seq, admitted: cidOfKey(ledger._keyAt(env.author, Math.min(last, env.seq))!), conflicting: env.cid, conflictingBytes: env.bytes };
      if (!o.quiet) ledger._evidence(ev);
      return refuse(err, ev);
    }
    return refuse(err);
  }
  if (o.dryRun) return { status: "admitted", envelope: env };
  vc.set(env.author, env.seq);
  ledger._commit(env, vc, raised);
  return { status: "admitted", envelope: env };
}

// A copy of an admitted envelope that carries deltas the admitted copy left
// out. Its header is the admitted one (same CID), so it is the author's
// signed word; the new items pass the capability and mint checks against
// what the envelope's links had seen when it was admitted, and their mints
// are inserted into the author's history at the envelope's sequence.
async function fill(ledger: TrustLedger, env: Envelope, items: EnvelopeItem[], o: AdmitOptions, reject: (e: TrustError) => AdmitResult): Promise<AdmitResult> {
  if (o.authorize) {
    try { await o.authorize(env); } catch (e) {
      return reject(e instanceof TrustError ? e : new TrustError("UNAUTHORIZED", String((e as Error)?.message ?? e), e));
    }
  }
  const x = ledger._envelope(env.cid);
  const known = x && x.from === env.from && x.seq === env.seq ? x : undefined;
  const still = known?.redacted?.filter((v) => items.some((it) => it.variable === v)) ?? [];
  if (!known || still.length === 0) return { status: "duplicate", envelope: env }; // filled meanwhile
  items = items.filter((it) => still.includes(it.variable));
  // What the links had seen: the entry's clock, the author's own entry set back before the envelope.
  const vc = known.vc._copy();
  ledger._close(vc);
  vc.set(env.author, env.from - 1);
  const { seen, slack } = allowance(ledger, env, vc);
  const raised = new Map<string, bigint>();
  const now = (o.now ?? Date.now)();
  const k = o.kernel ?? kernel();
  try {
    for (const it of items) {
      const lim: MintLimits = { ...DEFAULT_MINT_LIMITS, ...o.limits, ...o.limitsFor?.(it.variable) };
      let mints: Mint[];
      try { mints = mintsOf(it.delta, k); } catch (e) {
        throw new TrustError("BAD_DELTA", `${JSON.stringify(it.variable)}: ${(e as Error)?.message ?? String(e)}`, e);
      }
      checkItem(env.author, it.variable, mints, seen, (key, replica, own) => slack(it.variable, key, replica, own), raised, lim, now);
    }
  } catch (e) {
    return reject(e instanceof TrustError ? e : new TrustError("BAD_DELTA", String((e as Error)?.message ?? e), e));
  }
  if (o.dryRun) return { status: "filled", envelope: env, filled: items.map((it) => it.variable) };
  ledger._fill(env, raised, items.map((it) => it.variable));
  return { status: "filled", envelope: env, filled: items.map((it) => it.variable) };
}

// One item's mints against what the author had seen (`seen`); `raised` gets
// the author's keys this item raises, with their new maximum.
function checkItem(author: string, variable: string, mints: Mint[], seen: (key: string, replica: string) => bigint, slack: (key: string, replica: string, own: boolean) => bigint, raised: Map<string, bigint>, lim: MintLimits, now: number): void {
  const v = JSON.stringify(variable);
  const own = (replica: string) => didOfReplica(replica) === author;
  const raise = (key: string, replica: string, n: bigint) => { if (n > (raised.get(key) ?? seen(key, replica))) raised.set(key, n); };
  // An author's own dot: new (above its history) and at most maxDotAdvance past it.
  const ownDot = (m: { path: PathSegment[]; replica: string }, c: bigint, fresh: boolean) => {
    const key = keyOf(variable, m.path, m.replica, "d");
    const prev = seen(key, m.replica);
    if (fresh && c <= prev) throw new TrustError("DOT_REUSED", `${v}: dot ${c} of ${m.replica} is already in its history (up to ${prev})`);
    if (c > prev + lim.maxDotAdvance * slack(key, m.replica, true)) throw new TrustError("COUNTER_JUMP", `${v}: dot ${c} of ${m.replica} jumps from ${prev} (at most +${lim.maxDotAdvance} per envelope)`);
    raise(key, m.replica, c);
  };
  // Another replica's dot, covered: only as far as the author's links minted.
  const seenDot = (m: { path: PathSegment[]; replica: string }, c: bigint) => {
    const key = keyOf(variable, m.path, m.replica, "d");
    // Beyond what it saw only by what redacted copies may have minted unseen.
    const upTo = seen(key, m.replica) + lim.maxDotAdvance * slack(key, m.replica, false);
    if (c > upTo) throw new TrustError("UNSEEN_CONTEXT", `${v}: covers dot ${c} of ${m.replica}, but the envelopes it links to minted up to ${upTo}`);
  };
  const notOwn = (what: string, replica: string) => new TrustError("FORGED_MINT", `${v}: ${what} of ${replica}, which is not a replica of ${author}`);
  // Authorship first, so a forgery is reported as one whatever else it covers.
  for (const m of mints) {
    if ((m.kind === "dot" || (m.kind === "token" && !m.removed)) && !own(m.replica)) throw notOwn(`${m.kind} ${m.counter}`, m.replica);
    if ((m.kind === "increment" || m.kind === "decrement") && !own(m.replica)) throw notOwn(`a counter entry (${m.value})`, m.replica);
    if (m.kind === "write" && !own(m.replica)) throw notOwn("an LWW write", m.replica);
  }
  for (const m of mints) {
    switch (m.kind) {
      case "dot":
        if (!own(m.replica)) throw notOwn(`dot ${m.counter}`, m.replica);
        ownDot(m, m.counter, true);
        break;
      case "token":
        if (!m.removed) {
          if (!own(m.replica)) throw notOwn(`token ${m.counter}`, m.replica);
          ownDot(m, m.counter, true);
        } else if (own(m.replica)) ownDot(m, m.counter, false);
        else seenDot(m, m.counter);
        break;
      case "context":
        for (const c of [m.max, ...m.cloud]) {
          if (c === 0n) continue;
          if (own(m.replica)) ownDot(m, c, false); else seenDot(m, c);
        }
        break;
      case "increment": case "decrement": {
        if (!own(m.replica)) throw notOwn(`a counter entry (${m.value})`, m.replica);
        if (m.value > lim.maxValue) throw new TrustError("VALUE_TOO_LARGE", `${v}: counter entry ${m.value} of ${m.replica} is over ${lim.maxValue}`);
        const key = keyOf(variable, m.path, m.replica, m.kind === "increment" ? "i" : "n");
        const prev = seen(key, m.replica);
        if (m.value > prev + lim.maxIncrement * slack(key, m.replica, true)) throw new TrustError("COUNTER_JUMP", `${v}: counter entry of ${m.replica} jumps from ${prev} to ${m.value} (at most +${lim.maxIncrement} per envelope)`);
        raise(key, m.replica, m.value);
        break;
      }
      case "write":
        if (!own(m.replica)) throw notOwn(`an LWW write`, m.replica);
        if (m.timestamp > BigInt(Math.floor(now)) + BigInt(lim.maxSkewMs)) {
          throw new TrustError("FUTURE_TIMESTAMP", `${v}: write at ${m.timestamp} is more than ${lim.maxSkewMs} ms past the receiver's clock (${Math.floor(now)})`);
        }
        break;
      case "max":
        if (m.value > lim.maxValue) throw new TrustError("VALUE_TOO_LARGE", `${v}: MaxInt value ${m.value} is over ${lim.maxValue}`);
        break;
      case "topk":
        if (m.score > lim.maxValue) throw new TrustError("VALUE_TOO_LARGE", `${v}: TopK score ${m.score} is over ${lim.maxValue}`);
        break;
    }
  }
}
