// Signed envelopes (host/trust/envelope.ts, docs/security.md "Signed
// envelopes"): round trips, canonical headers and CIDs, signatures, and hostile
// bytes (truncated, oversize, wrong types, non-canonical) refused with codes.
// An envelope's bytes are dag-cbor [header, slots]: the CID is the header's.
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as dagCbor from "@ipld/dag-cbor";
import { AWSet, GCounter, init } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import {
  CID, DEFAULT_LIMITS, SIGNING_PREFIX, TrustError, cidOf, decodeEnvelope, envelopeCid, signEnvelope, sortLinks, verifyEnvelope,
} from "../dist/host/trust/index.js";

let alice: Identity, bob: Identity;
let delta: Uint8Array, counter: Uint8Array, link: CID;

beforeAll(async () => {
  await init();
  alice = await Identity.generate();
  bob = await Identity.generate();
  delta = new AWSet(alice.replicaId()).add("x").takeDelta();
  const c = new GCounter(alice.replicaId());
  c.increment(3);
  counter = c.takeDelta();
  link = await cidOf(Uint8Array.of(1, 2, 3));
});

async function code(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { expect(e).toBeInstanceOf(TrustError); return (e as TrustError).code; }
  return "accepted";
}

describe("envelope round trip and canonical bytes", () => {
  it("decodes what it signs: fields, bytes, CID, and the signature verifies", async () => {
    const e = await signEnvelope(alice, { author: alice.did, seq: 1, links: [link], items: [{ variable: "s", delta }] });
    const d = await decodeEnvelope(e.bytes);
    expect(d.author).toBe(alice.did);
    expect(d.seq).toBe(1);
    expect(d.links.map(String)).toEqual([link.toString()]);
    expect(d.items.map((it) => ({ variable: it.variable, delta: it.delta }))).toEqual([{ variable: "s", delta }]);
    expect(d.header.map((h) => [h.variable, h.length])).toEqual([["s", delta.length]]);
    expect(d.redacted).toEqual([]);
    expect(d.cap).toEqual(new Uint8Array(0));
    expect(d.sig).toEqual(e.sig);
    expect(d.cid.equals(e.cid)).toBe(true);
    // CIDv1, dag-cbor (0x71), sha-256 of the header's bytes
    expect(d.cid.version).toBe(1);
    expect(d.cid.code).toBe(0x71);
    expect(d.cid.equals(await cidOf(e.head))).toBe(true);
    expect(d.cid.equals(await envelopeCid(e.bytes))).toBe(true);
    expect(await verifyEnvelope(d)).toBe(true);
    // The signed bytes are the prefix and the envelope without its signature.
    expect(d.signed.subarray(0, SIGNING_PREFIX.length)).toEqual(SIGNING_PREFIX);
    const unsigned = dagCbor.decode(d.signed.subarray(SIGNING_PREFIX.length)) as Record<string, unknown>;
    expect(Object.keys(unsigned).sort()).toEqual(["author", "cap", "items", "links", "seq", "v"]);
  });

  it("equal envelopes give equal bytes and CIDs; any field change gives another CID", async () => {
    const s1 = new Uint8Array(16).fill(1), s2 = new Uint8Array(16).fill(2);
    const u = { author: alice.did, seq: 4, links: [link], items: [{ variable: "a", delta, salt: s1 }, { variable: "b", delta: counter, salt: s2 }], cap: Uint8Array.of(9) };
    const e1 = await signEnvelope(alice, u);
    // Built in another order, from copies, with the same salts: same bytes (Ed25519 is deterministic).
    const e2 = await signEnvelope(alice, { cap: Uint8Array.of(9), items: [{ delta: delta.slice(), variable: "a", salt: s1.slice() }, { delta: counter.slice(), variable: "b", salt: s2.slice() }], links: [CID.parse(link.toString())], seq: 4, author: alice.did });
    expect(e2.bytes).toEqual(e1.bytes);
    expect(e2.cid.equals(e1.cid)).toBe(true);
    const others = await Promise.all([
      signEnvelope(alice, { ...u, seq: 5 }),
      signEnvelope(alice, { ...u, links: [] }),
      signEnvelope(alice, { ...u, cap: Uint8Array.of(8) }),
      signEnvelope(alice, { ...u, items: [{ variable: "a", delta, salt: s1 }] }),
      signEnvelope(alice, { ...u, items: [{ variable: "a", delta, salt: s2 }, u.items[1]] }), // another salt: another digest
    ]);
    const cids = new Set([e1, ...others].map((e) => e.cid.toString()));
    expect(cids.size).toBe(6);
    // Without a salt, each signing draws a fresh one: the header does not let a guess of the delta be confirmed.
    const [r1, r2] = await Promise.all([0, 1].map(() => signEnvelope(alice, { ...u, items: [{ variable: "a", delta }] })));
    expect(r1.header[0].digest).not.toEqual(r2.header[0].digest);
  });

  it("batch: one signature covers many variables' deltas", async () => {
    const items = Array.from({ length: 50 }, (_, i) => ({ variable: `v${String(i).padStart(2, "0")}`, delta }));
    const e = await signEnvelope(alice, { author: alice.did, seq: 1, links: [], items });
    const d = await decodeEnvelope(e.bytes);
    expect(d.items.length).toBe(50);
    expect(await verifyEnvelope(d)).toBe(true);
  });

  it("signing refuses malformed fields and a signer that is not the author", async () => {
    const ok = { author: alice.did, seq: 1, links: [], items: [{ variable: "s", delta }] };
    expect(await code(signEnvelope(bob, ok))).toBe("MALFORMED");
    expect(await code(signEnvelope(alice, { ...ok, seq: 0 }))).toBe("MALFORMED");
    expect(await code(signEnvelope(alice, { ...ok, seq: 2 ** 53 }))).toBe("MALFORMED");
    expect(await code(signEnvelope(alice, { ...ok, items: [] }))).toBe("MALFORMED");
    expect(await code(signEnvelope(alice, { ...ok, items: [{ variable: "b", delta }, { variable: "a", delta }] }))).toBe("MALFORMED");
    expect(await code(signEnvelope(alice, { ...ok, items: [{ variable: "a", delta }, { variable: "a", delta }] }))).toBe("MALFORMED");
    expect(await code(signEnvelope(alice, { ...ok, links: [link, link] }))).toBe("MALFORMED");
    expect(await code(signEnvelope(alice, { ...ok, items: [{ variable: "x".repeat(300), delta }] }))).toBe("TOO_LARGE");
    expect(await code(signEnvelope(alice, { ...ok, cap: new Uint8Array(DEFAULT_LIMITS.maxCap + 1) }))).toBe("TOO_LARGE");
    const many = await Promise.all(Array.from({ length: 65 }, (_, i) => cidOf(Uint8Array.of(i))));
    expect(await code(signEnvelope(alice, { ...ok, links: sortLinks(many) }))).toBe("TOO_LARGE");
    // A CID of another codec or hash is not an envelope address.
    expect(await code(signEnvelope(alice, { ...ok, links: [CID.createV1(0x55, link.multihash)] }))).toBe("MALFORMED");
  });

  it("sortLinks puts links in canonical order and drops repeats", async () => {
    const cs = await Promise.all([5, 1, 3].map((i) => cidOf(Uint8Array.of(i))));
    const s = sortLinks([...cs, cs[0]]);
    expect(s.length).toBe(3);
    const e = await signEnvelope(alice, { author: alice.did, seq: 1, links: s, items: [{ variable: "s", delta }] });
    expect((await decodeEnvelope(e.bytes)).links.length).toBe(3);
  });
});

describe("signatures", () => {
  it("a flipped byte anywhere breaks the signature, the canonical form or the decoding", async () => {
    const e = await signEnvelope(alice, { author: alice.did, seq: 1, links: [link], items: [{ variable: "s", delta }] });
    for (let i = 0; i < e.bytes.length; i++) {
      const b = e.bytes.slice();
      b[i] ^= 0x01;
      let ok = false;
      try { ok = await verifyEnvelope(await decodeEnvelope(b)); } catch (err) { expect(err).toBeInstanceOf(TrustError); }
      expect(ok, `byte ${i}`).toBe(false);
    }
  });

  it("a signature by another key under the author's name does not verify", async () => {
    const impostor = { did: alice.did, sign: (d: Uint8Array) => bob.sign(d), verify: bob.verify.bind(bob) };
    const e = await signEnvelope(impostor, { author: alice.did, seq: 1, links: [], items: [{ variable: "s", delta }] });
    expect(await verifyEnvelope(await decodeEnvelope(e.bytes))).toBe(false);
  });
});

describe("hostile bytes", () => {
  // A header map, encoded and carried with the honest envelope's slots.
  let slots: unknown[];
  const reencode = (n: unknown) => dagCbor.encode([dagCbor.encode(n), slots]);
  let base: Record<string, unknown>;
  beforeAll(async () => {
    const e = await signEnvelope(alice, { author: alice.did, seq: 1, links: [link], items: [{ variable: "s", delta }] });
    const [head, sl] = dagCbor.decode(e.bytes) as [Uint8Array, unknown[]];
    base = dagCbor.decode(head) as Record<string, unknown>;
    slots = sl;
  });

  it("every truncation is refused with a TrustError", async () => {
    const e = await signEnvelope(alice, { author: alice.did, seq: 1, links: [link], items: [{ variable: "s", delta }] });
    for (let n = 0; n < e.bytes.length; n++) expect(await code(decodeEnvelope(e.bytes.subarray(0, n))), `length ${n}`).not.toBe("accepted");
  });

  it("oversize input is refused before decoding", async () => {
    expect(await code(decodeEnvelope(new Uint8Array(DEFAULT_LIMITS.maxBytes + 1)))).toBe("TOO_LARGE");
    const e = await signEnvelope(alice, { author: alice.did, seq: 1, links: [], items: [{ variable: "s", delta }] });
    expect(await code(decodeEnvelope(e.bytes, { maxBytes: e.bytes.length - 1 }))).toBe("TOO_LARGE");
    expect(await code(signEnvelope(alice, { author: alice.did, seq: 1, links: [], items: [{ variable: "s", delta: new Uint8Array(2000) }] }, { maxBytes: 1000 }))).toBe("TOO_LARGE");
  });

  it("wrong types, missing and unknown fields, no signature, another version", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, sig: undefined }, "UNSIGNED"],
      [{ ...base, sig: new Uint8Array(0) }, "UNSIGNED"],
      [{ ...base, sig: new Uint8Array(63) }, "MALFORMED"],
      [{ ...base, sig: "x" }, "MALFORMED"],
      [{ ...base, v: 1 }, "BAD_VERSION"],
      [{ ...base, v: 3 }, "BAD_VERSION"],
      [{ ...base, from: 1 }, "MALFORMED"],
      [{ ...base, from: 1, covers: [] }, "MALFORMED"],
      [{ ...base, seq: 2, from: 1, covers: [link] }, "MALFORMED"],
      [{ ...base, v: "1" }, "MALFORMED"],
      [{ ...base, author: "did:key:z6Mkfake" }, "MALFORMED"],
      [{ ...base, author: 7 }, "MALFORMED"],
      [{ ...base, seq: -1 }, "MALFORMED"],
      [{ ...base, seq: 1.5 }, "MALFORMED"],
      [{ ...base, seq: 2n ** 64n - 1n }, "MALFORMED"],
      [{ ...base, links: {} }, "MALFORMED"],
      [{ ...base, links: [new Uint8Array(36)] }, "MALFORMED"],
      [{ ...base, items: [] }, "MALFORMED"],
      [{ ...base, items: [["s"]] }, "MALFORMED"],
      [{ ...base, items: [["s", delta]] }, "MALFORMED"],
      [{ ...base, items: [[1, new Uint8Array(32), 3]] }, "MALFORMED"],
      [{ ...base, items: [["s", "not bytes", 3]] }, "MALFORMED"],
      [{ ...base, items: [["s", new Uint8Array(31), 3]] }, "MALFORMED"],
      [{ ...base, items: [["s", new Uint8Array(32), -1]] }, "MALFORMED"],
      [{ ...base, cap: 5 }, "MALFORMED"],
      [{ ...base, extra: 1 }, "MALFORMED"],
      [{ ...base, cap: undefined }, "MALFORMED"],
    ];
    for (const [n, want] of cases) {
      const m = Object.fromEntries(Object.entries(n).filter(([, v]) => v !== undefined));
      expect(await code(decodeEnvelope(reencode(m))), JSON.stringify(Object.keys(m))).toBe(want);
    }
    for (const top of [[], 1, "x", null, new Uint8Array(3), link]) {
      expect(await code(decodeEnvelope(reencode(top)))).toBe("MALFORMED");
      expect(await code(decodeEnvelope(dagCbor.encode(top)))).toBe("MALFORMED");
    }
  });

  it("a non-canonical encoding of a valid envelope is refused (one envelope, one CID)", async () => {
    const e = await signEnvelope(alice, { author: alice.did, seq: 1, links: [link], items: [{ variable: "s", delta }] });
    // Same header map with its keys in another order: valid CBOR, not canonical.
    const wrap = (h: Uint8Array) => dagCbor.encode([h, slots]);
    const m = dagCbor.decode(e.head) as Record<string, unknown>;
    const entries = Object.keys(m).sort().reverse();
    const w: number[] = [0xa0 + entries.length];
    for (const k of entries) w.push(...dagCbor.encode(k), ...dagCbor.encode(m[k]));
    const reordered = Uint8Array.from(w);
    expect(reordered).not.toEqual(e.head);
    expect(await code(decodeEnvelope(wrap(reordered)))).toBe("NON_CANONICAL");
    // A seq with a non-minimal integer head (0x19 0x00 0x01 for 1).
    const h = e.head;
    const i = h.findIndex((_, j) => h[j] === 0x63 && h[j + 1] === 0x73 && h[j + 2] === 0x65 && h[j + 3] === 0x71);
    expect(i).toBeGreaterThan(0);
    const long = Uint8Array.from([...h.subarray(0, i + 4), 0x19, 0x00, 0x01, ...h.subarray(i + 5)]);
    expect(await code(decodeEnvelope(wrap(long)))).not.toBe("accepted");
  });

  it("a __proto__ key cannot smuggle fields past the checks", async () => {
    const withProto = JSON.parse(JSON.stringify({ __proto__: null })) as Record<string, unknown>;
    Object.assign(withProto, base);
    Object.defineProperty(withProto, "__proto__", { value: { sig: base.sig, extra: 1 }, enumerable: true, configurable: true, writable: true });
    const b = reencode(withProto);
    expect(new TextDecoder("latin1").decode(b)).toContain("__proto__"); // the key is really in the bytes
    expect(await code(decodeEnvelope(b))).not.toBe("accepted");
  });

  it("deep nesting is refused without a crash", async () => {
    const deep = new Uint8Array(100_000).fill(0x81);
    expect(await code(decodeEnvelope(deep))).toBe("MALFORMED");
  });

  it("property: random bytes and random mutations of a valid envelope are refused with a TrustError or decode to a canonical envelope", async () => {
    const e = await signEnvelope(alice, { author: alice.did, seq: 3, links: [link], items: [{ variable: "s", delta }, { variable: "t", delta: counter }] });
    const check = async (b: Uint8Array) => {
      try {
        const d = await decodeEnvelope(b);
        // Whatever decodes is canonical: its bytes are the input, and its CID theirs.
        expect(d.bytes).toEqual(b);
        expect(d.cid.equals(await envelopeCid(b))).toBe(true);
      } catch (err) {
        expect(err).toBeInstanceOf(TrustError);
      }
    };
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), check), { numRuns: 300 });
    await fc.assert(fc.asyncProperty(
      fc.array(fc.tuple(fc.nat(e.bytes.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      async (edits) => {
        const b = e.bytes.slice();
        for (const [i, v] of edits) b[i] = v;
        await check(b);
      }), { numRuns: 300 });
    // Random envelope-shaped maps with wrong-typed fields.
    const any = fc.oneof(fc.integer(), fc.string(), fc.uint8Array({ maxLength: 70 }), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.boolean());
    await fc.assert(fc.asyncProperty(
      fc.record({ v: fc.oneof(fc.constant(1), any), author: fc.oneof(fc.constant(alice.did), any), seq: any, links: fc.oneof(fc.constant([]), any), items: any, cap: any, sig: any }, { requiredKeys: [] }),
      async (m) => { await check(reencode(m)); }), { numRuns: 300 });
  });
});
