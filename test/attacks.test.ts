// Issue 12's attack suite against live trustless nodes (TrellisNode with
// trust: "trustless", real sockets), over WebSocket and over libp2p. Every
// attack comes from a peer with a VALID identity (its key is admitted by the
// nodes): forged dots, counter / MaxInt / TopK saturation, a far-future LWW
// timestamp, a causal context covering unseen dots, deltas minting another
// replica's entries, unsigned, badly signed, replayed and equivocating
// envelopes, and the raw (unsigned, trusted-protocol) deltas that worked
// before issue 12. After the suite: every attack is refused and counted, the
// honest state is what it was, honest writes still reach every node, and
// every node restarts with the same state.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { AWSet, GCounter, LWWRegister, MaxInt, TopK, init, decodeState } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import { loadNodeIdentity } from "../dist/host/identity/node.js";
import { NodeWebSocket, WsClient, type WebSocketConstructor } from "../dist/host/transport/ws-server.js";
import { encodeMessage } from "../dist/host/replication/wire.js";
import * as dagCbor from "@ipld/dag-cbor";
import {
  CID, decodeEnvelope, encodeTrustMessage, signEnvelope, sortLinks, type Envelope, type EnvelopeItem,
} from "../dist/host/trust/index.js";
import type { Transport } from "../dist/host/replication/transport.js";
import { startNode, until, sleep, type Started } from "./util/outsider.js";
import { awset, gcounter, lww, maxint, topk, MAX64, SAT } from "./util/forge.js";

beforeAll(async () => { await init(); });

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f(); });

const VARS: [string, unknown][] = [["set", AWSet], ["g", GCounter], ["mx", MaxInt], ["top", TopK.of(3)], ["reg", LWWRegister]];

type Kind = "ws" | "libp2p";

async function cluster(kind: Kind, datas?: string[]): Promise<Started[]> {
  const base = { trust: "trustless" as const, open: false };
  const p2p = (i: number, boot: string[]) => kind === "libp2p" ? { listen: ["/ip4/127.0.0.1/tcp/0"], peers: boot } : {};
  const a = await startNode({ ...base, ...p2p(0, []) }, datas?.[0]);
  const addrA = kind === "libp2p" ? [a.node.libp2p!.multiaddrs()[0]] : [a.ws];
  const b = await startNode({ ...base, ...p2p(1, addrA), ...(kind === "ws" ? { peers: addrA } : {}) }, datas?.[1]);
  const addrB = kind === "libp2p" ? [b.node.libp2p!.multiaddrs()[0]] : [b.ws];
  const c = await startNode({ ...base, ...p2p(2, [...addrA, ...addrB]), ...(kind === "ws" ? { peers: [...addrA, ...addrB] } : {}) }, datas?.[2]);
  return [a, b, c];
}

const encodeAll = (s: Started) => VARS.map(([id]) => (s.node.runtime.has(id) ? Buffer.from(s.node.runtime.encode(id)).toString("hex") : null));
const sameEverywhere = (ns: Started[]) => {
  const x = JSON.stringify(encodeAll(ns[0]));
  return ns.every((n) => JSON.stringify(encodeAll(n)) === x) && encodeAll(ns[0]).every((v) => v !== null);
};

// The attacker: a valid key, connected to node A over the transport.
async function attacker(kind: Kind, a: Started, meta = new Map<string, Uint8Array>()): Promise<{ id: Identity; t: Transport; to: string; close: () => Promise<void>; meta: Map<string, Uint8Array> }> {
  const { identity, privateKey } = await loadNodeIdentity({ get: (k) => meta.get(k), put: async (k, v) => { meta.set(k, v); } });
  if (kind === "ws") {
    const t = new WsClient({ url: a.ws, identity, WebSocket: NodeWebSocket as unknown as WebSocketConstructor, reconnect: false });
    await until(() => t.neighbours().length > 0, 10_000, "attacker connected over WebSocket");
    return { id: identity, t, to: t.neighbours()[0], close: () => t.close(), meta };
  }
  const { Libp2pTransport } = await import("../dist/host/transport/libp2p.js");
  const t = await Libp2pTransport.create({ privateKey, bootstrap: [a.node.libp2p!.multiaddrs()[0]], listen: ["/ip4/127.0.0.1/tcp/0"] });
  const peerA = a.node.libp2p!.self;
  await until(() => t.neighbours().includes(peerA), 20_000, "attacker connected over libp2p");
  return { id: identity, t, to: peerA, close: () => t.close(), meta };
}

const item = (variable: string, delta: Uint8Array): EnvelopeItem => ({ variable, delta });

for (const kind of ["ws", "libp2p"] as Kind[]) {
  describe(`attacks on trustless nodes over ${kind === "ws" ? "WebSocket" : "libp2p"}`, () => {
    it("refuses and counts every attack; the honest state is unchanged, keeps converging, and every node restarts", async () => {
      let nodes = await cluster(kind);
      cleanups.push(() => Promise.all(nodes.map((n) => n.close())));
      const [A, B, C] = nodes;
      for (const [id, t] of VARS) await A.node.declare(id, t as never);
      await A.node.declare("eq", AWSet); // where Mallory's two forks write (they may stay different on different nodes)
      await until(() => nodes.every((n) => [...VARS.map(([id]) => id), "eq"].every((id) => n.node.runtime.has(id))), 20_000, "declarations everywhere");
      // Honest history from every node.
      await A.node.update("set", { add: "a" });
      await B.node.update("set", { add: "b" });
      await C.node.update("g", { increment: 5 });
      await A.node.update("mx", { set: 7 });
      await B.node.update("top", { add: ["bob", 10] });
      await C.node.update("reg", { set: ["c", Date.now()] });
      await until(() => sameEverywhere(nodes), 20_000, "honest convergence");

      const m = await attacker(kind, A);
      cleanups.push(m.close);
      const send = (envs: Uint8Array[]) => m.t.send(m.to, encodeTrustMessage({ kind: "envelopes", envelopes: envs }));
      // Mallory's one legitimate write (seq 1, links nothing): admitted everywhere.
      const rm = m.id.replicaId();
      const e1 = await signEnvelope(m.id, { author: m.id.did, seq: 1, links: [], items: [item("set", awset([[rm, 1]], [], [["m", [[rm, 1]]]]))] });
      send([e1.bytes]);
      await until(() => sameEverywhere(nodes) && (A.node.query("set") as unknown[]).includes("m"), 20_000, "mallory's legitimate write everywhere");
      const before = nodes.map(encodeAll);
      const statsBefore = A.node.trustHub!.stats();

      const ra = A.node.replica, rb = B.node.replica;
      const heads = A.node.trustHub!.ledger.heads();
      const next = (items: EnvelopeItem[], links: CID[] = heads) =>
        signEnvelope(m.id, { author: m.id.did, seq: 2, links: sortLinks([e1.cid, ...links]), items });
      // A's replica's next dot, made from A's own state: "claim the next dot".
      const aState = decodeState(A.node.runtime.encode("set"), ra) as InstanceType<typeof AWSet>;
      aState.add("junk");
      const nextDotOfA = aState.takeDelta();
      aState.dispose();
      const attacks: [string, Uint8Array][] = [
        ["FORGED_MINT", (await next([item("set", nextDotOfA)])).bytes],                           // forged dot
        ["FORGED_MINT", (await next([item("g", gcounter([[rb, 1000]]))])).bytes],                 // another replica's counter entry
        ["FORGED_MINT", (await next([item("reg", lww(Date.now(), ra, "evil"))])).bytes],         // another replica's LWW write
        ["VALUE_TOO_LARGE", (await next([item("g", gcounter([[rm, SAT]]))])).bytes],              // counter saturation
        ["BAD_DELTA", (await next([item("g", gcounter([[rm, MAX64]]))])).bytes],                  // 2^64-1: the kernel's OVERFLOW
        ["VALUE_TOO_LARGE", (await next([item("mx", maxint(SAT))])).bytes],                       // MaxInt saturation
        ["VALUE_TOO_LARGE", (await next([item("top", topk(3, [["mallory", SAT]]))])).bytes],      // TopK saturation
        ["FUTURE_TIMESTAMP", (await next([item("reg", lww(MAX64 - 1n, rm, "forever"))])).bytes],  // far-future LWW
        ["FUTURE_TIMESTAMP", (await next([item("reg", lww(Date.now() + 3_600_000, rm, "later"))])).bytes],
        // A context covering dots Mallory's links never reached: empties the set.
        ["UNSEEN_CONTEXT", (await next([item("set", awset([[ra, 1000], [rb, 1000]], [], []))], [])).bytes],
        ["COUNTER_JUMP", (await next([item("set", awset([[rm, SAT]], [], [["x", [[rm, SAT]]]]))])).bytes], // own dot to 2^64-2
        ["BAD_DELTA", (await next([item("g", awset([[rm, 2]], [], [["x", [[rm, 2]]]]))])).bytes], // a set delta for a counter
        ["BAD_SEQUENCE", (await signEnvelope(m.id, { author: m.id.did, seq: 5, links: [e1.cid], items: [item("g", gcounter([[rm, 1]]))] })).bytes],
        ["EQUIVOCATION", (await signEnvelope(m.id, { author: m.id.did, seq: 1, links: [], items: [item("set", awset([[rm, 1]], [], [["other", [[rm, 1]]]]))] })).bytes],
      ];
      // Unsigned: the signature taken out of the header (an envelope is [header, deltas]).
      const [uh, us] = dagCbor.decode((await next([item("g", gcounter([[rm, 1]]))])).bytes) as [Uint8Array, unknown[]];
      const u = dagCbor.decode(uh) as Record<string, unknown>;
      delete u.sig;
      attacks.push(["UNSIGNED", dagCbor.encode([dagCbor.encode(u), us])]);
      // Badly signed: Mallory's key signing as A's did; and an honest
      // envelope of B's altered in flight.
      const impostor = { did: A.node.identity.did, sign: (d: Uint8Array) => m.id.sign(d) };
      const lastA = A.node.trustHub!.ledger.lastSeq(A.node.identity.did);
      attacks.push(["BAD_SIGNATURE", (await signEnvelope(impostor, {
        author: A.node.identity.did, seq: lastA + 1, links: [A.node.trustHub!.ledger.cidAt(A.node.identity.did, lastA)!], items: [item("g", gcounter([[ra, 1_000]]))],
      })).bytes]);
      let honestB: Uint8Array | undefined;
      for (const b of await B.node.store.envelopes()) if ((await decodeEnvelope(b)).author === B.node.identity.did) honestB = b;
      expect(honestB).toBeDefined();
      // A signed field changed in flight (its capability proof), the deltas
      // untouched (an altered delta is BAD_DIGEST: test/trust-redact.test.ts).
      const [bh, bs] = dagCbor.decode(honestB!) as [Uint8Array, unknown[]];
      const bm = dagCbor.decode(bh) as Record<string, unknown>;
      bm.cap = Uint8Array.of(1);
      attacks.push(["BAD_SIGNATURE", dagCbor.encode([dagCbor.encode(bm), bs])]);

      // Each attack in its own message, plus a replay of honest envelopes.
      for (const [, bytes] of attacks) send([bytes]);
      send([e1.bytes, honestB!]);
      // The raw forgeries of "what a peer can do today": a trusted-protocol
      // delta emptying the set and saturating the counter, with no envelope.
      m.t.send(m.to, encodeMessage({ kind: "delta", session: 1, seq: 0, entries: [
        { id: "g", bytes: gcounter([[ra, SAT]]) }, { id: "set", bytes: awset([[ra, 1000], [rb, 1000]], [], []) },
      ] }));
      m.t.send(m.to, encodeMessage({ kind: "state", session: 0, entries: [{ id: "mx", bytes: maxint(SAT) }] }));
      // Over libp2p, the same state as gossip: trustless nodes run no gossip path, so it joins nothing.
      if (kind === "libp2p") (m.t as unknown as { publish(d: Uint8Array): boolean }).publish(encodeMessage({ kind: "state", session: 0, entries: [{ id: "g", bytes: gcounter([[ra, SAT]]) }] }));

      const hub = A.node.trustHub!;
      await until(() => hub.stats().rejected - statsBefore.rejected >= attacks.length && hub.stats().malformed - statsBefore.malformed >= 2, 20_000, "every attack handled");
      await sleep(300); // anything an attack could have set off has had time to spread
      const st = hub.stats();
      // 100% refused, each with its code, and counted.
      expect(st.rejected - statsBefore.rejected).toBe(attacks.length);
      const want: Record<string, number> = {};
      for (const [code] of attacks) want[code] = (want[code] ?? 0) + 1;
      const got: Record<string, number> = {};
      for (const [code, n] of Object.entries(st.rejectedBy)) got[code] = n! - (statsBefore.rejectedBy[code as keyof typeof st.rejectedBy] ?? 0);
      expect(Object.fromEntries(Object.entries(got).filter(([, n]) => n > 0))).toEqual(want);
      expect(st.malformed - statsBefore.malformed).toBe(2);
      expect(st.admitted).toBe(statsBefore.admitted);     // nothing from the attacker got in
      expect(st.duplicates - statsBefore.duplicates).toBeGreaterThanOrEqual(2); // the replays
      expect(st.evidence).toBe(1);
      expect(hub.evidence[0].author).toBe(m.id.did);
      // The refusals are logged with their codes.
      expect(A.logs.filter((l) => l.msg === "envelope rejected").length).toBe(attacks.length - 1);
      expect(A.logs.filter((l) => l.msg === "equivocation").length).toBe(1);
      // Nothing reached B or C, and no state changed anywhere.
      expect(B.node.trustHub!.stats().rejected + C.node.trustHub!.stats().rejected).toBe(0);
      expect(nodes.map(encodeAll)).toEqual(before);
      expect(A.node.query("set")).toEqual(expect.arrayContaining(["a", "b", "m"]));
      expect(A.node.query("g")).toBe(5);
      expect(A.node.query("mx")).toBe(7);

      // Honest writes after the attacks reach every node.
      await B.node.update("set", { add: "after" });
      await C.node.update("g", { increment: 2 });
      await A.node.update("reg", { set: ["final", Date.now()] });
      await until(() => sameEverywhere(nodes) && (C.node.query("set") as unknown[]).includes("after") && A.node.query("g") === 7, 20_000, "honest writes after the attacks");

      // Equivocation split across nodes: two envelopes with one sequence
      // number, one to A and one to B at the same moment. Each node keeps the
      // fork it admitted first and refuses the other as evidence; an honest
      // envelope that links to a fork a node refused is not held up by it, so
      // honest writes keep flowing to every node.
      const mB = await attacker(kind, B, m.meta); // the same key, connected to B
      cleanups.push(mB.close);
      const f = async (el: string) => signEnvelope(m.id, { author: m.id.did, seq: 2, links: [e1.cid], items: [item("eq", awset([[rm, 2]], [], [[el, [[rm, 2]]]]))] });
      const [f1, f2] = await Promise.all([f("fork1"), f("fork2")]);
      send([f1.bytes]);
      mB.t.send(mB.to, encodeTrustMessage({ kind: "envelopes", envelopes: [f2.bytes] }));
      await until(() => nodes.every((n) => n.node.trustHub!.ledger.lastSeq(m.id.did) === 2), 20_000, "each node admitted a fork");
      await A.node.update("set", { add: "after-fork-A" });
      await B.node.update("set", { add: "after-fork-B" });
      await until(() => sameEverywhere(nodes) && nodes.every((n) => ["after-fork-A", "after-fork-B"].every((x) => (n.node.query("set") as unknown[]).includes(x))), 20_000, "honest writes after a split equivocation");
      await until(() => nodes.some((n) => n.node.trustHub!.evidence.some((e) => e.author === m.id.did && e.seq === 2)), 20_000, "the fork reported as evidence");
      const settled = nodes.map(encodeAll);

      // Every node restarts, with the same state and a ledger rebuilt from its store.
      await m.close();
      await mB.close();
      const datas = nodes.map((n) => n.data);
      const sizes = nodes.map((n) => n.node.trustHub!.ledger.size);
      await Promise.all(nodes.map((n) => n.node.close()));
      nodes = await cluster(kind, datas);
      expect(nodes.map(encodeAll)).toEqual(settled);
      expect(nodes.map((n) => n.node.trustHub!.ledger.size)).toEqual(sizes);
      expect(nodes.map((n) => n.node.trustHub!.stats().restoreSkipped)).toEqual([0, 0, 0]);
      await nodes[2].node.update("set", { add: "restarted" });
      await until(() => sameEverywhere(nodes) && (nodes[0].node.query("set") as unknown[]).includes("restarted"), 20_000, "convergence after the restart");
    }, 120_000);
  });
}

