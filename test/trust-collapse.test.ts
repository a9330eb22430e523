// A squashed run collapsed in the trust ledger (docs/security.md, "The
// ledger's bound"): once a node holds a squash in place of its run, the
// run's CIDs resolve to the squash and its per-envelope entries go. What
// must still hold: a replayed run envelope is a duplicate, another envelope
// with one of the run's sequences is equivocation, a link into the run's
// middle grants what the squash saw (as at a node that only ever saw the
// squash), and a context beyond that is refused. A hub collapses the run
// when it replaces it, and again when it reads its log back at restart.
import { beforeAll, describe, expect, it } from "vitest";
import { Runtime, init } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import {
  TrustHub, TrustLedger, admit, encodeTrustMessage, signEnvelope, sortLinks, type AdmitResult, type CID, type Envelope, type EnvelopeItem,
} from "../dist/host/trust/index.js";
import { MemoryEnvelopeStore } from "./util/trustless.js";
import { awset } from "./util/forge.js";

beforeAll(async () => { await init(); });

// A: the run's author; B and D link into it; C: an envelope A's run links to.
let A: Identity, B: Identity, C: Identity, D: Identity;
let ra: string, rb: string, rc: string, rd: string;
beforeAll(async () => {
  [A, B, C, D] = await Promise.all(Array.from({ length: 4 }, () => Identity.generate()));
  [ra, rb, rc, rd] = [A, B, C, D].map((k) => k.replicaId());
});

const sign = (k: Identity, seq: number, links: CID[], items: EnvelopeItem[]) => signEnvelope(k, { author: k.did, seq, links: sortLinks(links), items });
// An add of element `x` with the author's dot n (its context: that dot only).
const add = (r: string, n: number, x = `${r}:${n}`): EnvelopeItem => ({ variable: "s", delta: n === 1 ? awset([[r, 1]], [], [[x, [[r, 1]]]]) : awset([], [[r, n]], [[x, [[r, n]]]]) });
// A removal covering r's dots up to n.
const covering = (r: string, n: number): EnvelopeItem => ({ variable: "s", delta: awset([[r, n]], [], []) });
const status = (r: AdmitResult) => (r.status === "rejected" ? r.error.code : r.status);

// C's envelope c1; A's run a1..a5 (a4 also links c1) and its squash; B's b1, linking a2.
async function fixture() {
  const c1 = await sign(C, 1, [], [add(rc, 1)]);
  const run: Envelope[] = [];
  for (let s = 1; s <= 5; s++) run.push(await sign(A, s, [...(s > 1 ? [run[s - 2].cid] : []), ...(s === 4 ? [c1.cid] : [])], [add(ra, s)]));
  const squash = await signEnvelope(A, {
    author: A.did, seq: 5, from: 1, covers: run.map((e) => e.cid), links: [c1.cid],
    items: [{ variable: "s", delta: awset([[ra, 5]], [], run.map((_, i) => [`${ra}:${i + 1}`, [[ra, i + 1]]])) }],
  });
  const b1 = await sign(B, 1, [run[1].cid], [add(rb, 1)]);
  return { c1, run, squash, b1 };
}

describe("a collapsed run in the ledger", () => {
  it("keeps duplicates, equivocation and the chain; links into it grant what the squash saw, exactly as at a late joiner", async () => {
    const { c1, run, squash, b1 } = await fixture();
    // held: the run, then the squash, not collapsed; collapsed: the same, collapsed; late: only ever saw the squash.
    const held = new TrustLedger(), collapsed = new TrustLedger(), late = new TrustLedger();
    for (const l of [held, collapsed]) for (const e of [c1, ...run, squash, b1]) expect(status(await admit(l, e))).toBe("admitted");
    for (const e of [c1, squash, b1]) expect(status(await admit(late, e))).toBe("admitted");
    const size = collapsed.size;
    expect(collapsed.collapse(squash)).toBe(true);
    expect(collapsed.size).toBe(size);
    expect(collapsed.collapse(squash)).toBe(false); // once
    // The chain reads back the run's own CIDs, not the squash's.
    for (const e of run) expect(collapsed.cidAt(A.did, e.seq)!.equals(e.cid)).toBe(true);
    expect(collapsed.lastSeq(A.did)).toBe(5);

    // A replayed run envelope is a duplicate, not admitted again.
    for (const e of run) expect(status(await admit(collapsed, e.bytes))).toBe("duplicate");
    expect(collapsed.size).toBe(size);
    // Another envelope with one of the run's sequences is equivocation, with the run's CID as evidence.
    const fork = await sign(A, 3, [run[1].cid], [add(ra, 3, "other")]);
    const r = await admit(collapsed, fork);
    expect(status(r)).toBe("EQUIVOCATION");
    expect(r.status === "rejected" && r.evidence!.admitted.equals(run[2].cid)).toBe(true);
    expect(collapsed.evidence.map((e) => [e.seq, e.conflicting.toString()])).toEqual([[3, fork.cid.toString()]]);

    // Probes (checked, not committed) at the three ledgers.
    const probes: [string, Envelope, string, string][] = [
      // [what, envelope, held (not collapsed), collapsed = late joiner]
      ["B links a2 and covers A's dot 5 (minted later in the run)", await sign(B, 2, [b1.cid, run[1].cid], [covering(ra, 5)]), "UNSEEN_CONTEXT", "admitted"],
      ["B links a2 and covers C's dot 1 (a4 linked c1)", await sign(B, 2, [b1.cid, run[1].cid], [covering(rc, 1)]), "UNSEEN_CONTEXT", "admitted"],
      ["B links a2 and covers A's dot 6 (beyond the squash)", await sign(B, 2, [b1.cid, run[1].cid], [covering(ra, 6)]), "UNSEEN_CONTEXT", "UNSEEN_CONTEXT"],
      ["D links a2 and covers C's dot 2 (nobody minted it)", await sign(D, 1, [run[1].cid], [covering(rc, 2)]), "UNSEEN_CONTEXT", "UNSEEN_CONTEXT"],
      ["D links b1 (which linked a2 before the collapse) and covers A's dot 5", await sign(D, 1, [b1.cid], [covering(ra, 5)]), "UNSEEN_CONTEXT", "admitted"],
      ["D links b1 and covers C's dot 1 (the squash saw it)", await sign(D, 1, [b1.cid], [covering(rc, 1)]), "UNSEEN_CONTEXT", "admitted"],
      ["D links b1 and covers A's dot 6", await sign(D, 1, [b1.cid], [covering(ra, 6)]), "UNSEEN_CONTEXT", "UNSEEN_CONTEXT"],
      ["D links b1 and covers A's dot 2 (b1 saw it)", await sign(D, 1, [b1.cid], [covering(ra, 2)]), "admitted", "admitted"],
      ["A's next envelope reuses its dot 5", await sign(A, 6, [run[4].cid], [add(ra, 5, "again")]), "DOT_REUSED", "DOT_REUSED"],
      ["A's next envelope, dot 6", await sign(A, 6, [run[4].cid], [add(ra, 6)]), "admitted", "admitted"],
      ["A's next envelope not linked to a5", await sign(A, 6, [run[3].cid], [add(ra, 6)]), "BAD_SEQUENCE", "BAD_SEQUENCE"],
    ];
    for (const [what, e, before, after] of probes) {
      expect(status(await admit(held, e, { dryRun: true })), what).toBe(before);
      expect(status(await admit(collapsed, e, { dryRun: true })), what).toBe(after);
      expect(status(await admit(late, e, { dryRun: true })), what).toBe(after);
    }
    // Committed: the chain goes on from the collapsed run.
    expect(status(await admit(collapsed, probes[9][1]))).toBe("admitted");
    expect(collapsed.high("s", ra)).toBe(6n);
  });

  it("a later squash over a collapsed run takes it in; one overlapping it without containing it is not collapsed", async () => {
    const { c1, run } = await fixture();
    const l = new TrustLedger();
    for (const e of [c1, ...run]) await admit(l, e);
    const squashOf = (from: number, to: number, links: CID[]) => signEnvelope(A, {
      author: A.did, seq: to, from, covers: run.slice(from - 1, to).map((e) => e.cid), links: sortLinks(links),
      items: [{ variable: "s", delta: awset([[ra, to]], [], run.slice(from - 1, to).map((e) => [`${ra}:${e.seq}`, [[ra, e.seq]]])) }],
    });
    const s1 = await squashOf(1, 3, []), s2 = await squashOf(1, 5, [c1.cid]), s3 = await squashOf(2, 4, [run[0].cid, c1.cid]);
    expect(status(await admit(l, s1))).toBe("admitted");
    expect(l.collapse(s1)).toBe(true);
    expect(status(await admit(l, s3))).toBe("admitted"); // its covers agree with what is held
    expect(l.collapse(s3)).toBe(false);
    expect(status(await admit(l, s2))).toBe("admitted");
    expect(l.collapse(s2)).toBe(true);
    for (const e of [...run, s1]) expect(l._envelope(e.cid)).toBe(l._envelope(s2.cid));
    for (const e of [...run, s1, s2]) expect(status(await admit(l, e))).toBe("duplicate");
    for (const e of run) expect(l.cidAt(A.did, e.seq)!.equals(e.cid)).toBe(true);
    // A link to a1 grants what s2 saw: C's dot 1.
    expect(status(await admit(l, await sign(B, 1, [run[0].cid], [covering(rc, 1)]), { dryRun: true }))).toBe("admitted");
    // Not an admitted squash: nothing to collapse.
    expect(l.collapse(run[0])).toBe(false);
    expect(new TrustLedger().collapse(s1)).toBe(false);
  });

  it("a squash naming a CID twice, or another admitted envelope as one of its own, is refused (BAD_SQUASH)", async () => {
    const { c1, run } = await fixture();
    const items = [{ variable: "s", delta: awset([[ra, 5]], [], []) }];
    const twice = await signEnvelope(A, { author: A.did, seq: 5, from: 1, covers: [run[0].cid, run[0].cid, run[2].cid, run[3].cid, run[4].cid], links: [c1.cid], items });
    const theirs = await signEnvelope(A, { author: A.did, seq: 5, from: 1, covers: [c1.cid, ...run.slice(1).map((e) => e.cid)], links: [c1.cid], items });
    for (const e of [twice, theirs]) {
      const l = new TrustLedger();
      expect(status(await admit(l, c1))).toBe("admitted");
      expect(status(await admit(l, e)), e === twice ? "twice" : "theirs").toBe("BAD_SQUASH");
      expect(l.size).toBe(1);
      expect(l.lastSeq(A.did)).toBe(0);
    }
  });
});

describe("a hub collapses the runs it replaces", () => {
  async function lone(store = new MemoryEnvelopeStore()) {
    const rt = new Runtime({ replica: D.replicaId() });
    const hub = await TrustHub.open(rt, { identity: D, store });
    let h: (from: string, m: Uint8Array) => void = () => {};
    hub.attach({ self: "x", neighbours: () => [], send: () => {}, onMessage: (f: typeof h) => { h = f; return () => {}; }, onNeighbour: () => () => {} });
    const send = async (envs: Envelope[]) => { h("p", encodeTrustMessage({ kind: "envelopes", envelopes: envs.map((e) => e.bytes) })); await hub.flushed(); };
    return { rt, hub, store, send };
  }

  it("at run time and when it reads its log back; replays stay duplicates and links into the run stay admitted", async () => {
    const { c1, run, squash } = await fixture();
    const n = await lone();
    await n.send([c1, ...run]);
    expect(n.hub.ledger._envelope(run[2].cid)).not.toBe(n.hub.ledger._envelope(squash.cid));
    await n.send([squash]);
    expect(n.hub.stats().rejectedBy).toEqual({});
    expect(n.store.log).toHaveLength(2);
    for (const e of run) expect(n.hub.ledger._envelope(e.cid)).toBe(n.hub.ledger._envelope(squash.cid));
    n.hub.close();

    const m = await lone(n.store);
    expect(m.hub.stats().restoreSkipped).toBe(0);
    expect(m.hub.stats().restored).toBe(2);
    for (const e of run) expect(m.hub.ledger._envelope(e.cid)).toBe(m.hub.ledger._envelope(squash.cid));
    await m.send(run);
    expect(m.hub.stats().duplicates).toBe(5);
    // B's envelope linking a2 and removing A's element 5 (minted later in the run): admitted, joined.
    expect(m.rt.query("s")).toContain(`${ra}:5`);
    await m.send([await sign(B, 1, [run[1].cid], [covering(ra, 5)])]);
    expect(m.hub.stats().rejected).toBe(0);
    expect(m.hub.stats().admitted).toBe(1);
    expect(m.rt.query("s")).toEqual([`${rc}:1`]);
    expect(m.store.log).toHaveLength(3);
    m.hub.close();
  });
});
