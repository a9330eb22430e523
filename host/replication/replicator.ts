// Replicates every replicated variable of a Runtime over any Transport:
// delta-interval anti-entropy (Almeida, Shoker & Baquero, "Delta State
// Replicated Data Types", Algorithm 2) with the BP and RR optimisations of
// Enes et al. (ICDE 2019), a state-based mode for comparison, and a
// digest-driven catch-up by join decompositions (Enes et al., PaPoC 2016).
// The algorithm and the wire format: docs/replication.md.
import { TrellisError } from "../wasm/errors.js";
import type { Runtime, Origin } from "../dataflow/runtime.js";
import { Clock, Transport, realClock } from "./transport.js";
import { countParts, headerSpec, joinMissing, joinStates, partHashes } from "./lattice.js";
import { admitEntries } from "./admission.js";
import {
  Entry, Message, MessageKind, ReplicationError, VarHash, VarParts,
  decodeMessage, encodeMessage, hash64, sortById,
} from "./wire.js";

export type ReplicationMode = "delta" | "state";

export interface ReplicatorOptions {
  mode?: ReplicationMode;      // "delta" (default) or "state": full states every round
  bp?: boolean;                // delta mode: never send a neighbour what came from it (default true)
  rr?: boolean;                // delta mode: buffer only the strict inflation of what arrives (default true)
  digest?: boolean;            // catch a new or lagging neighbour up by digests (default true) or by full state
  interval?: number;           // ms between rounds (default 1000)
  clock?: Clock;               // default: real timers
  autoDeclare?: boolean;       // declare variables a peer has and this node lacks (default true)
  countEntries?: boolean;      // count join-irreducibles sent (default true; costs a decompose per state sent)
  maxBuffer?: number;          // bytes of delta buffer kept at most; beyond it the oldest go (default unbounded)
  session?: number;            // this incarnation's id (u32); default random. Tests pass one for determinism
  onError?: (e: ReplicationError) => void;
}

export interface KindStats { messages: number; bytes: number }

export interface ReplicationStats {
  messages: number; bytes: number; // sent
  entries: number;                 // join-irreducibles in the states and delta-groups sent
  hashes: number;                  // 8-byte hashes sent in digests and parts lists
  byKind: Record<MessageKind, KindStats>;
  received: number; receivedBytes: number;
  rejected: number;                // messages refused (onError saw why)
}

export interface ReplicationMemory {
  states: number;  // encoded bytes of the replicated variables
  buffer: number;  // bytes of delta-groups in the buffer
  bufferEntries: number;
}

interface Buffered { seq: number; id: string; bytes: Uint8Array; from: string | null }

// What this node knows about one neighbour.
interface Peer {
  ack: number;                 // everything below this seq of ours is known to be there; -1 unknown
  session: number | undefined; // its incarnation, learned from its messages
  digestSeq: number;           // seq of an outstanding digest, -1 none
  digestAt: number;
}

const zeroStats = (): ReplicationStats => ({
  messages: 0, bytes: 0, entries: 0, hashes: 0,
  byKind: { delta: z(), ack: z(), state: z(), digest: z(), parts: z() },
  received: 0, receivedBytes: 0, rejected: 0,
});
const z = (): KindStats => ({ messages: 0, bytes: 0 });

export class Replicator {
  readonly runtime: Runtime;
  readonly transport: Transport;
  readonly session: number;
  readonly mode: ReplicationMode;
  readonly bp: boolean;
  readonly rr: boolean;
  readonly digest: boolean;
  readonly interval: number;
  #clock: Clock;
  #autoDeclare: boolean;
  #countEntries: boolean;
  #maxBuffer: number;
  #onError: (e: ReplicationError) => void;

  #seq = 0;                    // c_i: the next sequence number
  #buffer: Buffered[] = [];    // consecutive seqs, oldest first
  #bufferBytes = 0;
  #peers = new Map<string, Peer>();
  #receiving: string | null = null; // the variable a remote bind is joining into
  #stats = zeroStats();
  #cancelTick: (() => void) | null = null;
  #off: (() => void)[] = [];
  #closed = false;

  constructor(runtime: Runtime, transport: Transport, o: ReplicatorOptions = {}) {
    this.runtime = runtime;
    this.transport = transport;
    this.mode = o.mode ?? "delta";
    if (this.mode !== "delta" && this.mode !== "state") throw new TypeError(`mode is "delta" or "state", got ${String(o.mode)}`);
    this.bp = o.bp ?? true;
    this.rr = o.rr ?? true;
    this.digest = o.digest ?? true;
    this.interval = o.interval ?? 1000;
    if (!(this.interval > 0)) throw new RangeError("interval must be > 0 ms");
    this.#clock = o.clock ?? realClock;
    this.#autoDeclare = o.autoDeclare ?? true;
    this.#countEntries = o.countEntries ?? true;
    this.#maxBuffer = o.maxBuffer ?? Infinity;
    this.session = (o.session ?? randomU32()) >>> 0;
    this.#onError = o.onError ?? ((e) => { queueMicrotask(() => { throw e; }); });
    this.#off.push(
      runtime.onDelta((id, d, origin) => this.#local(id, d, origin)),
      // A declaration travels as the bottom state: peers auto-declare from its header.
      runtime.onDeclare((id, _spec, kind) => { if (kind === "replicated") this.#local(id, runtime.encode(id), "local"); }),
      transport.onMessage((from, m) => this.#receive(from, m)),
      transport.onNeighbour((peer) => this.#forget(peer)),
    );
  }

  // Starts the periodic rounds on the clock.
  start(): this {
    this.#open();
    if (this.#cancelTick) return this;
    const tick = (): void => {
      this.#cancelTick = this.#clock.setTimeout(tick, this.interval);
      try { this.sync(); } catch (e) { this.#report(e, undefined); }
    };
    this.#cancelTick = this.#clock.setTimeout(tick, this.interval);
    return this;
  }

  stop(): void { this.#cancelTick?.(); this.#cancelTick = null; }

  // Stops and detaches from the runtime and the transport (neither is closed).
  close(): void {
    if (this.#closed) return;
    this.stop();
    for (const off of this.#off) off();
    this.#closed = true;
    this.#buffer = []; this.#bufferBytes = 0;
  }

  // One round now: every neighbour gets what it lacks (or a digest), then the
  // buffer is trimmed.
  sync(): void {
    this.#open();
    const nbs = this.transport.neighbours();
    if (this.mode === "state") {
      const entries = this.#fullStates();
      if (entries.length === 0) return;
      for (const j of nbs) this.#send(j, { kind: "state", session: this.session, entries }, entries);
      return;
    }
    let digest: VarHash[] | null = null; // computed once per round, if any neighbour needs it
    const vars = () => (digest ??= sortById(this.#replicated().map((id) => ({ id, hash: hash64(this.runtime.encode(id)) }))));
    // A neighbour whose link is full (it stopped reading) is skipped, so it
    // costs no delta-group joins until it drains.
    for (const j of nbs) if (this.transport.canSend?.(j) !== false) this.#syncPeer(j, vars);
    this.#gc(nbs);
  }

  stats(): ReplicationStats { return structuredClone(this.#stats); }
  resetStats(): void { this.#stats = zeroStats(); }

  memory(): ReplicationMemory {
    let states = 0;
    for (const id of this.#replicated()) states += this.runtime.encode(id).length;
    return { states, buffer: this.#bufferBytes, bufferEntries: this.#buffer.length };
  }

  // ---- delta mode: sending ----------------------------------------------

  #syncPeer(j: string, digestVars: () => VarHash[]): void {
    const p = this.#peer(j);
    const base = this.#buffer.length > 0 ? this.#buffer[0].seq : this.#seq;
    if (p.ack < 0 || p.ack < base) {
      // New, returning or too far behind: the buffer cannot serve it.
      if (!this.digest) {
        const entries = this.#fullStates();
        this.#send(j, { kind: "delta", session: this.session, seq: this.#seq, entries }, entries);
        return;
      }
      const now = this.#clock.now();
      if (p.digestSeq >= 0 && now - p.digestAt < 2 * this.interval) return; // one in flight
      const vars = digestVars();
      p.digestSeq = this.#seq; p.digestAt = now;
      this.#send(j, { kind: "digest", session: this.session, seq: this.#seq, vars }, 0);
      this.#stats.hashes += vars.length;
      return;
    }
    if (p.ack >= this.#seq) return;
    const entries = this.#group(p.ack, j);
    if (entries.length === 0) { p.ack = this.#seq; return; } // all of it came from j (BP)
    this.#send(j, { kind: "delta", session: this.session, seq: this.#seq, entries }, entries);
  }

  // The join of buffered deltas with seq >= from, per variable, leaving out
  // (with BP) those that came from `to`.
  #group(from: number, to: string): Entry[] {
    const byId = new Map<string, Uint8Array[]>();
    const start = from - (this.#buffer.length > 0 ? this.#buffer[0].seq : this.#seq);
    for (let i = Math.max(0, start); i < this.#buffer.length; i++) {
      const b = this.#buffer[i];
      if (this.bp && b.from === to) continue;
      let l = byId.get(b.id);
      if (!l) byId.set(b.id, (l = []));
      l.push(b.bytes);
    }
    const out: Entry[] = [];
    for (const [id, parts] of byId) out.push({ id, bytes: joinStates(parts, this.runtime.kernel) });
    return sortById(out);
  }

  #fullStates(): Entry[] {
    return sortById(this.#replicated().map((id) => ({ id, bytes: this.runtime.encode(id) })));
  }

  // Drops buffered deltas every neighbour with a known ack already has.
  // Neighbours without one are served by digest or full state, so they pin
  // nothing, except the seq an outstanding digest will be acked at.
  #gc(nbs: string[]): void {
    let min = this.#seq;
    for (const j of nbs) {
      const p = this.#peers.get(j);
      if (!p) continue;
      if (p.ack >= 0) min = Math.min(min, p.ack);
      if (p.digestSeq >= 0) min = Math.min(min, p.digestSeq);
    }
    let k = 0;
    while (k < this.#buffer.length && (this.#buffer[k].seq < min || this.#bufferBytes > this.#maxBuffer)) {
      this.#bufferBytes -= this.#buffer[k].bytes.length;
      k++;
    }
    if (k > 0) this.#buffer = this.#buffer.slice(k);
  }

  // shipped: the states sent (their parts are counted), or the count itself.
  #send(to: string, m: Message, shipped: Entry[] | number): void {
    const bytes = encodeMessage(m);
    const s = this.#stats;
    s.messages++; s.bytes += bytes.length;
    s.byKind[m.kind].messages++; s.byKind[m.kind].bytes += bytes.length;
    if (typeof shipped === "number") s.entries += shipped;
    else if (this.#countEntries) for (const e of shipped) s.entries += this.#parts(e.bytes);
    this.transport.send(to, bytes);
  }

  // ---- receiving ----------------------------------------------------------

  #receive(from: string, bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#stats.received++;
    this.#stats.receivedBytes += bytes?.length ?? 0;
    let m: Message;
    try {
      m = decodeMessage(bytes);
      if (m.kind === "delta" || m.kind === "state") this.#validate(m.entries);
    } catch (e) {
      this.#stats.rejected++;
      this.#report(e, from);
      return;
    }
    const p = this.#peer(from);
    if (p.session !== m.session) {
      // A new incarnation (it lost its memory): what we knew of it is void.
      if (p.session !== undefined) this.#reset(p);
      p.session = m.session;
    }
    try {
      switch (m.kind) {
        case "delta":
          if (this.#apply(from, m.entries)) this.#send(from, { kind: "ack", session: this.session, acked: m.session, seq: m.seq }, 0);
          break;
        case "state": this.#apply(from, m.entries); break;
        case "ack":
          if (m.acked === this.session && m.seq <= this.#seq) p.ack = Math.max(p.ack, m.seq);
          break;
        case "digest": this.#onDigest(from, m.session, m.seq, m.vars); break;
        case "parts":
          if (m.echo === this.session) this.#onParts(from, p, m.seq, m.vars);
          break;
      }
    } catch (e) {
      this.#report(e, from);
    }
  }

  // Everything a state message carries must decode and fit before any of it
  // is joined (admission.ts): a bad message changes nothing.
  #validate(entries: Entry[]): void { admitEntries(this.runtime, entries, { firstByBind: true }); }

  // Joins each state in; buffers what inflated (RR: only the new part).
  // Returns false if nothing may be acked: the message was refused (a bad
  // first entry) or a join failed (so the sender retries).
  #apply(from: string, entries: Entry[]): boolean {
    let ok = true;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (!this.runtime.has(e.id)) {
        if (!this.#autoDeclare) continue; // not replicated here: ignore
        this.runtime.declare(e.id, headerSpec(e.bytes)); // checked by #validate
      }
      let inflation: Uint8Array | null;
      this.#receiving = e.id;
      try { inflation = this.runtime.bind(e.id, e.bytes, "remote"); } catch (err) {
        if (i === 0 && err instanceof TrellisError && err.code !== "USER_FUNCTION") {
          this.#stats.rejected++;
          throw badState(e, err); // nothing was applied yet
        }
        ok = false;
        this.#report(new ReplicationError("APPLY_FAILED", `${JSON.stringify(e.id)}: ${(err as Error).message}`, from, err), from);
        continue;
      } finally { this.#receiving = null; }
      if (inflation && this.mode === "delta") this.#push(e.id, this.rr ? inflation : e.bytes, from);
    }
    return ok;
  }

  // A peer's per-variable hashes: answer with the part hashes of each
  // variable that differs (or "absent"), so it can send only what is missing.
  #onDigest(from: string, session: number, seq: number, vars: VarHash[]): void {
    const out: VarParts[] = [];
    let hashes = 0;
    for (const v of vars) {
      if (!this.runtime.has(v.id)) {
        if (this.#autoDeclare) out.push({ id: v.id, hashes: null });
        continue;
      }
      if (this.runtime.kind(v.id) !== "replicated") continue;
      const bytes = this.runtime.encode(v.id);
      if (equal8(hash64(bytes), v.hash)) continue;
      const parts = partHashes(bytes, this.runtime.kernel);
      out.push({ id: v.id, hashes: parts });
      hashes += parts.length;
    }
    this.#stats.hashes += hashes;
    this.#send(from, { kind: "parts", session: this.session, echo: session, seq, vars: out }, 0);
  }

  // The reply to our digest: send the parts it lacks, to be acked at the
  // digest's seq (deltas buffered since then follow by the usual path).
  #onParts(from: string, p: Peer, seq: number, vars: VarParts[]): void {
    if (p.digestSeq !== seq) return; // stale or duplicate
    p.digestSeq = -1;
    const entries: Entry[] = [];
    let count = 0;
    for (const v of vars) {
      if (!this.runtime.has(v.id) || this.runtime.kind(v.id) !== "replicated") continue;
      if (v.hashes === null) {
        const bytes = this.runtime.encode(v.id);
        entries.push({ id: v.id, bytes });
        if (this.#countEntries) count += this.#parts(bytes);
        continue;
      }
      // The kernel walks our parts and joins those whose hash the peer lacks.
      const missing = joinMissing(this.runtime.encode(v.id), v.hashes, this.runtime.kernel);
      if (missing.bytes === null) continue;
      count += missing.count;
      entries.push({ id: v.id, bytes: missing.bytes });
    }
    if (entries.length === 0) { p.ack = Math.max(p.ack, seq); return; } // it has everything we had
    this.#send(from, { kind: "delta", session: this.session, seq, entries }, count);
  }

  // ---- local changes ------------------------------------------------------

  #local(id: string, delta: Uint8Array, origin: Origin): void {
    if (this.#closed || this.mode !== "delta") return;
    if (origin === "remote" && id === this.#receiving) return; // #apply buffers it
    if (this.runtime.kind(id) !== "replicated") return;
    this.#push(id, delta, null);
  }

  #push(id: string, bytes: Uint8Array, from: string | null): void {
    this.#buffer.push({ seq: this.#seq++, id, bytes, from });
    this.#bufferBytes += bytes.length;
  }

  // ---- helpers ------------------------------------------------------------

  // Join-irreducibles in a state, counted once per byte array: the same
  // entries go to every neighbour in state mode, and a buffered delta-group
  // shipped as is goes to several.
  #partCounts = new WeakMap<Uint8Array, number>();
  #parts(bytes: Uint8Array): number {
    let n = this.#partCounts.get(bytes);
    if (n === undefined) this.#partCounts.set(bytes, (n = countParts(bytes, this.runtime.kernel)));
    return n;
  }

  #replicated(): string[] {
    return this.runtime.variables().filter((v) => v.kind === "replicated").map((v) => v.id);
  }

  #peer(j: string): Peer {
    let p = this.#peers.get(j);
    if (!p) this.#peers.set(j, (p = { ack: -1, session: undefined, digestSeq: -1, digestAt: 0 }));
    return p;
  }

  #reset(p: Peer): void { p.ack = -1; p.digestSeq = -1; }

  // A neighbour that comes or goes may have lost its memory: start over with it.
  #forget(peer: string): void {
    const p = this.#peers.get(peer);
    if (p) { this.#reset(p); p.session = undefined; }
  }

  #report(e: unknown, peer: string | undefined): void {
    let err: ReplicationError;
    if (e instanceof ReplicationError) err = e.peer === peer ? e : new ReplicationError(e.code, e.message.replace(/^\w+: /, ""), peer, e.cause);
    else err = new ReplicationError("APPLY_FAILED", (e as Error)?.message ?? String(e), peer, e);
    try { this.#onError(err); } catch { /* a throwing handler must not break the protocol */ }
  }

  #open(): void { if (this.#closed) throw new TrellisError("DISPOSED", "replicator is closed"); }
}

// Creates a replicator and starts its rounds.
export function replicate(runtime: Runtime, transport: Transport, o: ReplicatorOptions = {}): Replicator {
  return new Replicator(runtime, transport, o).start();
}

function badState(e: Entry, err: unknown): ReplicationError {
  return new ReplicationError("BAD_STATE", `${JSON.stringify(e.id)}: ${(err as Error)?.message ?? String(err)}`, undefined, err);
}

function equal8(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 8; i++) if (a[i] !== b[i]) return false;
  return true;
}

function randomU32(): number {
  const b = new Uint32Array(1);
  globalThis.crypto.getRandomValues(b);
  return b[0];
}


