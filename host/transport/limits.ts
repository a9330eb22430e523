// What one peer, and all of them together, may cost a node: connections,
// request rate, bytes waiting to be sent, and the sync work its messages cause.
// Budgets are counted in bytes and requests, never measured in time taken, so
// the same traffic always meets the same limit. docs/security.md has
// the defaults and flags.
import type { IncomingMessage, ServerResponse, Server } from "node:http";
import type { Socket } from "node:net";
import type { Transport } from "../replication/transport.js";

const MiB = 1 << 20;

// Every limit, with defaults sized for a small machine (a 1 GiB board):
// all slow readers together hold at most ~64 MiB of replies, all WebSocket
// sends ~128 MiB.
export interface LimitOptions {
  httpConnections?: number;     // open TCP connections to the http server, WebSocket included (default 512)
  httpPerAddress?: number;      // … from one remote address (default 256)
  httpRate?: number;            // requests per second per connection, sustained (default 200)
  httpBurst?: number;           // … and in a burst (default 1000)
  httpPipeline?: number;        // requests queued on one connection before it is cut off (default 8)
  httpResponseBudget?: number;  // bytes of replies one connection may leave unread (default 16 MiB)
  httpTotalBudget?: number;     // … all connections together (default 64 MiB)
  wsConnections?: number;       // WebSocket peers at once (default 256)
  wsPerAddress?: number;        // … from one remote address (default 64)
  wsFrameRate?: number;         // frames per second per peer, sustained (default 200)
  wsFrameBurst?: number;        // … in a burst (default 1000)
  wsByteRate?: number;          // received bytes per second per peer, sustained (default 4 MiB)
  wsByteBurst?: number;         // … in a burst (default 48 MiB: three full frames)
  wsSendBudget?: number;        // bytes queued to one peer beyond a frame in flight (default 8 MiB)
  wsTotalSendBudget?: number;   // … to all peers together (default 128 MiB)
  wsStalls?: number;            // sends in a row refused for backpressure before the peer is cut off (default 8)
  // Sync work is Kernel.work: bytes through the kernel, a decomposed part
  // counting 16 KiB; 1 MiB of it is roughly 1 ms of CPU here.
  syncWorkRate?: number;        // sync work per second one peer may cause (default 64 MiB: ~6 % of a core)
  syncWorkBurst?: number;       // … in a burst (default 1 GiB: ~1 s, two decompositions of the largest state)
  syncWorkTotalRate?: number;   // sync work per second all peers together may cause (default 256 MiB: ~25 %)
  syncWorkTotalBurst?: number;  // … in a burst (default 2 GiB)
  peerBuckets?: number;         // peers whose budgets are remembered (default 4096)
}

export type Limits = Required<LimitOptions>;

export const DEFAULT_LIMITS: Limits = {
  httpConnections: 512, httpPerAddress: 256, httpRate: 200, httpBurst: 1000, httpPipeline: 8,
  httpResponseBudget: 16 * MiB, httpTotalBudget: 64 * MiB,
  wsConnections: 256, wsPerAddress: 64, wsFrameRate: 200, wsFrameBurst: 1000,
  wsByteRate: 4 * MiB, wsByteBurst: 48 * MiB, wsSendBudget: 8 * MiB, wsTotalSendBudget: 128 * MiB, wsStalls: 8,
  syncWorkRate: 64 * MiB, syncWorkBurst: 1024 * MiB, syncWorkTotalRate: 256 * MiB, syncWorkTotalBurst: 2048 * MiB, peerBuckets: 4096,
};

export function limits(o: LimitOptions = {}): Limits {
  const l = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    if (!(k in DEFAULT_LIMITS)) throw new TypeError(`unknown limit ${JSON.stringify(k)}`);
    if (typeof v !== "number" || !(v > 0) || Number.isNaN(v)) throw new RangeError(`limit ${k} must be a number > 0, got ${String(v)}`);
    (l as Record<string, number>)[k] = v;
  }
  return l;
}

// The error a peer over one of its limits gets (and the log line names).
export type LimitCode =
  | "RATE_LIMITED"          // too many requests or frames, or too many bytes, per second
  | "SLOW_READER"           // it left more unread than its budget
  | "TOO_MANY_CONNECTIONS"  // the node, or its address, has as many as allowed
  | "BUSY"                  // all readers together are at the node's total budget
  | "OVER_BUDGET";          // its sync messages cost more work than its budget

export class LimitError extends Error {
  override readonly name = "LimitError";
  constructor(readonly code: LimitCode, message: string, readonly peer?: string, readonly status = statusOfLimit(code)) { super(message); }
}

function statusOfLimit(c: LimitCode): number {
  return c === "RATE_LIMITED" || c === "OVER_BUDGET" ? 429 : 503;
}

export type Now = () => number; // ms

// A token bucket: `take(n)` spends n if the balance allows it. `charge(n)`
// spends after the fact (work whose cost is known only once done) and may
// leave it negative: nothing more is allowed until it refills.
export class TokenBucket {
  #level: number;
  #at: number;
  constructor(readonly rate: number, readonly burst: number, readonly now: Now = Date.now) {
    this.#level = burst;
    this.#at = now();
  }
  level(): number {
    const t = this.now();
    this.#level = Math.min(this.burst, this.#level + ((t - this.#at) / 1000) * this.rate);
    this.#at = t;
    return this.#level;
  }
  take(n = 1): boolean {
    if (this.level() < n) return false;
    this.#level -= n;
    return true;
  }
  charge(n: number): number { this.level(); this.#level -= n; return this.#level; }
  full(): boolean { return this.level() >= this.burst; }
}

// Buckets per peer key, at most `max` remembered: a full bucket (the peer owes
// nothing) is forgotten first, so a flood of new ids costs bounded memory and
// a peer in debt cannot shed it by hiding among them for long.
export class Buckets {
  #m = new Map<string, TokenBucket>();
  constructor(readonly rate: number, readonly burst: number, readonly max: number, readonly now: Now = Date.now) {}
  get(key: string): TokenBucket {
    let b = this.#m.get(key);
    if (b) return b;
    if (this.#m.size >= this.max) {
      for (const [k, v] of this.#m) if (v.full()) this.#m.delete(k);
      // All in debt: the oldest goes.
      if (this.#m.size >= this.max) this.#m.delete(this.#m.keys().next().value!);
    }
    this.#m.set(key, (b = new TokenBucket(this.rate, this.burst, this.now)));
    return b;
  }
  get size(): number { return this.#m.size; }
}

// ---- sync work ------------------------------------------------------------

// A counter that grows with the work done (Kernel.work: bytes through the
// kernel; every decode, join, encode and decomposition is proportional to it).
// workLimit, when the meter has one (Kernel does), makes the work stop with
// an error at that point: a decomposition past it throws OVER_BUDGET.
export interface WorkMeter { readonly work: number; workLimit?: number }

export interface MeterOptions {
  work: WorkMeter;
  rate: number;               // bytes of work per second per peer
  burst: number;
  max?: number;               // peers remembered (default 4096)
  // Shared by every transport of a node: work all peers together may cause.
  // While it is spent, messages are refused (not answered, so anti-entropy
  // retries) but nobody is disconnected for it.
  total?: TokenBucket;
  onBusy?: (e: LimitError) => void; // the total ran out (once per time it does)
  now?: Now;
  // A peer went over: refuse it (the transport disconnects it, if it can).
  onOver: (peer: string, e: LimitError) => void;
}

export interface MeterStats { delivered: number; refused: number; busy: number; work: number }

// Wraps a Transport so that each peer's messages are charged the work they
// cause (measured around delivery to the replication layer). A message from a
// peer in debt is refused before any work; while one is handled, the kernel
// stops at the first decomposition past what the peer has left (workLimit), so
// one peer costs at most its burst plus one part-charging kernel call (a
// batch of a decomposition, or one variable's part hashes) up front and
// `rate` per second after that. Other peers' budgets are untouched.
export class MeteredTransport implements Transport {
  readonly self: string;
  #inner: Transport;
  #o: MeterOptions;
  #buckets: Buckets;
  #handlers = new Set<(from: string, m: Uint8Array) => void>();
  #off: () => void;
  #stats: MeterStats = { delivered: 0, refused: 0, busy: 0, work: 0 };
  #busy = false;

  constructor(inner: Transport, o: MeterOptions) {
    this.#inner = inner;
    this.self = inner.self;
    this.#o = o;
    this.#buckets = new Buckets(o.rate, o.burst, o.max ?? 4096, o.now);
    this.#off = inner.onMessage((from, m) => this.#deliver(from, m));
  }

  neighbours(): string[] { return this.#inner.neighbours(); }
  send(to: string, message: Uint8Array): void { this.#inner.send(to, message); }
  canSend(peer: string): boolean { return this.#inner.canSend?.(peer) ?? true; }
  onNeighbour(h: (peer: string, up: boolean) => void): () => void { return this.#inner.onNeighbour(h); }
  onMessage(h: (from: string, m: Uint8Array) => void): () => void {
    this.#handlers.add(h);
    return () => { this.#handlers.delete(h); };
  }

  stats(): MeterStats { return { ...this.#stats }; }
  close(): void { this.#off(); this.#handlers.clear(); }

  #deliver(from: string, m: Uint8Array): void {
    const b = this.#buckets.get(from);
    if (b.level() < 0) {
      this.#stats.refused++;
      this.#o.onOver(from, new LimitError("OVER_BUDGET", `${from}: sync work over its budget (${this.#o.rate} bytes/s, burst ${this.#o.burst}); message refused`, from));
      return;
    }
    const total = this.#o.total;
    if (total && total.level() < 0) {
      this.#stats.busy++;
      if (!this.#busy) {
        this.#busy = true;
        this.#o.onBusy?.(new LimitError("BUSY", `all peers' sync work is over the node's budget (${total.rate} bytes/s, burst ${total.burst}); messages refused until it refills`, from));
      }
      return;
    }
    this.#busy = false;
    const meter = this.#o.work;
    const w0 = meter.work;
    // What is left of both budgets is all this message may cost: a
    // decomposition past it stops the handling (the replicator reports it).
    const saved = meter.workLimit;
    if (saved !== undefined) meter.workLimit = Math.min(saved, w0 + Math.max(0, Math.min(b.level(), total ? total.level() : Infinity)));
    try {
      for (const h of [...this.#handlers]) h(from, m);
    } finally {
      if (saved !== undefined) meter.workLimit = saved;
    }
    const cost = meter.work - w0 + m.length;
    this.#stats.delivered++;
    this.#stats.work += cost;
    total?.charge(cost);
    const left = b.charge(cost);
    if (left < 0) this.#o.onOver(from, new LimitError("OVER_BUDGET", `${from}: its sync messages cost ${Math.round(this.#o.burst - left)} bytes of work, over the budget of ${this.#o.burst}`, from));
  }
}

// ---- HTTP -----------------------------------------------------------------

interface SockState {
  socket: Socket; bucket: TokenBucket;
  pending: number; // requests whose replies are not closed
  held: number;    // reply bytes accounted and not yet out of this process
  written: number; // … of which written to the socket, waiting for it to drain
  cut: boolean;
  last: Promise<void>; // the previous request's reply is out (or its connection gone)
  gone: Promise<void>; // the connection closed
}

export interface HttpLimitStats { connections: number; held: number; maxHeld: number; refused: Partial<Record<LimitCode, number>> }

// Per-connection request rate and reply budget for the node's http server.
// `held` counts reply bytes handed to a connection and not yet flushed to
// the OS; Node queues pipelined replies in memory, which is what a client
// that never reads makes grow.
export class HttpLimits {
  readonly l: Limits;
  #socks = new WeakMap<Socket, SockState>();
  #holding = new Set<SockState>(); // connections with replies not yet flushed, oldest first
  #open = 0;
  #held = 0;
  #maxHeld = 0;
  #refused: Partial<Record<LimitCode, number>> = {};
  #onLimit: (e: LimitError, remote: string) => void;
  #now: Now;

  constructor(l: Limits, onLimit: (e: LimitError, remote: string) => void = () => {}, now: Now = Date.now) {
    this.l = l;
    this.#onLimit = onLimit;
    this.#now = now;
  }

  // Caps the server's connections (Node closes the ones over it at accept).
  attach(server: Server): void {
    server.maxConnections = this.l.httpConnections;
    const byAddr = new Map<string, number>();
    server.on("connection", (s: Socket) => {
      const a = s.remoteAddress ?? "";
      const n = (byAddr.get(a) ?? 0) + 1;
      if (n > this.l.httpPerAddress) {
        this.#refuse(new LimitError("TOO_MANY_CONNECTIONS", `${n - 1} connections from ${a} already (at most ${this.l.httpPerAddress}); closed at accept`), `${a}:${s.remotePort}`);
        s.destroy();
        return;
      }
      byAddr.set(a, n);
      this.#open++;
      s.once("close", () => {
        this.#open--;
        const m = (byAddr.get(a) ?? 1) - 1;
        if (m === 0) byAddr.delete(a); else byAddr.set(a, m);
      });
    });
    server.on("drop", () => this.#count("TOO_MANY_CONNECTIONS"));
  }

  stats(): HttpLimitStats { return { connections: this.#open, held: this.#held, maxHeld: this.#maxHeld, refused: { ...this.#refused } }; }

  #state(s: Socket): SockState {
    let st = this.#socks.get(s);
    if (!st) {
      const v: SockState = { socket: s, bucket: new TokenBucket(this.l.httpRate, this.l.httpBurst, this.#now), pending: 0, held: 0, written: 0, cut: false, last: Promise.resolve(),
        gone: new Promise<void>((resolve) => s.once("close", () => resolve())) };
      this.#socks.set(s, (st = v));
      // A reply has left this process once the socket's own buffer drains.
      s.on("drain", () => { if (s.writableLength === 0) this.#release(v, v.written); });
      s.once("close", () => this.#release(v, v.held));
    }
    return st;
  }

  // At the start of each request: a refusal (sent as 429 and the connection
  // closed), or null to go on.
  request(req: IncomingMessage, res: ServerResponse): LimitError | null {
    const s = req.socket;
    const st = this.#state(s);
    const remote = `${s.remoteAddress}:${s.remotePort}`;
    st.pending++;
    res.once("close", () => { st.pending--; });
    if (st.pending > this.l.httpPipeline) {
      // It sends requests without reading the replies: a reply would only queue too.
      if (!st.cut) this.#cut(st, `${st.pending - 1} requests already queued on this connection (at most ${this.l.httpPipeline}); connection closed`);
      return new LimitError("SLOW_READER", "connection closed");
    }
    if (!st.bucket.take()) return this.#refuse(new LimitError("RATE_LIMITED", `over ${this.l.httpRate} requests/s (burst ${this.l.httpBurst}) on this connection`), remote);
    return null;
  }

  // Requests on one connection are handled one at a time, each once the
  // previous reply has left the process: a client that pipelines requests and
  // does not read makes the node build one reply, not one per request.
  // Resolves false if the connection is gone meanwhile (skip the request).
  turn(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const s = req.socket;
    const st = this.#state(s);
    const prev = st.last;
    st.last = new Promise<void>((resolve) => {
      const out = (): void => {
        if (s.destroyed || s.writableLength === 0) return resolve();
        s.once("drain", resolve);
      };
      res.once("finish", out);
      res.once("close", () => { if (!res.writableFinished) resolve(); });
      void st.gone.then(() => resolve());
    });
    return prev.then(() => !s.destroyed && !st.cut);
  }

  // Before a reply of n bytes: true to write it. A connection that already
  // holds unread replies past its budget is cut off (SLOW_READER); when all
  // together are at the total, the reply is a 503 BUSY instead.
  response(res: ServerResponse, n: number): boolean {
    const s = res.socket;
    if (!s) return true; // already gone: nothing will be buffered
    const st = this.#state(s);
    const remote = `${s.remoteAddress}:${s.remotePort}`;
    this.#settle(st);
    if (st.held > 0 && st.held + n > this.l.httpResponseBudget) {
      this.#cut(st, `${st.held} bytes of replies unread; another ${n} would pass the budget of ${this.l.httpResponseBudget}; connection closed`);
      return false;
    }
    // At the total: connections that stopped reading (their socket wants a
    // drain and still holds replies) are cut first, so readers keep being served.
    if (this.#held + n > this.l.httpTotalBudget) {
      for (const o of [...this.#holding]) this.#settle(o);
      for (const o of [...this.#holding]) {
        if (this.#held + n <= this.l.httpTotalBudget) break;
        if (o !== st && o.socket.writableNeedDrain) this.#cut(o, `${o.held} bytes of replies unread while the node is at its total budget of ${this.l.httpTotalBudget}; connection closed`);
      }
    }
    if (n > this.l.httpResponseBudget || this.#held + n > this.l.httpTotalBudget) {
      const e = this.#refuse(new LimitError("BUSY", n > this.l.httpResponseBudget
        ? `a ${n}-byte reply is over the per-connection budget of ${this.l.httpResponseBudget}`
        : `replies waiting to be read are at the node's budget of ${this.l.httpTotalBudget} bytes; try again later`), remote);
      const text = JSON.stringify({ error: { code: e.code, message: e.message } }) + "\n";
      res.writeHead(503, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "retry-after": "1", "cache-control": "no-store" });
      res.end(text);
      return false;
    }
    st.held += n;
    this.#held += n;
    this.#holding.add(st);
    this.#maxHeld = Math.max(this.#maxHeld, this.#held);
    // 'finish' means written to the socket, which may still buffer it in
    // memory: counted until the socket drains (or closes).
    res.once("finish", () => {
      if (st.cut) return;
      if (s.writableLength === 0) this.#release(st, n); else st.written += n;
    });
    return true;
  }

  // A socket buffer that emptied without a 'drain' (it never passed its
  // high-water mark) has let its written replies go.
  #settle(st: SockState): void {
    if (st.written > 0 && st.socket.writableLength === 0) this.#release(st, st.written);
  }

  #release(st: SockState, n: number): void {
    if (st.cut || n <= 0) return;
    n = Math.min(n, st.held);
    st.held -= n; this.#held -= n;
    st.written = Math.max(0, st.written - n);
    if (st.held === 0) this.#holding.delete(st);
  }

  // Cuts a slow reader off; what it held is released now (the socket's
  // buffers go with it).
  #cut(st: SockState, message: string): void {
    const s = st.socket;
    this.#refuse(new LimitError("SLOW_READER", message), `${s.remoteAddress}:${s.remotePort}`);
    this.#held -= st.held;
    st.held = 0; st.written = 0;
    st.cut = true;
    this.#holding.delete(st);
    s.destroy();
  }

  #count(code: LimitCode): void { this.#refused[code] = (this.#refused[code] ?? 0) + 1; }

  #refuse(e: LimitError, remote: string): LimitError {
    this.#count(e.code);
    try { this.#onLimit(e, remote); } catch { /* logging must not break serving */ }
    return e;
  }
}

// ---- WebSocket ------------------------------------------------------------

// What ws-server.ts asks for each connection.
export class WsConnLimits {
  readonly frames: TokenBucket;
  readonly bytes: TokenBucket;
  stalls = 0;
  constructor(l: Limits, now: Now = Date.now) {
    this.frames = new TokenBucket(l.wsFrameRate, l.wsFrameBurst, now);
    this.bytes = new TokenBucket(l.wsByteRate, l.wsByteBurst, now);
  }
  // A received frame of n bytes: an error if it is over a rate.
  frame(n: number, l: Limits): LimitError | null {
    if (!this.frames.take(1)) return new LimitError("RATE_LIMITED", `over ${l.wsFrameRate} frames/s (burst ${l.wsFrameBurst})`);
    if (!this.bytes.take(n)) return new LimitError("RATE_LIMITED", `over ${l.wsByteRate} bytes/s (burst ${l.wsByteBurst})`);
    return null;
  }
}

// May a frame of n bytes be queued to a connection holding `buffered`, when
// all connections hold `total`? One frame is always let through to an idle
// connection, so a state up to maxFrame still goes out.
export function maySend(l: Limits, buffered: number, total: number, n: number): boolean {
  if (n === 0) return buffered === 0 || (buffered < l.wsSendBudget && total < l.wsTotalSendBudget);
  if (total + n > l.wsTotalSendBudget && buffered + total > 0) return false;
  return buffered === 0 || buffered + n <= l.wsSendBudget;
}
