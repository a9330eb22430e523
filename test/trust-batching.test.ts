// The trustless hot path's batching (host/trust/sync.ts, issue 12): the
// adaptive signing window (a change after a quiet spell is signed in its
// turn; a stream of changes is coalesced into fewer envelopes, each within
// EnvelopeLimits; flushed() signs at once), fan-out with one encoding for
// every neighbour, and a push past a gap in what a peer holds not counted as
// held (so the peer's request for the missing links is answered at once).
// A hand-driven transport and clock: nothing here depends on real time.
import { beforeAll, describe, expect, it } from "vitest";
import { GCounter, Runtime, init } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import type { Clock, Transport } from "../dist/host/replication/transport.js";
import { TrustHub, decodeEnvelope } from "../dist/host/trust/index.js";

beforeAll(async () => { await init(); });

let keys: Identity[] = [];
beforeAll(async () => { keys = await Promise.all([0, 1, 2, 3].map(() => Identity.generate())); });

// Virtual time: timers run only when the test advances it.
class ManualClock implements Clock {
  t = 0;
  #timers: { at: number; fn: () => void }[] = [];
  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): () => void {
    const x = { at: this.t + ms, fn };
    this.#timers.push(x);
    return () => { this.#timers = this.#timers.filter((y) => y !== x); };
  }
  get pending(): number { return this.#timers.length; }
  advance(ms: number): void {
    this.t += ms;
    const due = this.#timers.filter((x) => x.at <= this.t);
    this.#timers = this.#timers.filter((x) => x.at > this.t);
    for (const x of due) x.fn();
  }
}

// Messages wait in one queue until the test delivers them; `drop` loses what is sent.
class Net {
  queue: { from: string; to: string; m: Uint8Array }[] = [];
  sent: { from: string; to: string; m: Uint8Array }[] = [];
  drop = false;
  nodes = new Map<string, FakeTransport>();
  link(a: string, b: string): void { this.nodes.get(a)!.up(b); this.nodes.get(b)!.up(a); }
  async deliver(hubs: TrustHub[]): Promise<void> {
    for (let rounds = 0; rounds < 1000; rounds++) {
      for (const h of hubs) await h.flushed();
      const x = this.queue.shift();
      if (!x) return;
      this.nodes.get(x.to)!.receive(x.from, x.m);
    }
    throw new Error("the network did not go quiet");
  }
}

class FakeTransport implements Transport {
  #nbrs = new Set<string>();
  #onMessage: ((from: string, m: Uint8Array) => void)[] = [];
  #onNeighbour: ((peer: string, up: boolean) => void)[] = [];
  constructor(readonly self: string, readonly net: Net) { net.nodes.set(self, this); }
  neighbours(): string[] { return [...this.#nbrs]; }
  send(to: string, m: Uint8Array): void {
    if (!this.#nbrs.has(to)) return;
    this.net.sent.push({ from: this.self, to, m });
    if (!this.net.drop) this.net.queue.push({ from: this.self, to, m });
  }
  onMessage(h: (from: string, m: Uint8Array) => void): () => void { this.#onMessage.push(h); return () => {}; }
  onNeighbour(h: (peer: string, up: boolean) => void): () => void { this.#onNeighbour.push(h); return () => {}; }
  up(peer: string): void { this.#nbrs.add(peer); for (const h of this.#onNeighbour) h(peer, true); }
  receive(from: string, m: Uint8Array): void { for (const h of this.#onMessage) h(from, m); }
}

// Lets the hub's queue and microtasks run without flushed() (which signs at
// once); `until` waits for a condition by turns (a bound on turns, not on time:
// signing is asynchronous and the machine may be slow).
const turn = () => new Promise<void>((r) => setImmediate(r));
async function until(f: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 10_000; i++) { if (f()) return; await turn(); }
  throw new Error(`never happened: ${what}`);
}

async function signedEnvelopes(hub: TrustHub) {
  return Promise.all(hub.envelopesFor(hub.ids()).map((b) => decodeEnvelope(b)));
}

describe("adaptive signing", () => {
  it("signs a change after a quiet spell in its turn, coalesces a stream into one envelope per window, and flushed() signs at once", async () => {
    const clock = new ManualClock();
    const rt = new Runtime({ replica: keys[0].replicaId() }).declare("g", GCounter);
    const hub = await TrustHub.open(rt, { identity: keys[0], clock, maxSignDelay: 50 });
    await until(() => hub.stats().signed === 1, "the declaration is signed");
    clock.advance(1000); // a quiet spell
    rt.update("g", { increment: 1 });
    expect(clock.pending).toBe(0); // no timer: signed as it comes
    await until(() => hub.stats().signed === 2, "the change is signed");
    // A stream: a change every turn, no time passing. The first one is
    // signed at once (the window opened by the last signature is 0); then
    // the window grows and the rest wait for it (one timer).
    let made = 1;
    while (made < 21 || clock.pending === 0) {
      if (made > 5000) throw new Error("the window never opened");
      rt.update("g", { increment: 1 }); made++;
      await turn();
    }
    // The declaration, the quiet change, the stream's first turn (and what
    // joined it while it waited in the queue); nothing more without the clock.
    const during = 3;
    await until(() => hub.stats().signed === during, "the stream's first envelope is signed");
    for (let i = 0; i < 20; i++) await turn();
    expect(hub.stats().signed).toBe(during);
    expect(clock.pending).toBe(1);
    clock.advance(50);
    await until(() => hub.stats().signed === during + 1, "the window's envelope is signed");
    await until(() => clock.pending === 0, "no timer is left"); // everything made meanwhile went into that one envelope
    expect(hub.stats().signed).toBe(during + 1);
    // Every increment is in the chain, once.
    const envs = await signedEnvelopes(hub);
    const peer = new Runtime({ replica: keys[1].replicaId() }).declare("g", GCounter);
    for (const e of envs) for (const it of e.items) peer.bind(it.variable, it.delta, "remote");
    expect(peer.query("g")).toBe(made);
    // Within the window again: flushed() does not wait for it.
    rt.update("g", { increment: 1 });
    expect(clock.pending).toBe(1);
    const before = hub.stats().signed;
    await hub.flushed();
    expect(hub.stats().signed).toBe(before + 1);
    expect(clock.pending).toBe(0);
    hub.close(); rt.close(); peer.close();
  });

  it("maxSignDelay 0 signs every turn's changes as they come", async () => {
    const clock = new ManualClock();
    const rt = new Runtime({ replica: keys[0].replicaId() }).declare("g", GCounter);
    const hub = await TrustHub.open(rt, { identity: keys[0], clock, maxSignDelay: 0 });
    await until(() => hub.stats().signed === 1, "the declaration is signed");
    // No time passes: with a window, the second change would wait for a timer.
    for (let i = 0; i < 10; i++) {
      rt.update("g", { increment: 1 });
      expect(clock.pending).toBe(0);
      await until(() => hub.stats().signed === i + 2, `change ${i} is signed`);
    }
    hub.close(); rt.close();
  });

  it("refuses a maxSignDelay that is not 0 to 60,000 ms", async () => {
    const rt = new Runtime({ replica: keys[0].replicaId() });
    for (const bad of [-1, Number.NaN, Infinity, 60_001]) {
      await expect(TrustHub.open(rt, { identity: keys[0], maxSignDelay: bad })).rejects.toThrow(RangeError);
    }
    rt.close();
  });

  it("a coalesced batch is split to respect maxItems and the envelope byte limit", async () => {
    const clock = new ManualClock();
    const rt = new Runtime({ replica: keys[0].replicaId() });
    const limits = { maxItems: 4, maxBytes: 2048 };
    const hub = await TrustHub.open(rt, { identity: keys[0], clock, admit: { envelopeLimits: limits } });
    rt.declare("v00", GCounter);
    await until(() => hub.stats().signed === 1, "the declaration is signed");
    // A stream over 30 variables: the window holds them back together.
    for (let i = 0; i < 30; i++) {
      const id = `v${String(i).padStart(2, "0")}`;
      if (!rt.has(id)) rt.declare(id, GCounter);
      rt.update(id, { increment: i + 1 });
      await turn();
    }
    clock.advance(1000);
    await hub.flushed();
    const envs = await signedEnvelopes(hub);
    expect(envs.length).toBeGreaterThan(30 / limits.maxItems); // split
    for (const e of envs) {
      expect(e.items.length).toBeLessThanOrEqual(limits.maxItems);
      expect(e.bytes.length).toBeLessThanOrEqual(limits.maxBytes);
    }
    expect(envs.some((e) => e.items.length === limits.maxItems)).toBe(true); // coalesced up to the limit
    // Nothing lost: every variable's total is in the chain.
    const peer = new Runtime({ replica: keys[1].replicaId() });
    for (const e of envs) for (const it of e.items) { if (!peer.has(it.variable)) peer.declare(it.variable, GCounter); peer.bind(it.variable, it.delta, "remote"); }
    for (let i = 0; i < 30; i++) expect(peer.query(`v${String(i).padStart(2, "0")}`)).toBe(i + 1);
    hub.close(); rt.close(); peer.close();
  });
});

describe("fan-out", () => {
  async function star(n: number) {
    const net = new Net();
    const names = ["s", ...Array.from({ length: n }, (_, i) => `c${i}`)];
    const rts = names.map((_, i) => new Runtime({ replica: keys[i].replicaId() }).declare("g", GCounter));
    const hubs = await Promise.all(rts.map((rt, i) => TrustHub.open(rt, { identity: keys[i], maxSignDelay: 0 })));
    const ts = names.map((x) => new FakeTransport(x, net));
    hubs.forEach((h, i) => h.attach(ts[i], { interval: 1e9 })); // no rounds: only pushes and answers
    return { net, names, rts, hubs };
  }

  it("a server forwards an envelope to every other client with one encoding, never back to its author", async () => {
    const { net, names, rts, hubs } = await star(3);
    for (const c of names.slice(1)) net.link("s", c);
    await net.deliver(hubs);
    net.sent = [];
    rts[1].update("g", { increment: 5 });
    await net.deliver(hubs);
    const fwd = net.sent.filter((x) => x.from === "s");
    expect(fwd.map((x) => x.to).sort()).toEqual(["c1", "c2"]);
    expect(fwd[0].m).toBe(fwd[1].m); // the same bytes, encoded once
    for (const rt of rts) expect(rt.query("g")).toBe(5);
    hubs.forEach((h) => h.close());
  });

  it("a push past a gap in what a peer holds is not counted as held: the peer's request for the links is answered at once", async () => {
    const { net, names, rts, hubs } = await star(2);
    const [, x, y] = names;
    net.link("s", x);
    await net.deliver(hubs); // s and x exchange their first envelopes
    // y comes up, but the frontiers exchanged then are lost: it holds
    // nothing of x's, and s pushed it nothing of x's.
    net.drop = true;
    net.link("s", y);
    await net.deliver(hubs);
    net.drop = false;
    // x's next envelope reaches y by a push; y lacks its links and asks s
    // (its frontier). s must answer with them now: there are no rounds.
    rts[1].update("g", { increment: 3 });
    await net.deliver(hubs);
    expect(rts[2].query("g")).toBe(3);
    expect(hubs[2].stats().pending).toBe(0);
    hubs.forEach((h) => h.close());
  });
});
