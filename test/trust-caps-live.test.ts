// Capabilities in live trustless nodes (docs/security.md, "Capabilities in
// trustless nodes"), over WebSocket: an owner node, a writer node holding a
// delegation of increment (and read on everything), a reader node holding
// read on the counter only. A delegated writer's increments are admitted
// everywhere; an undelegated, expired, revoked (the revocation replicated from
// the owner) and over-delegated writer's envelopes are refused with their
// codes; the reader is served nothing of a variable it may not read. The
// honest state is unchanged and every node restarts with it.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AWSet, GCounter, GSet, Runtime, init } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import { NodeWebSocket, WsClient, type WebSocketConstructor } from "../dist/host/transport/ws-server.js";
import {
  COMMANDS, REVOCATIONS_VARIABLE, ReadGate, Capabilities, delegate, encodeProof, encodeTrustMessage, decodeTrustMessage, signEnvelope, signRevocation, signToken,
  signableFor, revocationRelay, type Token,
} from "../dist/host/trust/index.js";
import type { TrellisNodeOptions } from "../dist/host/cli/node.js";
import { startNode, until, type Started } from "./util/outsider.js";

beforeAll(async () => { await init(); });

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f(); });

const S = () => Math.floor(Date.now() / 1000);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

// A raw peer with a valid key that signs its own envelopes (with whatever
// proof it holds) and sends them to a node.
async function rawPeer(s: Started): Promise<{ id: Identity; send: (cap: Uint8Array) => Promise<string>; close: () => Promise<void> }> {
  const id = await Identity.generate();
  const t = new WsClient({ url: s.ws, identity: id, WebSocket: NodeWebSocket as unknown as WebSocketConstructor, reconnect: false });
  await until(() => t.neighbours().length > 0, 10_000, "raw peer connected");
  const to = t.neighbours()[0];
  return {
    id,
    // One increment of "count", signed at sequence 1 with `cap`: returns its CID.
    async send(cap) {
      const g = new GCounter(id.replicaId());
      g.increment(1);
      const env = await signEnvelope(id, { author: id.did, seq: 1, links: [], items: [{ variable: "count", delta: g.takeDelta() }], cap });
      g.dispose();
      t.send(to, encodeTrustMessage({ kind: "envelopes", envelopes: [env.bytes] }));
      return env.cid.toString();
    },
    close: () => t.close(),
  };
}

describe("capabilities in live trustless nodes (WebSocket)", () => {
  it("admits delegated writes everywhere, refuses undelegated, expired, revoked and over-delegated ones by code, gates reads, and restarts", async () => {
    const datas = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), "trellis-caps-live-")));
    cleanups.push(() => { for (const d of datas) rmSync(d, { recursive: true, force: true }); });
    const live: Started[] = [];
    cleanups.push(() => Promise.all(live.splice(0).map((n) => n.node.close().catch(() => {}))));
    const start = async (o: Partial<TrellisNodeOptions>, data: string) => {
      const s = await startNode({ trust: "trustless", open: false, ...o }, data);
      live.push(s);
      return s;
    };

    // The owner: every variable is its own.
    let O = await start({ owners: "self" }, datas[0]);
    const owner = O.node.identity;
    const owners = { "*": owner.did };
    await O.node.declare("count", GCounter);
    await O.node.update("count", { increment: 10 });

    // The writer and the reader get their proofs once their keys are known.
    const proofs = new Map<string, Uint8Array>();
    const byDid = (s: () => Started | undefined) => () => proofs.get(s()?.node.identity.did ?? "");
    let W: Started | undefined, R: Started | undefined;
    W = await start({ owners, proof: byDid(() => W), peers: [O.ws] }, datas[1]);
    R = await start({ owners, proof: byDid(() => R), peers: [O.ws] }, datas[2]);
    const wChains = [
      await delegate(owner, { aud: W.node.identity.did, cmd: COMMANDS.INCREMENT, pol: ["count"], exp: S() + 3600 }),
      await delegate(owner, { aud: W.node.identity.did, cmd: COMMANDS.READ, pol: ["*"], exp: S() + 3600 }),
    ];
    proofs.set(W.node.identity.did, encodeProof(wChains));
    proofs.set(R.node.identity.did, encodeProof([await delegate(owner, { aud: R.node.identity.did, cmd: COMMANDS.READ, pol: ["count"], exp: S() + 3600 })]));
    // Proofs are presented to neighbours as they change (every round).
    await until(() => O.node.peers().server.length === 2, 10_000, "writer and reader connected to the owner");

    // Served once their read grants are presented.
    await until(() => [W!, R!].every((s) => s.node.runtime.has("count") && s.node.query("count") === 10), 15_000, "count 10 at the writer and the reader");
    // A delegated writer's increments reach everyone who may read them.
    await W.node.update("count", { increment: 5 });
    const all = () => [O!, W!, R!];
    await until(() => all().every((s) => s.node.runtime.has("count") && s.node.query("count") === 15), 15_000, "count 15 everywhere");
    // W signed with its proof; nobody refused anything.
    expect(W.node.trustHub!.stats().signed).toBeGreaterThan(0);
    for (const s of all()) expect(s.node.trustHub!.stats().rejected).toBe(0);

    // Read gating: the owner's secret reaches the writer (read on "*") and never the reader.
    // (The reader is served every envelope's signed header, so the owner's
    // chain stays whole there, and only the deltas it may read.)
    await O.node.declare("secret", AWSet);
    await O.node.update("secret", { add: "the plan" });
    await until(() => W!.node.runtime.has("secret") && (W!.node.query("secret") as unknown[]).length === 1, 15_000, "secret at the writer");
    // A few more rounds: the reader still holds nothing of it.
    const rounds = O.node.trustHub!.stats().messages + 30;
    await until(() => O!.node.trustHub!.stats().messages > rounds, 15_000, "more rounds");
    expect(R.node.runtime.has("secret") ? R.node.query("secret") : []).toEqual([]);
    expect(R.node.query("count")).toBe(15);

    // A writer's local change it holds no right for is never signed (it would break its chain).
    const wSigned = W.node.trustHub!.stats().signed;
    W.node.runtime.update("secret", { add: "graffiti" });
    await W.node.trustHub!.flushed();
    expect(W.node.trustHub!.stats().signed).toBe(wSigned);
    expect(W.node.trustHub!.stats().rejectedBy.UNAUTHORIZED_CAP).toBe(1);

    const honest = all().map((s) => hex(s.node.runtime.encode("count")));

    // Attackers, each with a valid key, sending to the owner or the writer.
    const rejected = (s: Started) => s.node.trustHub!.stats().rejectedBy;
    // Undelegated: no proof at all.
    const u = await rawPeer(O);
    await u.send(new Uint8Array());
    await until(() => (rejected(O!).UNAUTHORIZED_CAP ?? 0) >= 1, 10_000, "undelegated refused");
    // Expired.
    const x = await rawPeer(O);
    await x.send(encodeProof([await delegate(owner, { aud: x.id.did, cmd: COMMANDS.INCREMENT, pol: ["count"], exp: S() - 10 })]));
    await until(() => (rejected(O!).EXPIRED ?? 0) >= 1, 10_000, "expired refused");
    // Over-delegated: increment on "count" given onward as write (beyond it).
    const mid = await Identity.generate();
    const y = await rawPeer(O);
    const c1 = await delegate(owner, { aud: mid.did, cmd: COMMANDS.INCREMENT, pol: ["count"], exp: S() + 3600 });
    const t2: Token = await signToken(mid, { aud: y.id.did, sub: owner.did, cmd: COMMANDS.WRITE, pol: ["count"], exp: S() + 3600 });
    await y.send(encodeProof([[...c1, t2]]));
    await until(() => (rejected(O!).OVER_DELEGATED ?? 0) >= 1, 10_000, "over-delegated refused");
    // Revoked: the owner revokes a delegation; the record replicates to the
    // writer, which then refuses an envelope using it.
    const m = await rawPeer(W);
    const mChain = await delegate(owner, { aud: m.id.did, cmd: COMMANDS.INCREMENT, pol: ["count"], exp: S() + 3600 });
    const rec = await signRevocation(owner, mChain);
    await O.node.update(REVOCATIONS_VARIABLE, { add: rec.bytes });
    await until(() => W!.node.caps!.revocations === 1 && R!.node.caps!.revocations === 1, 15_000, "revocation replicated");
    await m.send(encodeProof([mChain]));
    await until(() => (rejected(W!).REVOKED ?? 0) >= 1, 10_000, "revoked refused");
    for (const p of [u, x, y, m]) await p.close();

    // Refused: nothing changed anywhere.
    for (const s of all()) await s.node.trustHub!.flushed();
    expect(all().map((s) => hex(s.node.runtime.encode("count")))).toEqual(honest);
    expect(all().map((s) => s.node.query("count"))).toEqual([15, 15, 15]);
    expect(O.node.trustHub!.stats().admitted).toBeGreaterThan(0);
    expect(rejected(O)).toMatchObject({ UNAUTHORIZED_CAP: 1, EXPIRED: 1, OVER_DELEGATED: 1 });

    // Every node restarts with the same state; the revocation is known again
    // (read back from the store) and the gate still holds.
    await Promise.all(live.splice(0).map((s) => s.node.close()));
    O = await start({ owners: "self" }, datas[0]);
    W = await start({ owners, proof: byDid(() => W), peers: [O.ws] }, datas[1]);
    R = await start({ owners, proof: byDid(() => R), peers: [O.ws] }, datas[2]);
    expect(all().map((s) => hex(s.node.runtime.encode("count")))).toEqual(honest);
    // (The reader is not served the owner's revocation envelope — it follows a
    // secret one — but records are relayed apart, and it stored the one it got.)
    for (const s of [O, W, R]) {
      expect(s.node.caps!.revocations).toBe(1);
      expect(s.node.query(REVOCATIONS_VARIABLE)).toHaveLength(1);
    }
    // The writer's graffiti stays on the writer (kept, never signed); the owner never saw it.
    expect(O.node.query("secret")).toEqual(["the plan"]);
    await W.node.update("count", { increment: 1 });
    await until(() => [O!, W!].every((s) => s.node.query("count") === 16), 15_000, "count 16 at the owner and the writer after restart");
    // The writer's new envelope links to the secret one (it has seen it):
    // the reader holds that one's header only, and still follows (before
    // envelope v2 it stalled here, at 15).
    await until(() => R!.node.query("count") === 16, 15_000, "count 16 at the reader");
    const more = O.node.trustHub!.stats().messages + 30;
    await until(() => O!.node.trustHub!.stats().messages > more, 15_000, "more rounds");
    expect(R.node.runtime.has("secret") ? R.node.query("secret") : []).toEqual([]);
    expect(R.node.trustHub!.stats().pending).toBe(0);
  }, 120_000);

  it("a ReadGate serves the owner and read holders only, and a bad proof keeps nothing", async () => {
    const owner = await Identity.generate(), alice = await Identity.generate(), bob = await Identity.generate();
    const caps = new Capabilities({ owners: { "campaign/*": owner.did } });
    const gate = new ReadGate(caps);
    expect(gate.canRead(owner.did, "campaign/ads")).toBe(true);
    expect(gate.canRead(alice.did, "campaign/ads")).toBe(false);
    expect(gate.canRead(undefined, "campaign/ads")).toBe(false);
    expect(gate.canRead(alice.did, "elsewhere")).toBe(false); // unowned: denied by default
    expect(gate.canRead(alice.did, REVOCATIONS_VARIABLE)).toBe(true);
    // A chain for alice presented by bob grants bob nothing.
    const chain = await delegate(owner, { aud: alice.did, cmd: COMMANDS.READ, pol: ["campaign/ads"], exp: S() + 60 });
    expect(await gate.present(bob.did, encodeProof([chain]))).toBe(0);
    expect(gate.canRead(bob.did, "campaign/ads")).toBe(false);
    expect(await gate.present(alice.did, encodeProof([chain]))).toBe(1);
    expect(gate.canRead(alice.did, "campaign/ads")).toBe(true);
    expect(gate.canRead(alice.did, "campaign/other")).toBe(false);
    // A write grant is not a read grant.
    const w = await delegate(owner, { aud: bob.did, cmd: COMMANDS.INCREMENT, pol: ["campaign/*"], exp: S() + 60 });
    expect(await gate.present(bob.did, encodeProof([w]))).toBe(0);
    expect(gate.canRead(bob.did, "campaign/ads")).toBe(false);
    // Junk is a typed error, and replaces nothing.
    await expect(gate.present(alice.did, Uint8Array.of(1, 2, 3))).rejects.toMatchObject({ code: "BAD_CAP" });
    expect(gate.canRead(alice.did, "campaign/ads")).toBe(true);
    // Revoked: refused from then on.
    await caps.addRevocation((await signRevocation(owner, chain)).bytes);
    expect(gate.canRead(alice.did, "campaign/ads")).toBe(false);
    // Bounded: the least recently presented peer goes first.
    const small = new ReadGate(caps, { maxPeers: 1 });
    const c2 = await delegate(owner, { aud: bob.did, cmd: COMMANDS.READ, pol: ["campaign/*"], exp: S() + 60 });
    const c3 = await delegate(owner, { aud: alice.did, cmd: COMMANDS.READ, pol: ["campaign/*"], exp: S() + 60 });
    await small.present(bob.did, encodeProof([c2]));
    await small.present(alice.did, encodeProof([c3]));
    expect(small.peers).toBe(1);
    expect(small.canRead(bob.did, "campaign/x")).toBe(false);
    expect(small.canRead(alice.did, "campaign/x")).toBe(true);
  });

  it("proof and revocation messages round-trip, and hostile ones are typed errors", () => {
    const proof = Uint8Array.of(1, 2, 3);
    expect(decodeTrustMessage(encodeTrustMessage({ kind: "proof", proof }))).toEqual({ kind: "proof", proof });
    const records = [Uint8Array.of(9), Uint8Array.of(8, 7)];
    expect(decodeTrustMessage(encodeTrustMessage({ kind: "revocations", records }))).toEqual({ kind: "revocations", records });
    const code = (b: Uint8Array) => { try { decodeTrustMessage(b); return "accepted"; } catch (e) { return (e as { code?: string }).code; } };
    const m = encodeTrustMessage({ kind: "proof", proof });
    expect(code(m.subarray(0, m.length - 1))).toBe("MALFORMED");               // truncated
    expect(code(Uint8Array.from([...m, 0]))).toBe("MALFORMED");                // trailing byte
    expect(code(encodeTrustMessage({ kind: "proof", proof: new Uint8Array(70_000) }))).toBe("TOO_LARGE");
    expect(code(encodeTrustMessage({ kind: "revocations", records: Array.from({ length: 257 }, () => Uint8Array.of(1)) }))).toBe("TOO_LARGE");
    expect(code(Uint8Array.of(0x54, 0x45, 1, 4, 0x80, 0x80, 0x01))).toBe("MALFORMED"); // a count beyond the message
  });

  it("signableFor signs what the key may write, keeps the rest local, and skips bare declarations", async () => {
    const owner = await Identity.generate(), tab = await Identity.generate();
    const caps = new Capabilities({ owners: { "*": owner.did } });
    const proof = encodeProof([await delegate(owner, { aud: tab.did, cmd: COMMANDS.INCREMENT, pol: ["impressions/*"], exp: S() + 60 })]);
    const f = signableFor(caps, tab.did, () => proof);
    const inc = new GCounter(tab.replicaId()); inc.increment(2);
    expect(await f("impressions/a", inc.takeDelta())).toEqual({ sign: true });
    const set = new AWSet(tab.replicaId()); set.add("x");
    const add = await f("ads", set.takeDelta());
    expect(add.sign).toBe(false);
    expect(add.why?.code).toBe("UNAUTHORIZED_CAP");
    expect(await f("ads", new AWSet(tab.replicaId()).encode())).toEqual({ sign: false }); // a declaration: nothing to sign, nothing to report
    expect((await f("elsewhere", (() => { const g = new GCounter(tab.replicaId()); g.increment(1); return g.takeDelta(); })())).why?.code).toBe("UNAUTHORIZED_CAP");
    // The owner signs anything; revocations are signed by anyone (records prove themselves).
    expect(await signableFor(caps, owner.did)("ads", set.encode())).toEqual({ sign: true });
    expect(await f(REVOCATIONS_VARIABLE, new GSet(tab.replicaId()).encode())).toEqual({ sign: true });
    for (const c of [inc, set]) c.dispose();
  });

  it("a relayed revocation is verified on its own and kept in the node's set; junk is refused and changes nothing", async () => {
    const owner = await Identity.generate(), alice = await Identity.generate();
    const caps = new Capabilities({ owners: { "*": owner.did } });
    const rt = new Runtime({ replica: "n.1" });
    rt.declare(REVOCATIONS_VARIABLE, GSet);
    const relay = revocationRelay(rt, caps);
    const chain = await delegate(owner, { aud: alice.did, cmd: COMMANDS.INCREMENT, pol: ["*"], exp: S() + 60 });
    const rec = await signRevocation(owner, chain);
    await expect(relay.receive([Uint8Array.of(1, 2, 3)])).rejects.toMatchObject({ code: "BAD_CAP" });
    expect(relay.records()).toEqual([]);
    // A record by someone who owns nothing here: refused.
    const stranger = await Identity.generate();
    const theirs = await signRevocation(stranger, await delegate(stranger, { aud: alice.did, cmd: COMMANDS.READ, pol: ["*"], exp: null }));
    await expect(relay.receive([theirs.bytes])).rejects.toMatchObject({ code: "BAD_CAP" });
    await relay.receive([rec.bytes, rec.bytes]);
    expect(relay.records()).toHaveLength(1);
    expect(caps.revocations).toBe(1);
    rt.close();
  });

  it("over libp2p: peers are known by their did, so delegated writes and read grants hold there too", async () => {
    const datas = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), "trellis-caps-p2p-")));
    cleanups.push(() => { for (const d of datas) rmSync(d, { recursive: true, force: true }); });
    const live: Started[] = [];
    cleanups.push(() => Promise.all(live.splice(0).map((n) => n.node.close().catch(() => {}))));
    const p2p = { listen: ["/ip4/127.0.0.1/tcp/0"] };
    const O = await startNode({ trust: "trustless", open: false, owners: "self", ...p2p }, datas[0]);
    live.push(O);
    const owners = { "*": O.node.identity.did };
    await O.node.declare("count", GCounter);
    await O.node.update("count", { increment: 1 });
    const proofs = new Map<string, Uint8Array>();
    const boot = [O.node.libp2p!.multiaddrs()[0]];
    let W: Started | undefined, R: Started | undefined;
    W = await startNode({ trust: "trustless", open: false, owners, proof: () => proofs.get(W?.node.identity.did ?? ""), ...p2p, peers: boot }, datas[1]);
    live.push(W);
    R = await startNode({ trust: "trustless", open: false, owners, proof: () => proofs.get(R?.node.identity.did ?? ""), ...p2p, peers: boot }, datas[2]);
    live.push(R);
    const exp = S() + 3600;
    proofs.set(W.node.identity.did, encodeProof([
      await delegate(O.node.identity, { aud: W.node.identity.did, cmd: COMMANDS.INCREMENT, pol: ["count"], exp }),
      await delegate(O.node.identity, { aud: W.node.identity.did, cmd: COMMANDS.READ, pol: ["count"], exp }),
    ]));
    // R presents nothing: it may read nothing the owner holds.
    await until(() => W!.node.runtime.has("count") && W!.node.query("count") === 1, 30_000, "count at the writer over libp2p");
    await W.node.update("count", { increment: 2 });
    await until(() => O.node.query("count") === 3, 30_000, "the writer's increment at the owner over libp2p");
    expect(O.node.trustHub!.stats().rejected).toBe(0);
    const more = O.node.trustHub!.stats().messages + 20;
    await until(() => O.node.trustHub!.stats().messages > more, 30_000, "more rounds");
    expect(R.node.runtime.has("count") ? R.node.query("count") : 0).toBe(0);
  }, 120_000);
});
