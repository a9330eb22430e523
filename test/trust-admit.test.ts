// Admission of signed envelopes (host/trust/admit.ts, docs/security.md
// "Admission rules"): honest histories made by trellis types are admitted,
// and each attack of issue 12 that this layer sees is refused with its code
// and changes nothing. Forgeries are hand-made bytes (the formats of
// docs/format.md), signed by a valid key: the attacker has an identity.
import { beforeAll, describe, expect, it } from "vitest";
import { dot, rep, str, varint } from "./util/bytes.js";
import fc from "fast-check";
import { AWMap, AWSet, GCounter, LWWRegister, MaxInt, MVRegister, ORSet, PNCounter, TopK, init } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import * as dagCbor from "@ipld/dag-cbor";
import {
  CID, TrustLedger, admit, cidOf, envelopeCid, signEnvelope, sortLinks, type AdmitResult, type Envelope, type EnvelopeItem,
} from "../dist/host/trust/index.js";

beforeAll(async () => { await init(); });

// ---- hand-made states (docs/format.md) --------------------------------------
// Canonical order: the version vector by replica (ids here are ASCII, so string order is byte order).
const ctx = (vv: [string, bigint | number][], cloud: [string, bigint | number][] = []) =>
  [...varint(vv.length), ...[...vv].sort((a, b) => (a[0] < b[0] ? -1 : 1)).flatMap(([r, c]) => dot(r, c)), ...varint(cloud.length), ...cloud.flatMap(([r, c]) => dot(r, c))];
const state = (spec: number[], body: number[]) => Uint8Array.from([0x54, 0x52, 1, ...spec, ...body]);
// AWSet (tag 10): context, then elements with their dots.
const awset = (vv: [string, bigint | number][], cloud: [string, bigint | number][], elems: [string, [string, bigint | number][]][]) =>
  state([10], [...ctx(vv, cloud), ...varint(elems.length), ...elems.flatMap(([e, ds]) => [...str(e), ...varint(ds.length), ...ds.flatMap(([r, c]) => dot(r, c))])]);
const gcounter = (entries: [string, bigint | number][]) => state([1], [...varint(entries.length), ...entries.flatMap(([r, v]) => dot(r, v))]);
const lww = (ts: bigint | number, w: string, v: string) => state([6], [1, ...varint(ts), ...rep(w), ...str(v)]);
const maxint = (v: bigint | number) => state([3], varint(v));
const topk = (k: number, entries: [string, bigint | number][]) => state([15, ...varint(k)], [...varint(entries.length), ...entries.flatMap(([id, s]) => [...str(id), ...varint(s)])]);
const orset = (elems: [string, [string, bigint | number, 0 | 1][]][]) =>
  state([11], [...varint(elems.length), ...elems.flatMap(([e, ts]) => [...str(e), ...varint(ts.length), ...ts.flatMap(([r, c, f]) => [...dot(r, c), f])])]);

const MAX64 = 2n ** 64n - 1n;
// The kernel itself refuses MAX64 (the next op would wrap): one below it is
// what an attacker sends to pin a value.
const SAT = MAX64 - 1n;

// ---- authors ----------------------------------------------------------------
let alice: Identity, bob: Identity, mallory: Identity;
let ra: string, rb: string, rm: string; // their replica ids (<did>.<incarnation>)
beforeAll(async () => {
  [alice, bob, mallory] = await Promise.all([Identity.generate(), Identity.generate(), Identity.generate()]);
  [ra, rb, rm] = [alice.replicaId(), bob.replicaId(), mallory.replicaId()];
});

// One author's chain: each envelope links to its previous one, plus `links`.
class Chain {
  seq = 0;
  prev: CID | null = null;
  constructor(readonly id: Identity) {}
  async sign(items: EnvelopeItem[], links: CID[] = [], o: { seq?: number; noPrev?: boolean } = {}): Promise<Envelope> {
    const ls = sortLinks([...(this.prev && !o.noPrev ? [this.prev] : []), ...links]);
    return signEnvelope(this.id, { author: this.id.did, seq: o.seq ?? this.seq + 1, links: ls, items });
  }
  async next(items: EnvelopeItem[], links: CID[] = []): Promise<Envelope> {
    const e = await this.sign(items, links);
    this.seq = e.seq; this.prev = e.cid;
    return e;
  }
}
const item = (variable: string, delta: Uint8Array): EnvelopeItem => ({ variable, delta });

function snapshot(l: TrustLedger, dids: string[]) {
  return JSON.stringify({ size: l.size, admitted: l.admitted, heads: l.heads().map(String).sort(), seqs: dids.map((d) => l.lastSeq(d)), evidence: l.evidence.length });
}
function expectAdmitted(r: AdmitResult): void {
  expect(r.status, r.status === "rejected" ? r.error.message : r.status).toBe("admitted");
}
// Checks the refusal's code and that the ledger did not change.
async function expectRejected(l: TrustLedger, e: Envelope | Uint8Array, code: string, o: Parameters<typeof admit>[2] = {}): Promise<void> {
  const before = snapshot(l, [alice.did, bob.did, mallory.did]);
  const r = await admit(l, e, o);
  expect(r.status).toBe("rejected");
  if (r.status === "rejected") expect(r.error.code, r.error.message).toBe(code);
  if (code !== "EQUIVOCATION") expect(snapshot(l, [alice.did, bob.did, mallory.did])).toBe(before);
}

describe("honest histories made by trellis types are admitted", () => {
  it("AWSet: adds, a remove of another replica's element after linking to it, and re-adds", async () => {
    const l = new TrustLedger();
    const A = new Chain(alice), B = new Chain(bob);
    const sa = new AWSet(ra), sb = new AWSet(rb);
    sa.add("x").add("y");
    const e1 = await A.next([item("s", sa.takeDelta())]);
    expectAdmitted(await admit(l, e1));
    sb.merge(e1.items[0].delta);
    sb.takeDelta(); // what came from alice is not bob's to sign
    sb.remove("x");
    sb.add("z");
    const e2 = await B.next([item("s", sb.takeDelta())], [e1.cid]);
    expectAdmitted(await admit(l, e2));
    sa.merge(e2.items[0].delta); sa.takeDelta();
    sa.add("x");
    sa.remove("z");
    expectAdmitted(await admit(l, await A.next([item("s", sa.takeDelta())], [e2.cid])));
    expect(l.size).toBe(3);
    expect(l.lastSeq(alice.did)).toBe(2);
    expect(l.high("s", ra)).toBe(3n);
    expect(l.heads().length).toBe(1);
  });

  it("counters, registers, MaxInt, TopK, ORSet, MVRegister and AWMap, batched in one envelope per round", async () => {
    const l = new TrustLedger();
    const A = new Chain(alice), B = new Chain(bob);
    const g = new GCounter(ra), p = new PNCounter(ra), r = new LWWRegister(ra), m = new MaxInt(ra), t = new TopK(ra, 3);
    const o = new ORSet(ra), mv = new MVRegister(ra), map = new AWMap(ra, GCounter);
    const ob = new ORSet(rb), mvb = new MVRegister(rb), mapb = new AWMap(rb, GCounter);
    let lastA: CID | null = null;
    for (let round = 1; round <= 5; round++) {
      g.increment(round * 10); p.increment(3); p.decrement(1); r.set(`v${round}`); m.set(round * 100); t.add(`p${round}`, round * 7);
      o.add(`e${round}`); if (round > 1) o.remove(`e${round - 1}`);
      mv.set(round); map.update(`k${round % 2}`, GCounter.ops.increment(2));
      const ea = await A.next([
        item("g", g.takeDelta()), item("m", m.takeDelta()), item("map", map.takeDelta()), item("mv", mv.takeDelta()),
        item("o", o.takeDelta()), item("p", p.takeDelta()), item("r", r.takeDelta()), item("t", t.takeDelta()),
      ]);
      expectAdmitted(await admit(l, ea));
      lastA = ea.cid;
      // Bob reads alice's state and overwrites or removes what she made.
      for (const [mine, theirs] of [[ob, "o"], [mvb, "mv"], [mapb, "map"]] as const) { mine.merge(ea.items.find((i) => i.variable === theirs)!.delta); mine.takeDelta(); }
      ob.remove(`e${round}`); mvb.set(-round); mapb.remove(`k${round % 2}`);
      expectAdmitted(await admit(l, await B.next([item("map", mapb.takeDelta()), item("mv", mvb.takeDelta()), item("o", ob.takeDelta())], [lastA])));
    }
    expect(l.size).toBe(10);
    expect(l.high("g", ra, [], "increment")).toBe(150n);
  });
});

describe("property: honest histories are always admitted", () => {
  it("three authors adding, removing and reading each other's envelopes in random orders, each linking to what it read", async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ actor: fc.nat(2), op: fc.constantFrom("add", "remove", "read", "read"), elem: fc.constantFrom("p", "q", "r"), pick: fc.nat(1000) }), { minLength: 1, maxLength: 25 }),
      async (steps) => {
        const ids = [alice, bob, mallory];
        const actors = ids.map((id) => ({ chain: new Chain(id), aw: new AWSet(id.replicaId()), or: new ORSet(id.replicaId()), read: new Set<string>(), unlinked: [] as CID[] }));
        const ledger = new TrustLedger();
        const all: Envelope[] = [];
        for (const st of steps) {
          const a = actors[st.actor];
          if (st.op === "read") {
            const others = all.filter((e) => e.author !== ids[st.actor].did && !a.read.has(e.cid.toString()));
            if (others.length === 0) continue;
            const e = others[st.pick % others.length];
            a.aw.merge(e.items.find((i) => i.variable === "aw")!.delta); a.aw.takeDelta();
            a.or.merge(e.items.find((i) => i.variable === "or")!.delta); a.or.takeDelta();
            a.read.add(e.cid.toString()); a.unlinked.push(e.cid);
            continue;
          }
          if (st.op === "add") { a.aw.add(st.elem); a.or.add(st.elem); } else { a.aw.remove(st.elem); a.or.remove(st.elem); }
          const e = await a.chain.next([item("aw", a.aw.takeDelta()), item("or", a.or.takeDelta())], a.unlinked);
          a.unlinked = [];
          all.push(e);
          const r = await admit(ledger, e.bytes);
          expect(r.status, r.status === "rejected" ? r.error.message : r.status).toBe("admitted");
        }
        for (const a of actors) { a.aw.dispose(); a.or.dispose(); }
        expect(ledger.size).toBe(all.length);
        expect(ledger.rejected).toEqual({});
      }), { numRuns: 40 });
  });
});

describe("attacks refused at admission (issue 12's list), each changing nothing", () => {
  // A ledger that has admitted one honest envelope of alice and one of bob.
  async function setup() {
    const l = new TrustLedger();
    const A = new Chain(alice), B = new Chain(bob), M = new Chain(mallory);
    const sa = new AWSet(ra); sa.add("a1").add("a2");
    const ga = new GCounter(ra); ga.increment(5);
    const ea = await A.next([item("g", ga.takeDelta()), item("s", sa.takeDelta())]);
    expectAdmitted(await admit(l, ea));
    const sb = new AWSet(rb); sb.add("b1");
    const eb = await B.next([item("s", sb.takeDelta())]);
    expectAdmitted(await admit(l, eb));
    return { l, A, B, M, ea, eb };
  }

  it("forged dots: a dot of another replica (the 'claim the next dot' attack), under any of its ids", async () => {
    const { l, M, ea } = await setup();
    // Alice's next dot for a junk element: would erase her later add.
    await expectRejected(l, await M.sign([item("s", awset([[ra, 3]], [], [["junk", [[ra, 3]]]]))], [ea.cid]), "FORGED_MINT");
    // A replica id that is not a did at all.
    await expectRejected(l, await M.sign([item("s", awset([["alice", 1]], [], [["junk", [["alice", 1]]]]))]), "FORGED_MINT");
    // Mallory's own did with alice's suffix is mallory's: admitted.
    expectAdmitted(await admit(l, await M.next([item("s", awset([[`${mallory.did}.x`, 1]], [], [["m", [[`${mallory.did}.x`, 1]]]]))])));
  });

  it("deltas minting another replica's entries: counter entries, LWW writes, ORSet tokens, EWFlag/MVRegister dots", async () => {
    const { l, M, ea } = await setup();
    await expectRejected(l, await M.sign([item("g", gcounter([[ra, 6]]))], [ea.cid]), "FORGED_MINT");
    await expectRejected(l, await M.sign([item("p", state([2], [1, ...dot(rm, 1), 1, ...dot(rb, 1)]))]), "FORGED_MINT");
    await expectRejected(l, await M.sign([item("r", lww(1000, rb, "x"))]), "FORGED_MINT");
    await expectRejected(l, await M.sign([item("o", orset([["x", [[ra, 1, 0]]]]))]), "FORGED_MINT");
    await expectRejected(l, await M.sign([item("mv", state([7], [...ctx([[rb, 1]]), 1, ...dot(rb, 1), ...str("v")]))]), "FORGED_MINT");
    await expectRejected(l, await M.sign([item("f", state([4], [...ctx([[rb, 1]]), 1, ...dot(rb, 1)]))]), "FORGED_MINT");
  });

  it("counter, MaxInt and TopK saturation (2^64-2: the kernel refuses 2^64-1 itself), and counters jumping past one envelope's step", async () => {
    const { l, A, M } = await setup();
    await expectRejected(l, await M.sign([item("g", gcounter([[rm, MAX64]]))]), "BAD_DELTA"); // the kernel's OVERFLOW
    await expectRejected(l, await M.sign([item("g", gcounter([[rm, SAT]]))]), "VALUE_TOO_LARGE");
    await expectRejected(l, await M.sign([item("m", maxint(SAT))]), "VALUE_TOO_LARGE");
    await expectRejected(l, await M.sign([item("t", topk(3, [["x", SAT]]))]), "VALUE_TOO_LARGE");
    // Alice's own counter: from 5 by at most maxIncrement per envelope.
    await expectRejected(l, await A.sign([item("g", gcounter([[ra, 5n + 1_000_001n]]))]), "COUNTER_JUMP");
    await expectRejected(l, await A.sign([item("g", gcounter([[ra, 1000]]))]), "COUNTER_JUMP", { limits: { maxIncrement: 100n } });
    await expectRejected(l, await A.sign([item("g", gcounter([[ra, 1000]]))]), "COUNTER_JUMP", { limitsFor: (v) => v === "g" ? { maxIncrement: 10n } : undefined });
    // A dot counter at 2^64-1 (the next add would wrap): a jump.
    await expectRejected(l, await M.sign([item("s", awset([[rm, SAT]], [], [["x", [[rm, SAT]]]]))]), "COUNTER_JUMP");
    // MaxInt / TopK under a per-variable maximum.
    await expectRejected(l, await M.sign([item("m", maxint(101))]), "VALUE_TOO_LARGE", { limitsFor: () => ({ maxValue: 100n }) });
    expectAdmitted(await admit(l, await A.next([item("g", gcounter([[ra, 5n + 1_000_000n]]))])));
  });

  it("far-future LWW timestamps, against a configurable skew bound", async () => {
    const { l, M } = await setup();
    const now = 1_800_000_000_000;
    await expectRejected(l, await M.sign([item("r", lww(SAT, rm, "pinned"))]), "FUTURE_TIMESTAMP", { now: () => now });
    await expectRejected(l, await M.sign([item("r", lww(now + 60_001, rm, "x"))]), "FUTURE_TIMESTAMP", { now: () => now });
    await expectRejected(l, await M.sign([item("r", lww(now + 1_001, rm, "x"))]), "FUTURE_TIMESTAMP", { now: () => now, limits: { maxSkewMs: 1000 } });
    expectAdmitted(await admit(l, await M.sign([item("r", lww(now + 60_000, rm, "x"))]), { now: () => now }));
  });

  it("a causal context covering unseen dots: more than the links minted, in the version vector or the cloud", async () => {
    const { l, M, ea } = await setup();
    // "Empty every set": a context covering every dot of alice's.
    await expectRejected(l, await M.sign([item("s", awset([[ra, SAT]], [], []))], [ea.cid]), "UNSEEN_CONTEXT");
    // One past what alice's linked envelope minted (2 dots).
    await expectRejected(l, await M.sign([item("s", awset([[ra, 3]], [], []))], [ea.cid]), "UNSEEN_CONTEXT");
    await expectRejected(l, await M.sign([item("s", awset([], [[ra, 7]], []))], [ea.cid]), "UNSEEN_CONTEXT");
    // Alice's dots are admitted here, but mallory does not link to them.
    await expectRejected(l, await M.sign([item("s", awset([[ra, 1]], [], []))]), "UNSEEN_CONTEXT");
    // Another variable's dots are not this one's.
    await expectRejected(l, await M.sign([item("other", awset([[ra, 1]], [], []))], [ea.cid]), "UNSEEN_CONTEXT");
    // An ORSet removal of a token nobody linked to.
    await expectRejected(l, await M.sign([item("o", orset([["x", [[ra, 1, 1]]]]))], [ea.cid]), "UNSEEN_CONTEXT");
    // Linked and covered: removing what alice added is fine.
    expectAdmitted(await admit(l, await M.next([item("s", awset([[ra, 2]], [], []))], [ea.cid])));
  });

  it("coverage is transitive through links, and stops at the author's envelope the links reach", async () => {
    const { l, A, B, M, ea } = await setup();
    // Alice mints dots 3 and 4 in her second envelope; bob links only to her first.
    const ea2 = await A.next([item("s", awset([[ra, 4]], [], [["a3", [[ra, 3]]], ["a4", [[ra, 4]]]]))]);
    expectAdmitted(await admit(l, ea2));
    const eb2 = await B.next([item("s", awset([[rb, 2]], [], [["b2", [[rb, 2]]]]))], [ea.cid]);
    expectAdmitted(await admit(l, eb2));
    // Mallory links to bob's second envelope only: she has seen alice's dots 1..2 through it, not 3..4.
    expectAdmitted(await admit(l, await M.next([item("s", awset([[ra, 2], [rb, 2]], [], []))], [eb2.cid])));
    await expectRejected(l, await M.sign([item("s", awset([[ra, 3]], [], []))], [eb2.cid]), "UNSEEN_CONTEXT");
    expectAdmitted(await admit(l, await M.next([item("s", awset([[ra, 4], [rb, 2]], [], []))], [eb2.cid, ea2.cid])));
    expect(l.high("s", ra)).toBe(4n);
    expect(l.high("s", rb)).toBe(2n);
  });

  it("unsigned and badly signed envelopes", async () => {
    const { l, M, A } = await setup();
    const e = await M.sign([item("s", awset([[rm, 1]], [], [["m", [[rm, 1]]]]))]);
    const [head, slots] = dagCbor.decode(e.bytes) as [Uint8Array, unknown[]];
    const m = dagCbor.decode(head) as Record<string, unknown>;
    delete m.sig;
    await expectRejected(l, dagCbor.encode([dagCbor.encode(m), slots]), "UNSIGNED");
    // Mallory signs as alice (her key, alice's did).
    const impostor = { did: alice.did, sign: (d: Uint8Array) => mallory.sign(d), verify: mallory.verify.bind(mallory) };
    const forged = await signEnvelope(impostor, { author: alice.did, seq: 2, links: [A.prev!], items: [item("g", gcounter([[ra, 6]]))] });
    await expectRejected(l, forged, "BAD_SIGNATURE");
    // An honest envelope with its delta altered in flight (a relay): same
    // shape, but the delta no longer matches its digest in the signed header.
    const honest = await A.sign([item("g", gcounter([[ra, 6]]))]);
    const b = honest.bytes.slice();
    const d = honest.items[0].delta;
    const at = b.findIndex((_, i) => d.every((x, j) => b[i + j] === x));
    expect(at).toBeGreaterThan(0);
    b[at + d.length - 1] ^= 1; // the counter entry's value: 6 becomes 7, still a valid delta
    await expectRejected(l, b, "BAD_DIGEST");
    // The honest one still goes in.
    expectAdmitted(await admit(l, honest));
  });

  it("replayed envelopes change nothing; out-of-order sequence numbers are refused", async () => {
    const { l, A, ea } = await setup();
    const before = snapshot(l, [alice.did, bob.did]);
    const r = await admit(l, ea.bytes);
    expect(r.status).toBe("duplicate");
    expect(snapshot(l, [alice.did, bob.did])).toBe(before);
    // The same envelope admitted twice at once: one admission, one duplicate, no evidence.
    const ea2 = await A.sign([item("g", gcounter([[ra, 6]]))]);
    const both = await Promise.all([admit(l, ea2), admit(l, ea2.bytes)]);
    expect(both.map((x) => x.status).sort()).toEqual(["admitted", "duplicate"]);
    expect(l.evidence.length).toBe(0);
    A.seq = ea2.seq; A.prev = ea2.cid;
    // Skipping a number (seq 4 after 2), or not linking to the previous one.
    await expectRejected(l, await A.sign([item("g", gcounter([[ra, 7]]))], [], { seq: 4 }), "BAD_SEQUENCE");
    await expectRejected(l, await A.sign([item("g", gcounter([[ra, 7]]))], [], { noPrev: true }), "BAD_SEQUENCE");
    // Re-minting a dot alice already used.
    await expectRejected(l, await A.sign([item("s", awset([[ra, 2]], [], [["again", [[ra, 2]]]]))]), "DOT_REUSED");
  });

  it("equivocation: a second envelope with the same author and sequence is refused, kept as signed evidence and reported", async () => {
    const { l, M, ea } = await setup();
    const first = await M.next([item("s", awset([[rm, 1]], [], [["m", [[rm, 1]]]]))]);
    expectAdmitted(await admit(l, first));
    const fork = await M.sign([item("s", awset([[rm, 1]], [], [["other", [[rm, 1]]]]))], [ea.cid], { seq: 1, noPrev: true });
    const before = l.size;
    const r = await admit(l, fork);
    expect(r.status).toBe("rejected");
    if (r.status !== "rejected") return;
    expect(r.error.code).toBe("EQUIVOCATION");
    expect(r.evidence!.author).toBe(mallory.did);
    expect(r.evidence!.seq).toBe(1);
    expect(r.evidence!.admitted.equals(first.cid)).toBe(true);
    expect(r.evidence!.conflicting.equals(fork.cid)).toBe(true);
    expect(l.evidence.length).toBe(1);
    expect(l.size).toBe(before);
    expect(l.rejected.EQUIVOCATION).toBe(1);
    // The evidence stands alone: its bytes decode to an envelope mallory signed.
    const again = new TrustLedger();
    expect((await admit(again, r.evidence!.conflictingBytes)).status).toBe("pending"); // signed; its link is unknown there
    // Reported once: the same fork again adds no evidence.
    await admit(l, fork);
    expect(l.evidence.length).toBe(1);
  });

  it("an envelope whose links have not arrived waits, then is admitted", async () => {
    const l = new TrustLedger();
    const A = new Chain(alice), B = new Chain(bob);
    const sa = new AWSet(ra); sa.add("x");
    const e1 = await A.next([item("s", sa.takeDelta())]);
    const sb = new AWSet(rb); sb.merge(e1.items[0].delta); sb.takeDelta(); sb.remove("x");
    const e2 = await B.next([item("s", sb.takeDelta())], [e1.cid]);
    const r = await admit(l, e2);
    expect(r.status).toBe("pending");
    if (r.status === "pending") expect(r.missing.map(String)).toEqual([e1.cid.toString()]);
    expect(l.size).toBe(0);
    // A pending envelope is still checked for its signature first.
    const impostor = { did: bob.did, sign: (d: Uint8Array) => mallory.sign(d), verify: mallory.verify.bind(mallory) };
    const forged = await signEnvelope(impostor, { author: bob.did, seq: 1, links: [e1.cid], items: [item("s", sb.takeDelta())] });
    expect((await admit(l, forged)).status).toBe("rejected");
    expectAdmitted(await admit(l, e1));
    expectAdmitted(await admit(l, e2));
  });

  it("a bad delta, or one bad item in a batch, refuses the whole envelope", async () => {
    const { l, A } = await setup();
    await expectRejected(l, await A.sign([item("g", Uint8Array.of(1, 2, 3))]), "BAD_DELTA");
    await expectRejected(l, await A.sign([item("g", gcounter([[ra, 6]])), item("h", gcounter([[rb, 1]]))]), "FORGED_MINT");
    expect(l.high("g", ra, [], "increment")).toBe(5n);
  });

  it("property: forged mints naming another key's replica are always refused, whatever the counters", async () => {
    const { l, M, ea } = await setup();
    const victims = () => [ra, rb, `${alice.did}.ffff`];
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(0, 1, 2), fc.bigInt({ min: 1n, max: SAT }), fc.integer({ min: 0, max: 3 }),
      async (v, c, shape) => {
        const r = victims()[v];
        const delta = shape === 0 ? awset([[r, c]], [], [["x", [[r, c]]]])
          : shape === 1 ? gcounter([[r, c]])
          : shape === 2 ? lww(c, r, "x")
          : orset([["x", [[r, c, 0]]]]);
        const res = await admit(l, await M.sign([item("s", delta)], [ea.cid]));
        expect(res.status).toBe("rejected");
        if (res.status === "rejected") expect(res.error.code).toBe("FORGED_MINT");
      }), { numRuns: 60 });
    expect(l.size).toBe(2);
  });
});

it("the envelope's CID is its signed header's (cidOf the header, envelopeCid the bytes)", async () => {
  const e = await signEnvelope(alice, { author: alice.did, seq: 1, links: [], items: [item("s", maxint(1))] });
  expect((await cidOf(e.head)).equals(e.cid)).toBe(true);
  expect((await envelopeCid(e.bytes)).equals(e.cid)).toBe(true);
});
