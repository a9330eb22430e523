// Range-based catch-up in trustless mode (host/trust/sync.ts, docs/security.md
// "Catch-up"): a returning replica that missed k of n envelopes is caught up
// by one reconcile session over the envelope CIDs, over the simulated network
// and over WebSocket, with message and byte counts within the protocol's
// bounds (no frontier, no envelope sent twice); a read-gated peer gets every
// header but only the deltas it may read; hostile reconcile frames from a peer with a
// valid identity are typed errors that change nothing and cost bounded work.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { AWSet, Runtime, init } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import { SimNetwork } from "../dist/host/transport/sim.js";
import { NodeWebSocket, WsClient, WsServer, type WebSocketConstructor } from "../dist/host/transport/ws-server.js";
import { TrustError, TrustHub, decodeTrustMessage, encodeTrustMessage, envelopeCid, type EnvelopeReplicator, type TrustStats } from "../dist/host/trust/index.js";
import { ReconcileError } from "../dist/host/replication/reconcile.js";
import { INFINITY, Mode, decodeRanges, encodeRanges, type Range } from "../dist/host/replication/reconcile-wire.js";
import { MemoryEnvelopeStore } from "./util/trustless.js";
import { until } from "./util/outsider.js";

beforeAll(async () => { await init(); });

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f(); });

let keys: Identity[] = [];
beforeAll(async () => { keys = await Promise.all([0, 1, 2, 3].map(() => Identity.generate())); });

// One author's chain of n envelopes (one add each), in admission order.
const chains = new Map<number, Uint8Array[]>();
async function chain(n: number): Promise<Uint8Array[]> {
  const got = chains.get(n);
  if (got) return got;
  const store = new MemoryEnvelopeStore();
  const rt = new Runtime({ replica: keys[0].replicaId() });
  // No squash: the chain stays n envelopes (compaction is trust-squash.test.ts's).
  const hub = await TrustHub.open(rt, { identity: keys[0], store, squashEvery: 0 });
  rt.declare("s", AWSet);
  for (let i = 0; i < n; i++) { rt.update("s", { add: `x${i}` }); await hub.flushed(); }
  hub.close(); rt.close();
  expect(store.log).toHaveLength(n);
  chains.set(n, store.log);
  return store.log;
}

async function node(i: number, log: Uint8Array[]) {
  const store = new MemoryEnvelopeStore();
  store.log = log.slice();
  const rt = new Runtime({ replica: keys[i].replicaId() });
  const hub = await TrustHub.open(rt, { identity: keys[i], store });
  expect(hub.stats().restored).toBe(log.length);
  return { rt, hub };
}

const sum = (a: TrustStats, b: TrustStats, k: keyof TrustStats) => (a[k] as number) + (b[k] as number);

// Round trips a session needs at most: the first message splits n ids into
// 16 buckets, each later one a mismatched bucket into 16, until a bucket
// holds at most 16 ids and is listed; a Diff answers the list; the opener's
// last message may be a final Diff that the other side does not answer.
const maxMessages = (n: number) => 2 * (Math.ceil(Math.log(Math.max(n, 16) / 16) / Math.log(16)) + 2);

describe("range-based catch-up of a returning replica (simulated network)", () => {
  // A holds all n; B comes back holding the first n - k (its log is causal: an
  // honest replica always holds every link of what it holds).
  async function returning(n: number, k: number, catchUp: "auto" | "reconcile" | "frontier" = "reconcile", given?: Uint8Array[]) {
    const log = given ?? await chain(n);
    const net = new SimNetwork({ seed: 1, loss: 0, duplicate: 0, reorder: 0, latency: 10 });
    net.topology("fullMesh", ["a", "b"]);
    net.crash("b");
    const A = await node(1, log);
    const ta = net.transport("a");
    // Rounds every 60 s of virtual time: none runs during the catch-up, so
    // every message counted is the neighbour-up path's.
    A.hub.attach(ta, { interval: 60_000, clock: ta.clock, catchUp }).start();
    const tb = net.restart("b");
    const B = await node(2, log.slice(0, n - k));
    B.hub.attach(tb, { interval: 60_000, clock: tb.clock, catchUp }).start();
    // The frontier path needs a round: B's transport was not listening when
    // the link came up, so only A's frontier went out, which tells A nothing.
    const end = catchUp !== "reconcile" ? 62_000 : 2000;
    while (net.now < end) { net.run({ until: net.now + 5 }); await A.hub.flushed(); await B.hub.flushed(); }
    const out = { a: A.hub.stats(), b: B.hub.stats(), ids: B.hub.ids().length, same: JSON.stringify(B.rt.query("s")) === JSON.stringify(A.rt.query("s")) };
    for (const x of [A, B]) { x.hub.close(); x.rt.close(); }
    return out;
  }

  it.each([[300, 0], [300, 10], [300, 150]])("n = %i, k = %i: caught up by one session, each missing envelope sent once", async (n, k) => {
    const { a, b, ids, same } = await returning(n, k);
    expect(ids).toBe(n);
    expect(same).toBe(true);
    expect(b.admitted).toBe(k);
    expect(b.duplicates).toBe(0);
    expect(a.envelopesSent).toBe(k);
    expect(sum(a, b, "rejected")).toBe(0);
    // One session (A opened it when B came up; B's transport was not
    // listening yet), ended on both sides; no frontier was sent: every
    // message is the session's or carries envelopes (one message here).
    expect(a.sessions).toBe(1); expect(b.sessions).toBe(1);
    expect(a.messages - a.reconcileMessages).toBe(k > 0 ? 1 : 0);
    expect(b.messages).toBe(b.reconcileMessages);
    const msgs = sum(a, b, "reconcileMessages"), bytes = sum(a, b, "reconcileBytes");
    expect(msgs).toBeLessThanOrEqual(maxMessages(n));
    if (k === 0) expect(msgs).toBe(2); // the opening fingerprints, "all agreed"
    // Bytes: per message at most 16 fingerprint ranges (each under 60
    // bytes) and the ids listed, 32 bytes each: at most the 16 per listed
    // bucket, of which there are at most min(k, 16) + 1 per side.
    expect(bytes).toBeLessThanOrEqual(msgs * (16 * 60 + 32) + 2 * 32 * 16 * (Math.min(k, 16) + 1) + msgs * 16);
  }, 120_000);

  it("the frontier path (catchUp: \"frontier\") still catches up, with no session", async () => {
    const { a, b, ids, same } = await returning(300, 10, "frontier");
    expect(ids).toBe(300);
    expect(same).toBe(true);
    expect(a.envelopesSent).toBe(10);
    expect(sum(a, b, "sessions")).toBe(0);
    expect(sum(a, b, "reconcileMessages")).toBe(0);
  }, 120_000);

  it("\"auto\" (the default) sends the frontier up to 64 authors and opens a session past that", async () => {
    // 70 authors, one envelope each (a declaration and an add): A knows 70.
    const authors = await Promise.all(Array.from({ length: 70 }, () => Identity.generate()));
    const log: Uint8Array[] = [];
    for (const id of authors) {
      const store = new MemoryEnvelopeStore();
      const rt = new Runtime({ replica: id.replicaId() });
      const hub = await TrustHub.open(rt, { identity: id, store });
      rt.declare("s", AWSet); rt.update("s", { add: id.did });
      await hub.flushed(); hub.close(); rt.close();
      log.push(...store.log);
    }
    const many = await returning(70, 5, "auto", log);
    expect(many.ids).toBe(70);
    // One session when the link came up, one at the round at 60 s (past 64
    // authors rounds open sessions too): A never sent a frontier, only the
    // sessions' messages and the envelopes B lacked (one message).
    expect(many.a.sessions).toBe(2);
    expect(many.a.envelopesSent).toBe(5);
    expect(many.a.messages - many.a.reconcileMessages).toBe(1);
    const few = await returning(300, 10, "auto");
    expect(few.ids).toBe(300);
    expect(few.a.sessions + few.b.sessions).toBe(0);
    expect(few.a.reconcileMessages + few.b.reconcileMessages).toBe(0);
  }, 120_000);
});

describe("range-based catch-up with a read gate", () => {
  it("a peer is told every CID and sent every header, with only the deltas it may read", async () => {
    // Author 0 writes "s" (readable), author 3 writes "secret" (not), 5 each.
    const log: Uint8Array[] = [...await chain(5)];
    {
      const store = new MemoryEnvelopeStore();
      const rt = new Runtime({ replica: keys[3].replicaId() });
      const hub = await TrustHub.open(rt, { identity: keys[3], store });
      rt.declare("secret", AWSet);
      for (let i = 0; i < 5; i++) { rt.update("secret", { add: `y${i}` }); await hub.flushed(); }
      hub.close(); rt.close();
      log.push(...store.log);
    }
    const digest = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
    const readable = new Set(log.slice(0, 5).map(digest));
    const all = new Set(await Promise.all(log.map(async (b) => Buffer.from((await envelopeCid(b)).multihash.digest).toString("hex"))));
    const net = new SimNetwork({ seed: 1, loss: 0, duplicate: 0, reorder: 0, latency: 10 });
    net.topology("fullMesh", ["a", "b"]);
    net.crash("b");
    // The gate: peer b may read "s" only (a stand-in for ReadGate: the hub asks canRead).
    const gate = { canRead: (_did: string | undefined, v: string) => v === "s" };
    const store = new MemoryEnvelopeStore();
    store.log = log.slice();
    const rtA = new Runtime({ replica: keys[1].replicaId() });
    const A = await TrustHub.open(rtA, { identity: keys[1], store, readGate: gate as never });
    const ta = net.transport("a");
    const told: string[] = [];
    const send = ta.send.bind(ta);
    ta.send = (to: string, m: Uint8Array) => {
      const x = decodeTrustMessage(m);
      if (x.kind === "reconcile") for (const r of decodeRanges(x.body)) if ("ids" in r) for (const id of r.ids) told.push(Buffer.from(id).toString("hex"));
      send(to, m);
    };
    A.attach(ta, { interval: 60_000, clock: ta.clock, catchUp: "reconcile" }).start();
    const tb = net.restart("b");
    const B = await node(2, []);
    B.hub.attach(tb, { interval: 60_000, clock: tb.clock }).start();
    while (net.now < 2000) { net.run({ until: net.now + 5 }); await A.flushed(); await B.hub.flushed(); }
    // A listed all 10 ids (headers reach every peer, redacted: naming them
    // tells B nothing its headers do not); B holds the 5 readable envelopes
    // whole, the 5 others as headers, and nothing of "secret".
    expect(new Set(told)).toEqual(all);
    expect(B.hub.ids().length).toBe(10);
    const held = B.hub.envelopesFor(B.hub.ids()).map(digest);
    expect(held.filter((d) => readable.has(d)).length).toBe(5);
    expect(held.filter((d) => !readable.has(d)).length).toBe(5);
    for (const d of held) expect(log.slice(5).map(digest)).not.toContain(d);
    expect(B.rt.has("secret") ? B.rt.query("secret") : []).toEqual([]);
    expect(A.stats().sessions).toBe(1);
    A.close(); rtA.close(); B.hub.close(); B.rt.close();
  }, 60_000);
});

describe("range-based catch-up over WebSocket", () => {
  it("a client that missed k of n envelopes is caught up by the server with one session and no duplicate", async () => {
    const n = 200, k = 20;
    const log = await chain(n);
    const A = await node(1, log), B = await node(2, log.slice(0, n - k));
    cleanups.push(() => { for (const x of [A, B]) { x.hub.close(); x.rt.close(); } });
    const server = await WsServer.listen({ identity: keys[1], port: 0, host: "127.0.0.1" });
    cleanups.push(() => server.close());
    // Rounds far apart: the neighbour-up path alone catches up.
    A.hub.attach(server, { interval: 600_000, catchUp: "reconcile" }).start();
    const client = new WsClient({ url: `ws://127.0.0.1:${server.port}`, identity: keys[2], WebSocket: NodeWebSocket as unknown as WebSocketConstructor, reconnect: false });
    cleanups.push(() => client.close());
    B.hub.attach(client, { interval: 600_000, catchUp: "reconcile" }).start();
    await until(async () => { await B.hub.flushed(); return B.hub.ids().length === n; }, 20_000, "the client caught up");
    await until(() => A.hub.stats().sessions >= 1 && B.hub.stats().sessions >= 1, 5000, "both ended the session");
    const a = A.hub.stats(), b = B.hub.stats();
    expect(JSON.stringify(B.rt.query("s"))).toBe(JSON.stringify(A.rt.query("s")));
    expect(b.admitted).toBe(k);
    expect(b.duplicates).toBe(0);
    expect(a.envelopesSent).toBe(k);
    // Both sides open when the connection comes up; the crossing opens are
    // settled by session number, so one session runs (the other side's is
    // dropped unanswered, or ended when it goes quiet).
    expect(sum(a, b, "reconcileMessages")).toBeLessThanOrEqual(maxMessages(n) + 1);
    expect(a.messages - a.reconcileMessages).toBe(1);
    expect(b.messages).toBe(b.reconcileMessages);
  }, 60_000);
});

describe("hostile reconcile frames from a peer with a valid identity", () => {
  // A hub on an in-memory transport whose only neighbour is the hostile peer.
  async function target(n = 300) {
    const { rt, hub } = await node(1, await chain(n));
    const errors: Error[] = [];
    let deliver: (from: string, m: Uint8Array) => void = () => {};
    const sent: Uint8Array[] = [];
    const rep: EnvelopeReplicator = hub.attach({
      self: "me", neighbours: () => ["evil"], send: (_to: string, m: Uint8Array) => { sent.push(m); },
      onMessage: (f: typeof deliver) => { deliver = f; return () => {}; }, onNeighbour: () => () => {},
    } as never);
    void rep;
    // `onError` was not given at open: collect reports through the replicator's hub.
    (hub as unknown as { _report: (e: unknown) => void })._report = (e) => errors.push(e as Error);
    const before = { ids: hub.ids().length, query: JSON.stringify(rt.query("s")) };
    const send = async (open: boolean, session: number, body: Uint8Array) => {
      deliver("evil", encodeTrustMessage({ kind: "reconcile", open, session, body }));
      await hub.flushed();
    };
    const raw = async (bytes: Uint8Array) => { deliver("evil", bytes); await hub.flushed(); };
    const unchanged = () => {
      expect(hub.ids().length).toBe(before.ids);
      expect(JSON.stringify(rt.query("s"))).toBe(before.query);
      expect(hub.stats().envelopesSent).toBe(0);
      expect(hub.stats().admitted).toBe(0);
    };
    cleanups.push(() => { hub.close(); rt.close(); });
    return { hub, errors, sent, send, raw, unchanged };
  }
  const codes = (errors: Error[]) => errors.map((e) => `${e.name}:${(e as { code?: string }).code}`);
  const replies = (sent: Uint8Array[]) => sent.map((m) => decodeTrustMessage(m)).filter((m) => m.kind === "reconcile").length;

  it("malformed frames and bodies are typed errors that change nothing", async () => {
    const t = await target();
    const hdr = [0x54, 0x45, 1, 5];
    await t.raw(Uint8Array.from([...hdr, 2, 1, 0]));                  // unknown flag bits
    await t.raw(Uint8Array.from([...hdr, 1, 0xff, 0xff, 0xff, 0xff, 0x7f, 0])); // session number past 2^32
    await t.raw(Uint8Array.from([...hdr, 1, 1, 0xff, 0xff, 0x3f, 1]));  // a body longer than the frame
    const huge = new Uint8Array((1 << 20) + 64); huge.set(hdr); huge[4] = 1;
    await t.raw(huge);                                                   // over the frame limit
    expect(t.hub.stats().malformed).toBe(4);
    // Bodies: a billion ids in a few bytes, an unknown mode, another version.
    const ID = new Uint8Array(32).fill(7);
    await t.send(true, 1, Uint8Array.from([1, 0, 0, Mode.IdList, 0x80, 0x94, 0xeb, 0xdc, 0x03, ...ID]));
    await t.send(true, 2, Uint8Array.from([1, 0, 0, 9]));
    await t.send(true, 3, Uint8Array.from([2]));
    expect(codes(t.errors)).toEqual([
      "TrustError:MALFORMED", "TrustError:MALFORMED", "TrustError:MALFORMED", "TrustError:TOO_LARGE",
      "ReconcileError:MALFORMED", "ReconcileError:MALFORMED", "ReconcileError:BAD_VERSION",
    ]);
    expect(t.errors.slice(0, 4).every((e) => e instanceof TrustError)).toBe(true);
    expect(t.errors.slice(4).every((e) => e instanceof ReconcileError)).toBe(true);
    expect(replies(t.sent)).toBe(0);
    t.unchanged();
  });

  it("endless rounds of bogus fingerprints end at the round limit, and later messages of that session get nothing", async () => {
    const t = await target();
    const bogus = (i: number) => encodeRanges([{ upper: INFINITY, mode: Mode.Fingerprint, fingerprint: new Uint8Array(16).fill(i + 1) }]);
    await t.send(true, 77, bogus(0));
    for (let i = 1; i < 100; i++) await t.send(false, 77, bogus(i));
    // Each of the first 32 messages is answered (16 buckets each); the 33rd
    // ends the session with TOO_MANY_ROUNDS; the rest reach no session.
    expect(replies(t.sent)).toBe(32);
    expect(codes(t.errors)).toEqual(["ReconcileError:TOO_MANY_ROUNDS"]);
    expect(t.hub.stats().sessions).toBe(1);
    for (const m of t.sent) expect(m.length).toBeLessThan(16 * 60 + 64);
    t.unchanged();
  });

  it("a flood of session openings is refused past 4 an interval, one session at a time", async () => {
    const t = await target();
    const open = encodeRanges([{ upper: INFINITY, mode: Mode.Fingerprint, fingerprint: new Uint8Array(16) }]);
    for (let i = 0; i < 50; i++) await t.send(true, 1000 + i, open);
    expect(replies(t.sent)).toBe(4);
    expect(codes(t.errors)).toEqual(Array(46).fill("ReconcileError:TOO_MANY_ROUNDS"));
    // Each new opening replaced the last: three ended, one open.
    expect(t.hub.stats().sessions).toBe(3);
    t.unchanged();
  });

  it("impossible answers (a Diff offering an id we hold, a Diff over more ids than we list) are PROTOCOL errors and teach nothing", async () => {
    const t = await target(12);
    const ours = t.hub.ids();
    // A Diff answers one of our IdLists; here it "offers" one of our own ids.
    const offers: Range[] = [{ upper: INFINITY, mode: Mode.Diff, ids: [ours[0]], lacks: new Uint8Array(2) }];
    await t.send(true, 5, encodeRanges(offers));
    // A Diff whose bitfield does not cover our 12 ids.
    const short: Range[] = [{ upper: INFINITY, mode: Mode.Diff, ids: [], lacks: new Uint8Array(1) }];
    await t.send(true, 6, encodeRanges(short));
    expect(codes(t.errors)).toEqual(["ReconcileError:PROTOCOL", "ReconcileError:PROTOCOL"]);
    expect(replies(t.sent)).toBe(0);
    t.unchanged();
    const t2 = await target(40);
    const over: Range[] = [{ upper: INFINITY, mode: Mode.Diff, ids: [], lacks: new Uint8Array(5) }];
    await t2.send(true, 7, encodeRanges(over)); // a Diff over our 40 ids: we never list more than 16
    expect(codes(t2.errors)).toEqual(["ReconcileError:PROTOCOL"]);
    t2.unchanged();
  });
});
