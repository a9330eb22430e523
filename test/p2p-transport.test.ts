// The libp2p transport in one process on loopback (docs/p2p.md): Runtimes
// replicated over sync streams with gossip as the fast path, a mesh found by
// peer exchange, malformed gossip and sync frames refused and reported
// (nothing changes), stable identities, and re-dialling a bootstrap peer that
// comes back. Needs dist/ built (npx tsc -p tsconfig.json).
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { AWSet, GCounter, Runtime, init } from "../dist/host/index.node.js";
import { Replicator, gossipDeltas } from "../dist/host/replication/index.js";
import { encodeMessage } from "../dist/host/replication/index.js";
import {
  Libp2pTransport, SYNC_PROTOCOL, exportKey, importKey, newPrivateKey,
  type Libp2pTransportError, type Libp2pTransportOptions,
} from "../dist/host/transport/libp2p.js";
import { peerIdFromString } from "@libp2p/peer-id";

beforeAll(async () => { await init(); });

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});

interface Peer { t: Libp2pTransport; rt: Runtime; rep: Replicator; errors: { code: string; message: string }[] }

async function peer(o: Libp2pTransportOptions = {}, interval = 200): Promise<Peer> {
  const errors: { code: string; message: string }[] = [];
  const t = await Libp2pTransport.create({ redialMin: 100, redialMax: 500, ...o, onError: (e: Libp2pTransportError) => errors.push({ code: e.code, message: e.message }) });
  const rt = new Runtime({ replica: t.self.slice(-8) });
  const rep = new Replicator(rt, t, { interval, onError: (e) => errors.push({ code: e.code, message: e.message }) }).start();
  const stop = gossipDeltas(rt, t, { onError: (e) => errors.push({ code: e.code, message: e.message }) });
  open.push(t, { close: () => { stop(); rep.close(); rt.close(); } });
  return { t, rt, rep, errors };
}

async function until(what: string, f: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const same = (a: Runtime, b: Runtime, id: string): boolean => Buffer.from(a.encode(id)).equals(Buffer.from(b.encode(id)));

describe("Libp2pTransport", () => {
  it("forms a full mesh from one bootstrap address, and gossip alone delivers fresh updates", async () => {
    // A long interval: anti-entropy rounds do not run during the test, so what
    // arrives came by gossip (or by the digest exchange when a neighbour came up).
    const a = await peer({}, 60_000);
    const others = await Promise.all([1, 2, 3].map(() => peer({ bootstrap: [a.t.multiaddrs()[0]] }, 60_000)));
    const all = [a, ...others];
    await until("a full mesh", () => all.every((p) => p.t.neighbours().length === 3));
    for (const p of all) p.rt.declare("s", AWSet);
    // Gossipsub needs its subscriptions exchanged before a publish reaches a peer.
    await until("gossip subscriptions", () => all.every((p) => (p.t.node.services.pubsub?.getSubscribers(p.t.topic).length ?? 0) === 3));
    all.forEach((p, i) => p.rt.update("s", [{ add: `x${i}` }, { add: `y${i}` }]));
    await until("convergence by gossip", () => all.every((p) => p.rt.query("s").length === 8 && same(p.rt, a.rt, "s")));
    expect(all.every((p) => p.t.stats().gossipIn >= 3)).toBe(true);
    // A declaration alone travels too (its bottom state), and is not re-published by those who got it.
    const before = all.map((p) => p.t.stats().gossipOut);
    a.rt.declare("only", GCounter);
    await until("the declaration by gossip", () => all.every((p) => p.rt.has("only") && p.rt.kind("only") === "replicated"));
    expect(all.map((p, i) => p.t.stats().gossipOut - before[i])).toEqual([1, 0, 0, 0]);
    expect(all.flatMap((p) => p.errors)).toEqual([]);
  });

  it("catches up a late joiner over the sync streams (gossip has no history)", async () => {
    const a = await peer();
    const b = await peer({ bootstrap: [a.t.multiaddrs()[0]] });
    a.rt.declare("c", GCounter);
    for (let i = 0; i < 20; i++) a.rt.update("c", { increment: 1 });
    await until("b has it", () => b.rt.has("c") && b.rt.query("c") === 20);
    const late = await peer({ bootstrap: [b.t.multiaddrs()[0]] });
    await until("the late joiner caught up", () => late.rt.has("c") && late.rt.query("c") === 20);
    await until("the late joiner found a too", () => late.t.neighbours().includes(a.t.self));
  });

  it("refuses malformed gossip and reports it, changing nothing", async () => {
    const a = await peer();
    const b = await peer({ bootstrap: [a.t.multiaddrs()[0]] });
    await until("gossip subscriptions", () => (a.t.node.services.pubsub?.getSubscribers(a.t.topic).length ?? 0) === 1);
    b.rt.declare("s", AWSet).update("s", { add: "kept" });
    await until("a has b's set", () => a.rt.has("s") && a.rt.query("s").length === 1);
    const before = Buffer.from(a.rt.encode("s"));
    // Not a replication message at all; a state message whose state is garbage;
    // a valid state of another type for "s".
    b.t.publish(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    b.t.publish(encodeMessage({ kind: "state", session: 0, entries: [{ id: "s", bytes: new Uint8Array([0x54, 0x52, 1, 9, 9, 9]) }] }));
    const counter = new GCounter("evil");
    counter.increment(5);
    b.t.publish(encodeMessage({ kind: "state", session: 0, entries: [{ id: "s", bytes: counter.encode() }] }));
    counter.dispose();
    await until("three refusals", () => a.errors.length >= 3);
    expect(a.errors.map((e) => e.code).sort()).toEqual(["BAD_GOSSIP", "BAD_GOSSIP", "TYPE_MISMATCH"]);
    expect(a.t.stats().gossipRejected).toBe(2);
    expect(Buffer.from(a.rt.encode("s")).equals(before)).toBe(true);
    // And the link still works.
    b.rt.update("s", { add: "after" });
    await until("a gets the next update", () => a.rt.query("s").length === 2);
  });

  it("resets a sync stream carrying a malformed frame, and keeps the peer", async () => {
    const a = await peer();
    const b = await peer({ bootstrap: [a.t.multiaddrs()[0]] });
    await until("neighbours", () => a.t.neighbours().length === 1 && b.t.neighbours().length === 1);
    const raw = await b.t.node.dialProtocol(peerIdFromString(a.t.self), SYNC_PROTOCOL);
    raw.send(new Uint8Array([3, 0x7f, 0, 0])); // a 3-byte frame of kind 0x7f
    await until("a BAD_FRAME", () => a.errors.some((e) => e.code === "BAD_FRAME"));
    expect(a.errors.find((e) => e.code === "BAD_FRAME")!.message).toMatch(/unknown frame kind 127/);
    const big = await b.t.node.dialProtocol(peerIdFromString(a.t.self), SYNC_PROTOCOL);
    big.send(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f])); // a length far above maxFrame
    await until("a second BAD_FRAME", () => a.errors.filter((e) => e.code === "BAD_FRAME").length === 2);
    expect(a.errors.filter((e) => e.code === "BAD_FRAME")[1].message).toMatch(/exceeds maxFrame/);
    b.rt.declare("c", GCounter).update("c", { increment: 3 });
    await until("replication still works", () => a.rt.has("c") && a.rt.query("c") === 3);
    expect(a.t.neighbours()).toEqual([b.t.self]);
  });

  it("keeps its peer id with a saved key, and re-dials a bootstrap peer that comes back", async () => {
    const key = await newPrivateKey();
    const saved = exportKey(key);
    const first = await Libp2pTransport.create({ privateKey: saved });
    const addr = first.multiaddrs()[0];
    const id = first.self;
    expect(importKey(saved).publicKey.toString()).toBe(key.publicKey.toString());
    const c = await peer({ bootstrap: [addr] });
    await until("c connected", () => c.t.neighbours().includes(id));
    const events: string[] = [];
    c.t.onNeighbour((p, up) => { if (p === id) events.push(up ? "up" : "down"); });
    await first.close();
    await until("c lost it", () => !c.t.neighbours().includes(id));
    // The same key on the same address: the same peer, dialled again with backoff.
    const again = await Libp2pTransport.create({ privateKey: saved, listen: [addr.replace(/\/p2p\/.*/, "")] });
    open.push(again);
    expect(again.self).toBe(id);
    await until("c re-dialled it", () => c.t.neighbours().includes(id));
    expect(events).toEqual(["down", "up"]);
    expect(c.t.stats().dials).toBeGreaterThanOrEqual(2);
  });
});
