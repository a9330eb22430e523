// Large local changes in trustless mode (host/trust/split.ts): a change
// whose delta is over half the envelope size limit, or that moves this
// node's dot counter further than one envelope may (maxDotAdvance), is
// signed as several envelopes, each within both, in counter order, so every
// peer admits it. Before, the hub reported "not signed" and the change
// stayed on this node for good, although the update had been acknowledged.
import { beforeAll, describe, expect, it } from "vitest";
import { AWSet, GSet, Runtime, init } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import { SimNetwork } from "../dist/host/transport/sim.js";
import { TrustHub, splitDelta, type TrustHubOptions } from "../dist/host/trust/index.js";
import { MemoryEnvelopeStore } from "./util/trustless.js";

beforeAll(async () => { await init(); });

let keys: Identity[] = [];
beforeAll(async () => { keys = await Promise.all([0, 1].map(() => Identity.generate())); });

async function pair(o: Partial<TrustHubOptions> = {}) {
  const net = new SimNetwork({ seed: 3, loss: 0, duplicate: 0, reorder: 0, latency: [1, 2] });
  net.topology("fullMesh", ["a", "b"]);
  const errors: Error[] = [];
  const nodes = await Promise.all([0, 1].map(async (i) => {
    const rt = new Runtime({ replica: keys[i].replicaId() });
    const store = new MemoryEnvelopeStore();
    const hub = await TrustHub.open(rt, { identity: keys[i], store, onError: (e) => errors.push(e), onReject: (e) => errors.push(e), ...o });
    const tr = net.transport(i ? "b" : "a");
    hub.attach(tr, { interval: 50, clock: tr.clock }).start();
    return { rt, hub, store };
  }));
  const settle = async (ms: number) => {
    const end = net.now + ms;
    while (net.now < end) { net.run({ until: net.now + 5 }); for (const x of nodes) await x.hub.flushed(); }
  };
  return { nodes, settle, errors };
}

describe("a large local change in trustless mode", () => {
  it("25,000 adds to an AWSet in one update (2.5 × maxDotAdvance) reach the peer, in envelopes that each advance the counter by at most 10,000", async () => {
    const { nodes: [A, B], settle, errors } = await pair();
    A.rt.declare("s", AWSet);
    A.rt.update("s", Array.from({ length: 25_000 }, (_, i) => ({ add: `e${i}` })));
    await settle(400);
    expect(errors.map((e) => e.message)).toEqual([]);
    expect((B.rt.query("s") as string[]).length).toBe(25_000);
    expect(B.rt.encode("s")).toEqual(A.rt.encode("s"));
    expect(A.hub.stats().signed).toBeGreaterThanOrEqual(3);
    expect(B.hub.stats().rejected).toBe(0);
  }, 120_000);

  it("a GSet delta of 1.5 MiB (over the 1 MiB envelope limit) is signed as envelopes within the limit and reaches the peer", async () => {
    const { nodes: [A, B], settle, errors } = await pair();
    A.rt.declare("g", GSet);
    const big = "x".repeat(200);
    A.rt.update("g", Array.from({ length: 8_000 }, (_, i) => ({ add: `${i}:${big}` })));
    expect(A.rt.encode("g").length).toBeGreaterThan(1.5 * 2 ** 20);
    await settle(400);
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(B.rt.encode("g")).toEqual(A.rt.encode("g"));
    for (const b of A.store.log) expect(b.length).toBeLessThanOrEqual(2 ** 20);
    expect(A.hub.stats().signed).toBeGreaterThanOrEqual(3);
  }, 120_000);

  it("splitDelta: pieces join back to the delta, each within the byte bound, in counter order", () => {
    const s = new AWSet("r.1");
    s.batch((x) => { for (let i = 0; i < 300; i++) x.add(`k${i}`); });
    for (let i = 0; i < 300; i += 3) s.remove(`k${i}`);
    const whole = s.encode();
    const pieces = splitDelta(whole, { maxBytes: 600, maxAdvance: 50n, replica: (r) => r === "r.1" });
    expect(pieces.length).toBeGreaterThan(6);
    for (const p of pieces) expect(p.length).toBeLessThanOrEqual(600);
    const back = new AWSet("r.2");
    for (const p of pieces) back.merge(p);
    expect(back.encode()).toEqual(whole);
    // One piece (a part over the bound cannot be cut): returned as it is.
    expect(splitDelta(whole, { maxBytes: 1 << 20, maxAdvance: 10_000n, replica: () => true })).toEqual([whole]);
  });
});
