// The envelope fast path (host/trust/codec.ts): a one-pass reader of the
// exact canonical bytes, and the signed bytes cut from the header instead of
// re-encoded. dag-cbor is the oracle: what the fast reader takes must be what
// dag-cbor writes, field for field; anything else must fall to the reference
// path and get the same typed error as before. Also: a relayed envelope is
// the author's bytes, unchanged (same CID).
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as dagCbor from "@ipld/dag-cbor";
import { GCounter, Runtime, init } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import { SimNetwork } from "../dist/host/transport/sim.js";
import {
  CID, SIGNING_PREFIX, TrustError, TrustHub, TrustLedger, admit, cidOf, decodeEnvelope, decodeTrustMessage, envelopeCid, signEnvelope, sortLinks, verifyEnvelope,
} from "../dist/host/trust/index.js";
import { parseCarrier, parseHeader, unsignedOf, withSig } from "../dist/host/trust/codec.js";
import { _decodeUnlessHeld } from "../dist/host/trust/envelope.js";

let alice: Identity;
let links: CID[];
beforeAll(async () => {
  await init();
  alice = await Identity.generate();
  links = await Promise.all(Array.from({ length: 8 }, (_, i) => cidOf(Uint8Array.of(i, 7))));
});

// Byte arrays compared as hex (dag-cbor gives Buffers on Node, the codec Uint8Arrays).
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex");

async function code(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { expect(e).toBeInstanceOf(TrustError); return (e as TrustError).code; }
  return "accepted";
}

// What dag-cbor reads from a header, as the fast reader reports it.
function reference(head: Uint8Array) {
  const m = dagCbor.decode(head) as Record<string, unknown>;
  return {
    author: m.author, seq: m.seq, from: m.from, covers: (m.covers as CID[] | undefined)?.map(String), links: (m.links as CID[]).map(String),
    items: (m.items as [string, Uint8Array, number][]).map(([variable, digest, length]) => ({ variable, digest: [...digest], length })),
    cap: [...(m.cap as Uint8Array)], sig: [...(m.sig as Uint8Array)],
  };
}
function fast(head: Uint8Array) {
  const p = parseHeader(head);
  if (!p) return null;
  return {
    author: p.author, seq: p.seq, from: p.from, covers: p.covers?.map(String), links: p.links.map(String),
    items: p.items.map((it) => ({ variable: it.variable, digest: [...it.digest], length: it.length })), cap: [...p.cap], sig: [...p.sig],
  };
}
// The fast reader must be sound: whatever it takes, dag-cbor reads the same
// fields from, and writes back byte for byte.
function soundHeader(head: Uint8Array): boolean {
  const f = fast(head);
  if (!f) return false;
  expect(hex(dagCbor.encode(dagCbor.decode(head)))).toBe(hex(head));
  expect(f).toEqual(reference(head));
  return true;
}
function soundCarrier(bytes: Uint8Array): boolean {
  const p = parseCarrier(bytes);
  if (!p) return false;
  const [head, slots] = dagCbor.decode(bytes) as [Uint8Array, ([Uint8Array, Uint8Array] | null)[]];
  expect(hex(dagCbor.encode([head, slots]))).toBe(hex(bytes));
  expect(hex(p.head)).toBe(hex(head));
  expect(p.slots.map((s) => (s ? [hex(s.salt), hex(s.delta)] : null))).toEqual(slots.map((s) => (s ? [hex(s[0]), hex(s[1])] : null)));
  return true;
}

// Not starting with U+FEFF: dag-cbor's decoder drops a leading byte-order
// mark, so such a variable never decodes (the reference path refuses it as
// NON_CANONICAL, and so does the fast path, which leaves it to that path).
const variable = fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }).filter((v) => !v.startsWith("\uFEFF"));

describe("the fast reader takes exactly what dag-cbor writes", () => {
  it("property: signed envelopes of any shape read back field for field, with the bytes dag-cbor would write", async () => {
    await fc.assert(fc.asyncProperty(
      fc.uniqueArray(variable, { minLength: 1, maxLength: 5 }),
      fc.oneof(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })),
      fc.uint8Array({ maxLength: 300 }),
      fc.integer({ min: 0, max: 8 }),
      fc.uint8Array({ maxLength: 70_000 }),
      fc.boolean(),
      async (vars, seq, cap, nLinks, delta, squash) => {
        const sorted = [...vars].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        const items = sorted.map((v, i) => ({ variable: v, delta: i === 0 ? delta : Uint8Array.of(i) }));
        const isSquash = squash && seq >= 2 && seq <= 30;
        const u = {
          author: alice.did, seq, links: sortLinks(links.slice(0, nLinks)), items, cap,
          ...(isSquash ? { from: seq - 1, covers: links.slice(0, 2) } : {}),
        };
        const e = await signEnvelope(alice, u);
        // The spliced header and the hand-written carrier are dag-cbor's bytes.
        expect(hex(e.head)).toBe(hex(dagCbor.encode(dagCbor.decode(e.head))));
        const m = dagCbor.decode(e.head) as Record<string, unknown>;
        expect(hex(e.bytes)).toBe(hex(dagCbor.encode([e.head, e.items.map((it) => [it.salt, it.delta])])));
        expect(soundHeader(e.head)).toBe(true);
        expect(soundCarrier(e.bytes)).toBe(true);
        // The signed bytes cut from the header are the prefix and dag-cbor's header without sig.
        const { sig: _sig, ...unsigned } = m;
        const want = new Uint8Array([...SIGNING_PREFIX, ...dagCbor.encode(unsigned)]);
        expect(hex(e.signed)).toBe(hex(want));
        expect(hex(unsignedOf(e.head, parseHeader(e.head)!, SIGNING_PREFIX))).toBe(hex(want));
        expect(hex(withSig(dagCbor.encode(unsigned), e.sig))).toBe(hex(e.head));
        const d = await decodeEnvelope(e.bytes);
        expect(hex(d.signed)).toBe(hex(want));
        expect(d.cid.equals(e.cid)).toBe(true);
        expect(d.cid.equals(await cidOf(e.head))).toBe(true);
        expect(d.header.map((h) => h.variable)).toEqual(sorted);
        expect(d.items.map((it) => hex(it.delta))).toEqual(items.map((it) => hex(it.delta)));
        expect(d.from).toBe(isSquash ? seq - 1 : seq);
        // Links built from their parts are the CIDs CID.decode makes of their bytes.
        for (const l of [...d.links, ...d.covers]) {
          const r = CID.decode(l.bytes);
          expect(l.equals(r) && r.equals(l)).toBe(true);
          expect([l.version, l.code, l.multihash.code, l.multihash.size, hex(l.multihash.digest), hex(l.multihash.bytes), l.toString()])
            .toEqual([r.version, r.code, r.multihash.code, r.multihash.size, hex(r.multihash.digest), hex(r.multihash.bytes), r.toString()]);
        }
        expect(await verifyEnvelope(d)).toBe(true);
      }), { numRuns: 60 });
  });

  it("property: a mutated header or carrier the fast reader takes is one dag-cbor reads the same and writes back unchanged", async () => {
    const e = await signEnvelope(alice, { author: alice.did, seq: 300, links: sortLinks(links.slice(0, 2)), items: [{ variable: "a", delta: Uint8Array.of(1, 2, 3) }, { variable: "é", delta: new Uint8Array(30) }], cap: Uint8Array.of(5) });
    const edit = (b: Uint8Array, edits: [number, number, number][]) => {
      let out = [...b];
      for (const [op, i, v] of edits) {
        const at = i % (out.length + 1);
        if (op === 0) out[Math.min(at, out.length - 1)] = v;
        else if (op === 1) out.splice(at, 0, v);
        else out.splice(at, 1);
      }
      return Uint8Array.from(out);
    };
    const edits = fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 });
    let taken = 0;
    fc.assert(fc.property(edits, (ed) => {
      const h = edit(e.head, ed);
      let ok = false;
      try { ok = soundHeader(h); } catch (err) { throw new Error(`fast reader took ${Buffer.from(h).toString("hex")}: ${(err as Error).message}`); }
      if (ok) taken++;
    }), { numRuns: 3000 });
    fc.assert(fc.property(edits, (ed) => { soundCarrier(edit(e.bytes, ed)); }), { numRuns: 3000 });
    // Some edits keep a canonical header (a byte of the signature or a digest): the test does reach the accepting side.
    expect(taken).toBeGreaterThan(0);
  });

  it("non-canonical forms fall to the reference path and are refused as before", async () => {
    const e = await signEnvelope(alice, { author: alice.did, seq: 1, links: [links[0]], items: [{ variable: "s", delta: Uint8Array.of(1) }] });
    const slots = e.items.map((it) => [it.salt, it.delta]);
    const wrap = (h: Uint8Array) => dagCbor.encode([h, slots]);
    const h = e.head;
    const at = (key: string) => { const k = Buffer.from(dagCbor.encode(key)); return Buffer.from(h).indexOf(k) + k.length; };
    // seq = 1 written with a two-byte head: dag-cbor's strict decoder refuses it.
    const seqAt = at("seq");
    const longSeq = Uint8Array.from([...h.subarray(0, seqAt), 0x18, 0x01, ...h.subarray(seqAt + 1)]);
    // The keys in another order: valid CBOR, not canonical.
    const m = dagCbor.decode(h) as Record<string, unknown>;
    const w: number[] = [0xa0 + Object.keys(m).length];
    for (const k of Object.keys(m).sort().reverse()) w.push(...dagCbor.encode(k), ...dagCbor.encode(m[k]));
    const reordered = Uint8Array.from(w);
    // A variable with a byte-order mark or bytes that are not UTF-8.
    const withVar = (v: Uint8Array) => {
      const i = Buffer.from(h).indexOf(Buffer.from([0x61, 0x73])); // "s": text(1)
      return Uint8Array.from([...h.subarray(0, i), 0x60 + v.length, ...v, ...h.subarray(i + 2)]);
    };
    const bom = withVar(Uint8Array.of(0xef, 0xbb, 0xbf, 0x73));
    const notUtf8 = withVar(Uint8Array.of(0xc3, 0x28));
    for (const [bad, want] of [[longSeq, null], [reordered, "NON_CANONICAL"], [bom, null], [notUtf8, null]] as const) {
      expect(parseHeader(bad)).toBeNull();
      const c = await code(decodeEnvelope(wrap(bad)));
      if (want) expect(c).toBe(want); else expect(c).not.toBe("accepted");
    }
    // The carrier: a trailing byte, an indefinite-length slot list, a non-minimal length.
    const trailing = Uint8Array.from([...e.bytes, 0]);
    const hl = e.head.length;
    const indefinite = Uint8Array.from([0x82, ...e.bytes.subarray(1, 3 + hl), 0x9f, ...e.bytes.subarray(4 + hl), 0xff]);
    expect(parseCarrier(indefinite)).toBeNull();
    expect(parseCarrier(trailing)).toBeNull();
    expect(await code(decodeEnvelope(trailing))).toBe("MALFORMED");
    // The reference decoder may read an indefinite list (then the envelope
    // decodes, as before) or refuse it: either way, not through the fast path.
    const c = await code(decodeEnvelope(indefinite));
    expect(["accepted", "MALFORMED"]).toContain(c);
    // A slot given as a map {salt, delta} instead of [salt, delta] is refused (not taken for the fast reader's pair).
    const asMap = dagCbor.encode([e.head, e.items.map((it) => ({ salt: it.salt, delta: it.delta }))]);
    expect(await code(decodeEnvelope(asMap))).toBe("MALFORMED");
  });

  it("a received envelope is split and hashed once: its CID if held, else decoded in full with that CID", async () => {
    const e = await signEnvelope(alice, { author: alice.did, seq: 2, links: [links[1]], items: [{ variable: "s", delta: Uint8Array.of(9) }] });
    expect((await envelopeCid(e.bytes)).equals(e.cid)).toBe(true);
    const asked: string[] = [];
    const got = await _decodeUnlessHeld(e.bytes.slice(), (c) => { asked.push(c.toString()); return false; });
    expect(asked).toEqual([e.cid.toString()]);
    expect(got instanceof CID).toBe(false);
    expect((got as { cid: CID }).cid.equals(e.cid)).toBe(true);
    const held = await _decodeUnlessHeld(e.bytes, (c) => c.equals(e.cid));
    expect(held instanceof CID && held.equals(e.cid)).toBe(true);
    // A tampered copy not held is checked in full, with decodeEnvelope's error.
    const t = e.bytes.slice();
    t[t.length - 1] ^= 1; // the last delta byte: the digest no longer matches
    expect(await code(_decodeUnlessHeld(t, () => false))).toBe("BAD_DIGEST");
    expect(await code(decodeEnvelope(t))).toBe("BAD_DIGEST");
  });
});

describe("the ledger keyed by CID bytes", () => {
  it("has, settled, cidAt and heads answer for CIDs and for their strings alike", async () => {
    const l = new TrustLedger();
    const g = new GCounter(alice.replicaId());
    const next = () => { g.increment(1); return g.takeDelta(); };
    const e1 = await signEnvelope(alice, { author: alice.did, seq: 1, links: [], items: [{ variable: "s", delta: next() }] });
    expect((await admit(l, e1.bytes, { verify: async () => true })).status).toBe("admitted");
    const e2 = await signEnvelope(alice, { author: alice.did, seq: 2, links: [e1.cid], items: [{ variable: "s", delta: next() }] });
    expect((await admit(l, e2.bytes, { verify: async () => true })).status).toBe("admitted");
    for (const c of [e1.cid, e1.cid.toString(), CID.parse(e1.cid.toString())]) { expect(l.has(c)).toBe(true); expect(l.settled(c)).toBe(true); }
    expect(l.has("not a cid")).toBe(false);
    expect(l.has(links[0])).toBe(false);
    expect(l.cidAt(alice.did, 2)!.equals(e2.cid)).toBe(true);
    expect(l.heads().map(String)).toEqual([e2.cid.toString()]);
    // A second envelope with sequence 2 is equivocation, naming the admitted one.
    const fork = await signEnvelope(alice, { author: alice.did, seq: 2, links: [e1.cid], items: [{ variable: "s", delta: next() }] });
    const r = await admit(l, fork.bytes, { verify: async () => true });
    expect(r.status === "rejected" && r.error.code).toBe("EQUIVOCATION");
    expect(r.status === "rejected" && r.evidence!.admitted.equals(e2.cid)).toBe(true);
    expect(l.refused(fork.cid)).toBe(true);
    expect(l.refused(fork.cid.toString())).toBe(true);
    g.dispose();
  });
});

describe("relaying", () => {
  it("a node relays an envelope exactly as its author signed it (bytes and CID unchanged)", async () => {
    const keys = await Promise.all([0, 1, 2].map(() => Identity.generate()));
    const net = new SimNetwork({ seed: 3, loss: 0, duplicate: 0, reorder: 0, latency: [1, 2] });
    const ids = ["a", "b", "c"];
    for (const id of ids) net.add(id);
    net.link("a", "b"); net.link("b", "c"); // c hears a only through b
    const seen: Uint8Array[] = [];
    const hubs: TrustHub[] = [], rts: Runtime[] = [];
    for (let i = 0; i < 3; i++) {
      const rt = new Runtime({ replica: keys[i].replicaId() });
      const tr = net.transport(ids[i]);
      if (i === 2) tr.onMessage((from, m) => {
        const x = decodeTrustMessage(m);
        if (from === "b" && x.kind === "envelopes") seen.push(...x.envelopes);
      });
      const hub = await TrustHub.open(rt, { identity: keys[i] });
      hub.attach(tr, { interval: 50, clock: tr.clock }).start();
      hubs.push(hub); rts.push(rt);
    }
    rts[0].declare("g", GCounter);
    const settle = async (ms: number) => { const end = net.now + ms; while (net.now < end) { net.run({ until: net.now + 5 }); for (const h of hubs) await h.flushed(); } };
    for (let i = 0; i < 5; i++) { rts[0].update("g", { increment: 1 }); await settle(20); }
    await settle(300);
    expect(rts[2].query("g")).toBe(5);
    const signed = hubs[0].envelopesFor(hubs[0].ids()).map((b) => Buffer.from(b).toString("hex"));
    const fromA = [];
    for (const b of seen) if ((await decodeEnvelope(b)).author === keys[0].did) fromA.push(b);
    expect(fromA.length).toBeGreaterThan(0);
    for (const b of fromA) expect(signed).toContain(Buffer.from(b).toString("hex"));
    for (const h of hubs) h.close();
  });
});
