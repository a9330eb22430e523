// `trellis owner`, `trellis delegate`, `trellis revoke` (host/cli/caps.ts):
// run in-process through the CLI's main with captured output; what they print
// is checked with the library (the token grants what was asked, the record
// revokes it). Needs dist/ built.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../dist/host/cli/main.js";
import { parseDuration } from "../dist/host/cli/caps.js";
import { GCounter, init } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import { loadNodeIdentity } from "../dist/host/identity/node.js";
import { openNodeStore } from "../dist/host/storage/node.js";
import { COMMANDS, Capabilities, TrustError, decodeChain, encodeProof } from "../dist/host/trust/index.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-caps-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => { await init(); });

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const code = await main(argv, { out: (s) => { out += typeof s === "string" ? s : Buffer.from(s).toString(); }, err: (s) => { err += s; } });
  return { code, out, err };
}
const b64u = (s: string) => new Uint8Array(Buffer.from(s.trim(), "base64url"));
const inc = (who: string) => { const c = new GCounter(`${who}.000000000001`); c.increment(1); return c.takeDelta(); };
async function code(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { expect(e).toBeInstanceOf(TrustError); return (e as TrustError).code; }
  return "accepted";
}

describe("trellis owner", () => {
  it("makes an owner-only key file once, then prints the same did", async () => {
    const key = join(dir, "a.key");
    const first = await run("owner", "--key", key);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/^did:key:z6Mk\S+\n$/);
    expect(first.err).toContain("created owner key");
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const again = await run("owner", "--key", key);
    expect(again).toEqual({ code: 0, out: first.out, err: "" });
  });

  it("refuses a damaged key file, and stray arguments", async () => {
    const key = join(dir, "bad.key");
    writeFileSync(key, JSON.stringify({ did: "did:key:z6MkX", seed: Buffer.alloc(32).toString("base64url") }));
    const r = await run("owner", "--key", key);
    expect(r.code).toBe(1);
    expect(r.err).toContain("is not its seed's");
    writeFileSync(key, "not json");
    expect((await run("owner", "--key", key)).code).toBe(1);
    expect((await run("owner", "extra")).code).toBe(2);
    expect((await run("owner", "--bogus")).code).toBe(2);
  });

  it("prints a stopped node's did with --data", async () => {
    const data = join(dir, "node");
    const store = await openNodeStore(data);
    const { identity } = await loadNodeIdentity(store.meta);
    await store.close();
    const r = await run("owner", "--data", data);
    expect(r).toMatchObject({ code: 0, out: identity.did + "\n" });
    expect((await run("owner", "--data", join(dir, "missing"))).code).toBe(2);
  });
});

describe("trellis delegate and revoke", () => {
  let ownerKey: string, aliceKey: string, owner: string, alice: string, bob: Identity;
  beforeAll(async () => {
    ownerKey = join(dir, "owner.key"); aliceKey = join(dir, "alice.key");
    owner = (await run("owner", "--key", ownerKey)).out.trim();
    alice = (await run("owner", "--key", aliceKey)).out.trim();
    bob = await Identity.generate();
  });

  it("prints a chain that grants what was asked, to whom, until when", async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = await run("delegate", "--key", ownerKey, "--to", alice, "--can", "increment", "--on", "campaign/*", "--expires", "1h");
    expect(r.code).toBe(0);
    const chain = await decodeChain(b64u(r.out));
    expect(chain).toHaveLength(1);
    const t = chain[0];
    expect({ iss: t.iss, sub: t.sub, aud: t.aud, cmd: t.cmd, pol: t.pol }).toEqual({ iss: owner, sub: owner, aud: alice, cmd: COMMANDS.INCREMENT, pol: ["campaign/*"] });
    expect(t.exp! - before).toBeGreaterThanOrEqual(3600);
    expect(t.exp! - before).toBeLessThanOrEqual(3602);
    expect(r.err).toContain(t.cid.toString());
    const caps = new Capabilities({ owners: { "campaign/*": owner } });
    const env = { author: alice, items: [{ variable: "campaign/ad1", delta: inc(alice) }], cap: encodeProof([chain]) };
    expect(await code(caps.check(env))).toBe("accepted");
  });

  it("delegates onward with --from, and refuses to over-delegate", async () => {
    const root = (await run("delegate", "--key", ownerKey, "--to", alice, "--can", "write", "--on", "campaign/*", "--on", "scores")).out.trim();
    const onward = await run("delegate", "--key", aliceKey, "--from", root, "--to", bob.did, "--can", "/trellis/write/increment", "--on", "campaign/ad1", "--expires", "never");
    expect(onward.code).toBe(0);
    const chain = await decodeChain(b64u(onward.out));
    expect(chain.map((t) => t.aud)).toEqual([alice, bob.did]);
    expect(chain[1].exp).toBe(chain[0].exp); // "never" is capped at the parent's expiry (30 days by default)
    const caps = new Capabilities({ owners: { "campaign/*": owner } });
    expect(await code(caps.check({ author: bob.did, items: [{ variable: "campaign/ad1", delta: inc(bob.did) }], cap: encodeProof([chain]) }))).toBe("accepted");
    const over = await run("delegate", "--key", aliceKey, "--from", root, "--to", bob.did, "--can", "admin", "--on", "campaign/ad1");
    expect(over.code).toBe(1);
    expect(over.err).toContain("OVER_DELEGATED");
    // The owner's key cannot extend a chain that delegates to alice.
    expect((await run("delegate", "--key", ownerKey, "--from", root, "--to", bob.did, "--can", "write", "--on", "campaign/ad1")).err).toContain("BAD_CAP");
  });

  it("refuses bad arguments with usage errors", async () => {
    expect((await run("delegate", "--key", ownerKey, "--to", alice, "--can", "write")).code).toBe(2); // no --on
    expect((await run("delegate", "--key", ownerKey, "--to", "bob", "--can", "write", "--on", "x")).code).toBe(2);
    expect((await run("delegate", "--key", ownerKey, "--to", alice, "--can", "fly", "--on", "x")).code).toBe(2);
    expect((await run("delegate", "--key", ownerKey, "--to", alice, "--can", "write", "--on", "x", "--expires", "soon")).code).toBe(2);
    expect((await run("delegate", "--key", join(dir, "nokey"), "--to", alice, "--can", "write", "--on", "x")).code).toBe(2);
    expect((await run("delegate", "--key", ownerKey, "--from", "!!", "--to", alice, "--can", "write", "--on", "x")).code).toBe(2);
    expect(parseDuration("90s")).toBe(90);
    expect(parseDuration("30d")).toBe(30 * 86400);
    expect(parseDuration("never")).toBeNull();
  });

  it("revokes by CID alone a token its key issued; the record revokes it everywhere it is added", async () => {
    const d = await run("delegate", "--key", ownerKey, "--to", alice, "--can", "write", "--on", "campaign/*");
    const chain = await decodeChain(b64u(d.out));
    const cid = chain[0].cid.toString();
    const r = await run("revoke", cid, "--key", ownerKey);
    expect(r.code).toBe(0);
    expect(r.err).toContain("trellis update trellis/revocations");
    const caps = new Capabilities({ owners: { "campaign/*": owner } });
    const env = { author: alice, items: [{ variable: "campaign/ad1", delta: inc(alice) }], cap: encodeProof([chain]) };
    expect(await code(caps.check(env))).toBe("accepted");
    expect(await caps.addRevocation(b64u(r.out))).toBe(true);
    expect(await code(caps.check(env))).toBe("REVOKED");
    // The op it suggests carries the same bytes.
    const std = /"\$bytes":"([^"]+)"/.exec(r.err)![1];
    expect(Buffer.from(std, "base64").equals(Buffer.from(b64u(r.out)))).toBe(true);
  });

  it("revokes a token further down a chain given with --proof; refuses unknown and malformed CIDs", async () => {
    const root = (await run("delegate", "--key", ownerKey, "--to", alice, "--can", "write", "--on", "campaign/*")).out.trim();
    const onward = (await run("delegate", "--key", aliceKey, "--from", root, "--to", bob.did, "--can", "add", "--on", "campaign/ads")).out.trim();
    const chain = await decodeChain(b64u(onward));
    const leaf = chain[1].cid.toString();
    // The owner did not issue the leaf, and its own log does not hold it; with the chain it may revoke it.
    expect((await run("revoke", leaf, "--key", ownerKey)).code).toBe(2);
    const r = await run("revoke", leaf, "--key", ownerKey, "--proof", onward);
    expect(r.code).toBe(0);
    const caps = new Capabilities({ owners: { "campaign/*": owner } });
    expect(await caps.addRevocation(b64u(r.out))).toBe(true);
    expect(caps.revokedBy(leaf)).toEqual([owner]);
    expect((await run("revoke", "bafyNOTACID", "--key", ownerKey)).code).toBe(2);
    expect((await run("revoke", "--key", ownerKey)).code).toBe(2);
    expect(readFileSync(ownerKey + ".issued", "utf8").split("\n").filter(Boolean).length).toBeGreaterThanOrEqual(4);
  });
});
