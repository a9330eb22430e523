// Trustless replication (docs/security.md, "Trustless replication"): the
// Replicator's job when peers do not trust each other. Every local
// delta-group is signed into an envelope (one signature per batch of
// variables), every envelope from a peer is admitted by the TrustLedger
// (admit.ts) before any of its deltas is joined, and envelopes are stored and
// forwarded exactly as signed.
//
// One TrustHub per node holds the ledger, the signing chain and the envelope
// log; it is shared by one EnvelopeReplicator per transport (WebSocket server,
// each WebSocket client, libp2p), so a node signs one chain whatever carries
// it. This lives in host/trust because replication must not import trust;
// the trusted Replicator (host/replication/replicator.ts) is unchanged.
//
// Propagation: an admitted envelope is pushed at once to every neighbour that
// is not known to hold it (BP: never back to the peer it came from; a peer
// that holds an envelope, by its frontier or because it sent it, is not sent
// it again). Catch-up (docs/security.md, "Catch-up"): when a neighbour comes
// up, the two reconcile the sets of envelope CIDs each may serve the other
// with range-based set reconciliation (host/replication/reconcile.ts), and
// each pushes what the other lacks; its cost follows the difference, not
// the history or the number of authors. Steady state: every round each
// neighbour gets this node's frontier (per author: last sequence number and
// head), a one-message "anything new?", and answers with the envelopes the
// frontier lacks, in admission order (which is causal). A node with more
// authors than a frontier should carry opens a session instead.
import type { Runtime } from "../dataflow/runtime.js";
import type { Clock, Transport } from "../replication/transport.js";
import { realClock } from "../replication/transport.js";
import { admitEntries } from "../replication/admission.js";
import { headerSpec, joinStates } from "../replication/lattice.js";
import { decodeState, type Crdt } from "../crdt/base.js";
import type { PeerIdentity } from "../identity/identity.js";
import { admit, TrustLedger, DEFAULT_MINT_LIMITS, type AdmitOptions, type AdmitResult, type Equivocation } from "./admit.js";
import { didOfReplica } from "../identity/identity.js";
// The default check: identity's verifySignature with did:keys decoded once.
import { verifyAuthor as verifySignature } from "./envelope.js";
import { _decodeUnlessHeld, redactEnvelope, signEnvelope, sortLinks, DEFAULT_LIMITS, CID, type Envelope, type EnvelopeItem } from "./envelope.js";
import { TrustError, type TrustErrorCode } from "./errors.js";
import { decodeTrustMessage, encodeTrustMessage, HEAD_BYTES, type FrontierEntry } from "./wire.js";
import type { ReadGate, RevocationRelay, Signable } from "./gate.js";
import { checkSquash, joinItems } from "./squash.js";
import { splitDelta, type SplitBounds } from "./split.js";
import { MAX_ENVELOPES_PER_MESSAGE, MAX_REVOCATIONS_PER_MESSAGE } from "./wire.js";
import { ReconcileError, ReconcileSet, Reconciler, type ReconcileOptions } from "../replication/reconcile.js";
import { sha256 } from "../replication/reconcile-hash.js";

// Where a node keeps admitted envelopes (the node's Store: storage/store.ts).
export interface EnvelopeStore {
  // Every stored envelope, in the order they were put (admission order, so
  // each one's links come before it). Called once, at open.
  envelopes(): Iterable<Uint8Array> | Promise<Iterable<Uint8Array>>;
  // Resolves once durable. Called in admission order.
  putEnvelope(bytes: Uint8Array): Promise<void>;
  // Atomically stores `bytes` and removes the records whose bytes are
  // `drop` (the very arrays given to putEnvelope or read back by
  // envelopes()): a fuller copy of a redacted envelope, or a squash in place
  // of the envelopes it covers. Without it, a fuller copy is appended (read
  // back after the redacted one, it fills it) and squashes replace nothing.
  replaceEnvelopes?(drop: Uint8Array[], bytes: Uint8Array): Promise<void>;
  // The highest sequence number this node has signed, kept apart from the
  // envelope log: if the log lost the node's own last envelopes, the node
  // must not sign that sequence number again (that is equivocation).
  ownSeq?(): number;
  setOwnSeq?(seq: number): Promise<void>;
}

export interface TrustHubOptions {
  identity: PeerIdentity;          // signs this node's envelopes; the runtime's replica id must be `<identity.did>.<…>`
  store?: EnvelopeStore;           // default: none (envelopes live in memory only)
  // Capabilities: see AdmitOptions.authorize. Not re-run when the log is
  // read back at start (those were authorised when admitted).
  authorize?: (envelope: Envelope) => Promise<void> | void;
  admit?: Pick<AdmitOptions, "now" | "limits" | "limitsFor" | "envelopeLimits" | "verify">;
  autoDeclare?: boolean;           // declare variables an admitted envelope names and this node lacks (default true)
  maxPending?: number;             // envelopes waiting for their links, per peer (default 256)
  maxPendingBytes?: number;        // their bytes, per peer (default 4 MiB)
  maxMessageBytes?: number;        // envelope bytes per message sent (default 1 MiB)
  maxCatchUpBytes?: number;        // envelope bytes sent to one peer per frontier it sends or session with it (default 8 MiB)
  // Adaptive signing (docs/security.md, "Batching under load"): a change
  // made after a quiet spell is signed at the end of its turn; while changes
  // keep coming, or signatures wait behind admissions, the next envelope
  // waits for a window after the last one (2, 8, 32… ms, up to this) and
  // covers everything made meanwhile. flushed() signs at once. 0: one
  // envelope per turn. Default 50 ms; at most 60,000.
  maxSignDelay?: number;
  clock?: Clock;                   // for the signing window (default: real time)
  onReject?: (error: TrustError, peer: string | undefined, evidence?: Equivocation) => void;
  onError?: (error: Error, peer?: string) => void;
  // Capabilities (gate.ts, docs/security.md "Capabilities in trustless nodes"):
  // this node's proof, put in the `cap` of every envelope it signs and
  // presented to each neighbour (a function: the current one);
  proof?: Uint8Array | (() => Uint8Array | undefined | Promise<Uint8Array | undefined>);
  // whether a local delta-group may be signed (else it stays local: see signableFor);
  signable?: (variable: string, delta: Uint8Array) => Signable | Promise<Signable>;
  // read gating: a peer is sent every envelope's signed header, and only the
  // deltas of the variables it may read (the others redacted).
  readGate?: ReadGate;
  // revocation records, relayed to every neighbour apart from envelopes (see revocationRelay).
  revocations?: RevocationRelay;
  // Compaction (docs/security.md, "Squash envelopes and the log's bound"):
  // this node signs a squash of its own envelopes once it holds this many
  // live ones (default 256; 0: never)...
  squashEvery?: number;
  // ...and holds at most this many live envelopes, and bytes, per author:
  // an author's envelope beyond either is refused (LOG_FULL) until the
  // author squashes (defaults 4,096 and 64 MiB).
  maxLogPerAuthor?: number;
  maxLogBytesPerAuthor?: number;
}

export interface TrustStats {
  signed: number;                  // envelopes this node signed
  admitted: number;                // envelopes from peers admitted (joined)
  duplicates: number;              // envelopes received again (replays included)
  pending: number;                 // waiting for their links now
  pendingDropped: number;          // refused because a peer's pending buffer was full
  rejected: number;                // refused by admission
  rejectedBy: Partial<Record<TrustErrorCode, number>>;
  evidence: number;                // equivocations kept as evidence
  malformed: number;               // messages that did not decode
  restored: number;                // envelopes read back from the store at start
  restoreSkipped: number;          // stored envelopes that were not admitted again (corrupt, rejected, or of another version)
  filled: number;                  // redacted items of held envelopes filled in by a fuller copy
  squashes: number;                // squash envelopes this node signed
  squashed: number;                // envelopes in the log replaced by a squash
  messages: number; bytes: number; // sent
  envelopesSent: number;
  sessions: number;                // range-based catch-up sessions ended (both roles)
  reconcileMessages: number; reconcileBytes: number; // of the messages sent: reconcile ones
  received: number; receivedBytes: number;
}

const zeroStats = (): TrustStats => ({
  signed: 0, admitted: 0, duplicates: 0, pending: 0, pendingDropped: 0, rejected: 0, rejectedBy: {}, evidence: 0,
  malformed: 0, restored: 0, restoreSkipped: 0, filled: 0, squashes: 0, squashed: 0, messages: 0, bytes: 0, envelopesSent: 0, received: 0, receivedBytes: 0,
  sessions: 0, reconcileMessages: 0, reconcileBytes: 0,
});

// Local changes this close (ms) to the last envelope are a stream: see #opened.
const STREAM_GAP_MS = 10;

interface Source { rep: EnvelopeReplicator; peer: string }
// One admitted envelope in the hub's log (bytes: as admitted, maybe
// redacted). A squash's entry stands for from..seq; an entry it replaced is
// dead (its slot kept, so indices stay causal order; its envelope dropped).
interface LogEntry { env: Envelope; bytes: Uint8Array; author: string; from: number; seq: number; variables: string[]; dead?: boolean }
interface Waiting { bytes: Uint8Array; missing: string[]; squash: boolean; tried?: number }

// The last 8 bytes of a CID: a frontier's head (enough to tell two forks apart).
const digestKey = (d: Uint8Array): string => String.fromCharCode.apply(null, d as unknown as number[]);
const headOf = (c: CID): Uint8Array => c.bytes.subarray(c.bytes.length - HEAD_BYTES);
const sameHead = (a: Uint8Array, b: Uint8Array): boolean => a.every((x, i) => x === b[i]);

export class TrustHub {
  readonly runtime: Runtime;
  readonly identity: PeerIdentity;
  readonly ledger = new TrustLedger();
  #o: TrustHubOptions;
  #stats = zeroStats();
  // Admitted envelopes in admission order, and per author: log index by seq - 1.
  #log: LogEntry[] = [];
  #bySeq = new Map<string, number[]>();
  #byDigest = new Map<string, number>();      // an envelope's CID digest → log index (live entries)
  #live = new Map<string, { n: number; bytes: number }>(); // per author: live log entries and their bytes
  #squashAt = 0;                              // own live entries at which the next squash is tried
  #reps = new Set<EnvelopeReplicator>();
  #local = new Map<string, Uint8Array[]>(); // unsigned local delta-groups by variable
  #applying = false;                          // joining an admitted envelope: not a local change
  #queue: Promise<void> = Promise.resolve();  // every admission and signature, one at a time
  #busy = 0;
  #floor = 0;                                 // own sequence numbers below this were signed before
  #off: (() => void)[] = [];
  #closed = false;

  private constructor(runtime: Runtime, o: TrustHubOptions) {
    const d = o.maxSignDelay;
    if (d !== undefined && !(d >= 0 && d <= 60_000)) throw new RangeError(`maxSignDelay is 0 to 60,000 ms, got ${d}`);
    this.runtime = runtime;
    this.identity = o.identity;
    this.#o = o;
  }

  // Reads the envelope log back (rebuilding the ledger and joining every
  // envelope's deltas again, so a join the crash lost comes back), signs
  // what the runtime holds beyond the envelopes (local updates stored but
  // not yet signed when the node stopped), then follows the runtime.
  static async open(runtime: Runtime, o: TrustHubOptions): Promise<TrustHub> {
    const hub = new TrustHub(runtime, o);
    await hub.#restore();
    hub.#off.push(
      runtime.onDelta((id, d) => hub.#onLocal(id, d)),
      // A declaration travels as the bottom state in an envelope: peers declare from its header.
      runtime.onDeclare((id, _spec, kind) => { if (kind === "replicated") hub.#onLocal(id, runtime.encode(id)); }),
    );
    if (hub.#local.size > 0) hub.#startSign();
    return hub;
  }

  get closed(): boolean { return this.#closed; }

  // Follows one transport with its own rounds (start() it).
  attach(transport: Transport, o: { interval?: number; clock?: Clock; didOf?: (peer: string) => string | null | undefined; catchUp?: CatchUp } = {}): EnvelopeReplicator {
    const r = new EnvelopeReplicator(this, transport, o);
    this.#reps.add(r);
    return r;
  }

  stats(): TrustStats {
    let pending = 0, dropped = 0;
    for (const r of this.#reps) { pending += r._pendingCount(); dropped += r.pendingDropped; }
    return { ...structuredClone(this.#stats), pending, pendingDropped: dropped, evidence: this.ledger.evidence.length };
  }
  get evidence(): readonly Equivocation[] { return this.ledger.evidence; }

  // What range-based catch-up reconciles (host/replication/reconcile.ts; the
  // replicator's sessions use them, and so may a caller with its own
  // transport): the ids of every admitted envelope, each the 32-byte sha-256
  // of its bytes (its CID's digest), in admission order...
  ids(): Uint8Array[] {
    return this.#log.filter((e) => !e.dead).map((e) => e.env.cid.multihash.digest);
  }
  // ...and the envelopes a session found the peer lacks (its `have`), in
  // admission order (causal), ready for an "envelopes" message. Unknown ids
  // are skipped. With a read gate, pass the peer's did (`reader`): each
  // envelope then carries only the deltas it may read.
  envelopesFor(ids: Iterable<Uint8Array>, reader?: string): Uint8Array[] {
    const idx: number[] = [];
    for (const id of ids) { const i = this.#byDigest.get(digestKey(id)); if (i !== undefined) idx.push(i); }
    return idx.sort((a, b) => a - b).map((i) => this._serve(this.#log[i].env, reader));
  }

  // Resolves once every local change made so far is signed and stored (an
  // update may be acknowledged then), and every message received so far is
  // handled.
  async flushed(): Promise<void> {
    for (;;) {
      // Changes waiting for the signing window are signed now: the caller
      // acknowledges them once this resolves.
      if (this.#signTimer) this.#startSign();
      const q = this.#queue;
      await q;
      if (this.#queue === q && this.#busy === 0 && !this.#signQueued) return;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#signTimer?.(); this.#signTimer = null;
    for (const off of this.#off) off();
    for (const r of [...this.#reps]) r.close();
  }

  // ---- internal: for EnvelopeReplicator --------------------------------

  /** @internal */ _detach(r: EnvelopeReplicator): void { this.#reps.delete(r); }
  /** @internal */ _count(kind: "messages" | "envelopes" | "received" | "malformed" | "reconcile" | "session", n: number, bytes = 0): void {
    const s = this.#stats;
    if (kind === "messages") { s.messages++; s.bytes += bytes; s.envelopesSent += n; }
    else if (kind === "reconcile") { s.reconcileMessages++; s.reconcileBytes += bytes; }
    else if (kind === "session") s.sessions++;
    else if (kind === "received") { s.received++; s.receivedBytes += bytes; }
    else if (kind === "malformed") s.malformed++;
  }
  /** @internal */ _report(e: unknown, peer?: string): void {
    const err = e instanceof Error ? e : new Error(String(e));
    try { this.#o.onError?.(err, peer); } catch { /* a throwing handler must not break the protocol */ }
  }
  /** @internal */ _enqueue(task: () => Promise<void> | void): void {
    this.#busy++;
    this.#queue = this.#queue.then(task).catch((e) => this._report(e)).finally(() => {
      this.#busy--;
      // What the task admitted or signed goes out now, one message per peer
      // (under a steady stream the queue may not drain for a while).
      for (const r of this.#reps) r._flush();
      if (this.#busy === 0) this.#drained();
    });
  }

  // The frontier this node has admitted: per author, its last sequence and head.
  /** @internal */ _frontier(): FrontierEntry[] {
    const out: FrontierEntry[] = [];
    for (const author of this.#bySeq.keys()) {
      const seq = this.ledger.lastSeq(author);
      if (seq > 0) out.push({ author, seq, head: headOf(this.ledger.cidAt(author, seq)!) });
    }
    return out;
  }

  // What a peer whose frontier is `theirs` lacks: log indices in admission
  // (causal) order. If the peer's head for an author is not ours, the two
  // admitted different envelopes with that sequence (equivocation): it gets
  // ours at that sequence, which it rejects as evidence, and nothing later.
  /** @internal */ _missingFor(theirs: Map<string, FrontierEntry>): number[] {
    const out: number[] = [];
    for (const [author, idx] of this.#bySeq) {
      const mine = this.ledger.lastSeq(author);
      const t = theirs.get(author);
      const have = Math.min(t?.seq ?? 0, mine);
      if (have >= mine) continue;
      if (have > 0 && !sameHead(t!.head, headOf(this.ledger.cidAt(author, have)!))) { out.push(idx[have - 1]); continue; }
      // A squash's entry stands for many sequences: sent once.
      for (let s = have; s < mine; s++) if (idx[s] !== out[out.length - 1]) out.push(idx[s]);
    }
    return [...new Set(out)].sort((a, b) => a - b);
  }
  /** @internal */ _envelopeAt(i: number): LogEntry { return this.#log[i]; }
  // Read gating: the bytes of `e` for the peer with key `did`: the whole
  // signed header, and the deltas of the variables it may read. A header
  // alone keeps the author's chain whole at the reader (its later envelopes
  // link to this one), and grants nothing of what was left out.
  /** @internal */ _serve(e: Envelope, did: string | undefined): Uint8Array {
    const gate = this.#o.readGate;
    return gate ? redactEnvelope(e, (v) => gate.canRead(did, v)).bytes : e.bytes;
  }
  /** @internal */ async _proof(): Promise<Uint8Array | undefined> {
    const p = this.#o.proof;
    return typeof p === "function" ? await p() : p;
  }
  /** @internal */ _option<K extends keyof TrustHubOptions>(k: K): TrustHubOptions[K] { return this.#o[k]; }

  // Range-based catch-up: the ids (CID digests) of the live envelopes (a
  // squash's, not those of the run it replaced), each with its author's
  // sequence number as its timestamp (signed in the envelope, so both sides
  // order an envelope the same way; the newest of every chain sort last,
  // where a returning replica's difference is). One set shared by every
  // session until the log changes.
  #recSet: { at: number; set: ReconcileSet } | null = null;
  #logVersion = 0; // bumped by #record: a squash can replace entries without changing the log's length
  /** @internal */ _reconcileSet(_did: string | undefined): ReconcileSet {
    // With a read gate too, one set for every peer: each peer gets every
    // header, redacted to what it may read (_serve), so naming every
    // envelope tells a reader nothing its headers do not.
    if (this.#recSet?.at !== this.#logVersion) this.#recSet = { at: this.#logVersion, set: this.#itemsFor() };
    return this.#recSet.set;
  }
  #itemsFor(): ReconcileSet {
    const items: { id: Uint8Array; ts: number }[] = [];
    for (const e of this.#log) if (!e.dead) items.push({ id: e.env.cid.multihash.digest, ts: e.seq });
    return new ReconcileSet(items, { timestamps: true });
  }
  /** @internal */ _authors(): number { return this.#bySeq.size; }
  // The log index of the envelope whose CID digest is `id`.
  /** @internal */ _indexOfId(id: Uint8Array): number | undefined { return this.#byDigest.get(digestKey(id)); }

  // Admits one envelope from a peer; joins, stores and forwards it if admitted.
  // Before a message's envelopes reach the one-at-a-time admission queue:
  // each one already admitted is found by its CID alone (a sha-256, no
  // decoding), the others are decoded once and their signatures checked in
  // parallel (WebCrypto runs them on its thread pool). Admission then takes
  // the decoded envelopes and the results. One that does not decode is left
  // as bytes, for admission to refuse with its reason.
  /** @internal */ async _precheck(envs: Uint8Array[]): Promise<{ items: (Uint8Array | Envelope | CID)[]; sigs: Map<Uint8Array, Promise<boolean>> }> {
    const sigs = new Map<Uint8Array, Promise<boolean>>(); // by the decoded envelope's sig array: what admit's verify is called with
    const check = this.#o.admit?.verify ?? verifySignature;
    const items = await Promise.all(envs.map(async (b): Promise<Uint8Array | Envelope | CID> => {
      if (!(b instanceof Uint8Array)) return b;
      try {
        // Held already: nothing to decode, unless the copy held is redacted (this one may fill it).
        const e = await _decodeUnlessHeld(b, (cid) => this.ledger.has(cid) && !this.ledger._envelope(cid)?.redacted, this.#o.admit?.envelopeLimits);
        if (e instanceof CID) return e;
        sigs.set(e.sig, check(e.author, e.signed, e.sig).catch(() => false));
        return e;
      } catch { return b; }
    }));
    await Promise.all(sigs.values());
    return { items, sigs };
  }

  /** @internal */ async _receive(input: Uint8Array | Envelope | CID, src: Source, sigs?: Map<Uint8Array, Promise<boolean>>): Promise<void> {
    if (this.#closed) return;
    const cid = input instanceof Uint8Array ? null : CID.asCID(input);
    if (cid) {
      // Found by its CID: a duplicate (admitted envelopes stay admitted).
      const known = this.ledger._envelope(cid);
      if (known) { this.#stats.duplicates++; src.rep._holds(src.peer, known.author, this.ledger._seqOf(cid) ?? known.seq); }
      return;
    }
    const check = this.#o.admit?.verify ?? verifySignature;
    const verify = sigs ? (did: string, data: Uint8Array, sig: Uint8Array) => sigs.get(sig) ?? check(did, data, sig) : undefined;
    const s = this.#stats;
    // The per-author bound of the log: a new envelope of an author at its
    // cap is refused (not remembered as refused: once the author squashes,
    // catch-up brings it, or its squash, again). A squash is never refused
    // for it: it is what frees room.
    if (!(input instanceof Uint8Array)) {
      const e = input as Envelope;
      const full = this.#full(e.author, e.bytes.length);
      if (e.from === e.seq && full && !this.ledger.has(e.cid)) {
        const err = new TrustError("LOG_FULL", full);
        this.ledger._reject(err);
        s.rejected++;
        s.rejectedBy.LOG_FULL = (s.rejectedBy.LOG_FULL ?? 0) + 1;
        try { this.#o.onReject?.(err, src.peer); } catch { /* ignored */ }
        return;
      }
    }
    const r = await admit(this.ledger, input as Uint8Array | Envelope, {
      ...this.#o.admit, ...(verify ? { verify } : {}), kernel: this.runtime.kernel, authorize: (e) => this.#authorize(e), squash: (e, to) => this.#checkSquash(e, to),
      // Only links still to come: an envelope parked on a settled link
      // would be ready again at once, and _retryPending would spin on it.
      deferred: () => [...this.#deferred.keys()].filter((l) => !this.ledger.settled(l)),
    });
    switch (r.status) {
      case "duplicate":
        s.duplicates++;
        src.rep._holds(src.peer, r.envelope.author, r.envelope.seq);
        return;
      case "pending":
        src.rep._wait(src.peer, r.envelope, r.missing.map(String));
        return;
      case "rejected":
        // A link a squash waited for, refused: nothing more will come of it.
        if (!(input instanceof Uint8Array)) this.#deferred.delete((input as Envelope).cid.toString());
        s.rejected++;
        s.rejectedBy[r.error.code] = (s.rejectedBy[r.error.code] ?? 0) + 1;
        try { this.#o.onReject?.(r.error, src.peer, r.evidence); } catch { /* ignored */ }
        return;
      case "filled":
        s.filled++;
        src.rep._holds(src.peer, r.envelope.author, r.envelope.seq);
        await this.#refill(r.envelope, r.filled, src.peer);
        return;
      case "admitted":
        s.admitted++;
        src.rep._holds(src.peer, r.envelope.author, r.envelope.seq);
        await this.#accept(r.envelope, src);
    }
  }

  // An envelope a squash was admitted without: what it saw is the squash's too.
  // A squash settles every CID it covers (each resolves to it in the
  // ledger): a squash waiting for one of those links is widened too, or the
  // link would stay deferred forever.
  #widen(e: Envelope): void {
    if (this.#deferred.size === 0) return; // nothing waits (the usual case): no CID string made
    const c = e.cid.toString();
    let hit = false;
    for (const l of e.from < e.seq ? [c, ...e.covers.map(String)] : [c]) {
      const t = this.#deferred.get(l);
      if (!t) continue;
      hit = true;
      this.#deferred.delete(l);
      for (const s of t) this.ledger._widen(s, l);
      // Envelopes admitted meanwhile took what they saw through the squash as
      // it was then: what the link saw is theirs too (a little more than some saw).
      for (const x of this.#tainted) this.ledger._widen(x, l);
    }
    if (!hit) { if (this.#deferred.size > 0 && this.#tainted.length < 65536) this.#tainted.push(c); return; }
    if (this.#deferred.size === 0) this.#tainted = [];
  }
  #tainted: string[] = []; // envelopes admitted while a squash waited for links

  // Why the author's log is full (undefined: it is not).
  #full(author: string, more: number): string | undefined {
    const l = this.#live.get(author);
    if (!l) return undefined;
    const n = this.#o.maxLogPerAuthor ?? 4096, b = this.#o.maxLogBytesPerAuthor ?? 64 << 20;
    if (l.n >= n) return `${author} has ${l.n} envelopes in this node's log, at most ${n}: it must squash them`;
    if (l.bytes + more > b) return `${author}'s envelopes in this node's log would take ${l.bytes + more} bytes, at most ${b}: it must squash them`;
    return undefined;
  }

  // Live log entries of `author` whose range lies within from..to, in sequence order.
  #inside(author: string, from: number, to: number): number[] {
    const idx = this.#bySeq.get(author) ?? [];
    const out = new Set<number>();
    for (let s = from; s <= to && s <= idx.length; s++) {
      const i = idx[s - 1];
      if (i === undefined) continue;
      const e = this.#log[i];
      if (!e.dead && e.from >= from && e.seq <= to) out.add(i);
    }
    return [...out].sort((a, b) => this.#log[a].from - this.#log[b].from);
  }

  // Admission's squash hook: the squash against the run's envelopes held here (squash.ts).
  #checkSquash(e: Envelope, heldTo: number): void {
    if (heldTo < e.from) return;
    const held = this.#inside(e.author, e.from, heldTo).map((i) => this.#log[i]);
    const whole = heldTo === e.seq && held.reduce((n, x) => n + x.seq - x.from + 1, 0) === e.seq - e.from + 1;
    try { checkSquash(e, held.map((x) => x.env), whole, this.runtime.kernel); } catch (err) {
      throw err instanceof TrustError ? err : new TrustError("BAD_SQUASH", (err as Error)?.message ?? String(err), err);
    }
  }

  // A fuller copy of an envelope held redacted: it replaces the stored copy
  // (durable first, as in #accept) and its new deltas are joined.
  async #refill(e: Envelope, variables: string[], peer?: string): Promise<void> {
    const i = this.#byDigest.get(digestKey(e.cid.multihash.digest));
    const old = i === undefined ? undefined : this.#log[i];
    const st = this.#o.store;
    if (st) await (st.replaceEnvelopes && old ? st.replaceEnvelopes([old.bytes], e.bytes) : st.putEnvelope(e.bytes));
    if (old) { old.env = e; old.bytes = e.bytes; }
    this.#join(e, peer, variables);
  }

  // The variables of the log that `did` may read now (read gating).
  /** @internal */ _readable(did: string | undefined): Set<string> {
    const gate = this.#o.readGate, out = new Set<string>();
    if (!gate) return out;
    const all = new Set<string>();
    for (const e of this.#log) if (!e.dead) for (const v of e.variables) all.add(v);
    for (const v of all) if (gate.canRead(did, v)) out.add(v);
    return out;
  }
  // Log indices of the envelopes carrying any of `variables`, in admission order.
  /** @internal */ _carrying(variables: Set<string>): number[] {
    const out: number[] = [];
    this.#log.forEach((e, i) => { if (!e.dead && e.variables.some((v) => variables.has(v))) out.push(i); });
    return out;
  }

  // Pending envelopes whose links have all been admitted since: admit them now.
  /** @internal */ async _retryPending(): Promise<void> {
    for (let progress = true; progress && !this.#closed;) {
      // Nothing waits (after most messages): no walk and no cycle break.
      if (![...this.#reps].some((r) => r._pendingCount() > 0)) return;
      progress = false;
      for (const rep of this.#reps) {
        for (const [peer, w] of rep._ready((c) => this.ledger.settled(c))) {
          progress = true;
          await this._receive(w.bytes, { rep, peer });
        }
      }
      if (!progress) progress = await this.#breakCycle();
    }
  }

  // A node that learns runs of two authors from their squashes can find
  // them waiting on each other: squash S links L, and L links an envelope of
  // S's run, which resolves only to S. S is tried as if its missing links
  // were not there: if it passes every check with less than it names (its
  // items need nothing those links saw), it is admitted, and what each link
  // saw is added to it when the link arrives. Otherwise it keeps waiting.
  async #breakCycle(): Promise<boolean> {
    for (const rep of this.#reps) {
      for (const [peer, c, w] of rep._pendingSquashes()) {
        // Tried once per state of the ledger: a peer's pending squashes cost one check each, not one per message.
        if (w.tried === this.ledger.size) continue;
        w.tried = this.ledger.size;
        const o: AdmitOptions = { ...this.#o.admit, kernel: this.runtime.kernel, authorize: (e) => this.#authorize(e), squash: (e, to) => this.#checkSquash(e, to), settledLinks: true };
        const dry = await admit(this.ledger, w.bytes, { ...o, dryRun: true, quiet: true });
        if (dry.status !== "admitted") continue;
        rep._unwait(peer, c);
        const later = dry.envelope.links.map(String).filter((l) => !this.ledger.settled(l));
        const r = await admit(this.ledger, dry.envelope, o);
        if (r.status !== "admitted") continue;
        this.#defer(later, c);
        this.#stats.admitted++;
        rep._holds(peer, r.envelope.author, r.envelope.seq);
        await this.#accept(r.envelope, { rep, peer });
        return true;
      }
    }
    return false;
  }
  #deferred = new Map<string, string[]>(); // a link's CID → squashes admitted before it (at most 4,096 links)
  #defer(links: string[], squash: string): void {
    for (const l of links) {
      let t = this.#deferred.get(l);
      if (!t) this.#deferred.set(l, (t = []));
      t.push(squash);
      if (this.#deferred.size > 4096) this.#deferred.delete(this.#deferred.keys().next().value!);
    }
  }

  // ---- internal ----------------------------------------------------------

  // The type check (the variable exists here with this type, or may be
  // declared from the delta's header) and then the capability hook.
  async #authorize(e: Envelope): Promise<void> {
    try {
      admitEntries(this.runtime, e.items.map((it) => ({ id: it.variable, bytes: it.delta })));
    } catch (err) {
      throw new TrustError("BAD_DELTA", (err as Error)?.message ?? String(err), err);
    }
    await this.#o.authorize?.(e);
  }

  // Stores an admitted envelope (durable before its deltas are joined, so a
  // restart never holds a join whose envelope it cannot serve), joins it and
  // passes it on.
  async #accept(e: Envelope, src: Source | null): Promise<void> {
    this.#widen(e);
    if (e.from < e.seq) {
      // A squash: it takes the place of the run's envelopes held here (in
      // the store, in one batch, and in the log), unless it leaves out a
      // delta one of them carries (then they stay, beside it).
      const drop = this.#inside(e.author, e.from, e.seq).filter((i) => !this.#log[i].env.items.some((it) => e.redacted.includes(it.variable)));
      const st = this.#o.store;
      if (st) {
        if (st.replaceEnvelopes) await st.replaceEnvelopes(drop.map((i) => this.#log[i].bytes), e.bytes);
        else await st.putEnvelope(e.bytes);
      }
      this.#recordSquash(e, drop);
    } else {
      await this.#persist(e);
      this.#record(e);
    }
    this.#join(e, src?.peer);
    for (const rep of this.#reps) rep._offer(e, src);
  }

  async #persist(e: Envelope): Promise<void> {
    const st = this.#o.store;
    if (!st) return;
    const own = e.author === this.identity.did;
    // One batch: the envelope and, for our own, the sequence floor.
    await Promise.all([st.putEnvelope(e.bytes), own && st.setOwnSeq ? st.setOwnSeq(e.seq) : undefined]);
  }

  // A squash in the log in place of `drop`. If no other envelope of its
  // range stays live here (a redacted squash keeps those carrying what it
  // leaves out; a squash overlapping another is kept beside it), the node
  // holds the squash in place of its run, and the ledger collapses the run
  // (TrustLedger.collapse: its per-envelope entries go).
  #recordSquash(e: Envelope, drop: number[]): void {
    const dropped = new Set(drop);
    const idx = this.#bySeq.get(e.author) ?? [];
    let alone = true;
    for (let s = e.from; s <= e.seq && alone; s++) {
      const i = idx[s - 1];
      if (i !== undefined && !this.#log[i].dead && !dropped.has(i)) alone = false;
    }
    // Live envelopes no longer indexed by sequence (kept beside an earlier squash).
    for (const c of e.covers) {
      if (!alone) break;
      const i = this.#byDigest.get(digestKey(c.multihash.digest));
      if (i !== undefined && !dropped.has(i)) alone = false;
    }
    this.#record(e, drop);
    if (alone) this.ledger.collapse(e);
  }

  // Records an admitted envelope in the log. A squash takes the slot of the
  // last entry it replaces (`drop`: its links were all admitted before that
  // one), the others die; every sequence it stands for maps to it.
  #record(e: Envelope, drop: number[] = []): void {
    this.#logVersion++;
    let idx = this.#bySeq.get(e.author);
    if (!idx) this.#bySeq.set(e.author, (idx = []));
    const live = this.#live.get(e.author) ?? { n: 0, bytes: 0 };
    this.#live.set(e.author, live);
    const slot = drop.length ? Math.max(...drop) : this.#log.length;
    for (const i of drop) {
      const x = this.#log[i];
      this.#byDigest.delete(digestKey(x.env.cid.multihash.digest));
      live.n--; live.bytes -= x.bytes.length;
      x.dead = true; x.bytes = new Uint8Array(0); x.variables = [];
      this.#stats.squashed++;
    }
    const entry: LogEntry = { env: e, bytes: e.bytes, author: e.author, from: e.from, seq: e.seq, variables: e.header.map((h) => h.variable) };
    if (slot === this.#log.length) this.#log.push(entry); else this.#log[slot] = entry;
    for (const i of drop) if (i !== slot) (this.#log[i] as { env: Envelope | null }).env = null;
    for (let s = e.from; s <= e.seq; s++) {
      const cur = idx[s - 1];
      if (cur === undefined || this.#log[cur].dead || cur === slot || e.from < e.seq) idx[s - 1] = slot;
    }
    this.#byDigest.set(digestKey(e.cid.multihash.digest), slot);
    live.n++; live.bytes += e.bytes.length;
  }

  // Joins the envelope's carried deltas (only `only`'s, if given): a
  // redacted item is never joined.
  #join(e: Envelope, peer?: string, only?: string[]): void {
    const auto = this.#o.autoDeclare ?? true;
    this.#applying = true;
    try {
      for (const it of e.items) {
        if (only && !only.includes(it.variable)) continue;
        try {
          if (!this.runtime.has(it.variable)) {
            if (!auto) continue;
            this.runtime.declare(it.variable, headerSpec(it.delta));
          }
          this.runtime.bind(it.variable, it.delta, "remote");
        } catch (err) {
          this._report(new Error(`joining ${JSON.stringify(it.variable)} of envelope ${e.cid}: ${(err as Error)?.message ?? String(err)}`, { cause: err }), peer);
        }
      }
    } finally { this.#applying = false; }
  }

  #onLocal(id: string, d: Uint8Array): void {
    if (this.#closed || this.#applying) return;
    if (!this.runtime.has(id) || this.runtime.kind(id) !== "replicated") return;
    if (this.#local.size === 0) this.#firstAt = this.#now();
    let l = this.#local.get(id);
    if (!l) this.#local.set(id, (l = []));
    l.push(d);
    this.#queueSign();
  }

  // The signing window (see TrustHubOptions.maxSignDelay): how long after
  // the last envelope the next one waits, when the last signature was made,
  // when the oldest unsigned change was made, and the pending timer.
  #window = 0;
  #lastSignAt = -Infinity;
  #firstAt = 0;
  #signTimer: (() => void) | null = null;
  #requestedAt = 0;                           // when the pending signature was queued
  #now(): number { return this.#o.clock ? this.#o.clock.now() : performance.now(); }

  #signQueued = false;
  #queueSign(): void {
    if (this.#signQueued || this.#signTimer || this.#closed) return;
    const wait = this.#lastSignAt + this.#window - this.#now();
    if (wait > 0) {
      const c = this.#o.clock;
      if (c) this.#signTimer = c.setTimeout(() => this.#startSign(), wait);
      else { const t = setTimeout(() => this.#startSign(), wait); this.#signTimer = () => clearTimeout(t); }
      return;
    }
    this.#startSign();
  }
  #startSign(): void {
    this.#signTimer?.(); this.#signTimer = null;
    if (this.#signQueued || this.#closed) return;
    this.#signQueued = true;
    this.#requestedAt = this.#now();
    // On a microtask: the delta-groups of one turn share a signature.
    queueMicrotask(() => this._enqueue(async () => { this.#signQueued = false; await this.#signLocal(); }));
  }
  // Called as a batch is taken for signing. The window grows when signing
  // lags (the signature waited in the queue behind admissions: every
  // envelope costs each receiver a verification, so fewer and larger ones
  // under load), or when the batch began within 10 ms (or the window) of the
  // last envelope (changes are streaming); to at least twice the lag. A
  // batch after a quiet spell, on a node keeping up, closes it: the next
  // change is signed at once.
  #opened(): void {
    const max = this.#o.maxSignDelay ?? 50, now = this.#now();
    const lag = now - this.#requestedAt;
    const streaming = this.#firstAt - this.#lastSignAt <= Math.max(this.#window, STREAM_GAP_MS);
    this.#window = max > 0 && (streaming || lag > 1) ? Math.min(max, Math.max(2, this.#window * 4, 2 * lag)) : 0;
    this.#lastSignAt = now;
  }

  #drained(): void {
    if (this.#local.size > 0 && !this.#signQueued && this.ledger.lastSeq(this.identity.did) >= this.#floor) this.#queueSign();
  }

  // Signs what changed locally, in envelopes of at most maxItems variables
  // and about half the envelope size limit of deltas each.
  async #signLocal(): Promise<void> {
    if (this.#local.size === 0 || this.#closed) return;
    const me = this.identity.did;
    // Our own last envelopes were lost from the log: wait until peers send
    // them back rather than sign their sequence numbers again.
    if (this.ledger.lastSeq(me) < this.#floor) return;
    const taken = this.#local;
    this.#local = new Map();
    this.#opened();
    let items: EnvelopeItem[] = [...taken].map(([variable, ds]) => ({ variable, delta: joinStates(ds, this.runtime.kernel) }));
    const signable = this.#o.signable;
    if (signable) {
      // Changes this node holds no capability for stay local: signed, its
      // peers would refuse the envelope and every later one (they link to it).
      const ok: EnvelopeItem[] = [];
      for (const it of items) {
        let v: Signable;
        try { v = await signable(it.variable, it.delta); } catch (e) { v = { sign: false, why: e instanceof TrustError ? e : new TrustError("UNAUTHORIZED_CAP", (e as Error)?.message ?? String(e), e) }; }
        if (v.sign) { ok.push(it); continue; }
        if (v.why) {
          const s = this.#stats;
          s.rejected++;
          s.rejectedBy[v.why.code] = (s.rejectedBy[v.why.code] ?? 0) + 1;
          this._report(new Error(`a local change to ${JSON.stringify(it.variable)} was not signed (it stays on this node): ${v.why.message}`, { cause: v.why }));
        }
      }
      items = ok;
      if (items.length === 0) return;
    }
    const lim = { ...DEFAULT_LIMITS, ...this.#o.admit?.envelopeLimits };
    const chunks: EnvelopeItem[][] = [];
    let cur: EnvelopeItem[] = [], size = 0;
    for (const it of items) {
      // (Read gating needs no split: a reader is sent the deltas it may read.)
      if (cur.length > 0 && (cur.length >= lim.maxItems || size + it.delta.length > lim.maxBytes / 2)) { chunks.push(cur); cur = []; size = 0; }
      cur.push(it); size += it.delta.length;
    }
    if (cur.length) chunks.push(cur);
    for (const c of chunks) {
      c.sort((a, b) => (a.variable < b.variable ? -1 : a.variable > b.variable ? 1 : 0));
      // Too large for one envelope, or moving our counter further than one
      // may: each item is cut into pieces within both (split.ts), signed in
      // order. Nothing acknowledged stays behind for want of room.
      if ((await this.#signOne(c, lim.maxLinks, true)) !== null) continue;
      const mint = { ...DEFAULT_MINT_LIMITS, ...this.#o.admit?.limits };
      const bounds: SplitBounds = { maxBytes: Math.floor(lim.maxBytes / 2), maxAdvance: mint.maxDotAdvance, replica: (r) => didOfReplica(r) === me };
      for (const it of c) {
        let pieces: Uint8Array[];
        try { pieces = splitDelta(it.delta, bounds, this.runtime.kernel); } catch { pieces = [it.delta]; }
        // A piece that fails is reported; the rest would only fail after it.
        for (const d of pieces) if (!await this.#signOne([{ variable: it.variable, delta: d }], lim.maxLinks)) break;
      }
    }
  }

  // Signs and admits one envelope of `items`: true if it did, false if not
  // (reported), null if `quiet` and the items are too large or advance our
  // counter too far for one envelope (the caller cuts them and tries again).
  async #signOne(items: EnvelopeItem[], maxLinks: number, quiet = false): Promise<boolean | null> {
    const me = this.identity.did;
    const last = this.ledger.lastSeq(me);
    const prev = last > 0 ? this.ledger.cidAt(me, last)! : undefined;
    // Links: our previous envelope and the other heads (what this node has
    // joined), up to the limit; a head left out is linked by a later one.
    const links: CID[] = prev ? [prev] : [];
    for (const h of this.ledger.heads()) {
      if (links.length >= maxLinks) break;
      if (!prev || !h.equals(prev)) links.push(h);
    }
    let env: Envelope;
    try {
      const cap = await this._proof();
      env = await signEnvelope(this.identity, { author: me, seq: last + 1, links: sortLinks(links), items, ...(cap ? { cap } : {}) }, this.#o.admit?.envelopeLimits);
    } catch (e) {
      if (quiet && e instanceof TrustError && e.code === "TOO_LARGE") return null;
      this._report(new Error(`signing local changes to ${items.map((i) => JSON.stringify(i.variable)).join(", ")}: ${(e as Error).message}`, { cause: e }));
      return false;
    }
    // Our own envelope passes the same rules as anyone's (no signature check:
    // we just made it). One that fails (e.g. a bind of another replica's
    // dots through the API) stays local and is reported.
    const r = await admit(this.ledger, env, {
      ...this.#o.admit, kernel: this.runtime.kernel, verify: () => Promise.resolve(true), authorize: this.#o.authorize,
    });
    if (r.status !== "admitted") {
      const why = r.status === "rejected" ? r.error : new TrustError("BAD_SEQUENCE", `own envelope ${r.status}`);
      if (quiet && why.code === "COUNTER_JUMP") return null;
      const s = this.#stats;
      s.rejected++;
      s.rejectedBy[why.code] = (s.rejectedBy[why.code] ?? 0) + 1;
      this._report(new Error(`a local change was not signed into the chain (it stays on this node): ${why.message}`, { cause: why }));
      return false;
    }
    this.#stats.signed++;
    await this.#accept(env, null).catch((e) => this._report(e));
    const every = this.#o.squashEvery ?? 256;
    const mine = this.#live.get(me)?.n ?? 0;
    if (every > 0 && mine >= Math.max(every, this.#squashAt)) await this.#squashOwn().catch((e) => this._report(e));
    return true;
  }

  // Signs a squash of a run of this node's own live envelopes, checks it as
  // any peer would, and puts it in their place. The run is the longest one
  // (oldest first) whose links outside it all lie before it: a link to an
  // envelope that has seen the run would make the squash its own ancestor at
  // a node that learns the run from it, and dropping that link would let
  // links to the run grant less than they did. With none (an author whose
  // every envelope links to another's that saw its previous one), the next
  // try waits for squashEvery more envelopes.
  async #squashOwn(): Promise<void> {
    const me = this.identity.did;
    const every = this.#o.squashEvery ?? 256;
    const lim = { ...DEFAULT_LIMITS, ...this.#o.admit?.envelopeLimits };
    const last = this.ledger.lastSeq(me);
    const all = this.#inside(me, 1, last).map((i) => this.#log[i]);
    const wait = (why?: string) => {
      this.#squashAt = (this.#live.get(me)?.n ?? 0) + every;
      if (why) this._report(new Error(`this node's envelopes were not squashed: ${why}`));
    };
    // Own entries carried whole and contiguous (own envelopes read back from peers may be redacted).
    const whole = (x: LogEntry, prev?: LogEntry) => !x.env.redacted.length && (!prev || x.from === prev.seq + 1);
    let run: LogEntry[] = [];
    let links = new Map<string, CID>();
    for (let j = 0; j < all.length && run.length < 2; j++) {
      const from = all[j].from;
      const mine = new Set<string>(), ext = new Map<string, CID>();
      const cand: LogEntry[] = [];
      for (let k = j; k < all.length; k++) {
        const x = all[k];
        if (!whole(x, cand[cand.length - 1]) || x.seq - from + 1 > lim.maxCovers) break;
        const add = new Map<string, CID>();
        let ok = true;
        for (const l of x.env.links) {
          const c = l.toString();
          if (mine.has(c) || ext.has(c)) continue;
          if (this.ledger._saw(l, me) >= from) { ok = false; break; }
          add.set(c, l);
        }
        if (!ok || ext.size + add.size > lim.maxLinks) break;
        for (const [c, l] of add) ext.set(c, l);
        for (let s = x.from; s <= x.seq; s++) mine.add(this.ledger.cidAt(me, s)!.toString());
        mine.add(x.env.cid.toString());
        cand.push(x);
      }
      // Links to envelopes of the run found later are inside it.
      for (const c of mine) ext.delete(c);
      if (cand.length >= 2) { run = cand; links = ext; }
    }
    if (run.length < 2) return wait();
    const from = run[0].from, to = run[run.length - 1].seq;
    const covers: CID[] = [];
    for (let s = from; s <= to; s++) covers.push(this.ledger.cidAt(me, s)!);
    let env: Envelope;
    try {
      const cap = await this._proof();
      env = await signEnvelope(this.identity, {
        author: me, seq: to, from, covers, links: sortLinks(links.values()), items: joinItems(run.map((x) => x.env), this.runtime.kernel), ...(cap ? { cap } : {}),
      }, this.#o.admit?.envelopeLimits);
    } catch (e) { return wait((e as Error).message); }
    const o: AdmitOptions = {
      ...this.#o.admit, kernel: this.runtime.kernel, verify: () => Promise.resolve(true), authorize: this.#o.authorize, squash: (e, to) => this.#checkSquash(e, to),
    };
    const r = await admit(this.ledger, env, o);
    if (r.status !== "admitted") return wait(r.status === "rejected" ? r.error.message : r.status);
    this.#stats.squashes++;
    this.#squashAt = 0;
    await this.#accept(env, null);
  }

  async #restore(): Promise<void> {
    const st = this.#o.store;
    this.#floor = st?.ownSeq?.() ?? 0;
    const covered = new Map<string, Crdt<unknown>>();
    try {
      if (st) {
        const stored = [...await st.envelopes()];
        const check = this.#o.admit?.verify ?? verifySignature;
        const handle = async (r: AdmitResult | { status: "duplicate" }): Promise<void> => {
          if (r.status === "filled") {
            // A fuller copy appended after a redacted one (a store without replaceEnvelopes).
            this.#stats.restored++;
            await this.#refill(r.envelope, r.filled);
            return;
          }
          if (r.status !== "admitted") {
            this.#stats.restoreSkipped++;
            this._report(new Error(`a stored envelope was skipped: ${r.status === "rejected" ? r.error.message : r.status}`));
            return;
          }
          this.#stats.restored++;
          const e = r.envelope;
          this.#widen(e);
          // A squash read back beside the envelopes it covers (appended by a store without replaceEnvelopes).
          if (e.from < e.seq) this.#recordSquash(e, this.#inside(e.author, e.from, e.seq).filter((i) => !this.#log[i].env.items.some((it) => e.redacted.includes(it.variable))));
          else this.#record(e);
          this.#join(e);
          for (const it of e.items) {
            const c = covered.get(it.variable);
            try { if (c) c.merge(it.delta); else covered.set(it.variable, decodeState(it.delta, undefined, this.runtime.kernel)); } catch { /* joined above or reported */ }
          }
        };
        // A squash is stored after envelopes that link to what it covers:
        // an envelope whose links are not here yet waits for the rest of
        // the log; what still waits at the end is admitted with its links
        // settled (they were settled when it was admitted first).
        let parked: (Uint8Array | Envelope)[] = [];
        const sigAll = new Map<Uint8Array, Promise<boolean>>();
        // An envelope admitted at run time after a squash it links to was
        // widened (the squash's missing link, or a squash covering it, came
        // later) is read back before that widening: while links are
        // deferred, it waits (pending) instead of being refused.
        const opts = (settledLinks: boolean, wait = true): AdmitOptions => ({
          ...this.#o.admit, kernel: this.runtime.kernel, now: () => Number.MAX_SAFE_INTEGER, settledLinks,
          verify: (did, data, sig) => sigAll.get(sig) ?? check(did, data, sig), squash: (e, to) => this.#checkSquash(e, to),
          ...(wait ? { deferred: () => [...this.#deferred.keys()].filter((l) => !this.ledger.settled(l)) } : {}),
        });
        // Decoded and signature-checked in parallel batches, admitted in order.
        for (let at = 0; at < stored.length; at += 256) {
          const { items, sigs } = await this._precheck(stored.slice(at, at + 256));
          for (const [k, v] of sigs) sigAll.set(k, v);
          let progress = false;
          for (const input of items) {
            // The clock rule held when it was admitted; time since does not undo it.
            if (CID.asCID(input)) { await handle({ status: "duplicate" }); continue; }
            const r = await admit(this.ledger, input as Uint8Array | Envelope, opts(false));
            if (r.status === "pending") { parked.push(input as Uint8Array | Envelope); continue; }
            progress ||= r.status === "admitted";
            await handle(r);
          }
          while (progress && parked.length) {
            progress = false;
            const still: (Uint8Array | Envelope)[] = [];
            for (const input of parked) {
              const r = await admit(this.ledger, input, opts(false));
              if (r.status === "pending") { still.push(input); continue; }
              progress ||= r.status === "admitted";
              await handle(r);
            }
            parked = still;
          }
        }
        // What is still parked goes in with its links taken as settled (they
        // were when it was admitted first), in rounds. Each round relaxes
        // one wait more when the last moved nothing, and tightens again
        // when one did: (2) one linking to an envelope parked here, or to
        // one a parked squash covers, waits (admitted without it, it would
        // miss what that link saw); (1) one whose author's chain does not
        // reach it yet waits (a squash parked behind it); (0) the rest go in
        // as they are (and are refused or skipped). Deferred links make an
        // envelope wait (pending) above level 0. A relaxed round takes one
        // envelope (a squash first, as the cycle break at run time does)
        // and tightens again.
        for (let level = 2; parked.length;) {
          const still: (Uint8Array | Envelope)[] = [];
          const here = new Set<string>();
          if (level >= 2) for (const x of parked) if (!(x instanceof Uint8Array)) for (const c of [x.cid, ...x.covers]) here.add(c.toString());
          const isSquash = (x: Uint8Array | Envelope) => !(x instanceof Uint8Array) && x.from < x.seq;
          if (level < 2) parked = [...parked.filter(isSquash), ...parked.filter((x) => !isSquash(x))];
          let took = false;
          for (const input of parked) {
            if (took) { still.push(input); continue; }
            if (level >= 1 && !(input instanceof Uint8Array) && (input.from - 1 > this.ledger.lastSeq(input.author) ||
              input.links.some((l) => { const c = l.toString(); return here.has(c) && !this.ledger.settled(c); }))) { still.push(input); continue; }
            const later = input instanceof Uint8Array ? [] : input.links.map(String).filter((l) => !this.ledger.settled(l));
            const r = await admit(this.ledger, input, opts(true, level >= 1));
            if (r.status === "pending") { still.push(input); continue; }
            if (r.status === "admitted" && r.envelope.from < r.envelope.seq) this.#defer(later, r.envelope.cid.toString());
            await handle(r);
            took = level < 2;
          }
          level = still.length < parked.length ? 2 : level - 1;
          parked = still;
        }
      }
      // What the runtime holds beyond the envelopes: local changes of an
      // earlier run that were stored but not signed yet, and variables
      // declared before the hub (their bottom state declares them to peers).
      for (const v of this.runtime.variables()) {
        if (v.kind !== "replicated") continue;
        const c = covered.get(v.id);
        const x = decodeState(this.runtime.encode(v.id), undefined, this.runtime.kernel);
        try {
          if (!c) { this.#local.set(v.id, [x.encode()]); continue; }
          const rest = x.delta(c);
          try { if (!rest.isBottom) this.#local.set(v.id, [rest.encode()]); } finally { rest.dispose(); }
        } finally { x.dispose(); }
      }
    } finally {
      for (const c of covered.values()) c.dispose();
    }
  }
}

interface PeerState {
  known: Map<string, number>;          // per author: the sequence it is known to hold up to
  sentAt: Map<string, number>;         // per author: when we last sent it one (clock ms)
  pending: Map<string, Waiting>;       // by CID
  pendingBytes: number;
  outbox: Uint8Array[];
  outboxBytes: number;
  mine: Session | null;                // the reconcile session we opened with it
  theirs: Session | null;              // the one it opened with us
  opens: number; opensAt: number;      // sessions it opened in the interval from opensAt
  ended: number[];                     // the numbers of its last sessions (a repeated open of one is ignored)
}

// One range-based reconciliation session with a peer, either role.
interface Session {
  nonce: number;                       // its number on the wire (chosen by the side that opened it)
  rec: Reconciler;
  have: number[];                      // log indices of envelopes it found the peer lacks
  last: number;                        // clock ms of its last message
}

// Which catch-up runs when (docs/security.md, "Catch-up"), measured by
// bench/reconcile.ts: the frontier costs about 70 bytes per author a side and
// one round trip; a session costs with the difference (0.7 KB when nothing
// differs; 1.9 KB for 10 missing of 10,000 from 20 authors, 5.9 KB from 1,000)
// and two or three round trips. "auto" (the default) sends the frontier while this
// node knows at most FRONTIER_AUTHORS authors, and opens a session past that,
// both when a neighbour comes up and each round; "reconcile" always opens a
// session when a neighbour comes up; "frontier" never opens one. A node
// answers a peer's session whatever its own setting.
//
// Range-based catch-up limits. Per peer: one
// session each way at a time; at most MAX_OPENS sessions opened by the peer
// per interval (more: refused); a session that hears nothing for
// SESSION_IDLE intervals (a message lost) is ended with what it learned.
// Per session: the reconciler's wire limits (1 MiB, 16,384 ranges, 16,384
// ids a message), MAX_SESSION_ROUNDS messages, and at most 2^18 ids the peer
// may claim we lack.
const RECONCILE: Partial<ReconcileOptions> = { maxRounds: 32, timestamps: true };
const MAX_OPENS = 4;
const SESSION_IDLE = 2;
const FRONTIER_AUTHORS = 64;

export type CatchUp = "auto" | "reconcile" | "frontier";

// One transport's side of trustless replication: pushes, frontier rounds,
// catch-up and the per-peer pending buffers.
export class EnvelopeReplicator {
  readonly hub: TrustHub;
  readonly transport: Transport;
  readonly interval: number;
  #clock: Clock;
  #peers = new Map<string, PeerState>();
  #cancelTick: (() => void) | null = null;
  #off: (() => void)[] = [];
  #closed = false;

  // The did:key of a transport's peer (read gating): the peer name itself on
  // WebSocket; libp2p names peers by peer id (Libp2pTransport.didOf).
  #didOf: (peer: string) => string | undefined;
  #proofSent = new Map<string, Uint8Array | null>(); // per neighbour: the proof last presented (null: being fetched)
  // How a neighbour is caught up (see FRONTIER_AUTHORS): "auto" (default),
  // "reconcile" or "frontier" (as before sessions existed; for comparison).
  readonly catchUp: CatchUp;
  #nonces = 0;

  constructor(hub: TrustHub, transport: Transport, o: { interval?: number; clock?: Clock; didOf?: (peer: string) => string | null | undefined; catchUp?: CatchUp } = {}) {
    this.catchUp = o.catchUp ?? "auto";
    if (!["auto", "reconcile", "frontier"].includes(this.catchUp)) throw new RangeError(`catchUp is "auto", "reconcile" or "frontier", got ${String(o.catchUp)}`);
    this.#didOf = (peer) => (o.didOf ? o.didOf(peer) ?? undefined : peer.startsWith("did:") ? peer : undefined);
    this.hub = hub;
    this.transport = transport;
    this.interval = o.interval ?? 1000;
    if (!(this.interval > 0)) throw new RangeError("interval must be > 0 ms");
    this.#clock = o.clock ?? realClock;
    this.#off.push(
      transport.onMessage((from, m) => this.#receive(from, m)),
      transport.onNeighbour((peer, up) => {
        // A peer that comes or goes may have lost its memory: start over with it.
        const p = this.#peers.get(peer);
        if (p) { p.known.clear(); p.mine = p.theirs = null; if (!up) this.#peers.delete(peer); }
        this.#proofSent.delete(peer);
        this.#revSent.delete(peer);
        if (up) this.#sendProof(peer);
        // A new neighbour is caught up at once rather than at the next round:
        // a reconcile session (both sides learn what the other lacks), or
        // our frontier (it answers with its envelopes we lack).
        if (up && !this.#closed) {
          if (this.catchUp === "reconcile" || this.#bigFrontier()) this.#open(peer); else this.#sendFrontier(peer);
        }
      }),
    );
  }

  start(): this {
    if (this.#closed || this.#cancelTick) return this;
    const tick = (): void => {
      this.#cancelTick = this.#clock.setTimeout(tick, this.interval);
      try { this.sync(); } catch (e) { this.hub._report(e); }
    };
    this.#cancelTick = this.#clock.setTimeout(tick, this.interval);
    return this;
  }

  stop(): void { this.#cancelTick?.(); this.#cancelTick = null; }

  close(): void {
    if (this.#closed) return;
    this.stop();
    for (const off of this.#off) off();
    this.#closed = true;
    this.#peers.clear();
    this.hub._detach(this);
  }

  // One round: every neighbour gets our frontier (it answers with what we
  // lack), or, past FRONTIER_AUTHORS authors, a reconcile session. Sessions
  // that went quiet (a message lost) end here.
  sync(): void {
    if (this.#closed) return;
    this._flush();
    this.#expire();
    const m = this.#bigFrontier() ? null : encodeTrustMessage({ kind: "frontier", authors: this.hub._frontier() });
    for (const j of this.transport.neighbours()) {
      if (this.transport.canSend?.(j) === false) continue;
      this.#sendProof(j);
      this.#sendRevocations(j);
      if (m) this.#send(j, m, 0); else this.#open(j);
    }
  }

  // ---- range-based catch-up --------------------------------------------

  #bigFrontier(): boolean {
    return this.catchUp !== "frontier" && this.hub._authors() > FRONTIER_AUTHORS;
  }

  // Opens a session with a peer, unless one we opened is still running. Its
  // number is derived from our key, the peer and a counter: distinct from the
  // peer's (which decides which of two crossing opens runs) and the same on
  // every replay of a simulated schedule.
  #open(peer: string): void {
    if (this.#closed || this.transport.canSend?.(peer) === false) return;
    const p = this.#peer(peer);
    if (p.mine) return;
    const h = sha256(new TextEncoder().encode(`${this.hub.identity.did}\n${peer}\n${this.#clock.now()}\n${this.#nonces++}`));
    const nonce = ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
    let rec: Reconciler;
    try { rec = new Reconciler(this.hub._reconcileSet(this.#didOf(peer)), RECONCILE); } catch (e) { this.hub._report(e, peer); return; }
    p.mine = { nonce, rec, have: [], last: this.#clock.now() };
    this.#sendReconcile(peer, true, nonce, rec.initiate());
  }

  #sendReconcile(peer: string, open: boolean, session: number, body: Uint8Array): void {
    const m = encodeTrustMessage({ kind: "reconcile", open, session, body });
    this.hub._count("reconcile", 0, m.length);
    this.#send(peer, m, 0);
  }

  // One message of a session (run in the hub's queue, so a session's set
  // holds every envelope received before its first message).
  #onReconcile(from: string, open: boolean, nonce: number, body: Uint8Array): void {
    if (this.#closed || !this.transport.neighbours().includes(from)) return;
    const p = this.#peer(from), now = this.#clock.now();
    let s: Session | null;
    if (open) {
      // The network may deliver a message twice: a second copy of an opening
      // must not restart the session over a set that has grown since (the
      // peer would then mix answers from two different sets).
      if (p.theirs?.nonce === nonce || p.ended.includes(nonce)) return;
      if (now - p.opensAt >= this.interval) { p.opensAt = now; p.opens = 0; }
      if (++p.opens > MAX_OPENS) {
        this.hub._count("malformed", 0);
        this.hub._report(new ReconcileError("TOO_MANY_ROUNDS", `more than ${MAX_OPENS} reconcile sessions opened in one interval`), from);
        return;
      }
      // Both opened at once: the lower number runs, on both sides. Ours,
      // unanswered, wins: the peer drops its own when ours arrives.
      if (p.mine && p.mine.rec.rounds === 0) {
        if (p.mine.nonce <= nonce) return;
        p.ended.push(p.mine.nonce);
        p.mine = null;
      }
      if (p.theirs) this.#end(from, p, p.theirs); // a new session from the peer replaces its last
      let rec: Reconciler;
      try { rec = new Reconciler(this.hub._reconcileSet(this.#didOf(from)), RECONCILE); } catch (e) { this.hub._report(e, from); return; }
      s = p.theirs = { nonce, rec, have: [], last: now };
    } else {
      s = p.mine?.nonce === nonce ? p.mine : p.theirs?.nonce === nonce ? p.theirs : null;
      if (!s) return; // a session that ended: a late or repeated message
    }
    s.last = now;
    let step;
    try { step = s.rec.reconcile(body); } catch (e) {
      // A hostile or broken message: typed (ReconcileError), nothing learned
      // from it, and the session ends (with what its earlier messages taught).
      this.hub._count("malformed", 0);
      this.hub._report(e, from);
      this.#end(from, p, s);
      return;
    }
    for (const id of step.have) { const i = this.hub._indexOfId(id); if (i !== undefined) s.have.push(i); }
    if (step.reply) this.#sendReconcile(from, false, nonce, step.reply);
    if (!step.reply || step.done) this.#end(from, p, s);
  }

  // Ends a session: the envelopes it found the peer lacks are pushed, in
  // admission (causal) order, up to maxCatchUpBytes; anything left over (or
  // lost) is found by the next session or frontier.
  #end(peer: string, p: PeerState, s: Session): void {
    if (p.mine === s) p.mine = null;
    if (p.theirs === s) p.theirs = null;
    p.ended.push(s.nonce);
    if (p.ended.length > 8) p.ended.shift();
    this.hub._count("session", 0);
    if (s.have.length === 0 || !this.transport.neighbours().includes(peer)) return;
    const cap = this.hub._option("maxCatchUpBytes") ?? 8 << 20;
    const did = this.#didOf(peer), now = this.#clock.now();
    const out: Uint8Array[] = [];
    let size = 0;
    for (const i of s.have.sort((a, b) => a - b)) {
      const e = this.hub._envelopeAt(i);
      // Pushed or sent by it since the session's set was taken.
      if ((p.known.get(e.author) ?? 0) >= e.seq) continue;
      // Redacted to what the peer may read now (the gate may have changed
      // since the session began: a revocation).
      const b = this.hub._serve(e.env, did);
      if (out.length > 0 && size + b.length > cap) break;
      out.push(b); size += b.length;
      p.known.set(e.author, e.seq);
      p.sentAt.set(e.author, now);
    }
    this.#sendEnvelopes(peer, out);
  }

  // Sessions idle for SESSION_IDLE intervals end (a message was lost, or the
  // peer stopped answering): each holds a reconciler, so none may linger.
  #expire(): void {
    const old = this.#clock.now() - SESSION_IDLE * this.interval;
    for (const [j, p] of this.#peers) {
      for (const s of [p.mine, p.theirs]) if (s && s.last <= old) this.#end(j, p, s);
    }
  }

  // Presents this node's proof to a neighbour, so it may serve us what our
  // read grants cover: when it comes up, and again when the proof changes
  // (checked every round: a node may receive a delegation while running).
  #sendProof(peer: string): void {
    if (this.#closed || this.#proofSent.get(peer) === null) return;
    const last = this.#proofSent.get(peer);
    this.#proofSent.set(peer, null);
    this.hub._proof().then((p) => {
      if (this.#closed || !this.transport.neighbours().includes(peer)) { this.#proofSent.delete(peer); return; }
      if (!p || p.length === 0 || (last && (last === p || (last.length === p.length && last.every((x, i) => x === p[i]))))) {
        this.#proofSent.set(peer, last ?? new Uint8Array());
        return;
      }
      this.#proofSent.set(peer, p);
      this.#send(peer, encodeTrustMessage({ kind: "proof", proof: p }), 0);
    }, (e) => { this.#proofSent.delete(peer); this.hub._report(e, peer); });
  }

  // Relays the revocation records this node holds to a neighbour, again
  // whenever there are more (the set only grows: its size is its version).
  #revSent = new Map<string, number>();
  #sendRevocations(peer: string): void {
    const relay = this.hub._option("revocations");
    if (!relay || this.#closed) return;
    const recs = relay.records();
    if (recs.length === 0 || this.#revSent.get(peer) === recs.length) return;
    this.#revSent.set(peer, recs.length);
    for (let i = 0; i < recs.length; i += MAX_REVOCATIONS_PER_MESSAGE) {
      this.#send(peer, encodeTrustMessage({ kind: "revocations", records: recs.slice(i, i + MAX_REVOCATIONS_PER_MESSAGE) }), 0);
    }
  }
  #sendFrontier(j: string): void {
    if (this.transport.canSend?.(j) === false) return;
    this.#send(j, encodeTrustMessage({ kind: "frontier", authors: this.hub._frontier() }), 0);
  }

  // Peers that sent an envelope whose links we lack: they get our frontier
  // when the queue drains (once per drain), so they send the links now
  // rather than at the next round.
  #ask = new Set<string>();

  // ---- internal: for TrustHub ------------------------------------------

  /** @internal */ _holds(peer: string, author: string, seq: number): void {
    const p = this.#peer(peer);
    if ((p.known.get(author) ?? 0) < seq) p.known.set(author, seq);
  }

  /** @internal */ _wait(peer: string, e: Envelope, missing: string[]): void {
    const p = this.#peer(peer);
    const c = e.cid.toString();
    this.#ask.add(peer);
    if (p.pending.has(c)) return;
    const max = this.hub._option("maxPending") ?? 256, maxBytes = this.hub._option("maxPendingBytes") ?? 4 << 20;
    if (p.pending.size >= max || p.pendingBytes + e.bytes.length > maxBytes) {
      // Catch-up fetches it again once its links are here.
      this.#dropped++;
      return;
    }
    p.pending.set(c, { bytes: e.bytes, missing, squash: e.from < e.seq });
    p.pendingBytes += e.bytes.length;
  }

  #dropped = 0;
  get pendingDropped(): number { return this.#dropped; }

  // Takes the pending envelopes whose links are all admitted now.
  /** @internal */ _ready(has: (cid: string) => boolean): [string, Waiting][] {
    const out: [string, Waiting][] = [];
    for (const [peer, p] of this.#peers) {
      for (const [c, w] of p.pending) {
        if (!w.missing.every(has)) continue;
        p.pending.delete(c);
        p.pendingBytes -= w.bytes.length;
        out.push([peer, w]);
      }
    }
    return out;
  }

  // Pending squashes (for the hub's cycle break), left in place.
  /** @internal */ _pendingSquashes(): [string, string, Waiting][] {
    const out: [string, string, Waiting][] = [];
    for (const [peer, p] of this.#peers) for (const [c, w] of p.pending) if (w.squash) out.push([peer, c, w]);
    return out;
  }
  /** @internal */ _unwait(peer: string, c: string): void {
    const p = this.#peers.get(peer), w = p?.pending.get(c);
    if (!p || !w) return;
    p.pending.delete(c);
    p.pendingBytes -= w.bytes.length;
  }

  /** @internal */ _pendingCount(): number {
    let n = 0;
    for (const p of this.#peers.values()) n += p.pending.size;
    return n;
  }

  // Pushes an admitted envelope to every neighbour not known to hold it,
  // except the one it came from (BP). Sent when the hub's queue drains.
  /** @internal */ _offer(e: Envelope, src: Source | null): void {
    if (this.#closed) return;
    for (const j of this.transport.neighbours()) {
      if (src && src.rep === this && src.peer === j) continue;
      const p = this.#peer(j);
      const k = p.known.get(e.author) ?? 0;
      // A squash goes even to a peer holding its run: it replaces them there too.
      if (e.from === e.seq && k >= e.seq) continue;
      const b = this.hub._serve(e, this.#didOf(j));
      // Counted as held (and in flight, see #onFrontier) only if the peer
      // holds the author's envelope before it (before a squash's run): else
      // the peer may lack that one (it came up after it was pushed), and the
      // frontier it sends when this one waits for its links must be answered
      // with it at once, not a round later.
      if (k >= e.from - 1 && k < e.seq) {
        p.known.set(e.author, e.seq);
        p.sentAt.set(e.author, this.#clock.now());
      }
      p.outbox.push(b);
      p.outboxBytes += b.length;
      if (p.outboxBytes >= (this.hub._option("maxMessageBytes") ?? 1 << 20)) this.#flushPeer(j, p);
    }
  }

  /** @internal */ _flush(): void {
    // Neighbours pushed the same envelopes (the usual case: a server
    // forwarding what one client sent to all the others) share one encoding.
    let last: { envs: Uint8Array[]; msgs: [Uint8Array, number][] } | null = null;
    for (const [j, p] of this.#peers) {
      if (!p.outbox.length) continue;
      const envs = p.outbox;
      p.outbox = []; p.outboxBytes = 0;
      if (!last || last.envs.length !== envs.length || !last.envs.every((e, i) => e === envs[i])) last = { envs, msgs: this.#messages(envs) };
      for (const [m, n] of last.msgs) this.#send(j, m, n);
    }
    if (this.#ask.size === 0 || this.#closed) return;
    const nbs = new Set(this.transport.neighbours());
    for (const j of this.#ask) if (nbs.has(j)) this.#sendFrontier(j);
    this.#ask.clear();
  }

  #flushPeer(j: string, p: PeerState): void {
    const envs = p.outbox;
    p.outbox = []; p.outboxBytes = 0;
    this.#sendEnvelopes(j, envs);
  }

  #sendEnvelopes(j: string, envs: Uint8Array[]): void {
    for (const [m, n] of this.#messages(envs)) this.#send(j, m, n);
  }

  // "envelopes" messages of at most maxMessageBytes each, with their envelope counts.
  #messages(envs: Uint8Array[]): [Uint8Array, number][] {
    const max = this.hub._option("maxMessageBytes") ?? 1 << 20;
    const out: [Uint8Array, number][] = [];
    let batch: Uint8Array[] = [], size = 0;
    for (const e of envs) {
      // By bytes, and by count: a receiver refuses more than
      // MAX_ENVELOPES_PER_MESSAGE in one message (small envelopes reach it first).
      if (batch.length > 0 && (size + e.length > max || batch.length >= MAX_ENVELOPES_PER_MESSAGE)) { out.push([encodeTrustMessage({ kind: "envelopes", envelopes: batch }), batch.length]); batch = []; size = 0; }
      batch.push(e); size += e.length;
    }
    if (batch.length) out.push([encodeTrustMessage({ kind: "envelopes", envelopes: batch }), batch.length]);
    return out;
  }

  #send(to: string, bytes: Uint8Array, envelopes: number): void {
    this.hub._count("messages", envelopes, bytes.length);
    this.transport.send(to, bytes);
  }

  #peer(j: string): PeerState {
    let p = this.#peers.get(j);
    if (!p) this.#peers.set(j, (p = { known: new Map(), sentAt: new Map(), pending: new Map(), pendingBytes: 0, outbox: [], outboxBytes: 0, mine: null, theirs: null, opens: 0, opensAt: -Infinity, ended: [] }));
    return p;
  }

  #receive(from: string, bytes: Uint8Array): void {
    if (this.#closed) return;
    this.hub._count("received", 0, bytes?.length ?? 0);
    let m;
    try { m = decodeTrustMessage(bytes); } catch (e) {
      this.hub._count("malformed", 0);
      this.hub._report(e, from);
      return;
    }
    if (m.kind === "revocations") {
      const relay = this.hub._option("revocations"), records = m.records;
      if (!relay) return;
      this.hub._enqueue(async () => {
        try { await relay.receive(records); } catch (e) { this.hub._report(e, from); }
      });
      return;
    }
    if (m.kind === "proof") {
      const gate = this.hub._option("readGate"), did = this.#didOf(from), proof = m.proof;
      if (!gate || !did) return;
      this.hub._enqueue(async () => {
        const could = this.hub._readable(did);
        try { await gate.present(did, proof); } catch (e) { this.hub._report(e, from); }
        // What it may read now and could not: it holds those envelopes
        // redacted (or not yet), so they go again with their deltas.
        const more = new Set([...this.hub._readable(did)].filter((v) => !could.has(v)));
        if (more.size > 0) this.#resend(from, this.hub._carrying(more));
      });
      return;
    }
    if (m.kind === "reconcile") {
      const { open, session, body } = m;
      this.hub._enqueue(() => this.#onReconcile(from, open, session, body));
      return;
    }
    if (m.kind === "envelopes") {
      const envs = m.envelopes;
      const checked = this.hub._precheck(envs);
      this.hub._enqueue(async () => {
        const { items, sigs } = await checked;
        for (const e of items) await this.hub._receive(e, { rep: this, peer: from }, sigs);
        await this.hub._retryPending();
      });
    } else {
      const authors = m.authors;
      this.hub._enqueue(() => this.#onFrontier(from, authors));
    }
  }

  // Sends the peer these log entries as it may read them, up to maxCatchUpBytes.
  #resend(peer: string, idx: number[]): void {
    if (this.#closed || idx.length === 0 || !this.transport.neighbours().includes(peer)) return;
    const cap = this.hub._option("maxCatchUpBytes") ?? 8 << 20;
    const did = this.#didOf(peer), out: Uint8Array[] = [];
    let size = 0;
    for (const i of idx) {
      const b = this.hub._serve(this.hub._envelopeAt(i).env, did);
      if (out.length > 0 && size + b.length > cap) break;
      out.push(b); size += b.length;
    }
    this.#sendEnvelopes(peer, out);
  }

  // A peer's frontier: what it holds replaces what we thought (it may have
  // lost memory), and it gets what it lacks, up to maxCatchUpBytes a round.
  #onFrontier(from: string, authors: FrontierEntry[]): void {
    if (this.#closed) return;
    const p = this.#peer(from);
    const theirs = new Map<string, FrontierEntry>();
    // What we sent it within the last round may still be on its way (or in
    // its queue): not sent again yet. Older sends the frontier does not show
    // were lost, or the peer lost them: sent again.
    const recent = this.#clock.now() - this.interval;
    const inFlight = new Map<string, number>();
    for (const [a, t] of p.sentAt) if (t > recent) inFlight.set(a, p.known.get(a) ?? 0); else p.sentAt.delete(a);
    p.known.clear();
    for (const a of authors) {
      // Only authors we know are kept: a frontier cannot make us hold memory for made-up keys.
      if (this.hub.ledger.lastSeq(a.author) === 0) continue;
      theirs.set(a.author, a);
      p.known.set(a.author, a.seq);
    }
    for (const [a, k] of inFlight) {
      // What we sent, not what it claimed to hold (which may be beyond our own).
      const s = Math.min(k, this.hub.ledger.lastSeq(a));
      if (s <= (p.known.get(a) ?? 0)) continue;
      p.known.set(a, s);
      const t = theirs.get(a);
      // Treated as held up to what is in flight; a fork check still needs its head.
      if (!t || t.seq < s) theirs.set(a, { author: a, seq: s, head: headOf(this.hub.ledger.cidAt(a, s)!) });
    }
    const idx = this.hub._missingFor(theirs);
    if (idx.length === 0) return;
    const cap = this.hub._option("maxCatchUpBytes") ?? 8 << 20;
    const out: Uint8Array[] = [];
    let size = 0;
    const did = this.#didOf(from);
    for (const i of idx) {
      const e = this.hub._envelopeAt(i);
      const b = this.hub._serve(e.env, did);
      if (out.length > 0 && size + b.length > cap) break;
      out.push(b); size += b.length;
      // Not sent again by a push, nor by the next round if its frontier crosses this answer.
      if ((p.known.get(e.author) ?? 0) < e.seq) p.known.set(e.author, e.seq);
      p.sentAt.set(e.author, this.#clock.now());
    }
    this.#sendEnvelopes(from, out);
  }
}

// The hub and one replicator per transport, started.
export async function replicateTrustless(runtime: Runtime, transports: Transport[], o: TrustHubOptions & { interval?: number; clock?: Clock; catchUp?: CatchUp }): Promise<{ hub: TrustHub; replicators: EnvelopeReplicator[] }> {
  const hub = await TrustHub.open(runtime, o);
  return { hub, replicators: transports.map((t) => hub.attach(t, { interval: o.interval, clock: o.clock, catchUp: o.catchUp }).start()) };
}
