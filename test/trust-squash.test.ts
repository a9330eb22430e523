// Squash envelopes and the log's bound (docs/security.md, "Squash envelopes
// and the log's bound"): an author signs one envelope in place of a run of
// its own; nodes holding the run replace it in their store (the squash is
// signed by the author: they can still prove what they serve), a late joiner
// converges from squashes, a restart reads squashed logs back, a forged or
// disagreeing squash is refused (evidence kept when it contradicts what the
// node holds), and an author that never squashes cannot grow a node's log
// past its per-author cap.
import { beforeAll, describe, expect, it } from "vitest";
import { AWSet, GCounter, Runtime, init } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import { SimNetwork } from "../dist/host/transport/sim.js";
import {
  CID, TrustHub, TrustLedger, admit, encodeTrustMessage, signEnvelope, type Envelope, type EnvelopeItem, type TrustHubOptions,
} from "../dist/host/trust/index.js";
import { MemoryEnvelopeStore, runTrustless } from "./util/trustless.js";
import { check, makeSchedule } from "./util/replication.js";
import { scheduleSeeds } from "./util/replication-seeds.js";
import { awset, gcounter } from "./util/forge.js";

beforeAll(async () => { await init(); });

let keys: Identity[] = [];
beforeAll(async () => { keys = await Promise.all(Array.from({ length: 8 }, () => Identity.generate())); });


async function world(o: Partial<TrustHubOptions>[]) {
  const net = new SimNetwork({ seed: 7, loss: 0, duplicate: 0, reorder: 0, latency: [1, 2] });
  const ids = o.map((_, i) => `n${i}`);
  net.topology("fullMesh", ids);
  const stores = o.map(() => new MemoryEnvelopeStore());
  const nodes: { rt: Runtime; hub: TrustHub }[] = [];
  const make = async (i: number) => {
    const rt = new Runtime({ replica: keys[i].replicaId() });
    const hub = await TrustHub.open(rt, { identity: keys[i], store: stores[i], ...o[i] });
    const tr = net.transport(ids[i]);
    hub.attach(tr, { interval: 50, clock: tr.clock }).start();
    return { rt, hub };
  };
  const settle = async (ms = 500) => {
    const end = net.now + ms;
    while (net.now < end) { net.run({ until: net.now + 5 }); for (const x of nodes) if (x && !x.hub.closed) await x.hub.flushed(); }
  };
  return { net, ids, stores, nodes, make, settle };
}

describe("squash envelopes", () => {
  it("replace the run in the store of the author and of its peers; a late joiner converges from them; both restart from squashed logs", async () => {
    const w = await world([{ squashEvery: 10 }, {}, {}]);
    w.net.crash("n2"); // the late joiner
    w.nodes.push(await w.make(0), await w.make(1));
    const [A, B] = w.nodes;
    A.rt.declare("g", GCounter); A.rt.declare("s", AWSet);
    await w.settle(100);
    for (let i = 0; i < 25; i++) {
      A.rt.update(i % 2 ? "g" : "s", i % 2 ? { increment: 1 } : { add: `x${i}` });
      if (i % 5 === 0) B.rt.update("g", { increment: 1 });
      await w.settle(20);
    }
    await w.settle(300);
    const signed = A.hub.stats().signed;
    expect(signed).toBeGreaterThanOrEqual(26);
    expect(A.hub.stats().squashes).toBeGreaterThanOrEqual(2);
    // Per author, the store keeps a squash and the envelopes since: far fewer than were signed.
    expect(w.stores[0].log.length).toBe(A.hub.ids().length); // the store holds the live log
    expect(w.stores[0].log.length).toBeLessThan(signed - 10);
    // B held A's run and replaced it too.
    expect(B.hub.stats().squashed).toBeGreaterThan(10);
    expect(w.stores[1].log.length).toBeLessThan(signed - 10);
    expect(B.hub.stats().rejected).toBe(0);
    expect(B.rt.query("g")).toBe(A.rt.query("g"));
    expect(B.rt.query("s")).toEqual(A.rt.query("s"));

    // The late joiner gets squashes and the envelopes since, and converges.
    w.net.restart("n2");
    w.nodes.push(await w.make(2));
    const C = w.nodes[2];
    await w.settle(800);
    expect(C.hub.stats().rejected).toBe(0);
    expect(C.hub.stats().pending).toBe(0);
    expect(C.rt.query("g")).toBe(A.rt.query("g"));
    expect([...(C.rt.query("s") as string[])].sort()).toEqual([...(A.rt.query("s") as string[])].sort());
    expect(C.hub.ledger.lastSeq(keys[0].did)).toBe(A.hub.ledger.lastSeq(keys[0].did));
    expect(C.hub.stats().admitted).toBeLessThan(signed);
    // It keeps following A's chain after the squashes.
    A.rt.update("g", { increment: 100 });
    await w.settle(300);
    expect(C.rt.query("g")).toBe(A.rt.query("g"));

    // Restart A and B from their squashed logs: same state, nothing skipped.
    const before = [A.rt.query("g"), B.rt.query("g")];
    for (const i of [0, 1]) {
      w.nodes[i].hub.close();
      const rt = new Runtime({ replica: keys[i].replicaId() });
      const hub = await TrustHub.open(rt, { identity: keys[i], store: w.stores[i] });
      expect(hub.stats().restoreSkipped).toBe(0);
      expect(hub.stats().restored).toBe(w.stores[i].log.length);
      expect(rt.query("g")).toBe(before[i]);
      expect(hub.ledger.lastSeq(keys[0].did)).toBe(A.hub.ledger.lastSeq(keys[0].did));
      hub.close();
    }
  }, 60_000);
});

// Envelopes signed by hand: keys[0] is the author.
async function chain(n: number, item: (s: number) => EnvelopeItem[]): Promise<Envelope[]> {
  const out: Envelope[] = [];
  for (let s = 1; s <= n; s++) out.push(await signEnvelope(keys[0], { author: keys[0].did, seq: s, links: s > 1 ? [out[s - 2].cid] : [], items: item(s) }));
  return out;
}
const squashOf = (run: Envelope[], items: EnvelopeItem[], o: { from?: number; covers?: CID[] } = {}) => signEnvelope(keys[0], {
  author: keys[0].did, seq: run[run.length - 1].seq, from: o.from ?? run[0].seq, covers: o.covers ?? run.map((e) => e.cid),
  links: run[0].seq > 1 ? [] : [], items,
});

describe("squash admission", () => {
  let ra: string, rm: string;
  beforeAll(() => { ra = keys[0].replicaId(); rm = keys[1].replicaId(); });

  it("a late ledger admits a squash as the run; links to any envelope of the run resolve to it", async () => {
    const run = await chain(5, (s) => [{ variable: "g", delta: gcounter([[ra, BigInt(s * 10)]]) }]);
    const sq = await squashOf(run, [{ variable: "g", delta: gcounter([[ra, 50n]]) }]);
    const l = new TrustLedger();
    expect((await admit(l, sq.bytes)).status).toBe("admitted");
    expect(l.lastSeq(keys[0].did)).toBe(5);
    for (const e of run) expect(l.has(e.cid)).toBe(true);
    expect((await admit(l, run[2].bytes)).status).toBe("duplicate");
    // Another author linking to envelope 3 of the run is admitted, not held up.
    const other = await signEnvelope(keys[1], { author: keys[1].did, seq: 1, links: [run[2].cid], items: [{ variable: "g", delta: gcounter([[rm, 1n]]) }] });
    expect((await admit(l, other.bytes)).status).toBe("admitted");
    // The author's next envelope links to the run's last one.
    const next = await signEnvelope(keys[0], { author: keys[0].did, seq: 6, links: [run[4].cid], items: [{ variable: "g", delta: gcounter([[ra, 51n]]) }] });
    expect((await admit(l, next.bytes)).status).toBe("admitted");
  });

  it("a forged squash is refused: minting another's entries, more than the run could mint, a context its links never saw", async () => {
    const run = await chain(3, (s) => [{ variable: "g", delta: gcounter([[ra, BigInt(s)]]) }]);
    const cases: [Promise<Envelope>, string][] = [
      [squashOf(run, [{ variable: "g", delta: gcounter([[rm, 3n]]) }]), "FORGED_MINT"],
      // Three envelopes may raise a counter entry by at most 3 × 1,000,000.
      [squashOf(run, [{ variable: "g", delta: gcounter([[ra, 3_000_001n]]) }]), "COUNTER_JUMP"],
      [squashOf(run, [{ variable: "s", delta: awset([[rm, 5n]], [], []) }]), "UNSEEN_CONTEXT"],
    ];
    for (const [p, code] of cases) {
      const l = new TrustLedger();
      const r = await admit(l, (await p).bytes);
      expect(r.status, code).toBe("rejected");
      expect((r as { error: { code: string } }).error.code).toBe(code);
      expect(l.size).toBe(0);
    }
    const l = new TrustLedger();
    expect((await admit(l, (await squashOf(run, [{ variable: "g", delta: gcounter([[ra, 3_000_000n]]) }])).bytes)).status).toBe("admitted");
  });

  it("a squash naming other envelopes than those held for its run is equivocation, kept as evidence", async () => {
    const run = await chain(3, (s) => [{ variable: "g", delta: gcounter([[ra, BigInt(s)]]) }]);
    const l = new TrustLedger();
    for (const e of run) expect((await admit(l, e.bytes)).status).toBe("admitted");
    const alt = await chain(3, (s) => [{ variable: "g", delta: gcounter([[ra, BigInt(s + 1)]]) }]);
    const r = await admit(l, (await squashOf(alt, [{ variable: "g", delta: gcounter([[ra, 4n]]) }])).bytes);
    expect(r.status).toBe("rejected");
    expect((r as { error: { code: string } }).error.code).toBe("EQUIVOCATION");
    expect(l.evidence).toHaveLength(1);
    expect(l.evidence[0].seq).toBe(1);
  });
});

describe("squashes at a hub, and the per-author bound", () => {
  // A hub fed by hand through a transport that only receives.
  async function lone(o: Partial<TrustHubOptions> = {}) {
    const store = new MemoryEnvelopeStore();
    const rt = new Runtime({ replica: keys[2].replicaId() });
    const hub = await TrustHub.open(rt, { identity: keys[2], store, ...o });
    let h: (from: string, m: Uint8Array) => void = () => {};
    hub.attach({ self: "x", neighbours: () => [], send: () => {}, onMessage: (f: typeof h) => { h = f; return () => {}; }, onNeighbour: () => () => {} });
    const send = async (envs: Envelope[]) => { h("p", encodeTrustMessage({ kind: "envelopes", envelopes: envs.map((e) => e.bytes) })); await hub.flushed(); };
    return { rt, hub, store, send };
  }
  let ra: string;
  beforeAll(() => { ra = keys[0].replicaId(); });

  it("a squash that disagrees with the run held is refused (BAD_SQUASH) with evidence, and changes nothing", async () => {
    const run = await chain(4, (s) => [{ variable: "g", delta: gcounter([[ra, BigInt(s)]]) }]);
    const n = await lone();
    await n.send(run);
    expect(n.rt.query("g")).toBe(4);
    // Signed by the author, naming the run's CIDs, but with more than the run minted (and within the step bound).
    for (const items of [[{ variable: "g", delta: gcounter([[ra, 9n]]) }], [{ variable: "g", delta: gcounter([[ra, 4n]]) }, { variable: "h", delta: gcounter([[ra, 1n]]) }]]) {
      await n.send([await squashOf(run, items)]);
    }
    const st = n.hub.stats();
    expect(st.rejectedBy.BAD_SQUASH).toBe(2);
    expect(n.hub.evidence.length).toBe(2);
    expect(n.store.log).toHaveLength(4);
    expect(n.rt.query("g")).toBe(4);
    // The honest squash replaces the four.
    await n.send([await squashOf(run, [{ variable: "g", delta: gcounter([[ra, 4n]]) }])]);
    expect(n.store.log).toHaveLength(1);
    expect(n.hub.stats().squashed).toBe(4);
    expect(n.rt.query("g")).toBe(4);
  });

  it("an author that never squashes is refused past the cap (LOG_FULL); its squash frees the room and the chain goes on", async () => {
    const run = await chain(8, (s) => [{ variable: "g", delta: gcounter([[ra, BigInt(s)]]) }]);
    const n = await lone({ maxLogPerAuthor: 5 });
    await n.send(run);
    expect(n.hub.stats().rejectedBy.LOG_FULL).toBe(3);
    expect(n.store.log).toHaveLength(5);
    expect(n.rt.query("g")).toBe(5);
    // Bytes too.
    const m = await lone({ maxLogBytesPerAuthor: run[1].bytes.length * 2 + 1 });
    await m.send(run);
    expect(m.store.log).toHaveLength(2);
    // The author squashes 1..8: admitted over the five held (they agree), in their place.
    await n.send([await squashOf(run, [{ variable: "g", delta: gcounter([[ra, 8n]]) }])]);
    expect(n.store.log).toHaveLength(1);
    expect(n.rt.query("g")).toBe(8);
    expect(n.hub.ledger.lastSeq(keys[0].did)).toBe(8);
    const next = await signEnvelope(keys[0], { author: keys[0].did, seq: 9, links: [run[7].cid], items: [{ variable: "g", delta: gcounter([[ra, 9n]]) }] });
    await n.send([next]);
    expect(n.rt.query("g")).toBe(9);
    expect(n.store.log).toHaveLength(2);
    // Restart: the squashed log reads back.
    n.hub.close();
    const rt = new Runtime({ replica: keys[2].replicaId() });
    const hub = await TrustHub.open(rt, { identity: keys[2], store: n.store });
    expect(hub.stats().restoreSkipped).toBe(0);
    expect(rt.query("g")).toBe(9);
    hub.close();
  });
});

describe("the seeded schedules with compaction", () => {
  // Every node squashes its own envelopes every 2: squashes cross pushes,
  // catch-up, loss, duplication, partitions and restarts from squashed logs.
  it("converge to the join of all updates with squashes every 2 envelopes (20 schedules, 5 with a crash)", async () => {
    let squashed = 0;
    for (const [seeds, crash] of [[scheduleSeeds("trustless-squash", 20), false], [scheduleSeeds("trustless-squash-crash", 5), true]] as const) {
      for (const seed of seeds) {
        const out = await runTrustless(makeSchedule(seed, crash ? { crash: true } : {}), keys, { squashEvery: 2 });
        const why = check(out, crash) ?? (out.rejected > 0 ? `${out.rejected} honest envelopes rejected` : null);
        if (why) throw new Error(`seed ${seed} (trustless, squash${crash ? ", crash" : ""}): ${why}`);
        squashed += out.squashed;
      }
    }
    expect(squashed).toBeGreaterThan(100);
  }, 600_000);
});
