// What the demo shows, checked against the state it is drawn from: the
// dashboard's chart and dataflow graph and its replica list (web/app.js), the
// leaderboard page (web/leaderboard.js: local top-K per tab, global top-K by
// foldDynamic), and the server's start-up errors (web/server.mjs).
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
const K = 5;

interface Server { proc: ChildProcess; base: string; port: number; data: string; stderr: () => string }

// The node's HTTP API needs the token it made in its data directory at first start.
const get = (s: Server, path: string): Promise<Response> =>
  fetch(`${s.base}${path}`, { headers: { authorization: `Bearer ${readFileSync(join(s.data, "api-token"), "utf8").trim()}` } });
const servers: Server[] = [];
let browser: Browser;

function run(args: string[]): { proc: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
  const proc = spawn(process.execPath, ["web/server.mjs", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  proc.stdout!.on("data", (d) => { out += d; });
  proc.stderr!.on("data", (d) => { err += d; });
  const exit = new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
  return { proc, out: () => out, err: () => err, exit };
}

async function startServer(limit: number): Promise<Server> {
  const data = mkdtempSync(join(tmpdir(), "trellis-demo-"));
  const r = run(["--port", "0", "--data", data, "--limit", String(limit)]);
  const port = await new Promise<number>((resolve, reject) => {
    r.proc.stdout!.on("data", () => { const m = r.out().match(/http:\/\/127\.0\.0\.1:(\d+)\/app\//); if (m) resolve(Number(m[1])); });
    r.exit.then((c) => reject(new Error(`server exited ${c}: ${r.err()}`)));
    setTimeout(() => reject(new Error("server did not start")), 20_000);
  });
  const s = { proc: r.proc, base: `http://127.0.0.1:${port}`, port, data, stderr: r.err };
  servers.push(s);
  return s;
}

async function until(what: string, f: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (await f()) return; await new Promise((r) => setTimeout(r, 100)); }
  throw new Error(`timed out waiting for: ${what}`);
}

async function openPage(ctx: BrowserContext, url: string): Promise<Page> {
  const page = await ctx.newPage();
  page.on("pageerror", (e) => console.error("page error:", e));
  await page.goto(url);
  await page.waitForFunction(() => (globalThis as any).trellis?.online(), null, { timeout: 20_000 });
  return page;
}

beforeAll(async () => { browser = await launchChromium(); }, 60_000);
afterAll(async () => {
  await browser?.close();
  for (const s of servers) {
    s.proc.kill("SIGTERM");
    await new Promise((r) => (s.proc.exitCode !== null ? r(null) : s.proc.once("exit", r)));
    rmSync(s.data, { recursive: true, force: true });
  }
});

describe("the dashboard draws the replicated state", () => {
  it("the chart has one series per ad ending at its counter, the graph shows the program's sizes, the replica list who is online", async () => {
    const s = await startServer(100_000);
    const ctxA = await browser.newContext(), ctxB = await browser.newContext();
    const a = await openPage(ctxA, s.base + "/app/"), b = await openPage(ctxB, s.base + "/app/");
    // Both tabs hold the ads before they show any (showAd shows nothing before).
    for (const p of [a, b]) await until("ads displayable", async () => (await p.evaluate(() => (globalThis as any).trellis.rt.query("displayable").length)) === 4);
    await a.evaluate(async () => { for (let i = 0; i < 13; i++) await (globalThis as any).trellis.showAd(); });
    await b.evaluate(async () => { for (let i = 0; i < 8; i++) await (globalThis as any).trellis.showAd(); });
    const serverCounts = async (): Promise<number[]> => Promise.all(ADS.map(async (ad) => (await (await get(s, `/v/impressions%2F${ad}`)).json()).value));
    await until("the server has all 21", async () => (await serverCounts()).reduce((x, y) => x + y, 0) === 21);
    const counts = await serverCounts();
    await until("tab a has them too", async () => JSON.stringify(await a.evaluate((ads) => ads.map((ad) => (globalThis as any).trellis.rt.query(`impressions/${ad}`)), ADS)) === JSON.stringify(counts));

    // Drawn and read in one turn, so the DOM and the state are from the same moment.
    const seen = await a.evaluate((ads) => {
      const t = (globalThis as any).trellis;
      t.render();
      const series = [...document.querySelectorAll("#chart path.series")].map((p) => ({ ad: p.getAttribute("data-ad"), last: Number(p.getAttribute("data-last")), points: Number(p.getAttribute("data-points")), d: p.getAttribute("d") }));
      const node = (id: string) => document.querySelector(`#graph [data-var="${id}"] .value`)?.textContent;
      return {
        series, counts: ads.map((ad) => t.rt.query(`impressions/${ad}`)),
        labels: [...document.querySelectorAll("#chart text.label")].map((x) => x.textContent),
        graph: Object.fromEntries(["contracts", "ads", "ads×contracts", "matched", "displayable", "impressions", "enforce"].map((id) => [id, node(id)])),
        sizes: ["contracts", "ads", "ads×contracts", "matched", "displayable"].map((id) => t.rt.query(id).length),
        counted: [...document.querySelectorAll("#counted li")].map((li) => [li.getAttribute("data-replica"), Number(li.getAttribute("data-count"))]),
      };
    }, ADS);
    expect(seen.series.map((x) => x.ad)).toEqual(ADS);
    expect(seen.series.map((x) => x.last)).toEqual(seen.counts);
    expect(seen.counts).toEqual(counts);
    expect(seen.labels).toEqual(ADS.map((ad, i) => `${ad.slice(3)} ${counts[i]}`));
    // A series climbs from where this tab first saw the ad to its count, one step per change seen.
    for (const x of seen.series) if (x.last > 0) { expect(x.points).toBeGreaterThanOrEqual(2); expect(x.d!.match(/V/g)!.length).toBe(x.points); }
    expect(seen.sizes).toEqual([4, 4, 16, 4, 4]);
    expect(seen.graph).toEqual({
      contracts: "4 contracts", ads: "4 ads", "ads×contracts": "16 pairs", matched: "4 matched", displayable: "4 displayable",
      impressions: "21 counted", enforce: "0 of 4 removed",
    });

    // Who counted: each tab's own GCounter entries, read from the state's bytes.
    // Grouped by the tab's key (its did), whatever its incarnation.
    const [ra, rb] = [await a.evaluate(() => (globalThis as any).trellis.did), await b.evaluate(() => (globalThis as any).trellis.did)];
    expect(seen.counted).toEqual([[ra, 13], [rb, 8]]);

    // Replicas: the server, this tab, and the other tab as the server reports it.
    const other = await b.evaluate(() => (globalThis as any).trellis.did); // the server lists peers by their proven key
    await until("a lists b", async () => (await a.locator(`#replicas li[data-replica="${other}"]`).count()) === 1);
    expect(await a.locator('#replicas li[data-replica="server"]').getAttribute("class")).toBe("replica online");
    expect(await a.locator(`#replicas li[data-replica="${other}"]`).getAttribute("class")).toBe("replica online");
    // b goes offline: b shows the server unreachable; a no longer lists b.
    await ctxB.setOffline(true);
    await until("b shows the server unreachable", async () => (await b.locator('#replicas li[data-replica="server"]').getAttribute("class")) === "replica offline");
    expect(await b.locator("#status").textContent()).toBe("offline");
    await until("a drops b", async () => (await a.locator(`#replicas li[data-replica="${other}"]`).count()) === 0);
    await ctxA.close(); await ctxB.close();
  }, 90_000);
});

describe("the leaderboard page", () => {
  it("each tab shows its local top-K, and every tab and the server the top-K of all tabs' games", async () => {
    const s = await startServer(100_000);
    const ctxs = await Promise.all([0, 1, 2].map(() => browser.newContext()));
    const tabs = await Promise.all(ctxs.map((c) => openPage(c, s.base + "/app/leaderboard.html")));
    for (const [i, t] of tabs.entries()) await t.evaluate(async (n) => { for (let j = 0; j < n; j++) await (globalThis as any).trellis.play(); }, 10 + 5 * i);
    const games: { player: string; score: number }[][] = await Promise.all(tabs.map((t) => t.evaluate(() => (globalThis as any).trellis.games())));
    expect(games.map((g) => g.length)).toEqual([10, 15, 20]);
    // The top-K recomputed from the games: each player's best, highest first.
    const topK = (gs: { player: string; score: number }[]): { id: string; score: number }[] => {
      const best = new Map<string, number>();
      for (const g of gs) best.set(g.player, Math.max(best.get(g.player) ?? -1, g.score));
      return [...best].map(([id, score]) => ({ id, score })).sort((x, y) => y.score - x.score || (x.id < y.id ? -1 : 1)).slice(0, K);
    };
    // Ties in score may be ordered by encoded bytes; compare in one order.
    const norm = (xs: { id: string; score: number }[]): string => JSON.stringify([...xs].sort((x, y) => y.score - x.score || (x.id < y.id ? -1 : 1)));
    const want = norm(topK(games.flat()));
    const rows = (t: Page, table: string): Promise<{ id: string; score: number }[]> => t.evaluate((table) => {
      (globalThis as any).trellis.render();
      return [...document.querySelectorAll(`#${table} tbody tr`)].map((tr) => ({ id: tr.getAttribute("data-player")!, score: Number(tr.getAttribute("data-score")) }));
    }, table);
    for (const [i, t] of tabs.entries()) {
      await until(`tab ${i} shows the global top-${K}`, async () => norm(await rows(t, "global")) === want);
      const shown = await rows(t, "global");
      expect(shown.map((e) => e.score)).toEqual([...shown.map((e) => e.score)].sort((x, y) => y - x));
      // Local: this tab's own games only.
      expect(norm(await rows(t, "local"))).toBe(norm(topK(games[i])));
      expect(norm(await t.evaluate(() => (globalThis as any).trellis.rt.query("lb/local")))).toBe(norm(topK(games[i])));
    }
    await until("the server holds it", async () => norm((await (await get(s, `/v/lb%2Fglobal`)).json()).value) === want);

    // The rows highlighted as "yours" are the global entries this tab's own local top-K holds.
    for (const [i, t] of tabs.entries()) {
      const mine = await t.evaluate(() => [...document.querySelectorAll("#global tbody tr.mine")].map((tr) => tr.getAttribute("data-player")));
      const local = topK(games[i]);
      expect(mine.sort()).toEqual(JSON.parse(want).filter((e: { id: string; score: number }) => local.some((l) => l.id === e.id && l.score === e.score)).map((e: { id: string }) => e.id).sort());
    }

    // A reloaded tab keeps its local top-K (IndexedDB), and its new games still reach the global one.
    const before = await tabs[0].evaluate(() => (globalThis as any).trellis.rt.query("lb/local"));
    await tabs[0].reload();
    await tabs[0].waitForFunction(() => (globalThis as any).trellis?.online(), null, { timeout: 20_000 });
    expect(await tabs[0].evaluate(() => (globalThis as any).trellis.rt.query("lb/local"))).toEqual(before);
    // Scores above every earlier one, so the global top-K must change.
    await tabs[0].evaluate(async () => {
      const rt = (globalThis as any).trellis.rt;
      rt.update("lb/local", [{ add: ["zed", 5000] }, { add: ["yan", 4000] }]);
      await (globalThis as any).trellis.flushed();
    });
    const after = norm([{ id: "zed", score: 5000 }, { id: "yan", score: 4000 }, ...JSON.parse(want)].slice(0, K));
    for (const [i, t] of tabs.entries()) await until(`tab ${i} sees the reloaded tab's new scores`, async () => norm(await rows(t, "global")) === after);
    await until("the server too", async () => norm((await (await get(s, `/v/lb%2Fglobal`)).json()).value) === after);
    await Promise.all(ctxs.map((c) => c.close()));
  }, 90_000);
});

describe("the server's campaigns under hostile input", () => {
  it("records of another shape are ignored; a campaign that cannot start is skipped and the next one starts", async () => {
    const s = await startServer(5);
    const headers = { authorization: `Bearer ${readFileSync(join(s.data, "api-token"), "utf8").trim()}`, "content-type": "application/json" };
    const post = async (path: string, body: unknown, method = "POST"): Promise<number> => (await fetch(s.base + path, { method, headers, body: JSON.stringify(body) })).status;
    const value = async (path: string): Promise<any> => (await (await get(s, path)).json()).value;
    const valid = async (): Promise<number[]> => (await value("/v/campaigns")).filter((c: any) => Array.isArray(c?.ads) && c.ads.length > 0).map((c: any) => c.n).sort((x: number, y: number) => x - y);
    const ads = async (): Promise<string[]> => (await value("/v/ads")).map((a: any) => a.id).sort();
    await until("campaign 1", async () => JSON.stringify(await valid()) === "[1]");
    // A peer writes junk into the history: not a campaign the server counts.
    expect(await post("/v/campaigns", { add: { n: 99, limit: 1, ads: [] } })).toBe(200);
    expect(await post("/v/campaigns", { add: "junk" })).toBe(200);
    expect(await post("/v/campaign", { set: 2 })).toBe(200);
    await until("campaign 2", async () => JSON.stringify(await valid()) === "[1,2]");
    expect(await ads()).toEqual(ADS.map((ad) => ad.replace("c1-", "c2-")).sort());
    // A peer declares one of campaign 3's counters with another type: 3 cannot start.
    expect(await post("/v/impressions%2Fc3-shoes", { type: "MaxInt" }, "PUT")).toBe(201);
    expect(await post("/v/campaign", { set: 3 })).toBe(200);
    await until("the server logs it", async () => s.stderr().includes('"msg":"campaign not started","campaign":3'));
    expect(await valid()).toEqual([1, 2]);
    // The next request is served.
    expect(await post("/v/campaign", { set: 4 })).toBe(200);
    await until("campaign 4", async () => JSON.stringify(await valid()) === "[1,2,4]");
    expect(await ads()).toEqual(ADS.map((ad) => ad.replace("c1-", "c4-")).sort());
  }, 60_000);
});

describe("server start-up errors", () => {
  it("a busy port gives one clear line naming the port and --port, and exit code 1", async () => {
    const s = await startServer(40);
    const data = mkdtempSync(join(tmpdir(), "trellis-demo-"));
    try {
      const second = run(["--port", String(s.port), "--data", data]);
      expect(await second.exit).toBe(1);
      expect(second.err()).toBe(`ad-counter: port ${s.port} is already in use (another npm start?); choose another port with --port, e.g. npm start -- --port ${s.port + 1}\n`);
      expect(second.out()).toBe("");
    } finally { rmSync(data, { recursive: true, force: true }); }
    // The same data directory as a running server: its own clear line.
    const third = run(["--port", "0", "--data", s.data]);
    expect(await third.exit).toBe(1);
    expect(third.err()).toBe(`ad-counter: the data directory ${s.data} is in use by another process (another npm start?); stop it or choose another directory with --data\n`);
    // The first server is unharmed.
    expect((await (await get(s, `/v/campaigns`)).json()).value.length).toBe(1);
  }, 60_000);

  it("--help documents the flags; a bad flag value is refused before anything starts", async () => {
    const help = run(["--help"]);
    expect(await help.exit).toBe(0);
    for (const flag of ["--port", "--data", "--limit", "npm start -- --port"]) expect(help.out()).toContain(flag);
    const bad = run(["--port", "80a"]);
    expect(await bad.exit).toBe(2);
    expect(bad.err()).toBe('--port is a port number 0..65535, got "80a"\n');
    const limit = run(["--limit", "0"]);
    expect(await limit.exit).toBe(2);
    expect(limit.err()).toBe('--limit is a whole number ≥ 1, got "0"\n');
  }, 30_000);
});
