// The ad-counter dashboard (web/) in Chromium against the real server
// (web/server.mjs: a trellis node with storage and WebSocket sync): two tabs
// and the server converge; a tab goes offline, keeps counting, is reloaded
// with no network (its state comes back from IndexedDB, the page from the
// service worker), comes back online, and everyone converges.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "./util/chromium.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const ADS = ["ad-shoes", "ad-coffee", "ad-bikes", "ad-books"];

let base = "";
let browser: Browser;

async function api(path: string): Promise<any> {
  const r = await fetch(base + path);
  return r.json();
}
const serverCounts = async (): Promise<number[]> => Promise.all(ADS.map(async (ad) => (await api(`/v/impressions%2F${ad}`)).value as number));
const serverState = async (id: string): Promise<number[]> => Array.from(new Uint8Array(await (await fetch(`${base}/v/${encodeURIComponent(id)}/state`)).arrayBuffer()));

async function until(what: string, f: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (await f()) return; await new Promise((r) => setTimeout(r, 100)); }
  throw new Error(`timed out waiting for: ${what}`);
}

async function openTab(ctx: BrowserContext): Promise<Page> {
  const page = await ctx.newPage();
  page.on("pageerror", (e) => console.error("page error:", e));
  await page.goto(base + "/app/");
  await page.waitForFunction(() => (globalThis as any).trellis?.online(), null, { timeout: 20_000 });
  return page;
}
const tabCounts = (p: Page): Promise<number[]> => p.evaluate((ads) => ads.map((ad) => {
  const rt = (globalThis as any).trellis.rt;
  return rt.has(`impressions/${ad}`) ? rt.query(`impressions/${ad}`) : 0;
}), ADS);
const tabState = (p: Page, id: string): Promise<number[]> => p.evaluate((id) => (globalThis as any).trellis.state(id), id);
const show = (p: Page, n: number): Promise<unknown> => p.evaluate(async (n) => { for (let i = 0; i < n; i++) await (globalThis as any).trellis.showAd(); }, n);
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

async function startServer(limit: number): Promise<{ proc: ChildProcess; base: string; data: string }> {
  const data = mkdtempSync(join(tmpdir(), "trellis-web-"));
  const proc = spawn(process.execPath, ["web/server.mjs", "--port", "0", "--data", data, "--limit", String(limit)], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  const base = await new Promise<string>((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (d) => { out += d; const m = out.match(/http:\/\/127\.0\.0\.1:(\d+)\/app\//); if (m) resolve(`http://127.0.0.1:${m[1]}`); });
    proc.on("exit", (c) => reject(new Error(`server exited ${c}`)));
    setTimeout(() => reject(new Error("server did not start")), 20_000);
  });
  return { proc, base, data };
}

async function stopServer(s: { proc: ChildProcess; data: string }): Promise<void> {
  s.proc.kill("SIGTERM");
  await new Promise((r) => s.proc.once("exit", r));
  rmSync(s.data, { recursive: true, force: true });
}

let main: { proc: ChildProcess; base: string; data: string };

beforeAll(async () => {
  // A high limit: the first test is about sync, not removal.
  main = await startServer(100_000);
  base = main.base;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (main) await stopServer(main);
});

describe("ad-counter dashboard in Chromium", () => {
  it("two tabs and the server converge; an offline tab reloads from IndexedDB and catches up", async () => {
    // Each tab in its own context: separate storage, and one can go offline alone.
    const ctxA = await browser.newContext(), ctxB = await browser.newContext();
    const a = await openTab(ctxA), b = await openTab(ctxB);
    // Each tab has its own key (non-extractable WebCrypto), proven to the server, which names it by its did.
    const dids = await Promise.all([a, b].map((p) => p.evaluate(() => {
      const t = (globalThis as any).trellis;
      return { did: t.did, replica: t.incarnation, backend: t.identity.backend, extractable: t.identity.keyPair.privateKey.extractable };
    })));
    for (const d of dids) {
      expect(d).toMatchObject({ did: expect.stringMatching(/^did:key:z6Mk/), backend: "webcrypto", extractable: false });
      expect(d.replica.startsWith(`${d.did}.`)).toBe(true);
    }
    expect(dids[0].did).not.toBe(dids[1].did);
    await until("the server names both tabs by their keys", async () =>
      JSON.stringify(((await api("/")).peers.server as string[]).sort()) === JSON.stringify(dids.map((d) => d.did).sort()));
    await until("both tabs see the ads", async () => (await a.evaluate(() => (globalThis as any).trellis.rt.query("displayable").length)) === 4
      && (await b.evaluate(() => (globalThis as any).trellis.rt.query("displayable").length)) === 4);

    await show(a, 12);
    await show(b, 7);
    await until("server has 19 impressions", async () => sum(await serverCounts()) === 19);
    await until("tabs agree with the server", async () => {
      const s = await serverCounts();
      return JSON.stringify(await tabCounts(a)) === JSON.stringify(s) && JSON.stringify(await tabCounts(b)) === JSON.stringify(s);
    });

    // The dashboard shows it.
    await until("rows rendered", async () => (await a.locator("#ads tbody tr").count()) === 4);

    // B goes offline and keeps counting; nothing reaches the server.
    await b.evaluate(() => navigator.serviceWorker.ready);
    await ctxB.setOffline(true);
    await until("b notices it is offline", async () => !(await b.evaluate(() => (globalThis as any).trellis.online())));
    await show(b, 9);
    await b.evaluate(() => (globalThis as any).trellis.flushed());
    const offlineCounts = await tabCounts(b);
    expect(sum(offlineCounts)).toBe(28);
    await show(a, 3); // meanwhile, online
    await new Promise((r) => setTimeout(r, 500));
    expect(sum(await serverCounts())).toBe(22);

    // Reload with no network: the page from the service worker, the state from IndexedDB.
    const replicaBefore = await b.evaluate(() => (globalThis as any).trellis.replica);
    await b.reload();
    await b.waitForFunction(() => (globalThis as any).trellis?.rt, null, { timeout: 20_000 });
    expect(await b.evaluate(() => (globalThis as any).trellis.replica)).toBe(replicaBefore);
    expect(await b.evaluate(() => (globalThis as any).trellis.did)).toBe(dids[1].did); // the same key after a reload
    expect(await b.evaluate(() => (globalThis as any).trellis.online())).toBe(false);
    expect(await tabCounts(b)).toEqual(offlineCounts);

    // Back online: everyone converges on all 31 impressions, byte for byte.
    await ctxB.setOffline(false);
    await until("server has all 31 impressions", async () => sum(await serverCounts()) === 31);
    await until("all three states identical", async () => {
      for (const id of ["ads", "contracts", ...ADS.map((ad) => `impressions/${ad}`)]) {
        const s = JSON.stringify(await serverState(id));
        if (JSON.stringify(await tabState(a, id)) !== s || JSON.stringify(await tabState(b, id)) !== s) return false;
      }
      return true;
    });
    await ctxA.close(); await ctxB.close();
  }, 120_000);

  it("the server removes each ad at its limit; the dashboard lists it as removed with its overshoot", async () => {
    const small = await startServer(10);
    const saved = base;
    base = small.base;
    try {
      const ctx = await browser.newContext();
      const tab = await openTab(ctx);
      await until("ads displayable", async () => (await tab.evaluate(() => (globalThis as any).trellis.rt.query("displayable").length)) === 4);
      await tab.check("#auto");
      await until("every ad removed", async () => (await tab.evaluate(() => (globalThis as any).trellis.rt.query("displayable").length)) === 0, 30_000);
      await tab.uncheck("#auto");
      await until("removed table lists all four", async () => (await tab.locator("#removed tbody tr").count()) === 4);
      const counts = await serverCounts();
      for (const n of counts) expect(n).toBeGreaterThanOrEqual(10);
      expect((await api("/v/ads")).value).toEqual([]);
      const rows = await tab.locator("#removed tbody tr").allTextContents();
      for (const r of rows) expect(r).toMatch(/^ad-\w+\d+\+\d+$/);
      await ctx.close();
    } finally {
      base = saved;
      await stopServer(small);
    }
  }, 90_000);
});
