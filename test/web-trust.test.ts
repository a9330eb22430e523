// The web app in trustless mode (web/README.md, "Trust"), in Chromium against
// the real server: each tab holds a delegation of what a tab may do, fetched
// with a request signed by its key; tabs' impressions count; the server (the
// owner) removes an ad at its limit; a tab that signs a removal itself (as a
// hostile tab would, through the test hook) is refused UNAUTHORIZED_CAP and
// the ad stays listed on every tab. The delegation endpoint refuses bad
// signatures, stale requests and floods.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "./util/chromium.js";
import { Identity } from "../dist/host/identity/index.js";
import { decodeProof } from "../dist/host/trust/index.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const LIMIT = 5;

let browser: Browser;
let server: { proc: ChildProcess; base: string; data: string; err: () => string };

async function until(what: string, f: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (await f()) return; await new Promise((r) => setTimeout(r, 100)); }
  throw new Error(`timed out waiting for: ${what}`);
}

async function openTab(ctx: BrowserContext): Promise<Page> {
  const page = await ctx.newPage();
  page.on("pageerror", (e) => console.error("page error:", e));
  await page.goto(server.base + "/app/");
  await page.waitForFunction(() => (globalThis as any).trellis?.online(), null, { timeout: 20_000 });
  return page;
}
const displayable = (p: Page): Promise<string[]> => p.evaluate(() => (globalThis as any).trellis.rt.query("displayable"));
const api = async (path: string): Promise<any> =>
  (await fetch(server.base + path, { headers: { authorization: `Bearer ${readFileSync(join(server.data, "api-token"), "utf8").trim()}` } })).json();
// Warnings the server logged (JSON lines on stderr).
const logged = (msg: string): any[] => server.err().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).filter((l) => l.msg === msg);

beforeAll(async () => {
  const data = mkdtempSync(join(tmpdir(), "trellis-web-trust-"));
  const proc = spawn(process.execPath, ["web/server.mjs", "--port", "0", "--data", data, "--limit", String(LIMIT)], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  proc.stderr!.on("data", (d) => { err += d; });
  const base = await new Promise<string>((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (d) => { out += d; const m = out.match(/http:\/\/127\.0\.0\.1:(\d+)\/app\//); if (m) resolve(`http://127.0.0.1:${m[1]}`); });
    proc.on("exit", (c) => reject(new Error(`server exited ${c}: ${err}`)));
    setTimeout(() => reject(new Error("server did not start")), 20_000);
  });
  server = { proc, base, data, err: () => err };
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (server) {
    server.proc.kill("SIGTERM");
    await new Promise((r) => (server.proc.exitCode !== null ? r(null) : server.proc.once("exit", r)));
    rmSync(server.data, { recursive: true, force: true });
  }
});

describe("the web app with capabilities", () => {
  it("tabs count impressions with their delegation; a tab's removal is refused and the ad stays; the server removes it at the limit", async () => {
    const a = await openTab(await browser.newContext()), b = await openTab(await browser.newContext());
    for (const p of [a, b]) await until("ads displayable", async () => (await displayable(p)).length === 4);
    // Each tab's proof is a delegation from the server to its own key.
    const owner = await a.evaluate(() => (globalThis as any).trellis.owner);
    expect(owner).toMatch(/^did:key:/);
    expect(await b.evaluate(() => (globalThis as any).trellis.owner)).toBe(owner);

    // A tab signs a removal of c1-shoes by hand: the server refuses it.
    const cid = await a.evaluate(() => (globalThis as any).trellis.tryRemoveAd("c1-shoes"));
    expect(cid).toMatch(/^b/);
    await until("the server refused the removal", async () => logged("envelope rejected").some((l) => l.code === "UNAUTHORIZED_CAP"));
    const refusal = logged("envelope rejected").find((l) => l.code === "UNAUTHORIZED_CAP");
    expect(refusal.err.message).toContain("/trellis/write/remove");
    // Tabs keep syncing (the refused envelope took no place in the tab's chain):
    // the counts below arrive; and the ad is still listed everywhere.
    await a.evaluate(async () => { for (let i = 0; i < 3; i++) (globalThis as any).trellis.rt.update("impressions/c1-shoes", { increment: 1 }); await (globalThis as any).trellis.flushed(); });
    await until("the server counts tab a's impressions", async () => (await api("/v/impressions%2Fc1-shoes")).value === 3);
    for (const p of [a, b]) expect(await displayable(p)).toContain("c1-shoes");
    expect((await api("/v/ads")).value.map((x: any) => x.id)).toContain("c1-shoes");

    // Tab b's impressions take the counter to the limit: the server (the
    // owner, whose enforceOnce declares the remove) removes the ad on every replica.
    await b.evaluate(async () => { for (let i = 0; i < 2; i++) (globalThis as any).trellis.rt.update("impressions/c1-shoes", { increment: 1 }); await (globalThis as any).trellis.flushed(); });
    for (const p of [a, b]) await until("the ad removed on every tab", async () => !(await displayable(p)).includes("c1-shoes"));
    expect((await api("/v/ads")).value.map((x: any) => x.id)).not.toContain("c1-shoes");
    expect(logged("ad removed at its limit").map((l) => l.ad)).toEqual(["c1-shoes"]);
    // No tab's honest envelope was refused by the server.
    expect(logged("envelope rejected").filter((l) => l.code !== "UNAUTHORIZED_CAP")).toEqual([]);
    expect(logged("envelope rejected")).toHaveLength(1);
    for (const p of [a, b]) expect((await p.evaluate(() => (globalThis as any).trellis.trustStats())).signed).toBeGreaterThan(0);
  }, 90_000);

  it("the delegation endpoint gives a key its grants only with its signature, fresh, and not too often", async () => {
    const id = await Identity.generate();
    const post = (body: unknown) => fetch(server.base + "/app-api/delegation", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const signed = async (ts: number, who = id) => ({ did: id.did, ts, sig: Buffer.from(await who.sign(new TextEncoder().encode(`trellis-web-delegation/1\0${id.did}\0${ts}`))).toString("base64") });
    // Another key's signature, junk and a stale request.
    expect((await post(await signed(Date.now(), await Identity.generate()))).status).toBe(401);
    expect((await post({ did: id.did })).status).toBe(400);
    expect((await fetch(server.base + "/app-api/delegation", { method: "POST", body: "{" })).status).toBe(400);
    expect((await post(await signed(Date.now() - 3_600_000))).status).toBe(400);
    expect((await fetch(server.base + "/app-api/delegation")).status).toBe(405);
    expect((await post({ did: id.did, ts: Date.now(), sig: "x".repeat(5000) })).status).toBe(413);
    // The real thing: chains from the server to this key, increment on impressions/* among them.
    const r = await post(await signed(Date.now()));
    expect(r.status).toBe(200);
    const d = await r.json();
    const chains = await decodeProof(Uint8Array.from(Buffer.from(d.proof, "base64")));
    expect(chains.every((c) => c[0].iss === d.owner && c[c.length - 1].aud === id.did)).toBe(true);
    expect(chains.map((c) => c[0].cmd).sort()).toEqual(["/trellis/read", "/trellis/write/add", "/trellis/write/increment", "/trellis/write/set"]);
    expect(chains.find((c) => c[0].cmd === "/trellis/write/increment")![0].pol).toEqual(["impressions/*"]);
    expect(chains.some((c) => c[0].cmd === "/trellis/write/remove" || c[0].cmd === "/trellis/write")).toBe(false);
    // Again at once: rate-limited.
    expect((await post(await signed(Date.now()))).status).toBe(429);
  });
});
