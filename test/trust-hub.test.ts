// The TrustHub and EnvelopeReplicator (host/trust/sync.ts) piece by piece, on
// the simulated network without faults: pushes and BP, catch-up of a late
// joiner, bounded pending buffers, the envelope log read back (corrupt or
// refused records skipped, never fatal), local changes stored but never
// signed, and the own-sequence floor that keeps a node from equivocating
// after losing its log. The hostile wire decoder is here too.
import { beforeAll, describe, expect, it } from "vitest";
import { MemoryLevel } from "memory-level";
import fc from "fast-check";
import { AWSet, GCounter, Runtime, init } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import { SimNetwork } from "../dist/host/transport/sim.js";
import { Store } from "../dist/host/storage/index.js";
import {
  TrustError, TrustHub, TrustLedger, admit, envelopeCid, sortLinks, decodeTrustMessage, encodeTrustMessage, signEnvelope, type EnvelopeReplicator, type EnvelopeStore,
} from "../dist/host/trust/index.js";
import { MemoryEnvelopeStore } from "./util/trustless.js";
import { awset, gcounter } from "./util/forge.js";

beforeAll(async () => { await init(); });

let keys: Identity[] = [];
beforeAll(async () => { keys = await Promise.all([0, 1, 2, 3].map(() => Identity.generate())); });

interface N { rt: Runtime; hub: TrustHub; rep: EnvelopeReplicator; store: MemoryEnvelopeStore }

async function world(n: number, o: { up?: boolean[] } = {}) {
  const net = new SimNetwork({ seed: 1, loss: 0, duplicate: 0, reorder: 0, latency: [1, 2] });
  const ids = Array.from({ length: n }, (_, i) => `n${i}`);
  net.topology("fullMesh", ids);
  const nodes: N[] = [];
  const make = async (i: number, store = new MemoryEnvelopeStore()): Promise<N> => {
    const rt = new Runtime({ replica: keys[i].replicaId() });
    const hub = await TrustHub.open(rt, { identity: keys[i], store });
    const tr = net.transport(ids[i]);
    return { rt, hub, rep: hub.attach(tr, { interval: 50, clock: tr.clock }).start(), store };
  };
  for (let i = 0; i < n; i++) nodes.push(await make(i));
  const settle = async (ms = 500) => {
    const end = net.now + ms;
    while (net.now < end) { net.run({ until: net.now + 5 }); for (const x of nodes) await x.hub.flushed(); }
  };
  if (o.up) o.up.forEach((u, i) => { if (!u) net.crash(ids[i]); });
  return { net, ids, nodes, settle, make };
}

describe("trustless replication, piece by piece", () => {
  it("pushes each envelope once per neighbour and never back to its source (BP)", async () => {
    const { nodes, settle } = await world(3);
    nodes[0].rt.declare("g", GCounter);
    for (let i = 0; i < 10; i++) { nodes[0].rt.update("g", { increment: 1 }); await settle(20); }
    await settle();
    for (const x of nodes) expect(x.rt.query("g")).toBe(10);
    // Signed once per turn; nobody got an envelope twice from a push (only
    // frontier answers may cross a push in flight, and there are none here).
    const signed = nodes[0].hub.stats().signed;
    expect(signed).toBeGreaterThanOrEqual(10);
    // BP: n1 and n2 never send n0's envelopes back to n0.
    expect(nodes[0].hub.stats().duplicates).toBe(0);
    // A push floods once: n1 may forward to n2 what n2 also got from n0, and
    // a frontier answer may cross a push in flight, but that is all.
    for (const x of nodes.slice(1)) expect(x.hub.stats().duplicates).toBeLessThanOrEqual(2 * signed);
    // Once every frontier is known, rounds send no envelope again.
    const sent = nodes.map((x) => x.hub.stats().envelopesSent);
    await settle(1000);
    expect(nodes.map((x) => x.hub.stats().envelopesSent)).toEqual(sent);
  });

  it("catches up a node that joins late, from the envelopes it lacks (frontier)", async () => {
    const { nodes, settle, net, ids } = await world(3);
    net.crash(ids[2]);
    nodes[0].rt.declare("s", AWSet);
    for (let i = 0; i < 20; i++) { nodes[i % 2].rt.update("s", { add: `x${i}` }); await settle(10); }
    await settle();
    const tr = net.restart(ids[2]);
    const rt = new Runtime({ replica: keys[2].replicaId() });
    const hub = await TrustHub.open(rt, { identity: keys[2] });
    hub.attach(tr, { interval: 50, clock: tr.clock }).start();
    nodes[2] = { rt, hub, rep: null as never, store: null as never };
    await settle(1000);
    expect((rt.query("s") as string[]).length).toBe(20);
    expect(hub.stats().admitted).toBe(nodes[0].hub.ledger.size);
    expect(hub.stats().rejected).toBe(0);
  });

  it("holds envelopes whose links are missing, bounded per peer in count and bytes, and admits them when the links arrive", async () => {
    const rt = new Runtime({ replica: keys[0].replicaId() });
    const hub = await TrustHub.open(rt, { identity: keys[0], maxPending: 5, maxPendingBytes: 1 << 20 });
    const sent: Uint8Array[] = [];
    let handler: (from: string, m: Uint8Array) => void = () => {};
    const t = { self: "me", neighbours: () => ["bob"], send: (_: string, m: Uint8Array) => { sent.push(m); }, onMessage: (h: typeof handler) => { handler = h; return () => {}; }, onNeighbour: () => () => {} };
    hub.attach(t);
    // Bob's chain of 12 envelopes, delivered newest first: each waits for its predecessor.
    const bob = keys[1], rb = bob.replicaId();
    const chain = [];
    for (let s = 1; s <= 12; s++) chain.push(await signEnvelope(bob, { author: bob.did, seq: s, links: s > 1 ? [chain[s - 2].cid] : [], items: [{ variable: "g", delta: gcounter([[rb, s]]) }] }));
    for (let s = 12; s >= 2; s--) handler("bob", encodeTrustMessage({ kind: "envelopes", envelopes: [chain[s - 1].bytes] }));
    await hub.flushed();
    expect(hub.stats().pending).toBe(5);
    expect(hub.stats().pendingDropped).toBe(6);
    expect(rt.has("g")).toBe(false); // nothing joined
    handler("bob", encodeTrustMessage({ kind: "envelopes", envelopes: [chain[0].bytes] }));
    await hub.flushed();
    // Envelope 1 is admitted; 12..8 were kept, 7..2 dropped (catch-up brings them again).
    expect(rt.query("g")).toBe(1);
    expect(hub.stats().pending).toBe(5);
    handler("bob", encodeTrustMessage({ kind: "envelopes", envelopes: chain.slice(1, 7).map((e) => e.bytes) }));
    await hub.flushed();
    expect(rt.query("g")).toBe(12); // 2..7 arrive, then 8..12 from the buffer
    expect(hub.stats().pending).toBe(0);
    // Bytes bound: one envelope over the budget is not kept.
    const hub2 = await TrustHub.open(new Runtime({ replica: keys[2].replicaId() }), { identity: keys[2], maxPendingBytes: 100 });
    let h2: typeof handler = () => {};
    hub2.attach({ ...t, onMessage: (h: typeof handler) => { h2 = h; return () => {}; } });
    h2("bob", encodeTrustMessage({ kind: "envelopes", envelopes: [chain[5].bytes] }));
    await hub2.flushed();
    expect(hub2.stats().pending).toBe(0);
    expect(hub2.stats().pendingDropped).toBe(1);
  });

  it("reads its log back at start: a corrupt or refused record is skipped and reported, never fatal", async () => {
    const db = new MemoryLevel<Uint8Array, Uint8Array>({ keyEncoding: "view", valueEncoding: "view" });
    const store = await Store.open(db);
    const a = keys[0], ra = a.replicaId();
    const e1 = await signEnvelope(a, { author: a.did, seq: 1, links: [], items: [{ variable: "g", delta: gcounter([[ra, 3]]) }] });
    const forged = await signEnvelope(a, { author: a.did, seq: 2, links: [e1.cid], items: [{ variable: "g", delta: gcounter([[keys[1].replicaId(), 9]]) }] });
    await store.appendEnvelope(e1.bytes);
    await store.appendEnvelope(forged.bytes);                 // refused on reading back (FORGED_MINT)
    await store.appendEnvelope(new Uint8Array([1, 2, 3]));    // not an envelope
    // A record whose frame is damaged: its checksum fails.
    await db.put(Uint8Array.from([0x45, 0, 0, 0, 0, 0, 0, 0, 99]), Uint8Array.from([0, 0, 0, 0, 1, 2, 0, 0]));
    await store.close();
    const reported: unknown[] = [];
    const reopened = await Store.open(db, { onCorruptRecord: (e) => reported.push(e) });
    expect(reported).toHaveLength(1); // the damaged frame: skipped even though onCorrupt is "throw"
    const rt = new Runtime({ replica: keys[2].replicaId() });
    const errors: Error[] = [];
    const hub = await TrustHub.open(rt, { identity: keys[2], store: { envelopes: () => reopened.envelopes(), putEnvelope: (b) => reopened.appendEnvelope(b) }, onError: (e) => errors.push(e) });
    expect(hub.stats().restored).toBe(1);
    expect(hub.stats().restoreSkipped).toBe(2);
    expect(errors).toHaveLength(2);
    expect(rt.query("g")).toBe(3);
    await reopened.close();
  });

  it("signs at start what the runtime holds beyond its envelopes (stored, never signed), and the peers get it", async () => {
    const { nodes, settle, net, ids } = await world(2);
    nodes[0].rt.declare("g", GCounter);
    nodes[0].rt.update("g", { increment: 2 });
    await settle();
    expect(nodes[1].rt.query("g")).toBe(2);
    // Node 0 "restarts": its runtime (as persist recovers it) holds an update
    // that never made it into an envelope.
    const disk = nodes[0].store;
    nodes[0].hub.close();
    const rt = nodes[0].rt;
    const before = disk.log.length;
    rt.update("g", { increment: 5 }); // no hub is listening: like a crash before signing
    nodes[0].rt = rt;
    const hub = await TrustHub.open(rt, { identity: keys[0], store: disk });
    expect(hub.stats().restored).toBe(before);
    await hub.flushed();
    expect(hub.stats().signed).toBe(1);
    const tr = net.transport(ids[0]);
    nodes[0] = { rt, hub, rep: hub.attach(tr, { interval: 50, clock: tr.clock }).start(), store: disk };
    await settle(1000);
    expect(nodes[1].rt.query("g")).toBe(7);
  });

  it("does not sign again a sequence number its lost log had used: it waits for peers to send its chain back", async () => {
    const { nodes, settle, net, ids } = await world(2);
    nodes[0].rt.declare("g", GCounter);
    for (let i = 0; i < 3; i++) { nodes[0].rt.update("g", { increment: 1 }); await settle(20); }
    await settle();
    expect(nodes[1].rt.query("g")).toBe(3);
    const seq = nodes[0].hub.ledger.lastSeq(keys[0].did);
    expect(nodes[0].store.seq).toBe(seq);
    // Node 0 loses its envelope log (not its sequence record), and restarts.
    nodes[0].hub.close(); nodes[0].rt.close();
    net.crash(ids[0]);
    const tr = net.restart(ids[0]);
    const store = new MemoryEnvelopeStore();
    store.seq = seq;
    const rt = new Runtime({ replica: keys[0].replicaId() });
    rt.declare("g", GCounter);
    const hub = await TrustHub.open(rt, { identity: keys[0], store });
    rt.update("g", { increment: 10 });
    await hub.flushed();
    expect(hub.stats().signed).toBe(0); // below its floor: nothing signed yet
    hub.attach(tr, { interval: 50, clock: tr.clock }).start();
    nodes[0] = { rt, hub, rep: null as never, store };
    await settle(1000);
    // Its chain came back from node 1, then the new update was signed as seq + 1.
    expect(hub.ledger.lastSeq(keys[0].did)).toBe(seq + 1);
    expect(nodes[1].rt.query("g")).toBe(13);
    expect(nodes[1].hub.evidence).toHaveLength(0);
  });
});

describe("admission: links to refused envelopes", () => {
  it("a signed envelope that was refused settles the links to it, adding nothing to what the linker has seen; a badly signed one does not", async () => {
    const [alice, bob, mallory] = keys;
    const ra = alice.replicaId();
    const l = new TrustLedger();
    // Mallory's envelope is signed but mints alice's dot: refused, remembered.
    const x = await signEnvelope(mallory, { author: mallory.did, seq: 1, links: [], items: [{ variable: "s", delta: awset([[ra, 1]], [], [["x", [[ra, 1]]]]) }] });
    expect((await admit(l, x)).status).toBe("rejected");
    expect(l.refused(x.cid)).toBe(true);
    // Bob (who admitted it elsewhere) links to it: not held up.
    const b1 = await signEnvelope(bob, { author: bob.did, seq: 1, links: [x.cid], items: [{ variable: "g", delta: gcounter([[bob.replicaId(), 1]]) }] });
    expect((await admit(l, b1)).status).toBe("admitted");
    // But the link does not let bob cover the dot it claimed.
    const bad = await signEnvelope(bob, { author: bob.did, seq: 2, links: sortLinks([b1.cid, x.cid]), items: [{ variable: "s", delta: awset([[ra, 1]], [], []) }] });
    const r = await admit(l, bad);
    expect(r.status === "rejected" && r.error.code).toBe("UNSEEN_CONTEXT");
    // An envelope whose signature fails is not remembered: a link to it waits.
    const impostor = { did: alice.did, sign: (d: Uint8Array) => mallory.sign(d) };
    const forged = await signEnvelope(impostor, { author: alice.did, seq: 1, links: [], items: [{ variable: "g", delta: gcounter([[ra, 1]]) }] });
    expect((await admit(l, forged)).status).toBe("rejected");
    expect(l.settled(forged.cid)).toBe(false);
    const b2 = await signEnvelope(bob, { author: bob.did, seq: 2, links: sortLinks([b1.cid, forged.cid]), items: [{ variable: "g", delta: gcounter([[bob.replicaId(), 2]]) }] });
    expect((await admit(l, b2)).status).toBe("pending");
  });
});

describe("the seam for range-based reconciliation", () => {
  it("ids() are the sha-256 of each admitted envelope's header (its CID's digest); envelopesFor(ids) gives them back in causal order", async () => {
    const { nodes, settle } = await world(2);
    nodes[0].rt.declare("s", AWSet);
    for (let i = 0; i < 8; i++) { nodes[i % 2].rt.update("s", { add: `x${i}` }); await settle(20); }
    await settle();
    const hub = nodes[1].hub;
    const ids = hub.ids();
    expect(ids).toHaveLength(hub.ledger.size);
    const all = hub.envelopesFor([...ids].reverse()); // any order in, admission order out
    expect(all).toHaveLength(ids.length);
    for (let i = 0; i < all.length; i++) expect((await envelopeCid(all[i])).multihash.digest).toEqual(ids[i]);
    expect(hub.envelopesFor([new Uint8Array(32)])).toEqual([]);
    // Admitted in that order by a fresh node, every link is already there.
    const rt = new Runtime({ replica: keys[3].replicaId() });
    const fresh = await TrustHub.open(rt, { identity: keys[3] });
    let h: (from: string, m: Uint8Array) => void = () => {};
    fresh.attach({ self: "x", neighbours: () => [], send: () => {}, onMessage: (f: typeof h) => { h = f; return () => {}; }, onNeighbour: () => () => {} });
    h("p", encodeTrustMessage({ kind: "envelopes", envelopes: all }));
    await fresh.flushed();
    expect(fresh.stats().admitted).toBe(all.length);
    expect(fresh.stats().pending).toBe(0);
    expect(rt.query("s")).toEqual(nodes[1].rt.query("s"));
  });
});

describe("the trustless wire format", () => {
  it("round-trips both kinds", () => {
    const envs = [new Uint8Array([1, 2]), new Uint8Array(300)];
    expect(decodeTrustMessage(encodeTrustMessage({ kind: "envelopes", envelopes: envs }))).toEqual({ kind: "envelopes", envelopes: envs });
    const authors = [{ author: "did:key:b", seq: 3, head: new Uint8Array(8).fill(1) }, { author: "did:key:a", seq: 1, head: new Uint8Array(8) }];
    const m = decodeTrustMessage(encodeTrustMessage({ kind: "frontier", authors }));
    expect(m).toEqual({ kind: "frontier", authors: [authors[1], authors[0]] });
    const r = { kind: "reconcile" as const, open: true, session: 0xfffffffe, body: new Uint8Array([1, 0, 0, 1]) };
    expect(decodeTrustMessage(encodeTrustMessage(r))).toEqual(r);
  });

  it("refuses any hostile bytes with a TrustError, never anything else", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(1, 2, 3, 4, 5), (body, kind) => {
      for (const b of [body, Uint8Array.from([0x54, 0x45, 1, kind, ...body])]) {
        try { decodeTrustMessage(b); } catch (e) { if (!(e instanceof TrustError)) throw e; }
      }
    }), { numRuns: 2000 });
    expect(() => decodeTrustMessage(Uint8Array.from([0x54, 0x50, 1, 1, 0]))).toThrow(/magic/);
    expect(() => decodeTrustMessage(Uint8Array.from([0x54, 0x45, 1, 1, 0xff, 0xff, 0xff, 0x7f]))).toThrow(TrustError);
  });
});
