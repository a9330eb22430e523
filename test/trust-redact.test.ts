// Envelope v2 (docs/security.md, "Signed envelopes", "Redaction"): the signed
// header commits to each item's digest, and the deltas travel beside it, so
// a server sends a reader the whole header and only the deltas it may read.
// A reader with read on one variable follows an author that writes two
// (before v2 its chain stalled at the first envelope it was not served); a
// carried delta that does not match its digest is refused with a typed
// error and changes nothing; a redacted item is never joined.
import { beforeAll, describe, expect, it } from "vitest";
import * as dagCbor from "@ipld/dag-cbor";
import { GCounter, Runtime, init } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import { SimNetwork } from "../dist/host/transport/sim.js";
import {
  COMMANDS, Capabilities, ReadGate, TrustError, TrustHub, TrustLedger, admit, decodeEnvelope, delegate, encodeProof, redactEnvelope, signEnvelope,
  type EnvelopeReplicator,
} from "../dist/host/trust/index.js";
import { MemoryEnvelopeStore } from "./util/trustless.js";
import { Runtime as Rt } from "../dist/host/index.node.js";

beforeAll(async () => { await init(); });

let owner: Identity, reader: Identity, ro: string;
beforeAll(async () => { [owner, reader] = await Promise.all([Identity.generate(), Identity.generate()]); ro = owner.replicaId(); });

// The owner's counter entry at `n`, on one replica id.
const inc = (_id: Identity, n: number) => { const g = new GCounter(ro); g.increment(n); const d = g.takeDelta(); g.dispose(); return d; };

describe("read gating over redacted envelopes", () => {
  it("a reader with read on a only converges on a while the author also writes b, and never holds b", async () => {
    const net = new SimNetwork({ seed: 3, loss: 0, duplicate: 0, reorder: 0, latency: [1, 2] });
    net.topology("fullMesh", ["o", "r"]);
    const didOf = (p: string) => (p === "o" ? owner.did : reader.did);
    const caps = new Capabilities({ owners: { "*": owner.did } });
    let proof = encodeProof([await delegate(owner, { aud: reader.did, cmd: COMMANDS.READ, pol: ["a"], exp: null })]);
    const stores: MemoryEnvelopeStore[] = [];
    const make = async (id: Identity, name: string, o: { gate?: boolean; proof?: () => Uint8Array }) => {
      const rt = new Runtime({ replica: id.replicaId() });
      const store = new MemoryEnvelopeStore();
      stores.push(store);
      const hub = await TrustHub.open(rt, {
        identity: id, store, authorize: caps.authorize, proof: o.proof,
        ...(o.gate ? { readGate: new ReadGate(caps) } : {}),
      });
      const tr = net.transport(name);
      const rep: EnvelopeReplicator = hub.attach(tr, { interval: 50, clock: tr.clock, didOf }).start();
      return { rt, hub, rep };
    };
    const O = await make(owner, "o", { gate: true });
    const R = await make(reader, "r", { proof: () => proof });
    const settle = async (ms: number) => {
      const end = net.now + ms;
      while (net.now < end) { net.run({ until: net.now + 5 }); await O.hub.flushed(); await R.hub.flushed(); }
    };
    O.rt.declare("a", GCounter); O.rt.declare("b", GCounter);
    await settle(200);
    // Interleaved: b's envelopes sit between a's in the owner's one chain,
    // and some envelopes carry both (one signature, two items).
    for (let i = 0; i < 6; i++) {
      O.rt.update("b", { increment: 10 }); await settle(20);
      O.rt.update("a", { increment: 1 }); await settle(20);
      if (i % 2 === 0) { O.rt.update("a", { increment: 1 }); O.rt.update("b", { increment: 10 }); await settle(20); }
    }
    await settle(500);
    expect(O.rt.query("a")).toBe(9);
    expect(O.rt.query("b")).toBe(90);
    // The reader followed the whole chain (every header admitted), joined a, and holds nothing of b.
    expect(R.hub.stats().pending).toBe(0);
    expect(R.hub.ledger.lastSeq(owner.did)).toBe(O.hub.ledger.lastSeq(owner.did));
    expect(R.rt.query("a")).toBe(9);
    expect(R.rt.has("b") ? R.rt.query("b") : 0).toBe(0);
    expect(R.hub.stats().rejected).toBe(0);

    // Granted read on b later: the owner sends again what carries b, and the
    // reader fills its redacted copies in (replaced in its store, not added).
    const stored = stores[1].log.length;
    proof = encodeProof([await delegate(owner, { aud: reader.did, cmd: COMMANDS.READ, pol: ["a", "b"], exp: null })]);
    await settle(500);
    expect(R.rt.query("b")).toBe(90);
    expect(R.hub.stats().filled).toBeGreaterThanOrEqual(6);
    expect(stores[1].log.length).toBe(stored);
    expect(R.hub.stats().rejected).toBe(0);
  });
});

describe("redacted items", () => {
  it("a redacted copy keeps the CID and signature, carries only the kept deltas, and is admitted without joining the rest", async () => {
    const e = await signEnvelope(owner, { author: owner.did, seq: 1, links: [], items: [{ variable: "a", delta: inc(owner, 1) }, { variable: "b", delta: inc(owner, 5) }] });
    const r = redactEnvelope(e, (v) => v === "a");
    expect(r.cid.equals(e.cid)).toBe(true);
    expect(r.bytes.length).toBeLessThan(e.bytes.length);
    const d = await decodeEnvelope(r.bytes);
    expect(d.cid.equals(e.cid)).toBe(true);
    expect(d.items.map((it) => it.variable)).toEqual(["a"]);
    expect(d.redacted).toEqual(["b"]);
    expect(d.header.map((h) => h.variable)).toEqual(["a", "b"]);
    const ledger = new TrustLedger();
    const res = await admit(ledger, r.bytes);
    expect(res.status).toBe("admitted");
    expect(ledger.high("a", ro, [], "increment")).toBe(1n);
    expect(ledger.high("b", ro, [], "increment")).toBe(0n);
    // The full copy is the same envelope (same CID): it fills b in, once.
    const f = await admit(ledger, e.bytes);
    expect(f.status).toBe("filled");
    expect((f as { filled: string[] }).filled).toEqual(["b"]);
    expect(ledger.high("b", ro, [], "increment")).toBe(5n);
    expect(ledger.size).toBe(1);
    expect((await admit(ledger, e.bytes)).status).toBe("duplicate");
    expect((await admit(ledger, r.bytes)).status).toBe("duplicate");
  });

  it("a delta that does not match its signed digest is refused (BAD_DIGEST), and nothing changes", async () => {
    const e = await signEnvelope(owner, { author: owner.did, seq: 1, links: [], items: [{ variable: "a", delta: inc(owner, 1) }] });
    const [head, slots] = dagCbor.decode(e.bytes) as [Uint8Array, [Uint8Array, Uint8Array][]];
    const forgeries = [
      dagCbor.encode([head, [[slots[0][0], inc(owner, 1000)]]]),                         // another delta
      dagCbor.encode([head, [[new Uint8Array(16), slots[0][1]]]]),                        // another salt
      dagCbor.encode([head, [[slots[0][0], slots[0][1].subarray(0, slots[0][1].length - 1)]]]), // truncated
    ];
    const ledger = new TrustLedger();
    for (const f of forgeries) {
      await expect(decodeEnvelope(f)).rejects.toMatchObject({ code: "BAD_DIGEST" });
      const res = await admit(ledger, f);
      expect(res.status).toBe("rejected");
      expect((res as { error: TrustError }).error.code).toBe("BAD_DIGEST");
    }
    expect(ledger.size).toBe(0);
    expect(ledger.rejected.BAD_DIGEST).toBe(3);
    // The honest copy is still admitted afterwards (the forgeries settled nothing).
    expect((await admit(ledger, e.bytes)).status).toBe("admitted");
  });

  it("a slot list of the wrong shape is MALFORMED, and a version 1 envelope is BAD_VERSION", async () => {
    const e = await signEnvelope(owner, { author: owner.did, seq: 1, links: [], items: [{ variable: "a", delta: inc(owner, 1) }] });
    const [head] = dagCbor.decode(e.bytes) as [Uint8Array, unknown[]];
    for (const b of [dagCbor.encode([head, []]), dagCbor.encode([head, [null, null]]), dagCbor.encode([head, [[1, 2]]]), dagCbor.encode([head]), dagCbor.encode(head)]) {
      await expect(decodeEnvelope(b)).rejects.toMatchObject({ code: "MALFORMED" });
    }
    const v1 = dagCbor.encode({ v: 1, author: owner.did, seq: 1, links: [], items: [["a", inc(owner, 1)]], cap: new Uint8Array(0), sig: new Uint8Array(64) });
    await expect(decodeEnvelope(v1)).rejects.toMatchObject({ code: "BAD_VERSION" });
  });

  it("redaction widens a later item's bounds only by what the redacted envelopes could mint", async () => {
    // Envelopes 1..3 of b are redacted at this receiver; envelope 4 carries b
    // again: its counter may be up to 4 envelopes' worth above what was seen.
    const ledger = new TrustLedger();
    let prev: Awaited<ReturnType<typeof signEnvelope>> | undefined;
    for (let s = 1; s <= 3; s++) {
      prev = await signEnvelope(owner, { author: owner.did, seq: s, links: prev ? [prev.cid] : [], items: [{ variable: "b", delta: inc(owner, s * 1_000_000) }] });
      expect((await admit(ledger, redactEnvelope(prev, () => false).bytes)).status).toBe("admitted");
    }
    const over = await signEnvelope(owner, { author: owner.did, seq: 4, links: [prev!.cid], items: [{ variable: "b", delta: inc(owner, 4_000_001) }] });
    expect((await admit(ledger, over.bytes)).status).toBe("rejected");
    const ok = await signEnvelope(owner, { author: owner.did, seq: 4, links: [prev!.cid], items: [{ variable: "b", delta: inc(owner, 4_000_000) }] });
    expect((await admit(ledger, ok.bytes)).status).toBe("admitted");
  });
});

describe("the envelope log across the version change", () => {
  it("a stored version 1 envelope is skipped and counted at start, never fatal; the rest is read back", async () => {
    const v1 = dagCbor.encode({ v: 1, author: owner.did, seq: 1, links: [], items: [["a", inc(owner, 1)]], cap: new Uint8Array(0), sig: new Uint8Array(64).fill(1) });
    const ok = await signEnvelope(owner, { author: owner.did, seq: 1, links: [], items: [{ variable: "a", delta: inc(owner, 2) }] });
    const store = new MemoryEnvelopeStore();
    store.log.push(v1, ok.bytes);
    const errors: Error[] = [];
    const rt = new Rt({ replica: reader.replicaId() });
    const hub = await TrustHub.open(rt, { identity: reader, store, onError: (e) => errors.push(e) });
    expect(hub.stats().restoreSkipped).toBe(1);
    expect(hub.stats().restored).toBe(1);
    expect(errors.some((e) => /BAD_VERSION/.test(e.message))).toBe(true);
    expect(rt.query("a")).toBe(2);
    hub.close();
  });
});
