// The ad-counter dashboard (web/) in Chromium against the real server
// (web/server.mjs: a trellis node with storage and WebSocket sync): two tabs
// and the server converge; a tab goes offline, keeps counting, is reloaded
// with no network (its state comes back from IndexedDB, the page from the
// service worker), comes back online, and everyone converges. The server
// removes ads at their limit; a new campaign (also after a restart, when
// every ad was removed in an earlier run) brings fresh ads and counters.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "./util/chromium.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const ADS = ["c1-shoes", "c1-coffee", "c1-bikes", "c1-books"];

let base = "";
let browser: Browser;

// The server's API token, made in its data directory at its first start.
let token = "";
const auth = (): Record<string, string> => ({ authorization: `Bearer ${token}` });
async function api(path: string): Promise<any> {
  const r = await fetch(base + path, { headers: auth() });
  return r.json();
}
const serverCounts = async (): Promise<number[]> => Promise.all(ADS.map(async (ad) => (await api(`/v/impressions%2F${ad}`)).value as number));
const serverState = async (id: string): Promise<number[]> => Array.from(new Uint8Array(await (await fetch(`${base}/v/${encodeURIComponent(id)}/state`, { headers: auth() })).arrayBuffer()));

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

async function startServer(limit: number, data = mkdtempSync(join(tmpdir(), "trellis-web-"))): Promise<{ proc: ChildProcess; base: string; data: string }> {
  const proc = spawn(process.execPath, ["web/server.mjs", "--port", "0", "--data", data, "--limit", String(limit)], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  const base = await new Promise<string>((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (d) => { out += d; const m = out.match(/http:\/\/127\.0\.0\.1:(\d+)\/app\//); if (m) resolve(`http://127.0.0.1:${m[1]}`); });
    proc.on("exit", (c) => reject(new Error(`server exited ${c}`)));
    setTimeout(() => reject(new Error("server did not start")), 20_000);
  });
  return { proc, base, data };
}

async function stopServer(s: { proc: ChildProcess; data: string }, keep = false): Promise<void> {
  s.proc.kill("SIGTERM");
  await new Promise((r) => s.proc.once("exit", r));
  if (!keep) rmSync(s.data, { recursive: true, force: true });
}

let main: { proc: ChildProcess; base: string; data: string };

beforeAll(async () => {
  // A high limit: the first test is about sync, not removal.
  main = await startServer(100_000);
  base = main.base;
  token = readFileSync(join(main.data, "api-token"), "utf8").trim();
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

  it("the server removes each ad at its limit; after a restart with every ad removed, a new campaign starts afresh", async () => {
    let small = await startServer(10);
    const saved = base, savedToken = token;
    base = small.base;
    token = readFileSync(join(small.data, "api-token"), "utf8").trim();
    const displayable = (p: Page): Promise<string[]> => p.evaluate(() => (globalThis as any).trellis.rt.query("displayable"));
    try {
      const ctx = await browser.newContext();
      const tab = await openTab(ctx);
      await until("ads displayable", async () => (await displayable(tab)).length === 4);
      await tab.check("#auto");
      await until("every ad removed", async () => (await displayable(tab)).length === 0, 30_000);
      await tab.uncheck("#auto");
      await until("the table shows all four removed", async () => (await tab.locator("#ads tbody tr.removed").count()) === 4);
      expect((await api("/v/ads")).value).toEqual([]);
      // Each row: name, state, count / limit, and the overshoot past the limit.
      // An impression the tab counted just before the removal reached it may
      // still be on its way to the server: compare once both agree.
      const row = (i: number, n: number) => `${ADS[i].slice(3)}removed at the limit${n} / 10${n > 10 ? `+${n - 10} (${Math.round(((n - 10) / 10) * 100)}%)` : ""}`;
      let counts: number[] = [];
      await until("the rows show the server's counts", async () => {
        counts = await serverCounts();
        const rows = await tab.locator("#ads tbody tr").allTextContents();
        return rows.length === 4 && rows.every((r, i) => r === row(i, counts[i]));
      });
      for (const n of counts) expect(n).toBeGreaterThanOrEqual(10);
      await until("the page says so", async () => tab.locator("#done").isVisible());
      await ctx.close();

      // A second start on the same data (a second `npm start`): nothing is
      // displayable, the page says why and offers a new campaign.
      await stopServer(small, true);
      small = await startServer(10, small.data);
      base = small.base;
      const ctx2 = await browser.newContext();
      const tab2 = await openTab(ctx2);
      await until("the campaign arrives", async () => (await tab2.evaluate(() => (globalThis as any).trellis.campaign()?.n)) === 1);
      await until("the page says every ad was removed", async () => tab2.locator("#done").isVisible());
      expect(await tab2.locator("#done-text").textContent()).toMatch(/^All 4 ads of campaign 1 reached their limit of 10 impressions and were removed/);
      expect(await displayable(tab2)).toEqual([]);
      await tab2.click("#new-campaign-2");
      await tab2.evaluate(() => (globalThis as any).trellis.newCampaign()); // a double click asks once
      const fresh = ADS.map((ad) => ad.replace("c1-", "c2-"));
      await until("campaign 2's ads displayable", async () => JSON.stringify((await displayable(tab2)).sort()) === JSON.stringify([...fresh].sort()));
      // The page renders after the state changes (not in the same tick).
      await until("the banner goes", async () => !(await tab2.locator("#done").isVisible()));
      await until("the page names campaign 2", async () => (await tab2.locator("#campaign-n").textContent()) === "campaign 2");
      // Fresh counters; the old ones are kept, as history.
      for (const ad of fresh) expect((await api(`/v/impressions%2F${ad}`)).value).toBe(0);
      expect(await serverCounts()).toEqual(counts);
      const history = (await api("/v/campaigns")).value.sort((a: any, b: any) => a.n - b.n);
      expect(history).toEqual([{ n: 1, limit: 10, ads: ADS }, { n: 2, limit: 10, ads: fresh }]);
      await until("the history table shows campaign 1", async () => (await tab2.locator("#history tbody tr").allTextContents()).length === 1);
      const past = (await tab2.locator("#history tbody tr").textContent())!;
      for (let i = 0; i < 4; i++) expect(past).toContain(`${ADS[i].slice(3)} ${counts[i]}`);
      // A second request for the same number (another tab asking at once) starts nothing more.
      const r = await fetch(`${base}/v/campaign`, { method: "POST", headers: { ...auth(), "content-type": "application/json" }, body: JSON.stringify({ set: 2 }) });
      expect(r.status).toBe(200);
      await new Promise((res) => setTimeout(res, 500));
      expect((await api("/v/campaigns")).value.length).toBe(2);
      expect((await api("/v/campaign")).value).toBe(2);
      // The new campaign runs like the first: shown, counted, removed at the limit.
      await tab2.check("#auto");
      await until("campaign 2's ads removed", async () => (await displayable(tab2)).length === 0, 30_000);
      for (const ad of fresh) expect((await api(`/v/impressions%2F${ad}`)).value).toBeGreaterThanOrEqual(10);
      await ctx2.close();
    } finally {
      base = saved; token = savedToken;
      await stopServer(small);
    }
  }, 120_000);
});
