// Capabilities after UCAN 1.0 (host/trust/ucan.ts, ops.ts, caps.ts,
// revocation.ts; docs/security.md "Capabilities"): tokens and chains, what a
// delta needs from its bytes, and the verifier refusing each attack with its
// code: no capability, a stolen token, over-delegation, expiry, not-yet-valid,
// revocation, a forged token signature.
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as dagCbor from "@ipld/dag-cbor";
import {
  AWMap, AWSet, EWFlag, GCounter, GMap, GSet, IVar, LWWRegister, MaxInt, MVRegister, ORSet, PNCounter, TopK, TwoPSet, init,
} from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import {
  COMMANDS, Capabilities, REVOCATIONS_VARIABLE, TrustError, TrustLedger, admit, chainGrant, commandCovers, commandsOf,
  decodeChain, decodeProof, decodeToken, delegate, encodeChain, encodeProof, patternCovers, patternMatches, signEnvelope,
  signRevocation, signToken, verifyRevocation, verifyToken, type Token,
} from "../dist/host/trust/index.js";

let owner: Identity, alice: Identity, bob: Identity, mallory: Identity;
const NOW = Date.UTC(2026, 11, 2) ; // ms
const S = Math.floor(NOW / 1000);   // the same, Unix seconds

beforeAll(async () => {
  await init();
  [owner, alice, bob, mallory] = await Promise.all([Identity.generate(), Identity.generate(), Identity.generate(), Identity.generate()]);
});

async function code(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { expect(e).toBeInstanceOf(TrustError); return (e as TrustError).code; }
  return "accepted";
}
const env = (author: Identity, variable: string, delta: Uint8Array, chains: Token[][] = []) =>
  ({ author: author.did, items: [{ variable, delta }], cap: chains.length ? encodeProof(chains) : new Uint8Array(0) });
const caps = (o: Partial<ConstructorParameters<typeof Capabilities>[0]> = {}) => new Capabilities({ owners: { "campaign/*": owner.did }, ...o });
const inc = (who: Identity, n = 1) => { const c = new GCounter(who.replicaId()); c.increment(n); return c.takeDelta(); };
const pnDec = (who: Identity, n = 1) => { const c = new PNCounter(who.replicaId()); c.decrement(n); return c.takeDelta(); };

describe("commands and patterns", () => {
  it("a command covers itself and what is below it; /trellis and /trellis/admin cover every trellis command", () => {
    expect(commandCovers(COMMANDS.WRITE, COMMANDS.INCREMENT)).toBe(true);
    expect(commandCovers(COMMANDS.WRITE, COMMANDS.WRITE)).toBe(true);
    expect(commandCovers(COMMANDS.INCREMENT, COMMANDS.WRITE)).toBe(false);
    expect(commandCovers(COMMANDS.WRITE, COMMANDS.READ)).toBe(false);
    expect(commandCovers(COMMANDS.WRITE, "/trellis/writer")).toBe(false); // a prefix of the name is not a parent
    expect(commandCovers(COMMANDS.ADMIN, COMMANDS.REMOVE)).toBe(true);
    expect(commandCovers(COMMANDS.ADMIN, COMMANDS.READ)).toBe(true);
    expect(commandCovers(COMMANDS.ALL, COMMANDS.ADMIN)).toBe(true);
    expect(commandCovers(COMMANDS.ADMIN, "/other")).toBe(false);
    expect(commandCovers("/", "/other")).toBe(true);
  });

  it("patterns: exact ids, namespaces and *", () => {
    expect(patternMatches("campaign/*", "campaign/ad1")).toBe(true);
    expect(patternMatches("campaign/*", "campaign/ad1/clicks")).toBe(true);
    expect(patternMatches("campaign/*", "campaign")).toBe(false);
    expect(patternMatches("campaign/*", "campaigns/x")).toBe(false);
    expect(patternMatches("a", "ab")).toBe(false);
    expect(patternMatches("*", "anything")).toBe(true);
    expect(patternCovers("campaign/*", "campaign/ad1/*")).toBe(true);
    expect(patternCovers("campaign/ad1/*", "campaign/*")).toBe(false);
    expect(patternCovers("campaign/*", "*")).toBe(false);
    expect(patternCovers("campaign/ad1", "campaign/ad1")).toBe(true);
    expect(patternCovers("campaign/ad1", "campaign/ad2")).toBe(false);
  });
});

describe("narrowing is sound (properties)", () => {
  // Small alphabets, so that covers and matches happen often.
  const seg = fc.constantFrom("a", "b", "ab");
  const variable = fc.array(seg, { minLength: 1, maxLength: 3 }).map((p) => p.join("/"));
  const pattern = fc.oneof(variable, fc.array(seg, { minLength: 1, maxLength: 2 }).map((p) => p.join("/") + "/*"), fc.constant("*"));
  const command = fc.array(fc.constantFrom("trellis", "write", "read", "add", "admin"), { minLength: 0, maxLength: 3 }).map((p) => "/" + p.join("/"));

  it("a pattern within another names only variables the other names; covering is transitive", () => {
    fc.assert(fc.property(pattern, pattern, variable, (p, q, v) => {
      if (patternCovers(p, q) && patternMatches(q, v)) expect(patternMatches(p, v)).toBe(true);
    }), { numRuns: 2000 });
    fc.assert(fc.property(pattern, pattern, pattern, (p, q, r) => {
      if (patternCovers(p, q) && patternCovers(q, r)) expect(patternCovers(p, r)).toBe(true);
    }), { numRuns: 2000 });
  });

  it("command covering is transitive", () => {
    fc.assert(fc.property(command, command, command, (a, b, c) => {
      if (commandCovers(a, b) && commandCovers(b, c)) expect(commandCovers(a, c)).toBe(true);
    }), { numRuns: 2000 });
  });
});

describe("tokens", () => {
  it("round-trip through canonical dag-cbor with a CIDv1", async () => {
    const t = await signToken(owner, { aud: alice.did, sub: owner.did, cmd: COMMANDS.INCREMENT, pol: ["campaign/*"], exp: S + 60, nbf: S - 60 });
    expect(t.cid.toString()).toMatch(/^bafyrei/);
    const d = await decodeToken(t.bytes);
    expect(d.cid.equals(t.cid)).toBe(true);
    expect({ iss: d.iss, aud: d.aud, sub: d.sub, cmd: d.cmd, pol: d.pol, exp: d.exp, nbf: d.nbf }).toEqual({ iss: owner.did, aud: alice.did, sub: owner.did, cmd: COMMANDS.INCREMENT, pol: ["campaign/*"], exp: S + 60, nbf: S - 60 });
    // Two grants of the same right differ by their nonce.
    const t2 = await signToken(owner, { aud: alice.did, sub: owner.did, cmd: COMMANDS.INCREMENT, pol: ["campaign/*"], exp: S + 60, nbf: S - 60 });
    expect(t2.cid.equals(t.cid)).toBe(false);
  });

  it("refuse bad fields when signing", async () => {
    const base = { aud: alice.did, sub: owner.did, cmd: COMMANDS.WRITE, pol: ["x"], exp: null };
    expect(await code(signToken(owner, { ...base, cmd: "write" }))).toBe("BAD_CAP");
    expect(await code(signToken(owner, { ...base, cmd: "/Trellis" }))).toBe("BAD_CAP");
    expect(await code(signToken(owner, { ...base, pol: [] }))).toBe("BAD_CAP");
    expect(await code(signToken(owner, { ...base, aud: "did:web:example.com" }))).toBe("BAD_CAP");
    expect(await code(signToken(owner, { ...base, exp: 1.5 }))).toBe("BAD_CAP");
    expect(await code(signToken(owner, { ...base, nonce: new Uint8Array(2) }))).toBe("BAD_CAP");
    expect(await code(signToken(owner, { ...base, pol: ["x".repeat(2000)] }))).toBe("BAD_CAP");
  });

  it("decode refuses non-canonical bytes, unknown fields, wrong types and oversize input", async () => {
    const t = await signToken(owner, { aud: alice.did, sub: owner.did, cmd: COMMANDS.WRITE, pol: ["x"], exp: null });
    const m = dagCbor.decode(t.bytes) as Record<string, unknown>;
    expect(await code(decodeToken(dagCbor.encode({ ...m, extra: 1 })))).toBe("BAD_CAP");
    expect(await code(decodeToken(dagCbor.encode({ ...m, v: 2 })))).toBe("BAD_CAP");
    expect(await code(decodeToken(dagCbor.encode({ ...m, pol: "x" })))).toBe("BAD_CAP");
    const { exp: _e, ...noExp } = m;
    expect(await code(decodeToken(dagCbor.encode(noExp)))).toBe("BAD_CAP");
    expect(await code(decodeToken(new Uint8Array(5000)))).toBe("TOO_LARGE");
    expect(await code(decodeToken(Uint8Array.of(0xff)))).toBe("BAD_CAP");
    expect(await code(decodeToken(dagCbor.encode({ ...m, exp: 1.5 })))).toBe("BAD_CAP");
    expect(await code(decodeToken(dagCbor.encode({ ...m, sig: new Uint8Array(63) })))).toBe("BAD_CAP");
    // Decoding does not check the signature: that is verifyToken's (and the chain's) job.
    const other = await decodeToken(dagCbor.encode({ ...m, cmd: COMMANDS.ADMIN }));
    expect(await verifyToken(t)).toBe(true);
    expect(await verifyToken(other)).toBe(false);
  });

  it("decode never throws anything but a TrustError on hostile bytes", async () => {
    const t = await signToken(owner, { aud: alice.did, sub: owner.did, cmd: COMMANDS.WRITE, pol: ["x"], exp: null });
    await fc.assert(fc.asyncProperty(fc.nat(t.bytes.length - 1), fc.integer({ min: 0, max: 255 }), async (i, b) => {
      const bad = t.bytes.slice(); bad[i] = b;
      const c = await code(decodeToken(bad));
      if (bad[i] === t.bytes[i]) expect(c).toBe("accepted");
    }), { numRuns: 200 });
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (b) => { await code(decodeProof(b)); await code(decodeChain(b)); }), { numRuns: 200 });
  });

  it("a chain and a proof round-trip", async () => {
    const c1 = await delegate(owner, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: S + 3600 });
    const c2 = await delegate(alice, { aud: bob.did, cmd: COMMANDS.INCREMENT, pol: ["campaign/ad1"] }, c1);
    expect(c2.map((t) => t.iss)).toEqual([owner.did, alice.did]);
    expect(c2[1].exp).toBe(S + 3600); // inherits the parent's expiry when none is given
    const back = await decodeChain(encodeChain(c2));
    expect(back.map((t) => t.cid.toString())).toEqual(c2.map((t) => t.cid.toString()));
    const proof = await decodeProof(encodeProof([c1, c2]));
    expect(proof.map((c) => c.length)).toEqual([1, 2]);
    expect(await decodeProof(new Uint8Array(0))).toEqual([]);
    expect(await code(decodeProof(encodeProof(Array.from({ length: 17 }, () => c1))))).toBe("TOO_LARGE");
    expect(await code(decodeProof(new Uint8Array(17 << 10)))).toBe("TOO_LARGE"); // checked before decoding
    const g = chainGrant(c2);
    expect({ sub: g.sub, aud: g.aud, cmd: g.cmd, pol: g.pol, exp: g.exp }).toEqual({ sub: owner.did, aud: bob.did, cmd: COMMANDS.INCREMENT, pol: ["campaign/ad1"], exp: S + 3600 });
  });

  it("delegate refuses to make an over-delegation, or to extend a chain that is not the signer's", async () => {
    const c1 = await delegate(owner, { aud: alice.did, cmd: COMMANDS.INCREMENT, pol: ["campaign/ad1"], exp: S + 60 });
    expect(await code(delegate(alice, { aud: bob.did, cmd: COMMANDS.WRITE, pol: ["campaign/ad1"] }, c1))).toBe("OVER_DELEGATED");
    expect(await code(delegate(alice, { aud: bob.did, cmd: COMMANDS.INCREMENT, pol: ["campaign/*"] }, c1))).toBe("OVER_DELEGATED");
    expect(await code(delegate(alice, { aud: bob.did, cmd: COMMANDS.INCREMENT, pol: ["campaign/ad1"], exp: S + 61 }, c1))).toBe("OVER_DELEGATED");
    expect(await code(delegate(alice, { aud: bob.did, cmd: COMMANDS.INCREMENT, pol: ["campaign/ad1"], exp: null }, c1))).toBe("OVER_DELEGATED");
    expect(await code(delegate(mallory, { aud: bob.did, cmd: COMMANDS.INCREMENT, pol: ["campaign/ad1"] }, c1))).toBe("BAD_CAP");
  });
});

describe("what a delta needs (commandsOf)", () => {
  const r = () => alice.replicaId();
  it("counters: increment, decrement", () => {
    expect(commandsOf(inc(alice, 3))).toEqual([COMMANDS.INCREMENT]);
    expect(commandsOf(pnDec(alice, 2))).toEqual([COMMANDS.DECREMENT]);
    const pn = new PNCounter(r()); pn.increment(1); pn.decrement(1);
    expect(commandsOf(pn.takeDelta())).toEqual([COMMANDS.DECREMENT, COMMANDS.INCREMENT]);
  });

  it("AWSet: a new element is an add, a removal or a clear a remove", () => {
    const s = new AWSet(r());
    expect(commandsOf(s.add("ad1").takeDelta())).toEqual([COMMANDS.ADD]);
    expect(commandsOf(s.add("ad2").takeDelta())).toEqual([COMMANDS.ADD]);
    expect(commandsOf(s.remove("ad1").takeDelta())).toEqual([COMMANDS.REMOVE]);
    expect(commandsOf(s.clear().takeDelta())).toEqual([COMMANDS.REMOVE]);
    // Re-adding an element retires its older dot: the bytes look like a removal too.
    const t = new AWSet(r()); t.add("x"); t.takeDelta();
    expect(commandsOf(t.add("x").takeDelta())).toEqual([COMMANDS.ADD, COMMANDS.REMOVE]);
  });

  it("ORSet, TwoPSet, GSet", () => {
    const o = new ORSet(r());
    expect(commandsOf(o.add("x").takeDelta())).toEqual([COMMANDS.ADD]);
    expect(commandsOf(o.remove("x").takeDelta())).toEqual([COMMANDS.REMOVE]);
    const t = new TwoPSet(r());
    expect(commandsOf(t.add("x").takeDelta())).toEqual([COMMANDS.ADD]);
    expect(commandsOf(t.remove("x").takeDelta())).toEqual([COMMANDS.REMOVE]);
    expect(commandsOf(new GSet(r()).add("x").takeDelta())).toEqual([COMMANDS.ADD]);
  });

  it("registers, flags, MaxInt and TopK", () => {
    expect(commandsOf(new LWWRegister(r()).set("v", NOW).takeDelta())).toEqual([COMMANDS.SET]);
    expect(commandsOf(new MVRegister(r()).set("v").takeDelta())).toEqual([COMMANDS.SET]);
    expect(commandsOf(new EWFlag(r()).enable().takeDelta())).toEqual([COMMANDS.SET]);
    const f = new EWFlag(r()); f.enable(); f.takeDelta();
    expect(commandsOf(f.disable().takeDelta())).toEqual([COMMANDS.SET]);
    expect(commandsOf(new EWFlag(r()).disable().takeDelta())).toEqual([COMMANDS.WRITE]); // bottom: nothing narrower
    expect(commandsOf(new IVar(r()).set(1).takeDelta())).toEqual([COMMANDS.SET]);
    const mx = new MaxInt(r()); mx.set(7);
    expect(commandsOf(mx.takeDelta())).toEqual([COMMANDS.SET]);
    expect(commandsOf(new TopK(r(), 3).add("p", 10).takeDelta())).toEqual([COMMANDS.ADD]);
  });

  it("maps: nested ops, keys added and removed; bottom needs write", () => {
    expect(commandsOf(new GMap(r(), GCounter).update("ad1", GCounter.ops.increment(1)).takeDelta())).toEqual([COMMANDS.INCREMENT]);
    const m = new AWMap(r(), GCounter);
    expect(commandsOf(m.update("ad1", GCounter.ops.increment(1)).takeDelta())).toEqual([COMMANDS.ADD, COMMANDS.INCREMENT].sort());
    // Updating a present key re-adds it: its older presence dot is retired.
    expect(commandsOf(m.update("ad1", GCounter.ops.increment(1)).takeDelta())).toEqual([COMMANDS.ADD, COMMANDS.INCREMENT, COMMANDS.REMOVE].sort());
    expect(commandsOf(m.remove("ad1").takeDelta())).toContain(COMMANDS.REMOVE);
    const nested = new AWMap(r(), AWSet); nested.update("k", AWSet.ops.add(1)); nested.takeDelta();
    expect(commandsOf(nested.update("k", AWSet.ops.remove(1)).takeDelta())).toContain(COMMANDS.REMOVE);
    expect(commandsOf(new GMap(r(), TwoPSet).update("k", TwoPSet.ops.add(1)).takeDelta())).toEqual([COMMANDS.ADD, COMMANDS.REMOVE]); // nested TwoPSet: both
    expect(commandsOf(new AWMap(r(), MVRegister).update("k", MVRegister.ops.set(1)).takeDelta())).toEqual([COMMANDS.ADD, COMMANDS.SET]);
    expect(commandsOf(new GMap(r(), GSet).update("k", GSet.ops.add(1)).takeDelta())).toEqual([COMMANDS.ADD]);
    expect(commandsOf(new GCounter(r()).takeDelta())).toEqual([COMMANDS.WRITE]);
  });

  it("bytes that are not a state are the kernel's error", () => {
    expect(() => commandsOf(Uint8Array.of(1, 2, 3))).toThrow();
  });
});

describe("Capabilities.check", () => {
  it("lets the owner write anything in its namespace, and refuses others without a proof", async () => {
    const c = caps();
    expect(c.ownerOf("campaign/ad1")).toBe(owner.did);
    expect(c.ownerOf("other")).toBeUndefined();
    expect(await code(c.check(env(owner, "campaign/ads", new AWSet(owner.replicaId()).add("ad1").takeDelta()), { now: NOW }))).toBe("accepted");
    expect(await code(c.check(env(alice, "campaign/ad1", inc(alice)), { now: NOW }))).toBe("UNAUTHORIZED_CAP");
    // Unowned variables: refused by default, open on request.
    expect(await code(c.check(env(alice, "other", inc(alice)), { now: NOW }))).toBe("UNAUTHORIZED_CAP");
    expect(await code(caps({ unowned: "allow" }).check(env(alice, "other", inc(alice)), { now: NOW }))).toBe("accepted");
  });

  it("owners: an exact id wins over a namespace, a longer namespace over a shorter one", () => {
    const c = new Capabilities({ owners: { "*": bob.did, "campaign/*": owner.did, "campaign/vip/*": alice.did, "campaign/vip/x": mallory.did } });
    expect(c.ownerOf("zzz")).toBe(bob.did);
    expect(c.ownerOf("campaign/a")).toBe(owner.did);
    expect(c.ownerOf("campaign/vip/a")).toBe(alice.did);
    expect(c.ownerOf("campaign/vip/x")).toBe(mallory.did);
  });

  it("increment on one counter allows incrementing it, nothing else (a tab cannot remove an ad)", async () => {
    const c = caps();
    const chain = await delegate(owner, { aud: alice.did, cmd: COMMANDS.INCREMENT, pol: ["campaign/impressions/*"], exp: S + 3600 });
    expect(await code(c.check(env(alice, "campaign/impressions/ad1", inc(alice), [chain]), { now: NOW }))).toBe("accepted");
    const pn = pnDec(alice);
    expect(await code(c.check(env(alice, "campaign/impressions/ad1", pn, [chain]), { now: NOW }))).toBe("UNAUTHORIZED_CAP");
    expect(await code(c.check(env(alice, "campaign/ads", inc(alice), [chain]), { now: NOW }))).toBe("UNAUTHORIZED_CAP");
    const s = new AWSet(alice.replicaId()); s.add("ad1"); s.takeDelta();
    expect(await code(c.check(env(alice, "campaign/impressions/ad1", s.remove("ad1").takeDelta(), [chain]), { now: NOW }))).toBe("UNAUTHORIZED_CAP");
  });

  it("add on a set allows adds, not removes", async () => {
    const c = caps();
    const chain = await delegate(owner, { aud: alice.did, cmd: COMMANDS.ADD, pol: ["campaign/ads"], exp: null });
    const s = new AWSet(alice.replicaId());
    expect(await code(c.check(env(alice, "campaign/ads", s.add("ad9").takeDelta(), [chain]), { now: NOW }))).toBe("accepted");
    expect(await code(c.check(env(alice, "campaign/ads", s.remove("ad9").takeDelta(), [chain]), { now: NOW }))).toBe("UNAUTHORIZED_CAP");
    // A removal of another replica's element, hand-made to look like nothing but a context.
    const w = await delegate(owner, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["campaign/ads"], exp: null });
    expect(await code(c.check(env(alice, "campaign/ads", s.remove("ad9").takeDelta(), [chain, w]), { now: NOW }))).toBe("accepted");
  });

  it("a stolen chain is useless to anyone but its audience", async () => {
    const c = caps();
    const chain = await delegate(owner, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: null });
    expect(await code(c.check(env(mallory, "campaign/ad1", inc(mallory), [chain]), { now: NOW }))).toBe("UNAUTHORIZED_CAP");
  });

  it("a chain rooted at someone else than the owner grants nothing", async () => {
    const c = caps();
    const self = await delegate(mallory, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["*"], exp: null });
    expect(await code(c.check(env(alice, "campaign/ad1", inc(alice), [self]), { now: NOW }))).toBe("UNAUTHORIZED_CAP");
    // A token that claims the owner as its subject but is signed by mallory: the chain does not start at its subject.
    const fake = await signToken(mallory, { aud: alice.did, sub: owner.did, cmd: COMMANDS.WRITE, pol: ["*"], exp: null });
    expect(await code(c.check(env(alice, "campaign/ad1", inc(alice), [[fake]]), { now: NOW }))).toBe("BAD_CAP");
  });

  it("onward delegation works three links deep, and an over-delegated link is refused", async () => {
    const c = caps();
    const c1 = await delegate(owner, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: S + 3600 });
    const c2 = await delegate(alice, { aud: bob.did, cmd: COMMANDS.WRITE, pol: ["campaign/ad1", "campaign/ad2"] }, c1);
    const c3 = await delegate(bob, { aud: mallory.did, cmd: COMMANDS.INCREMENT, pol: ["campaign/ad2"], exp: S + 60 }, c2);
    expect(await code(c.check(env(mallory, "campaign/ad2", inc(mallory), [c3]), { now: NOW }))).toBe("accepted");
    expect(await code(c.check(env(mallory, "campaign/ad1", inc(mallory), [c3]), { now: NOW }))).toBe("UNAUTHORIZED_CAP");
    // bob signs a broader token by hand (delegate() would refuse to).
    const broad = await signToken(bob, { aud: mallory.did, sub: owner.did, cmd: COMMANDS.ADMIN, pol: ["campaign/*"], exp: S + 60 });
    expect(await code(c.check(env(mallory, "campaign/ad1", inc(mallory), [[...c2, broad]]), { now: NOW }))).toBe("OVER_DELEGATED");
    const longer = await signToken(bob, { aud: mallory.did, sub: owner.did, cmd: COMMANDS.INCREMENT, pol: ["campaign/ad1"], exp: S + 7200 });
    expect(await code(c.check(env(mallory, "campaign/ad1", inc(mallory), [[...c2, longer]]), { now: NOW }))).toBe("OVER_DELEGATED");
    // A link issued by someone who was not the previous audience.
    const skip = await signToken(mallory, { aud: mallory.did, sub: owner.did, cmd: COMMANDS.INCREMENT, pol: ["campaign/ad1"], exp: S + 60 });
    expect(await code(c.check(env(mallory, "campaign/ad1", inc(mallory), [[...c1, skip]]), { now: NOW }))).toBe("BAD_CAP");
  });

  it("expired and not-yet-valid chains are refused", async () => {
    const c = caps();
    const chain = await delegate(owner, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: S + 10, nbf: S - 10 });
    expect(await code(c.check(env(alice, "campaign/ad1", inc(alice), [chain]), { now: NOW }))).toBe("accepted");
    expect(await code(c.check(env(alice, "campaign/ad1", inc(alice), [chain]), { now: NOW + 10_000 }))).toBe("EXPIRED");
    expect(await code(c.check(env(alice, "campaign/ad1", inc(alice), [chain]), { now: NOW - 11_000 }))).toBe("NOT_YET_VALID");
    // A later link cannot extend the window, but may narrow it.
    const c2 = await delegate(alice, { aud: bob.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: S + 5 }, chain);
    expect(await code(c.check(env(bob, "campaign/ad1", inc(bob), [c2]), { now: NOW + 6_000 }))).toBe("EXPIRED");
  });

  it("a token with a forged signature is refused", async () => {
    const c = caps();
    const chain = await delegate(owner, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: null });
    const m = dagCbor.decode(chain[0].bytes) as Record<string, unknown>;
    const sig = (m.sig as Uint8Array).slice(); sig[0] ^= 1;
    const forged = await decodeToken(dagCbor.encode({ ...m, sig }));
    expect(await code(c.check(env(alice, "campaign/ad1", inc(alice), [[forged]]), { now: NOW }))).toBe("BAD_CAP");
    // The same token with its pol widened keeps the owner's signature, which no longer verifies.
    const wider = await decodeToken(dagCbor.encode({ ...m, pol: ["*"] }));
    expect(await code(c.check(env(alice, "other", inc(alice), [[wider]]), { now: NOW }))).toBe("UNAUTHORIZED_CAP"); // no owner for "other"
    expect(await code(caps({ owners: { "*": owner.did } }).check(env(alice, "other", inc(alice), [[wider]]), { now: NOW }))).toBe("BAD_CAP");
  });

  it("a garbage or oversize proof is refused", async () => {
    const c = caps();
    expect(await code(c.check({ author: alice.did, items: [{ variable: "campaign/ad1", delta: inc(alice) }], cap: Uint8Array.of(1, 2, 3) }, { now: NOW }))).toBe("BAD_CAP");
    expect(await code(c.check({ author: alice.did, items: [{ variable: "campaign/ad1", delta: inc(alice) }], cap: dagCbor.encode([[Uint8Array.of(1)]]) }, { now: NOW }))).toBe("BAD_CAP");
    expect(await code(c.check({ author: alice.did, items: [{ variable: "campaign/ad1", delta: Uint8Array.of(0x54, 0x52, 1, 99) }], cap: new Uint8Array(0) }, { now: NOW }))).toBe("BAD_DELTA");
  });

  it("memoises verified chains by CID, within its bound", async () => {
    let verified = 0;
    const { verifySignature } = await import("../dist/host/identity/index.js");
    const c = caps({ cacheSize: 2, verify: (d, b, s) => { verified++; return verifySignature(d, b, s); } });
    const chain = await delegate(owner, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: null });
    for (let i = 0; i < 5; i++) expect(await code(c.check(env(alice, "campaign/ad1", inc(alice), [chain]), { now: NOW }))).toBe("accepted");
    expect(verified).toBe(1);
    expect(c.stats).toEqual({ hits: 4, misses: 1 });
    for (let i = 0; i < 4; i++) {
      const other = await delegate(owner, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: null });
      await c.check(env(alice, "campaign/ad1", inc(alice), [other]), { now: NOW });
    }
    expect(c.cached).toBe(2);
  });

  it("authorize: the hook form, on the verifier's clock", async () => {
    let clock = NOW;
    const c = caps({ now: () => clock });
    const chain = await delegate(owner, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: S + 10 });
    const hook = c.authorize; // detached, as a hook is passed
    expect(await code(hook(env(alice, "campaign/ad1", inc(alice), [chain])))).toBe("accepted");
    clock = NOW + 10_000;
    expect(await code(hook(env(alice, "campaign/ad1", inc(alice), [chain])))).toBe("EXPIRED");
    expect(await code(c.check(env(alice, "campaign/ad1", inc(alice), [chain]), { now: NOW }))).toBe("accepted"); // an explicit now wins
  });

  it("works on a signed envelope that admit() also admits", async () => {
    const chain = await delegate(owner, { aud: alice.did, cmd: COMMANDS.INCREMENT, pol: ["campaign/*"], exp: null });
    const e = await signEnvelope(alice, { author: alice.did, seq: 1, links: [], items: [{ variable: "campaign/ad1", delta: inc(alice, 2) }], cap: encodeProof([chain]) });
    expect((await admit(new TrustLedger(), e.bytes)).status).toBe("admitted");
    expect(await code(caps().check(e, { now: NOW }))).toBe("accepted");
  });
});

describe("revocation", () => {
  it("an issuer revokes a token it issued; the chain then fails and leaves the memo", async () => {
    const c = caps();
    const chain = await delegate(owner, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: null });
    const e = env(alice, "campaign/ad1", inc(alice), [chain]);
    expect(await code(c.check(e, { now: NOW }))).toBe("accepted");
    expect(c.cached).toBe(1);
    const rec = await signRevocation(owner, chain);
    expect(await c.addRevocation(rec.bytes)).toBe(true);
    expect(await c.addRevocation(rec.bytes)).toBe(false); // idempotent
    expect(c.cached).toBe(0);
    expect(c.revokedBy(chain[0].cid)).toEqual([owner.did]);
    expect(await code(c.check(e, { now: NOW }))).toBe("REVOKED");
  });

  it("an issuer above revokes a token further down; the audience cannot revoke what it was given", async () => {
    const c = caps();
    const c1 = await delegate(owner, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: null });
    const c2 = await delegate(alice, { aud: bob.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"] }, c1);
    // bob, the audience, issued no token of c1 or c2: he cannot sign a revocation of either.
    expect(await code(signRevocation(bob, c1))).toBe("BAD_CAP");
    expect(await code(signRevocation(bob, c2))).toBe("BAD_CAP");
    // bob revokes his own onward grant to mallory: that bites mallory's chain only.
    const c3 = await delegate(bob, { aud: mallory.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"] }, c2);
    expect(await c.addRevocation((await signRevocation(bob, c3)).bytes)).toBe(true);
    expect(await code(c.check(env(mallory, "campaign/ad1", inc(mallory), [c3]), { now: NOW }))).toBe("REVOKED");
    expect(await code(c.check(env(bob, "campaign/ad1", inc(bob), [c2]), { now: NOW }))).toBe("accepted");
    // The owner, above both, revokes alice's onward grant to bob.
    expect(await c.addRevocation((await signRevocation(owner, c2)).bytes)).toBe(true);
    expect(await code(c.check(env(bob, "campaign/ad1", inc(bob), [c2]), { now: NOW }))).toBe("REVOKED");
    expect(await code(c.check(env(alice, "campaign/ad1", inc(alice), [c1]), { now: NOW }))).toBe("accepted");
  });

  it("records are checked: forged signatures, chains not rooted at an owner, garbage", async () => {
    const c = caps();
    const chain = await delegate(owner, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: null });
    const rec = await signRevocation(owner, chain);
    const m = dagCbor.decode(rec.bytes) as Record<string, unknown>;
    const sig = (m.sig as Uint8Array).slice(); sig[5] ^= 1;
    expect(await code(verifyRevocation(dagCbor.encode({ ...m, sig })))).toBe("BAD_CAP");
    expect(await code(verifyRevocation(dagCbor.encode({ ...m, rev: chain[0].cid.toString() })))).toBe("BAD_CAP");
    expect(await code(verifyRevocation(Uint8Array.of(0xa0)))).toBe("BAD_CAP");
    const self = await delegate(mallory, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["*"], exp: null });
    expect(await code(c.addRevocation((await signRevocation(mallory, self)).bytes))).toBe("BAD_CAP"); // mallory owns nothing here
    expect(c.revocations).toBe(0);
    await fc.assert(fc.asyncProperty(fc.nat(rec.bytes.length - 1), fc.integer({ min: 0, max: 255 }), async (i, b) => {
      const bad = rec.bytes.slice(); bad[i] = b;
      const r = await code(verifyRevocation(bad));
      if (b !== rec.bytes[i]) expect(r).not.toBe("accepted");
    }), { numRuns: 100 });
  });

  it("replicate as a GSet: an envelope item on trellis/revocations needs no capability, and is honoured", async () => {
    const c = caps();
    const chain = await delegate(owner, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: null });
    const rec = await signRevocation(owner, chain);
    const delta = new GSet(bob.replicaId()).add(rec.bytes).takeDelta();
    // Anyone may carry a valid record (bob here)...
    expect(await code(c.check(env(bob, REVOCATIONS_VARIABLE, delta), { now: NOW }))).toBe("accepted");
    expect(await code(c.check(env(alice, "campaign/ad1", inc(alice), [chain]), { now: NOW }))).toBe("REVOKED");
    // ...but not junk, nor another type under that name.
    expect(await code(c.check(env(bob, REVOCATIONS_VARIABLE, new GSet(bob.replicaId()).add(Uint8Array.of(1, 2)).takeDelta()), { now: NOW }))).toBe("BAD_CAP");
    expect(await code(c.check(env(bob, REVOCATIONS_VARIABLE, new GSet(bob.replicaId()).add("x").takeDelta()), { now: NOW }))).toBe("BAD_CAP");
    expect(await code(c.check(env(bob, REVOCATIONS_VARIABLE, inc(bob)), { now: NOW }))).toBe("BAD_CAP");
    // A whole state, as a node would load it at start.
    const fresh = caps();
    const state = new GSet(owner.replicaId()).add(rec.bytes);
    expect(await fresh.addRevocations(state.takeDelta())).toBe(1);
    expect(await code(fresh.check(env(alice, "campaign/ad1", inc(alice), [chain]), { now: NOW }))).toBe("REVOKED");
  });

  it("a record already added is not verified again; records per item are bounded", async () => {
    let verified = 0;
    const { verifySignature } = await import("../dist/host/identity/index.js");
    const c = caps({ maxRecordsPerItem: 2, verify: (d, b, s) => { verified++; return verifySignature(d, b, s); } });
    const chain = await delegate(owner, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: null });
    const rec = await signRevocation(owner, chain);
    expect(await c.addRevocation(rec.bytes)).toBe(true);
    const after = verified;
    expect(after).toBeGreaterThan(0);
    const g = new GSet(bob.replicaId()).add(rec.bytes);
    expect(await code(c.check(env(bob, REVOCATIONS_VARIABLE, g.takeDelta()), { now: NOW }))).toBe("accepted");
    expect(verified).toBe(after);
    const many = new GSet(bob.replicaId());
    for (let i = 0; i < 3; i++) many.add((await signRevocation(owner, await delegate(owner, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: null }))).bytes);
    expect(await code(c.check(env(bob, REVOCATIONS_VARIABLE, many.takeDelta()), { now: NOW }))).toBe("TOO_LARGE");
    expect(c.revocations).toBe(1);
  });

  it("the number of revoked tokens kept is bounded", async () => {
    const c = caps({ maxRevocations: 2 });
    for (let i = 0; i < 2; i++) {
      const ch = await delegate(owner, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: null });
      expect(await c.addRevocation((await signRevocation(owner, ch)).bytes)).toBe(true);
    }
    const ch = await delegate(owner, { aud: alice.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: null });
    expect(await code(c.addRevocation((await signRevocation(owner, ch)).bytes))).toBe("TOO_LARGE");
    expect(c.revocations).toBe(2);
  });
});

describe("canRead", () => {
  it("the owner reads; a read chain reads; write does not imply read; a bad proof is false", async () => {
    const c = caps();
    expect(await c.canRead(owner.did, "campaign/ad1")).toBe(true);
    expect(await c.canRead(alice.did, "campaign/ad1")).toBe(false);
    const read = await delegate(owner, { aud: alice.did, cmd: COMMANDS.READ, pol: ["campaign/*"], exp: S + 60 });
    expect(await c.canRead(alice.did, "campaign/ad1", { proof: encodeProof([read]), now: NOW })).toBe(true);
    expect(await c.canRead(alice.did, "campaign/ad1", { proof: encodeProof([read]), now: NOW + 61_000 })).toBe(false);
    expect(await c.canRead(bob.did, "campaign/ad1", { proof: encodeProof([read]), now: NOW })).toBe(false);
    // Memoised now: no proof needed the second time.
    expect(await c.canRead(alice.did, "campaign/ad1", { now: NOW })).toBe(true);
    const write = await delegate(owner, { aud: bob.did, cmd: COMMANDS.WRITE, pol: ["campaign/*"], exp: null });
    expect(await c.canRead(bob.did, "campaign/ad1", { proof: [write], now: NOW })).toBe(false);
    const admin = await delegate(owner, { aud: bob.did, cmd: COMMANDS.ADMIN, pol: ["campaign/*"], exp: null });
    expect(await c.canRead(bob.did, "campaign/ad1", { proof: [admin], now: NOW })).toBe(true);
    expect(await c.canRead(bob.did, "campaign/ad1", { proof: Uint8Array.of(9, 9), now: NOW })).toBe(false);
    // And read does not write.
    expect(await code(c.check(env(alice, "campaign/ad1", inc(alice), [read]), { now: NOW }))).toBe("UNAUTHORIZED_CAP");
  });
});
