// A deterministic simulated network for replication tests and experiments.
// One priority queue on virtual time holds message deliveries and timers, so a
// run is a pure function of the seed and the calls made on the network; there
// are no real timers and no Node built-ins (it runs in browsers too).
// Fault model and API: docs/sim.md.

import type { Clock, Transport } from "../replication/transport.js";
import { buildTopology, type Edge, type TopologyKind, type TopologyOptions } from "./topology.js";

export type { Edge, TopologyKind, TopologyOptions } from "./topology.js";

// Per-link behaviour; every field is a default for new links in SimNetwork's
// options and can be overridden per link.
export interface LinkOptions {
  latency?: number | [number, number]; // ms, uniform in [min, max] (default [1, 10])
  loss?: number; // probability a message is dropped
  duplicate?: number; // probability a delivered message arrives twice
  reorder?: number; // probability a message is held back so later ones overtake it
  reorderDelay?: number; // max extra delay of a held-back message (default 4 * max latency)
}

export interface SimOptions extends LinkOptions {
  seed?: number;
  // Copy each message on send, as a wire would (default false: the receiver
  // gets the sender's array, so neither side may mutate it after send).
  copy?: boolean;
}

export interface SimStats {
  sent: number; sentBytes: number; // send() calls by this node
  delivered: number; deliveredBytes: number; // messages this node received
  dropped: number; droppedBytes: number; // this node's messages that never arrived
  duplicated: number; // extra copies made of this node's messages
}

export interface TraceEvent {
  t: number;
  kind: "send" | "deliver" | "drop" | "duplicate" | "timer" | "up" | "down" | "crash" | "restart";
  node?: string; // sender, the node whose timer fired, or the node seeing up/down
  peer?: string; // receiver, or the neighbour that went up/down
  bytes?: number;
  count?: number; // drop: messages dropped at once (in flight on a link that went down)
  reason?: "loss" | "nolink" | "down";
}

export interface RunOptions {
  until?: number; // virtual time to stop at (events at exactly `until` run)
  maxEvents?: number; // default 10,000,000, so periodic timers cannot hang a test
  stop?: () => boolean; // checked after every event
}

export interface RunResult {
  events: number;
  reason: "empty" | "until" | "maxEvents" | "stop";
}

// A node's endpoint. Its clock's timers belong to the node: a crash drops them.
export interface SimTransport extends Transport {
  readonly clock: Clock;
  readonly alive: boolean; // false once the node crashes (a restart gives a new transport)
}

// sfc32 seeded through splitmix32: small, fast, and good enough for schedules.
// State in an Int32Array: plain numeric fields above 2^30 would be boxed.
export class Prng {
  private readonly s = new Int32Array(4);
  constructor(seed: number, stream = 0) {
    let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) >>> 0, 0x27d4eb2d) ^ Math.imul(stream, 0x632be5ab);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = z ^ (z >>> 16);
    }
  }
  u32(): number {
    const s = this.s, a = s[0], b = s[1], c = s[2], d = s[3];
    const t = (((a + b) | 0) + d) | 0;
    s[3] = (d + 1) | 0;
    s[0] = b ^ (b >>> 9);
    s[1] = (c + (c << 3)) | 0;
    s[2] = (((c << 21) | (c >>> 11)) + t) | 0;
    return t >>> 0;
  }
  // Uniform in [0, 1).
  next(): number { return this.u32() / 4294967296; }
  // Uniform integer in [0, n).
  int(n: number): number { return Math.floor(this.next() * n); }
}

const MESSAGE = 0, TIMER = 1;

// One queued event; pooled, so steady-state sending allocates nothing.
class Ev {
  t = 0; seq = 0; kind = MESSAGE; gen = 0; cancelled = false;
  // message
  link: Link | null = null; dir = 0; epoch = 0; msg: Uint8Array | null = null;
  // timer (node null: the network's own clock, which survives crashes)
  node: SimNode | null = null; incarnation = 0; fn: (() => void) | null = null;
}

class SimNode {
  alive = true;
  incarnation = 0;
  group = 0; // partition group: links between groups are cut
  transport: Endpoint;
  readonly links = new Map<string, Link>(); // peer id -> link, in link order
  readonly stats: SimStats = zeroStats();
  constructor(readonly id: string, net: SimNetwork) { this.transport = new Endpoint(net, this); }
}

class Link {
  up = false;
  epoch = 0; // bumped when the link goes down: queued deliveries with an older epoch are void
  latMin = 1; latSpan = 9; loss = 0; duplicate = 0; reorder = 0; reorderDelay = 40;
  // Per direction (0: a -> b, 1: b -> a).
  fifo = [0, 0]; // latest in-order delivery time, so reorder = 0 means FIFO
  inflight = [0, 0];
  inflightBytes = [0, 0];
  constructor(readonly a: SimNode, readonly b: SimNode, public overrides: LinkOptions) {}
  ends(dir: number): [SimNode, SimNode] { return dir === 0 ? [this.a, this.b] : [this.b, this.a]; }
}

class Endpoint implements SimTransport {
  msgHandlers: ((from: string, message: Uint8Array) => void)[] = [];
  nbHandlers: ((peer: string, up: boolean) => void)[] = [];
  readonly self: string;
  readonly clock: Clock;
  constructor(private readonly net: SimNetwork, private readonly node: SimNode) {
    this.self = node.id;
    const inc = node.incarnation;
    this.clock = {
      now: () => net.now,
      setTimeout: (fn, ms) => (this.alive ? net._timer(fn, ms, node, inc) : noop),
    };
  }
  get alive(): boolean { return this.node.alive && this.node.transport === this; }
  neighbours(): string[] {
    if (!this.alive) return [];
    const out: string[] = [];
    for (const [peer, l] of this.node.links) if (l.up) out.push(peer);
    return out;
  }
  send(to: string, message: Uint8Array): void {
    if (this.alive) this.net._send(this.node, to, message);
  }
  // Handler lists are copied on change, so a handler may (un)register during dispatch.
  onMessage(h: (from: string, message: Uint8Array) => void): () => void {
    this.msgHandlers = [...this.msgHandlers, h];
    return () => { this.msgHandlers = this.msgHandlers.filter((x) => x !== h); };
  }
  onNeighbour(h: (peer: string, up: boolean) => void): () => void {
    this.nbHandlers = [...this.nbHandlers, h];
    return () => { this.nbHandlers = this.nbHandlers.filter((x) => x !== h); };
  }
}

const noop = () => {};
const zeroStats = (): SimStats => ({ sent: 0, sentBytes: 0, delivered: 0, deliveredBytes: 0, dropped: 0, droppedBytes: 0, duplicated: 0 });

export class SimNetwork {
  readonly seed: number;
  // The network's own clock (for test harnesses: scheduling faults, updates);
  // its timers survive crashes. Nodes use their transport's clock.
  readonly clock: Clock;
  private time = 0;
  private seqNo = 0;
  private ht = new Float64Array(256); // heap: event times
  private hs = new Float64Array(256); // heap: scheduling order
  private readonly he: (Ev | undefined)[] = []; // heap: events
  private size = 0;
  private readonly pool: Ev[] = [];
  private pending = 0; // live messages in flight
  private readonly rng: Prng; // message faults and latencies
  private readonly topoRng: Prng; // a separate stream: building a topology does not shift message randomness
  private readonly nodes = new Map<string, SimNode>();
  private readonly links = new Map<string, Link>();
  private defaults: LinkOptions;
  private readonly copy: boolean;
  private tracers: ((e: TraceEvent) => void)[] = [];

  constructor(opts: SimOptions = {}) {
    this.seed = opts.seed ?? 0;
    this.rng = new Prng(this.seed, 0);
    this.topoRng = new Prng(this.seed, 1);
    this.copy = opts.copy ?? false;
    const { seed: _s, copy: _c, ...link } = opts;
    this.defaults = { latency: [1, 10], loss: 0, duplicate: 0, reorder: 0, ...link };
    validate(this.defaults);
    this.clock = { now: () => this.time, setTimeout: (fn, ms) => this._timer(fn, ms, null, 0) };
  }

  get now(): number { return this.time; }

  // ---- nodes and links ----

  add(id: string): SimTransport {
    if (this.nodes.has(id)) throw new Error(`node ${id} already exists`);
    const n = new SimNode(id, this);
    this.nodes.set(id, n);
    return n.transport;
  }

  // The node's current transport (a new one after each restart).
  transport(id: string): SimTransport { return this.get(id).transport; }
  ids(): string[] { return [...this.nodes.keys()]; }
  isUp(id: string): boolean { return this.get(id).alive; }
  // Every configured link, up or not, in link order.
  edges(): [string, string][] { return [...this.links.values()].map((l) => [l.a.id, l.b.id]); }

  // Adds a link (neighbour-up fires on both ends if it is usable), or changes
  // an existing link's options (no events; messages in flight keep theirs).
  link(a: string, b: string, opts: LinkOptions = {}): void {
    if (a === b) throw new Error("a node cannot link to itself");
    validate(opts);
    const na = this.get(a), nb = this.get(b);
    const existing = na.links.get(b);
    if (existing) { existing.overrides = { ...existing.overrides, ...opts }; this.resolve(existing); return; }
    const l = new Link(na, nb, opts);
    this.resolve(l);
    na.links.set(b, l); nb.links.set(a, l);
    this.links.set(key(a, b), l);
    this.refresh(l);
  }

  unlink(a: string, b: string): void {
    const l = this.get(a).links.get(b);
    if (!l) return;
    this.setUp(l, false);
    l.a.links.delete(l.b.id); l.b.links.delete(l.a.id);
    this.links.delete(key(a, b));
  }

  // Changes the default fault options; links keep their own overrides.
  configure(opts: LinkOptions): void {
    validate(opts);
    this.defaults = { ...this.defaults, ...opts };
    for (const l of this.links.values()) this.resolve(l);
  }

  // Links the given nodes (adding missing ones) in a shape; returns the new
  // edges. Random shapes draw from the seed, independently of message traffic.
  topology(kind: TopologyKind, ids: string[], opts: TopologyOptions & { link?: LinkOptions } = {}): [string, string][] {
    for (const id of ids) if (!this.nodes.has(id)) this.add(id);
    const out: [string, string][] = buildTopology(kind, ids.length, this.topoRng, opts).map(([i, j]: Edge) => [ids[i], ids[j]]);
    for (const [a, b] of out) this.link(a, b, opts.link);
    return out;
  }

  // ---- faults ----

  // Cuts every link between different groups (in-flight messages on them are
  // lost, neighbour-down fires). Nodes in no group form one more group.
  // Replaces any earlier partition.
  partition(groups: string[][]): void {
    const g = new Map<string, number>();
    groups.forEach((ids, i) => ids.forEach((id) => {
      this.get(id);
      if (g.has(id)) throw new Error(`node ${id} is in two groups`);
      g.set(id, i + 1);
    }));
    for (const n of this.nodes.values()) n.group = g.get(n.id) ?? 0;
    for (const l of this.links.values()) this.refresh(l);
  }

  heal(): void {
    for (const n of this.nodes.values()) n.group = 0;
    for (const l of this.links.values()) this.refresh(l);
  }

  // The node loses its memory: its transport is detached (handlers never run
  // again, sends are ignored), its timers and the messages in flight on its
  // links are dropped, and its neighbours see it go down.
  crash(id: string): void {
    const n = this.get(id);
    if (!n.alive) throw new Error(`node ${id} is already down`);
    n.alive = false;
    n.incarnation++;
    this.emit({ t: this.time, kind: "crash", node: id });
    for (const l of n.links.values()) this.refresh(l);
  }

  // Brings a crashed node back with a fresh transport (no handlers yet: read
  // neighbours() for the initial set); its neighbours see it come up.
  restart(id: string): SimTransport {
    const n = this.get(id);
    if (n.alive) throw new Error(`node ${id} is up`);
    n.transport = new Endpoint(this, n);
    n.alive = true;
    this.emit({ t: this.time, kind: "restart", node: id });
    for (const l of n.links.values()) this.refresh(l);
    return n.transport;
  }

  // ---- running ----

  // Runs the next event; false when none is left.
  step(): boolean {
    for (;;) {
      const ev = this.pop();
      if (!ev) return false;
      if (this.fire(ev)) return true;
    }
  }

  run(opts: RunOptions = {}): RunResult {
    const until = opts.until ?? Infinity, max = opts.maxEvents ?? 10_000_000, stop = opts.stop;
    let events = 0;
    for (;;) {
      if (events >= max) return { events, reason: "maxEvents" };
      if (this.size === 0) {
        if (until !== Infinity) { this.time = Math.max(this.time, until); return { events, reason: "until" }; }
        return { events, reason: "empty" };
      }
      if (this.ht[0] > until) { this.time = Math.max(this.time, until); return { events, reason: "until" }; }
      if (this.fire(this.pop()!)) {
        events++;
        if (stop && stop()) return { events, reason: "stop" };
      }
    }
  }

  // No message in flight (timers may remain).
  idle(): boolean { return this.pending === 0; }
  get inFlight(): number { return this.pending; }

  // ---- measurement ----

  stats(id: string): SimStats { return { ...this.get(id).stats }; }
  totals(): SimStats {
    const t = zeroStats();
    for (const n of this.nodes.values()) for (const k of Object.keys(t) as (keyof SimStats)[]) t[k] += n.stats[k];
    return t;
  }
  resetStats(): void { for (const n of this.nodes.values()) Object.assign(n.stats, zeroStats()); }

  // Every send, delivery, drop, duplicate, timer, up/down, crash and restart.
  // Costs nothing when no tracer is registered.
  onTrace(fn: (e: TraceEvent) => void): () => void {
    this.tracers = [...this.tracers, fn];
    return () => { this.tracers = this.tracers.filter((x) => x !== fn); };
  }

  // ---- internals (used by Endpoint) ----

  _send(from: SimNode, to: string, message: Uint8Array): void {
    const bytes = message.byteLength, st = from.stats;
    st.sent++; st.sentBytes += bytes;
    if (this.tracers.length) this.emit({ t: this.time, kind: "send", node: from.id, peer: to, bytes });
    const l = from.links.get(to);
    if (!l || !l.up) return this.lose(from, to, bytes, l ? "down" : "nolink");
    const rng = this.rng;
    if (l.loss > 0 && rng.next() < l.loss) return this.lose(from, to, bytes, "loss");
    const dir = l.a === from ? 0 : 1;
    const msg = this.copy ? message.slice() : message;
    let t = this.time + l.latMin + l.latSpan * rng.next();
    if (l.reorder > 0 && rng.next() < l.reorder) {
      t += l.reorderDelay * rng.next(); // held back; leaves the FIFO mark alone so later messages overtake it
    } else {
      if (t < l.fifo[dir]) t = l.fifo[dir];
      l.fifo[dir] = t;
    }
    this.enqueueMessage(l, dir, msg, t);
    if (l.duplicate > 0 && rng.next() < l.duplicate) {
      st.duplicated++;
      if (this.tracers.length) this.emit({ t: this.time, kind: "duplicate", node: from.id, peer: to, bytes });
      this.enqueueMessage(l, dir, msg, t + (l.latMin + l.latSpan) * rng.next());
    }
  }

  _timer(fn: () => void, ms: number, node: SimNode | null, incarnation: number): () => void {
    const ev = this.alloc();
    ev.kind = TIMER; ev.fn = fn; ev.node = node; ev.incarnation = incarnation;
    ev.t = this.time + (ms > 0 ? ms : 0);
    this.push(ev);
    const gen = ev.gen;
    return () => { if (ev.gen === gen) ev.cancelled = true; };
  }

  // ---- private ----

  private get(id: string): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`unknown node ${id}`);
    return n;
  }

  private resolve(l: Link): void {
    const o = { ...this.defaults, ...l.overrides };
    const [lo, hi] = typeof o.latency === "number" ? [o.latency, o.latency] : o.latency!;
    l.latMin = lo; l.latSpan = hi - lo;
    l.loss = o.loss ?? 0; l.duplicate = o.duplicate ?? 0; l.reorder = o.reorder ?? 0;
    l.reorderDelay = o.reorderDelay ?? 4 * Math.max(hi, 1);
  }

  private refresh(l: Link): void {
    this.setUp(l, l.a.alive && l.b.alive && l.a.group === l.b.group);
  }

  private setUp(l: Link, up: boolean): void {
    if (l.up === up) return;
    l.up = up;
    if (!up) {
      l.epoch++;
      for (let dir = 0; dir < 2; dir++) {
        const count = l.inflight[dir];
        if (count === 0) continue;
        const [from, to] = l.ends(dir), bytes = l.inflightBytes[dir];
        from.stats.dropped += count; from.stats.droppedBytes += bytes;
        this.pending -= count;
        l.inflight[dir] = 0; l.inflightBytes[dir] = 0;
        if (this.tracers.length) this.emit({ t: this.time, kind: "drop", node: from.id, peer: to.id, bytes, count, reason: "down" });
      }
      l.fifo[0] = l.fifo[1] = 0;
    }
    // Only live ends hear about it (a crashed node has no handlers).
    this.notify(l.a, l.b.id, up);
    this.notify(l.b, l.a.id, up);
  }

  private notify(n: SimNode, peer: string, up: boolean): void {
    if (!n.alive) return;
    if (this.tracers.length) this.emit({ t: this.time, kind: up ? "up" : "down", node: n.id, peer });
    for (const h of n.transport.nbHandlers) h(peer, up);
  }

  private lose(from: SimNode, to: string, bytes: number, reason: "loss" | "nolink" | "down"): void {
    from.stats.dropped++; from.stats.droppedBytes += bytes;
    if (this.tracers.length) this.emit({ t: this.time, kind: "drop", node: from.id, peer: to, bytes, count: 1, reason });
  }

  private enqueueMessage(l: Link, dir: number, msg: Uint8Array, t: number): void {
    const ev = this.alloc();
    ev.kind = MESSAGE; ev.link = l; ev.dir = dir; ev.epoch = l.epoch; ev.msg = msg; ev.t = t;
    l.inflight[dir]++; l.inflightBytes[dir] += msg.byteLength;
    this.pending++;
    this.push(ev);
  }

  // Runs one popped event; false if it was void (cancelled timer, dead node,
  // message on a link that went down since).
  private fire(ev: Ev): boolean {
    this.time = ev.t;
    if (ev.kind === MESSAGE) {
      const l = ev.link!, msg = ev.msg!, dir = ev.dir;
      const live = ev.epoch === l.epoch;
      this.release(ev);
      if (!live) return false;
      const from = dir === 0 ? l.a : l.b, to = dir === 0 ? l.b : l.a;
      l.inflight[dir]--; l.inflightBytes[dir] -= msg.byteLength;
      this.pending--;
      to.stats.delivered++; to.stats.deliveredBytes += msg.byteLength;
      if (this.tracers.length) this.emit({ t: this.time, kind: "deliver", node: from.id, peer: to.id, bytes: msg.byteLength });
      for (const h of to.transport.msgHandlers) h(from.id, msg);
      return true;
    }
    const fn = ev.fn!, node = ev.node;
    const live = !ev.cancelled && (node === null || (node.alive && node.incarnation === ev.incarnation));
    this.release(ev);
    if (!live) return false;
    if (this.tracers.length) this.emit({ t: this.time, kind: "timer", node: node?.id });
    fn();
    return true;
  }

  private emit(e: TraceEvent): void { for (const f of this.tracers) f(e); }

  private alloc(): Ev {
    const ev = this.pool.pop() ?? new Ev();
    ev.cancelled = false;
    return ev;
  }

  private release(ev: Ev): void {
    ev.gen++; ev.msg = null; ev.fn = null; ev.link = null; ev.node = null;
    this.pool.push(ev);
  }

  // Binary min-heap on (t, seq): equal times run in scheduling order. Keys
  // live in typed arrays beside the events, so sifting touches no objects.
  private push(ev: Ev): void {
    const seq = this.seqNo++, t = ev.t;
    let i = this.size++;
    if (i === this.ht.length) this.grow();
    const ht = this.ht, hs = this.hs, he = this.he;
    while (i > 0) {
      const p = (i - 1) >> 1, pt = ht[p];
      if (pt < t || (pt === t && hs[p] < seq)) break;
      ht[i] = pt; hs[i] = hs[p]; he[i] = he[p]; i = p;
    }
    ht[i] = t; hs[i] = seq; he[i] = ev;
  }

  private pop(): Ev | undefined {
    if (this.size === 0) return undefined;
    const ht = this.ht, hs = this.hs, he = this.he;
    const top = he[0];
    const n = --this.size;
    const t = ht[n], seq = hs[n], ev = he[n];
    he[n] = undefined;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n && (ht[r] < ht[c] || (ht[r] === ht[c] && hs[r] < hs[c]))) c = r;
      const ct = ht[c];
      if (t < ct || (t === ct && seq < hs[c])) break;
      ht[i] = ct; hs[i] = hs[c]; he[i] = he[c]; i = c;
    }
    ht[i] = t; hs[i] = seq; he[i] = ev;
    return top;
  }

  private grow(): void {
    const cap = this.ht.length * 2;
    const ht = new Float64Array(cap), hs = new Float64Array(cap);
    ht.set(this.ht); hs.set(this.hs);
    this.ht = ht; this.hs = hs;
  }
}

function key(a: string, b: string): string { return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`; }

function validate(o: LinkOptions): void {
  for (const p of ["loss", "duplicate", "reorder"] as const) {
    const v = o[p];
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new Error(`${p} must be a probability, got ${v}`);
  }
  if (o.latency !== undefined) {
    const [lo, hi] = typeof o.latency === "number" ? [o.latency, o.latency] : o.latency;
    if (!(lo >= 0 && hi >= lo)) throw new Error(`latency must be 0 <= min <= max, got ${String(o.latency)}`);
  }
  if (o.reorderDelay !== undefined && !(o.reorderDelay >= 0)) throw new Error("reorderDelay must be >= 0");
}
