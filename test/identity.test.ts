// Identities: did:key encoding, signatures on both backends (WebCrypto and
// the @noble/ed25519 fallback) checked against each other, replica ids bound
// to keys, allow-lists, and the node key kept in its store.
import { describe, expect, it } from "vitest";
import {
  AllowList, Identity, IdentityError, didFromPublicKey, didOfReplica, isDid, publicKeyFromDid, verifySignature, webCryptoEd25519,
} from "../dist/host/identity/index.js";
import { loadNodeIdentity } from "../dist/host/identity/node.js";
import { didOfPeerId, peerIdOfDid, importKey } from "../dist/host/transport/libp2p.js";

const msg = new TextEncoder().encode("a fresh challenge");

describe("did:key", () => {
  it("round-trips a key and matches the did:key spec's Ed25519 test vector", () => {
    // From the W3C CCG did:key spec (test vectors, ed25519-x25519.json): the
    // public key for this did is the multibase-decoded part minus 0xed01.
    const did = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp";
    const pub = publicKeyFromDid(did);
    expect(pub.length).toBe(32);
    expect(didFromPublicKey(pub)).toBe(did);
    expect(isDid(did)).toBe(true);
  });

  it("refuses what is not an Ed25519 did:key, with BAD_DID", () => {
    const p256 = "did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169"; // a P-256 did:key
    for (const bad of ["", "did:web:example.com", "did:key:", "did:key:z", "did:key:zzzz0OIl", p256, "did:key:z6Mk" + "1".repeat(400), 42]) {
      expect(() => publicKeyFromDid(bad as string)).toThrow(IdentityError);
      try { publicKeyFromDid(bad as string); } catch (e) { expect((e as IdentityError).code).toBe("BAD_DID"); }
      expect(isDid(bad)).toBe(false);
    }
    expect(() => didFromPublicKey(new Uint8Array(31))).toThrow(/32 bytes/);
  });
});

describe("signatures", () => {
  it("Node 20's WebCrypto has Ed25519 (so keys are non-extractable by default)", async () => {
    expect(await webCryptoEd25519()).toBe(true);
    const id = await Identity.generate();
    expect(id.backend).toBe("webcrypto");
    expect(id.keyPair!.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey("pkcs8", id.keyPair!.privateKey)).rejects.toThrow();
  });

  for (const signer of ["webcrypto", "noble"] as const) {
    it(`a ${signer} signature verifies, and fails for another message, key or a flipped bit`, async () => {
      const id = await Identity.generate({ backend: signer });
      const other = await Identity.generate();
      expect(id.did).toMatch(/^did:key:z6Mk/);
      const sig = await id.sign(msg);
      expect(sig.length).toBe(64);
      expect(await verifySignature(id.did, msg, sig)).toBe(true);
      expect(await id.verify(id.did, msg, sig)).toBe(true);
      expect(await verifySignature(other.did, msg, sig)).toBe(false);
      expect(await verifySignature(id.did, new TextEncoder().encode("another"), sig)).toBe(false);
      const flipped = sig.slice(); flipped[10] ^= 1;
      expect(await verifySignature(id.did, msg, flipped)).toBe(false);
      expect(await verifySignature(id.did, msg, sig.subarray(0, 63))).toBe(false);
      expect(await verifySignature("did:key:nonsense", msg, sig)).toBe(false);
    });
  }

  it("the same seed gives the same did on both backends, and their signatures agree", async () => {
    const seed = crypto.getRandomValues(new Uint8Array(32));
    const a = await Identity.fromSeed(seed, { backend: "webcrypto" });
    const b = await Identity.fromSeed(seed, { backend: "noble" });
    expect(a.did).toBe(b.did);
    // Ed25519 is deterministic: equal keys sign equal bytes.
    expect(Buffer.from(await a.sign(msg))).toEqual(Buffer.from(await b.sign(msg)));
    await expect(Identity.fromSeed(new Uint8Array(31))).rejects.toMatchObject({ code: "BAD_KEY" });
  });

  it("a replica id is <did>.<incarnation>: new at every call, the did recoverable", async () => {
    const id = await Identity.generate();
    const r1 = id.replicaId(), r2 = id.replicaId();
    expect(r1).not.toBe(r2);
    expect(r1).toMatch(/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+\.[0-9a-f]{12}$/);
    expect(didOfReplica(r1)).toBe(id.did);
    expect(didOfReplica("node-1.abc")).toBeNull();
  });
});

describe("allow-lists", () => {
  it("admits listed keys only; any admits all; a bad entry fails at once", async () => {
    const [a, b] = await Promise.all([Identity.generate(), Identity.generate()]);
    const l = new AllowList([a.did]);
    expect(l.admits(a.did)).toBe(true);
    expect(l.admits(b.did)).toBe(false);
    expect(new AllowList("any").admits(b.did)).toBe(true);
    expect(new AllowList((d) => d === b.did).admits(b.did)).toBe(true);
    expect(new AllowList(() => { throw new Error("x"); }).admits(b.did)).toBe(false);
    expect(() => new AllowList(["did:key:typo"])).toThrow(expect.objectContaining({ code: "BAD_ALLOW" }));
    expect(AllowList.parse(`# peers\n${a.did}\n\n  ${b.did}  # the second\n`)).toEqual([a.did, b.did]);
    expect(() => AllowList.parse(`${a.did}\nnot-a-did\n`)).toThrow(/line 2/);
  });
});

describe("node identity", () => {
  it("is made once, kept in the store, and is also the libp2p key", async () => {
    const meta = new Map<string, Uint8Array>();
    const store = { get: (k: string) => meta.get(k), put: async (k: string, v: Uint8Array) => { meta.set(k, v); } };
    const first = await loadNodeIdentity(store);
    expect(meta.size).toBe(1);
    const again = await loadNodeIdentity(store);
    expect(again.identity.did).toBe(first.identity.did);
    expect(await verifySignature(first.identity.did, msg, await again.identity.sign(msg))).toBe(true);
    const peer = importKey(again.privateKey).publicKey.toString();
    expect(didOfPeerId(peer)).toBe(first.identity.did);
    expect(peerIdOfDid(first.identity.did)).toBe(peer);
    expect(didOfPeerId("not a peer id")).toBeNull();
    meta.set("trellis:libp2p-key", new Uint8Array([1, 2, 3]));
    await expect(loadNodeIdentity(store)).rejects.toMatchObject({ code: "STORE" });
  });
});
