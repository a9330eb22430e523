// The dataflow in trustless mode (issue 12, item 5; docs/dataflow.md and
// docs/security.md "Dataflow in trustless mode"): Capabilities.canWrite, the
// Runtime's authority hook gating enforceOnce on declared writes, derived
// variables marked local-only, and authorityFor() gluing the two: the node
// holding /trellis/write/remove on the ads removes the ad; a node without it
// does not, and says why; revoking the chain stops it.
import { beforeAll, describe, expect, it } from "vitest";
import * as dagCbor from "@ipld/dag-cbor";
import { init, Runtime, TrellisError, AWSet, GCounter, GSet } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import {
  COMMANDS, Capabilities, TrustError, TrustHub, authorityFor, delegate, encodeProof, encodeTrustMessage, signEnvelope, signRevocation,
} from "../dist/host/trust/index.js";
import { MemoryEnvelopeStore } from "./util/trustless.js";
import type { EnforceRefusal } from "../dist/host/dataflow/index.js";

let owner: Identity, server: Identity, tab: Identity, mallory: Identity;
const NOW = Date.UTC(2026, 11, 2); // ms
const S = Math.floor(NOW / 1000);

beforeAll(async () => {
  await init();
  [owner, server, tab, mallory] = await Promise.all([Identity.generate(), Identity.generate(), Identity.generate(), Identity.generate()]);
});

const caps = (o: Partial<ConstructorParameters<typeof Capabilities>[0]> = {}) =>
  new Capabilities({ owners: { "campaign/*": owner.did }, now: () => NOW, ...o });

const ADS = "campaign/ads";
const VIEWS = "campaign/impressions/ad1";
const REMOVE_AD = [{ variable: ADS, command: COMMANDS.REMOVE }];

describe("Capabilities.canWrite", () => {
  it("is true for the owner and for a holder of the command (or a command above it) on the variable", async () => {
    const c = caps();
    const remove = await delegate(owner, { aud: server.did, cmd: COMMANDS.REMOVE, pol: [ADS], exp: S + 3600 });
    const write = await delegate(owner, { aud: server.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: S + 3600 });
    expect(await c.canWrite(owner.did, ADS, COMMANDS.REMOVE)).toBe(true);
    expect(await c.canWrite(server.did, ADS, COMMANDS.REMOVE, { proof: encodeProof([remove]) })).toBe(true);
    expect(await c.canWrite(server.did, ADS, COMMANDS.REMOVE, { proof: [remove] })).toBe(true); // chains as well as bytes
    expect(await c.canWrite(server.did, "campaign/other", COMMANDS.REMOVE, { proof: encodeProof([write]) })).toBe(true);
    // Narrower than asked, or another variable: no.
    expect(await c.canWrite(server.did, ADS, COMMANDS.WRITE, { proof: encodeProof([remove]) })).toBe(false);
    expect(await c.canWrite(server.did, ADS, COMMANDS.ADD, { proof: encodeProof([remove]) })).toBe(false);
    expect(await c.canWrite(server.did, "campaign/ads2", COMMANDS.REMOVE, { proof: encodeProof([remove]) })).toBe(false);
    // Without a proof: nothing but the owner (and, like canRead, chains already verified).
    expect(await caps().canWrite(server.did, ADS, COMMANDS.REMOVE)).toBe(false);
  });

  it("is false for a stolen chain, an expired, not-yet-valid or revoked one, and a bad proof; says why", async () => {
    const c = caps();
    const chain = await delegate(owner, { aud: server.did, cmd: COMMANDS.REMOVE, pol: [ADS], exp: S + 60 });
    const proof = encodeProof([chain]);
    expect(await c.canWrite(mallory.did, ADS, COMMANDS.REMOVE, { proof })).toBe(false);
    expect((await c.writeRefusal(mallory.did, ADS, COMMANDS.REMOVE, { proof }))?.code).toBe("UNAUTHORIZED_CAP");
    expect(await c.canWrite(server.did, ADS, COMMANDS.REMOVE, { proof, now: NOW + 61_000 })).toBe(false);
    expect((await c.writeRefusal(server.did, ADS, COMMANDS.REMOVE, { proof, now: NOW + 61_000 }))?.code).toBe("EXPIRED");
    const later = await delegate(owner, { aud: server.did, cmd: COMMANDS.REMOVE, pol: [ADS], exp: null, nbf: S + 600 });
    expect((await c.writeRefusal(server.did, ADS, COMMANDS.REMOVE, { proof: [later] }))?.code).toBe("NOT_YET_VALID");
    // Forged: the token's bytes with a broader command, so its signature is not its issuer's.
    const forged = dagCbor.encode({ ...(dagCbor.decode(chain[0].bytes) as object), cmd: COMMANDS.ADMIN });
    expect((await c.writeRefusal(server.did, ADS, COMMANDS.REMOVE, { proof: dagCbor.encode([[forged]]) }))?.code).toBe("BAD_CAP");
    expect(await c.canWrite(server.did, ADS, COMMANDS.REMOVE, { proof: Uint8Array.of(0xff, 1, 2) })).toBe(false);
    expect((await c.writeRefusal(server.did, ADS, COMMANDS.REMOVE, { proof: Uint8Array.of(0xff, 1, 2) }))?.code).toBe("BAD_CAP");
    expect(await c.canWrite(server.did, ADS, COMMANDS.REMOVE, { proof })).toBe(true);
    await c.addRevocation((await signRevocation(owner, chain)).bytes);
    expect(await c.canWrite(server.did, ADS, COMMANDS.REMOVE, { proof })).toBe(false);
    expect((await c.writeRefusal(server.did, ADS, COMMANDS.REMOVE, { proof }))?.code).toBe("REVOKED");
  });

  it("follows `unowned`, and refuses an argument that is not a command path with a TypeError", async () => {
    expect(await caps().canWrite(server.did, "elsewhere", COMMANDS.REMOVE)).toBe(false);
    expect(await caps({ unowned: "allow" }).canWrite(server.did, "elsewhere", COMMANDS.REMOVE)).toBe(true);
    await expect(caps().canWrite(server.did, ADS, "remove")).rejects.toBeInstanceOf(TypeError);
    await expect(caps().canWrite(server.did, ADS, "/trellis//write")).rejects.toBeInstanceOf(TypeError);
  });
});

// A counter program: when the impressions reach `limit`, remove the ad.
function program(rt: Runtime, limit = 3): { removed: () => number; done: Promise<boolean> } {
  rt.declare(ADS, AWSet).declare(VIEWS, GCounter);
  let n = 0;
  const done = rt.enforceOnce(VIEWS, { atLeast: limit }, () => { n++; rt.update(ADS, { remove: "ad1" }); }, { writes: REMOVE_AD });
  return { removed: () => n, done };
}

// Runtimes wired directly: a local delta is bound at every other.
function mesh(rts: Runtime[]): void {
  rts.forEach((a) => a.onDelta((id, d, o) => { if (o === "local") for (const b of rts) if (b !== a && b.has(id)) b.bind(id, d); }));
}

describe("Runtime in trustless mode", () => {
  it("refuses an enforceOnce that declares no writes, before the threshold, with PRECONDITION", async () => {
    const rt = new Runtime({ replica: "n", authority: { mayWrite: () => true } });
    rt.declare("c", GCounter);
    let runs = 0;
    const p = rt.enforceOnce("c", { atLeast: 1 }, () => { runs++; });
    await expect(p).rejects.toBeInstanceOf(TrellisError);
    await expect(p).rejects.toMatchObject({ code: "PRECONDITION" });
    await expect(rt.enforceOnce("c", { atLeast: 1 }, () => { runs++; }, { writes: [] })).rejects.toMatchObject({ code: "PRECONDITION" });
    rt.update("c", { increment: 1 });
    await Promise.resolve();
    expect(runs).toBe(0);
    // Malformed declarations are TypeErrors, in either mode.
    for (const writes of [[{ variable: "", command: "/trellis/write" }], [{ variable: "c", command: "write" }], [null], "c"]) {
      await expect(rt.enforceOnce("c", { atLeast: 1 }, () => { runs++; }, { writes: writes as never })).rejects.toBeInstanceOf(TypeError);
      await expect(new Runtime({ trusted: true }).enforceOnce("c", { atLeast: 1 }, () => {}, { writes: writes as never })).rejects.toBeInstanceOf(TypeError);
    }
    expect(runs).toBe(0);
    expect(() => new Runtime({ authority: {} as never })).toThrow(TypeError);
    rt.close();
  });

  it("runs the action once when the authority grants every declared write, and asks only when the threshold is met", async () => {
    const asked: string[] = [];
    const rt = new Runtime({ replica: "n", authority: { mayWrite: (v, c) => { asked.push(`${c} ${v}`); return true; } } });
    expect(rt.trustless).toBe(true);
    const { removed, done } = program(rt);
    const again = rt.enforceOnce(VIEWS, { atLeast: 3 }, () => { throw new Error("ran twice"); }, { writes: REMOVE_AD });
    rt.update(ADS, { add: "ad1" });
    rt.update(VIEWS, { increment: 2 });
    await new Promise((r) => setTimeout(r, 0));
    expect(asked).toEqual([]); // below the threshold: not asked yet
    rt.update(VIEWS, { increment: 1 });
    expect(await done).toBe(true);
    expect(await again).toBe(false);
    expect(removed()).toBe(1);
    expect(asked).toEqual([`${COMMANDS.REMOVE} ${ADS}`]);
    expect(rt.query(ADS)).toEqual([]);
    rt.close();
  });

  it("does not run it when any declared write is refused; reports which and why; records nothing, so a later grant runs it", async () => {
    const record = new Set<string>();
    const once = { has: (k: string) => record.has(k), add: (k: string) => { record.add(k); } };
    const reports: EnforceRefusal[] = [];
    let grant = false;
    const rt = new Runtime({
      replica: "n", once, onRefused: (r) => reports.push(r),
      authority: { mayWrite: (v) => { if (v === "billing") throw new Error("no billing key"); return grant; } },
    });
    rt.declare("c", GCounter);
    rt.update("c", { increment: 5 });
    let runs = 0;
    const writes = [{ variable: "c", command: COMMANDS.SET }, { variable: "billing", command: COMMANDS.WRITE }];
    expect(await rt.enforceOnce("c", { atLeast: 5 }, () => { runs++; }, { writes })).toBe(false);
    expect(runs).toBe(0);
    expect(record.size).toBe(0);
    expect(reports).toHaveLength(1);
    expect(reports[0].refused.map((w) => w.variable)).toEqual(["c", "billing"]);
    expect(reports[0].refused[0].reason).toBeUndefined();
    expect((reports[0].refused[1].reason as Error).message).toBe("no billing key");
    expect(reports[0].message).toContain("no billing key");
    // A per-call onRefused takes the report instead.
    const mine: EnforceRefusal[] = [];
    expect(await rt.enforceOnce("c", { atLeast: 5 }, () => { runs++; }, { writes, onRefused: (r) => mine.push(r) })).toBe(false);
    expect([mine.length, reports.length]).toEqual([1, 1]);
    // Granted now (the billing write dropped): it runs, once, and is recorded.
    grant = true;
    expect(await rt.enforceOnce("c", { atLeast: 5 }, () => { runs++; }, { writes: writes.slice(0, 1) })).toBe(true);
    expect(runs).toBe(1);
    expect(record.size).toBe(1);
    rt.close();
  });

  it("ignores `trusted` when an authority is given; trusted mode works as before, without writes", async () => {
    const rt = new Runtime({ replica: "n", trusted: true, authority: { mayWrite: () => false } });
    rt.declare("c", GCounter).update("c", { increment: 1 });
    let runs = 0;
    expect(await rt.enforceOnce("c", { atLeast: 1 }, () => { runs++; }, { writes: [{ variable: "c", command: COMMANDS.WRITE }] })).toBe(false);
    const t = new Runtime({ replica: "t", trusted: true }), u = new Runtime({ replica: "u" });
    for (const x of [t, u]) x.declare("c", GCounter).update("c", { increment: 1 });
    expect(t.trustless).toBe(false);
    expect(await t.enforceOnce("c", { atLeast: 1 }, () => { runs++; })).toBe(true);
    expect(await u.enforceOnce("c", { atLeast: 1 }, () => { runs++; })).toBe(false);
    expect(runs).toBe(1);
    for (const x of [rt, t, u]) x.close();
  });

  it("two calls with one key racing on a slow authority run the action once", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const rt = new Runtime({ replica: "n", authority: { mayWrite: async () => { await gate; return true; } } });
    rt.declare("c", GCounter).update("c", { increment: 1 });
    let runs = 0;
    const calls = [0, 1].map(() => rt.enforceOnce("c", { atLeast: 1 }, () => { runs++; }, { key: "k", writes: [{ variable: "c", command: COMMANDS.WRITE }] }));
    await new Promise((r) => setTimeout(r, 0));
    release();
    expect((await Promise.all(calls)).sort()).toEqual([false, true]);
    expect(runs).toBe(1);
    rt.close();
  });
});

describe("derived variables are local-only", () => {
  it("isDerived / derived() name combinator outputs only; they are never emitted nor bound from a peer", () => {
    const rt = new Runtime({ replica: "n", authority: { mayWrite: () => true } });
    rt.declare("ads", GSet).declare("contracts", GSet).declareDynamic("mine", GSet);
    rt.product("pairs", "ads", "contracts");
    rt.filter("matched", "pairs", ([ad, c]: [string, string]) => c === ad);
    rt.fold("count", "matched", GCounter, () => 1);
    rt.fold("seen", "ads", GSet, (x: string) => ({ add: x })); // a fold into a lattice holds a state, still derived
    const shipped: string[] = [];
    rt.onDelta((id) => shipped.push(id));
    expect(rt.derived()).toEqual(["pairs", "matched", "count", "seen"]);
    for (const id of ["pairs", "matched", "count", "seen"]) expect(rt.isDerived(id)).toBe(true);
    for (const id of ["ads", "contracts", "mine", "nope"]) expect(rt.isDerived(id)).toBe(false);
    rt.update("ads", { add: "a" });
    rt.update("contracts", { add: "a" });
    expect(rt.query("count")).toBe(1);
    expect(new Set(shipped)).toEqual(new Set(["ads", "contracts"]));
    // A peer's state for a derived variable is refused and changes nothing.
    const peer = new GSet("p"); peer.add("forged");
    expect(() => rt.bind("seen", peer.encode())).toThrow(expect.objectContaining({ code: "PRECONDITION" }));
    expect(rt.query("seen")).toEqual(["a"]);
    rt.close();
  });
});

describe("a trust hub refuses envelopes naming a derived variable", () => {
  it("a peer's signed delta for a derived id is BAD_DELTA at admission: not joined, not stored, the chain goes on for other variables", async () => {
    const rt = new Runtime({ replica: server.replicaId() });
    rt.declare("ads", GSet);
    rt.fold("seen", "ads", GSet, (x: string) => ({ add: x }));
    const store = new MemoryEnvelopeStore();
    const hub = await TrustHub.open(rt, { identity: server, store });
    let h: (from: string, m: Uint8Array) => void = () => {};
    hub.attach({ self: "s", neighbours: () => [], send: () => {}, onMessage: (f: typeof h) => { h = f; return () => {}; }, onNeighbour: () => () => {} });
    await hub.flushed();
    const held = store.log.length; // this node's own declaration of "ads"
    const forged = new GSet("m"); forged.add("forged");
    const bad = await signEnvelope(mallory, { author: mallory.did, seq: 1, links: [], items: [{ variable: "seen", delta: forged.encode() }] });
    h("p", encodeTrustMessage({ kind: "envelopes", envelopes: [bad.bytes] }));
    await hub.flushed();
    expect(hub.stats().rejectedBy.BAD_DELTA).toBe(1);
    expect(rt.query("seen")).toEqual([]);
    expect(store.log).toHaveLength(held);
    // The same author's honest first envelope, for a replicated variable, is admitted and drives the derived one.
    const ok = new GSet("m"); ok.add("a");
    const good = await signEnvelope(mallory, { author: mallory.did, seq: 1, links: [], items: [{ variable: "ads", delta: ok.encode() }] });
    h("p", encodeTrustMessage({ kind: "envelopes", envelopes: [good.bytes] }));
    await hub.flushed();
    expect(rt.query("seen")).toEqual(["a"]);
    hub.close(); rt.close();
  });
});

describe("authorityFor: capabilities gate the ad removal", () => {
  async function cluster(serverProof: () => Uint8Array | undefined, c = caps()) {
    const reports: EnforceRefusal[] = [];
    const onRefused = (r: EnforceRefusal) => reports.push(r);
    const srv = new Runtime({ replica: "server", authority: authorityFor(c, server, serverProof), onRefused });
    const tb = new Runtime({ replica: "tab", authority: authorityFor(c, tab, encodeProof([await delegate(owner, { aud: tab.did, cmd: COMMANDS.INCREMENT, pol: ["campaign/impressions/*"], exp: S + 3600 })])), onRefused });
    mesh([srv, tb]);
    const ps = [program(srv), program(tb)];
    srv.update(ADS, { add: "ad1" });
    return { srv, tb, ps, reports };
  }

  it("the node delegated /trellis/write/remove on the ads removes the ad; the tab, holding only increment, does not and says why", async () => {
    const chain = await delegate(owner, { aud: server.did, cmd: COMMANDS.REMOVE, pol: [ADS], exp: S + 3600 });
    const { srv, tb, ps, reports } = await cluster(() => encodeProof([chain]));
    expect(tb.query(ADS)).toEqual(["ad1"]);
    for (let i = 0; i < 3; i++) tb.update(VIEWS, { increment: 1 }); // impressions counted on the tab
    expect(await Promise.all(ps.map((p) => p.done))).toEqual([true, false]);
    expect(ps.map((p) => p.removed())).toEqual([1, 0]);
    expect([srv.query(ADS), tb.query(ADS)]).toEqual([[], []]); // the server's removal reached the tab
    expect(reports).toHaveLength(1);
    expect(reports[0].refused).toHaveLength(1);
    expect(reports[0].refused[0]).toMatchObject({ variable: ADS, command: COMMANDS.REMOVE });
    expect(reports[0].refused[0].reason).toBeInstanceOf(TrustError);
    expect((reports[0].refused[0].reason as TrustError).code).toBe("UNAUTHORIZED_CAP");
    srv.close(); tb.close();
  });

  it("revoking the server's chain before the limit stops the removal", async () => {
    const c = caps();
    const chain = await delegate(owner, { aud: server.did, cmd: COMMANDS.REMOVE, pol: [ADS], exp: S + 3600 });
    const { srv, tb, ps, reports } = await cluster(() => encodeProof([chain]), c);
    // The revocation arrives as it would over replication: a GSet of records.
    const revocations = new GSet(owner.replicaId()).add((await signRevocation(owner, chain)).bytes);
    expect(await c.addRevocations(revocations.takeDelta())).toBe(1);
    for (let i = 0; i < 3; i++) tb.update(VIEWS, { increment: 1 });
    expect(await Promise.all(ps.map((p) => p.done))).toEqual([false, false]);
    expect(ps.map((p) => p.removed())).toEqual([0, 0]);
    expect(srv.query(ADS)).toEqual(["ad1"]);
    expect(reports.map((r) => (r.refused[0].reason as TrustError).code).sort()).toEqual(["REVOKED", "UNAUTHORIZED_CAP"]);
    srv.close(); tb.close();
  });

  it("a node given its delegation after a refusal runs the action at its next enforceOnce (the proof is read at each check)", async () => {
    let proof: Uint8Array | undefined;
    const { srv, tb, ps } = await cluster(() => proof);
    for (let i = 0; i < 3; i++) tb.update(VIEWS, { increment: 1 });
    expect(await ps[0].done).toBe(false);
    proof = encodeProof([await delegate(owner, { aud: server.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: S + 3600 })]);
    expect(await srv.enforceOnce(VIEWS, { atLeast: 3 }, () => srv.update(ADS, { remove: "ad1" }), { writes: REMOVE_AD })).toBe(true);
    expect(tb.query(ADS)).toEqual([]);
    srv.close(); tb.close();
  });

  it("the owner's own node needs no proof; authorityFor refuses what is not an identity or a proof", () => {
    const a = authorityFor(caps(), owner);
    return Promise.all([
      expect(a.mayWrite(ADS, COMMANDS.REMOVE)).resolves.toBe(true),
      expect(() => authorityFor(caps(), "alice")).toThrow(TypeError),
      expect(() => authorityFor(caps(), server, "proof" as never)).toThrow(TypeError),
    ]);
  });
});
