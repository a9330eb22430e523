// Issue 11, as an outsider against a real node (TrellisNode on loopback, real
// sockets): no credential, cross-site requests, cross-origin WebSockets,
// oversize frames and bodies, floods of frames and connections, readers that
// never read, and sync requests that cost more work than they are worth, over
// HTTP, WebSocket and libp2p. Every refusal has its status or code; the
// honest replica's state is what it was, and it keeps converging throughout.
// (Impersonating another peer's id belongs to the identity suite.)
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { statSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createConnection } from "node:net";
import { Agent, request } from "node:http";
import { init, GCounter, AWSet, GSet, Runtime } from "../dist/host/index.node.js";
import { Replicator } from "../dist/host/replication/index.js";
import { main } from "../dist/host/cli/main.js";
import { encodeFrame } from "../dist/host/transport/ws-server.js";
import { PART_WORK } from "../dist/host/wasm/kernel.js";
import { RawPeer, bearer, honest, http, sleep, startNode, until, type Started } from "./util/outsider.js";

beforeAll(async () => { await init(); });

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f(); });

async function node(o: Parameters<typeof startNode>[0] = {}): Promise<Started> {
  const s = await startNode(o);
  cleanups.push(s.close);
  return s;
}
function fair(s: Started, id = "alice") {
  const h = honest(s, id);
  cleanups.push(h.close);
  return h;
}

// The honest replica and the node still converge both ways.
async function stillConverging(s: Started, h: ReturnType<typeof honest>, round: number): Promise<void> {
  if (!h.rt.has("hits")) h.rt.declare("hits", GCounter);
  h.rt.update("hits", { increment: 1 });
  await s.node.update("hits", { increment: 10 });
  await until(() => s.node.query("hits") === h.rt.query("hits") && (h.rt.query("hits") as number) >= 11 * round, 10_000, `convergence round ${round}`);
}

const warned = (s: Started, code: string) => s.logs.filter((l) => l.code === code || l.err?.code === code);

describe("the HTTP API needs its token", () => {
  it("makes the token at the first start (0600 in the data dir), prints it once, keeps it across restarts", async () => {
    const s = await startNode();
    const file = join(s.data, "api-token");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8").trim()).toBe(s.node.token);
    expect(s.node.token).toMatch(/^trellis_[A-Za-z0-9_-]{43}$/); // never starts with "-", which argv would take for an option
    expect(s.logs.filter((l) => l.msg === "api token created")).toHaveLength(1);
    const token = s.node.token;
    await s.node.close();
    const again = await startNode({}, s.data);
    cleanups.push(again.close);
    expect(again.node.token).toBe(token);
    expect(again.logs.filter((l) => l.msg === "api token created")).toHaveLength(0);
  });

  it("refuses read, write, declare and bind without it (401), changes nothing, and serves /health", async () => {
    const s = await node();
    const h = fair(s);
    await s.node.declare("hits", GCounter);
    await stillConverging(s, h, 1);
    const before = s.node.runtime.encode("hits");
    const state = Buffer.from(s.node.runtime.encode("hits"));
    const json = { "content-type": "application/json" };
    const tries: [string, string, Record<string, string>, string | Uint8Array | undefined][] = [
      ["GET", "/", {}, undefined], ["GET", "/v", {}, undefined], ["GET", "/v/hits", {}, undefined],
      ["GET", "/v/hits?atLeast=1", {}, undefined], ["GET", "/v/hits/state", {}, undefined],
      ["PUT", "/v/evil", json, '{"type":"GSet"}'], ["POST", "/v/hits", json, '{"increment":1000}'],
      ["POST", "/v/hits/bind", { "content-type": "application/octet-stream" }, state],
    ];
    for (const [method, path, headers, body] of tries) {
      for (const auth of [{}, bearer("trellis_" + "x".repeat(43)), { authorization: "Basic Zm9vOmJhcg==" }, bearer(s.node.token + "x")]) {
        const r = await http(s.url, method, path, { headers: { ...headers, ...auth }, body });
        expect(r.status, `${method} ${path}`).toBe(401);
        expect(r.json.error.code).toBe("UNAUTHORIZED");
      }
    }
    expect(s.node.runtime.has("evil")).toBe(false);
    expect(Buffer.from(s.node.runtime.encode("hits")).equals(Buffer.from(before))).toBe(true);
    const health = await http(s.url, "GET", "/health");
    expect(health.status).toBe(200);
    expect(health.json).toEqual({ ok: true });
    // With the token: served.
    const ok = await http(s.url, "GET", "/v/hits", { headers: bearer(s.node.token) });
    expect(ok.status).toBe(200);
    expect(ok.json.value).toBe(11);
    await stillConverging(s, h, 2);
  });

  it("the CLI reads it from --data, $TRELLIS_TOKEN or --token; without it the node refuses (exit 1)", async () => {
    const s = await node();
    await s.node.declare("hits", GCounter);
    await s.node.update("hits", { increment: 3 });
    const run = async (args: string[]) => {
      let out = "", err = "";
      const code = await main(args, { out: (x) => { out += typeof x === "string" ? x : Buffer.from(x).toString(); }, err: (x) => { err += x; } });
      return { code, out, err };
    };
    const saved = process.env.TRELLIS_TOKEN;
    delete process.env.TRELLIS_TOKEN;
    try {
      const no = await run(["read", "hits", "--node", s.url]);
      expect(no.code).toBe(1);
      expect(no.err).toMatch(/UNAUTHORIZED/);
      expect(await run(["read", "hits", "--node", s.url, "--data", s.data])).toMatchObject({ code: 0, out: "3\n" });
      expect(await run(["read", "hits", "--node", s.url, "--token", s.node.token!])).toMatchObject({ code: 0, out: "3\n" });
      // serve refuses bad --cors / --limit values before starting (usage, exit 2).
      for (const bad of [["--cors", "evil.example"], ["--cors", "http://a.example/path"], ["--limit", "nope=1"], ["--limit", "wsSendBudget=0"], ["--max-frame", "10"]]) {
        const r = await run(["serve", "--data", s.data, ...bad]);
        expect(r.code, bad.join(" ")).toBe(2);
      }
      process.env.TRELLIS_TOKEN = s.node.token!;
      expect(await run(["update", "hits", '{"increment":1}', "--node", s.url])).toMatchObject({ code: 0 });
      expect(s.node.query("hits")).toBe(4);
    } finally {
      if (saved === undefined) delete process.env.TRELLIS_TOKEN; else process.env.TRELLIS_TOKEN = saved;
    }
  });
});

describe("cross-site requests", () => {
  it("refuses other origins (403), simple content types (415) and CORS unless listed; same-origin pages are served", async () => {
    const s = await node({ cors: ["http://app.example"] });
    const h = fair(s);
    await s.node.declare("hits", GCounter);
    await stillConverging(s, h, 1);
    const t = bearer(s.node.token);
    const body = '{"increment":1000}';
    // A page elsewhere, even one that somehow had the token.
    for (const [origin, status, code] of [["http://evil.example", 403, "BAD_ORIGIN"], ["null", 403, "BAD_ORIGIN"], [`http://localhost:${s.node.port}`, 403, "BAD_ORIGIN"]] as const) {
      const r = await http(s.url, "POST", "/v/hits", { headers: { ...t, origin, "content-type": "application/json" }, body });
      expect(r.status, origin).toBe(status);
      expect(r.json.error.code).toBe(code);
      expect(r.headers["access-control-allow-origin"]).toBeUndefined();
    }
    // DNS rebinding: a name that resolves here is still another origin.
    const rebound = await http(s.url, "POST", "/v/hits", { headers: { ...t, host: `evil.example:${s.node.port}`, origin: `http://evil.example:${s.node.port}`, "content-type": "application/json" }, body });
    expect(rebound.status).toBe(403);
    // The no-preflight content types, with the token and no Origin at all.
    for (const type of ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]) {
      const r = await http(s.url, "POST", "/v/hits", { headers: { ...t, ...(type ? { "content-type": type } : {}) }, body });
      expect(r.status, type).toBe(415);
      expect(r.json.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    }
    const bind = await http(s.url, "POST", "/v/hits/bind", { headers: { ...t, "content-type": "text/plain" }, body: s.node.runtime.encode("hits") });
    expect(bind.status).toBe(415);
    const declare = await http(s.url, "PUT", "/v/evil", { headers: { ...t, "content-type": "text/plain" }, body: '{"type":"GSet"}' });
    expect(declare.status).toBe(415);
    expect(s.node.runtime.has("evil")).toBe(false);
    // Preflight: refused for others, answered for the listed origin.
    const pre = await http(s.url, "OPTIONS", "/v/hits", { headers: { origin: "http://evil.example", "access-control-request-method": "POST" } });
    expect(pre.status).toBe(403);
    expect(pre.headers["access-control-allow-origin"]).toBeUndefined();
    const listed = await http(s.url, "OPTIONS", "/v/hits", { headers: { origin: "http://app.example", "access-control-request-method": "POST" } });
    expect(listed.status).toBe(204);
    expect(listed.headers["access-control-allow-origin"]).toBe("http://app.example");
    expect(listed.headers["access-control-allow-headers"]).toMatch(/authorization/);
    expect(s.node.query("hits")).toBe(11);
    // The node's own origin (the dashboard's pages) and the listed one: served.
    const own = await http(s.url, "POST", "/v/hits", { headers: { ...t, origin: s.url, "content-type": "application/json" }, body: '{"increment":1}' });
    expect(own.status).toBe(200);
    const app = await http(s.url, "GET", "/v/hits", { headers: { ...t, origin: "http://app.example" } });
    expect(app.status).toBe(200);
    expect(app.headers["access-control-allow-origin"]).toBe("http://app.example");
    expect(app.json.value).toBe(12);
    await until(() => h.rt.query("hits") === 12);
    await stillConverging(s, h, 2);
  });

  it("refuses a cross-origin WebSocket upgrade (403) before any frame; same-origin and non-browser peers connect", async () => {
    const s = await node();
    const h = fair(s);
    await s.node.declare("hits", GCounter);
    await stillConverging(s, h, 1);
    const evil = new RawPeer(s.ws, "mallory", { origin: "http://evil.example" });
    expect(await evil.opened).toBe(false);
    expect(evil.refused).toBe(403);
    expect(warned(s, "BAD_ORIGIN").length).toBeGreaterThan(0);
    expect(s.node.wsServer.neighbours()).not.toContain("mallory");
    const same = new RawPeer(s.ws, "tab", { origin: s.url });
    cleanups.push(() => same.terminate());
    expect(await same.opened).toBe(true);
    await until(() => s.node.wsServer.neighbours().includes("tab"));
    await stillConverging(s, h, 2);
  });
});

describe("oversize input", () => {
  it("refuses a WebSocket frame over maxFrame (1009) and an HTTP body over maxBody (413) before buffering it", async () => {
    const s = await node({ maxFrame: 64 * 1024, maxBody: 4096 });
    const h = fair(s);
    await s.node.declare("hits", GCounter);
    await stillConverging(s, h, 1);
    const big = new RawPeer(s.ws, "mallory");
    expect(await big.opened).toBe(true);
    await until(() => s.node.wsServer.neighbours().includes("mallory"));
    big.frame(encodeFrame("data", new Uint8Array(200 * 1024)));
    await until(() => big.closed !== null);
    expect(big.closed!.code).toBe(1009);
    expect(warned(s, "TOO_LARGE").length).toBeGreaterThan(0);
    const t = { ...bearer(s.node.token), "content-type": "application/json" };
    const declared = await http(s.url, "POST", "/v/hits", { headers: { ...t, "content-length": "100000" }, body: "{" });
    expect(declared.status).toBe(413);
    // No length given: counted as it streams in.
    const chunked = await http(s.url, "POST", "/v/hits", { headers: { ...t, "transfer-encoding": "chunked" }, body: `{"increment": ${"1".repeat(10_000)}}` });
    expect(chunked.status).toBe(413);
    expect(chunked.json.error.code).toBe("TOO_LARGE");
    expect(s.node.query("hits")).toBe(11);
    await stillConverging(s, h, 2);
  });
});

describe("floods", () => {
  it("caps WebSocket connections in total and per address (503 at the upgrade); connected peers do not notice", async () => {
    const s = await node({ limits: { wsConnections: 6, wsPerAddress: 6 } });
    const h = fair(s);
    await s.node.declare("hits", GCounter);
    await stillConverging(s, h, 1);
    const peers = Array.from({ length: 20 }, (_, i) => new RawPeer(s.ws, `m${i}`));
    cleanups.push(() => { for (const p of peers) p.terminate(); });
    const opened = await Promise.all(peers.map((p) => p.opened));
    expect(opened.filter(Boolean).length).toBeLessThanOrEqual(5); // alice holds one of the 6
    expect(peers.filter((p) => p.refused === 503).length).toBeGreaterThanOrEqual(15);
    expect(warned(s, "TOO_MANY_CONNECTIONS").length).toBeGreaterThanOrEqual(15);
    expect(h.client.connected).toBe(true);
    await stillConverging(s, h, 2);
  });

  it("caps HTTP connections (WebSocket included); the ones over it are dropped at accept", async () => {
    const s = await node({ limits: { httpConnections: 8 } });
    const h = fair(s);
    await s.node.declare("hits", GCounter);
    await stillConverging(s, h, 1);
    const socks = Array.from({ length: 30 }, () => createConnection({ host: "127.0.0.1", port: s.node.port }));
    cleanups.push(() => { for (const k of socks) k.destroy(); });
    const closed = await Promise.all(socks.map((k) => new Promise<boolean>((r) => {
      k.on("close", () => r(true)); k.on("error", () => {});
      setTimeout(() => r(false), 1500);
    })));
    expect(closed.filter(Boolean).length).toBeGreaterThanOrEqual(22);
    expect(s.node.httpLimits.stats().refused.TOO_MANY_CONNECTIONS).toBeGreaterThanOrEqual(22);
    await stillConverging(s, h, 2);
  });

  it("caps HTTP connections per address", async () => {
    const s = await node({ limits: { httpPerAddress: 5 } });
    const socks = Array.from({ length: 12 }, () => createConnection({ host: "127.0.0.1", port: s.node.port }));
    cleanups.push(() => { for (const k of socks) k.destroy(); });
    const closed = await Promise.all(socks.map((k) => new Promise<boolean>((r) => {
      k.on("close", () => r(true)); k.on("error", () => {});
      setTimeout(() => r(false), 1500);
    })));
    expect(closed.filter(Boolean).length).toBe(7);
    expect(s.node.httpLimits.stats().refused.TOO_MANY_CONNECTIONS).toBe(7);
    expect(s.node.httpLimits.stats().connections).toBe(5);
    // Once they go, others from that address are served again.
    for (const k of socks) k.destroy();
    await until(() => s.node.httpLimits.stats().connections === 0);
    expect((await http(s.url, "GET", "/health")).status).toBe(200);
  });

  it("cuts off a WebSocket peer over its frame rate (4002 RATE_LIMITED)", async () => {
    const s = await node({ limits: { wsFrameRate: 1, wsFrameBurst: 20 } });
    const h = fair(s, "alice");
    await s.node.declare("hits", GCounter);
    const m = new RawPeer(s.ws, "mallory");
    expect(await m.opened).toBe(true);
    for (let i = 0; i < 200 && m.closed === null; i++) m.frame(encodeFrame("ping"));
    await until(() => m.closed !== null);
    expect(m.closed!.code).toBe(4002);
    expect(m.closed!.reason).toBe("RATE_LIMITED");
    const e = warned(s, "RATE_LIMITED");
    expect(e.length).toBe(1);
    expect(e[0].peer).toBe("mallory");
    await stillConverging(s, h, 1);
  });

  it("answers 429 RATE_LIMITED on an HTTP connection over its request rate, and closes it", async () => {
    const s = await node({ limits: { httpRate: 1, httpBurst: 10 } });
    await s.node.declare("hits", GCounter);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    const get = () => new Promise<number>((resolve, reject) => {
      request({ host: "127.0.0.1", port: s.node.port, path: "/v/hits", headers: bearer(s.node.token), agent }, (res) => { res.resume(); res.on("end", () => resolve(res.statusCode!)); }).on("error", reject).end();
    });
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push(await get());
    expect(statuses.slice(0, 10).every((x) => x === 200)).toBe(true);
    expect(statuses.filter((x) => x === 429).length).toBeGreaterThan(0);
    expect(s.node.httpLimits.stats().refused.RATE_LIMITED).toBeGreaterThan(0);
  });
});

// A peer that asks for a full state (by acking once, then never reading
// again) while the node's variable grows: each round would queue a larger
// group to it.
async function slowSyncReader(s: Started, id: string): Promise<RawPeer> {
  const p = new RawPeer(s.ws, id);
  expect(await p.opened).toBe(true);
  await until(() => p.messages.some((m) => m.kind === "digest"), 10_000, `${id} gets a digest`);
  const d = p.messages.find((m) => m.kind === "digest")! as { session: number; seq: number };
  p.send({ kind: "ack", session: 7, acked: d.session, seq: d.seq });
  p.stopReading();
  return p;
}

describe("slow readers", () => {
  it("WebSocket: a peer that stops reading is cut off (4002 SLOW_READER) within its send budget; readers keep converging", async () => {
    const l = { wsSendBudget: 256 * 1024, wsTotalSendBudget: 1 << 20, wsStalls: 4 };
    const s = await node({ limits: l, maxFrame: 2 << 20 });
    const h = fair(s);
    await s.node.declare("hits", GCounter);
    await s.node.declare("blob", GSet);
    await stillConverging(s, h, 1);
    const slow = await Promise.all([0, 1, 2].map((i) => slowSyncReader(s, `slow${i}`)));
    cleanups.push(() => { for (const p of slow) p.terminate(); });
    let worst = { total: 0, max: 0 };
    for (let i = 0; i < 60 && s.node.wsServer.neighbours().some((n) => n.startsWith("slow")); i++) {
      await s.node.update("blob", { add: new Uint8Array(32 * 1024).fill(i) });
      await sleep(30);
      const b = s.node.wsServer.buffered();
      worst = { total: Math.max(worst.total, b.total), max: Math.max(worst.max, b.max) };
    }
    await until(() => !s.node.wsServer.neighbours().some((n) => n.startsWith("slow")), 10_000, "slow readers cut off");
    const cut = warned(s, "SLOW_READER").map((e) => e.peer).sort();
    expect(cut).toEqual(["slow0", "slow1", "slow2"]);
    // Never more queued than the budgets (a frame may go to an idle connection).
    expect(worst.max).toBeLessThanOrEqual(l.wsSendBudget + (2 << 20));
    expect(worst.total).toBeLessThanOrEqual(l.wsTotalSendBudget + (2 << 20));
    await until(() => h.rt.has("blob") && (h.rt.query("blob") as unknown[]).length === (s.node.query("blob") as unknown[]).length, 10_000, "alice has the blob");
    await stillConverging(s, h, 2);
  });

  it("HTTP: connections that pipeline requests and never read are cut off; the replies held stay within the total budget", async () => {
    const l = { httpResponseBudget: 2 << 20, httpTotalBudget: 3 << 20 };
    const s = await node({ limits: l });
    await s.node.declare("blob", GSet);
    for (let i = 0; i < 32; i++) await s.node.update("blob", { add: new Uint8Array(32 * 1024).fill(i) });
    const size = s.node.runtime.encode("blob").length;
    const req = `GET /v/blob/state HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${s.node.token}\r\n\r\n`.repeat(40);
    const socks = Array.from({ length: 12 }, () => {
      const k = createConnection({ host: "127.0.0.1", port: s.node.port });
      k.on("error", () => {});
      k.on("connect", () => { k.write(req); k.pause(); });
      return k;
    });
    cleanups.push(() => { for (const k of socks) k.destroy(); });
    await sleep(1000);
    // An honest reader is served (or told BUSY, never cut) while they sit there.
    let served = 0;
    for (let i = 0; i < 10 && served === 0; i++) {
      const r = await http(s.url, "GET", "/v/blob/state", { headers: bearer(s.node.token) });
      expect([200, 503]).toContain(r.status);
      if (r.status === 200) { served++; expect(r.body.length).toBe(size); } else expect(r.json.error.code).toBe("BUSY");
      await sleep(100);
    }
    expect(served).toBe(1);
    const st = s.node.httpLimits.stats();
    expect(st.maxHeld).toBeLessThanOrEqual(l.httpTotalBudget);
    expect(st.refused.SLOW_READER).toBe(12);
    // Closed on the node's side (they do not read, so they may never see it).
    await until(() => s.node.httpLimits.stats().connections === 0, 5000, "every pipelining reader cut off");
    expect(s.logs.filter((x) => x.msg === "http client over a limit" && x.code === "SLOW_READER")).toHaveLength(12);
  });
});

describe("expensive sync requests", () => {
  it("a peer whose digests cost more decompositions than its budget is refused and cut off (4002 OVER_BUDGET); others are not", async () => {
    // A decomposition of big costs 1000 parts × PART_WORK (16 MiB); the honest
    // replica's own catch-up (a few of them) fits in the burst.
    const burst = 96 << 20, rate = 1 << 20, parts = 1000;
    const s = await node({ limits: { syncWorkRate: rate, syncWorkBurst: burst } });
    const h = fair(s);
    await s.node.declare("hits", GCounter);
    await s.node.declare("big", AWSet);
    await s.node.update("big", Array.from({ length: parts }, (_, i) => ({ add: `element-${i}` })));
    await stillConverging(s, h, 1);
    await until(() => h.rt.has("big") && (h.rt.query("big") as unknown[]).length === parts);
    const m = new RawPeer(s.ws, "mallory");
    expect(await m.opened).toBe(true);
    await until(() => s.node.wsServer.neighbours().includes("mallory"));
    // Each digest names "big" with a wrong hash: the node decomposes it and
    // answers with its parts' hashes: a few bytes of request, a decomposition
    // of work.
    const vars = [{ id: "big", hash: new Uint8Array(8) }];
    const t0 = Date.now();
    for (let i = 0; i < 200 && m.closed === null; i++) {
      m.send({ kind: "digest", session: 9, seq: i, vars });
      if (i % 10 === 9) await sleep(10);
    }
    await until(() => m.closed !== null, 10_000, "mallory cut off");
    const refilled = (rate * (Date.now() - t0 + 1000)) / 1000; // at most this much came back meanwhile
    expect(m.closed!.code).toBe(4002);
    expect(m.closed!.reason).toBe("OVER_BUDGET");
    const over = s.logs.filter((x) => x.msg === "peer over its sync budget");
    expect(over.length).toBeGreaterThan(0);
    expect(over.every((x) => x.peer === "mallory" && x.code === "OVER_BUDGET")).toBe(true);
    // Work done for it: at most its burst plus the one message that crossed it,
    // where one digest costs at least parts × PART_WORK; 200 were sent.
    const answered = m.messages.filter((x) => x.kind === "parts").length;
    expect(answered).toBeGreaterThan(0);
    expect(answered).toBeLessThanOrEqual(Math.floor((burst + refilled) / (parts * PART_WORK)) + 1);
    expect(answered).toBeLessThan(200);
    await stillConverging(s, h, 2);
  });
});

describe("one expensive message", () => {
  it("a digest naming 20 large variables stops at the first decomposition past the peer's budget", async () => {
    const parts = 1000; // 16 MiB of work each
    const s = await node({ limits: { syncWorkRate: 1 << 20, syncWorkBurst: 40 << 20 } });
    const h = fair(s);
    await s.node.declare("hits", GCounter);
    const ids = Array.from({ length: 20 }, (_, i) => `big${String(i).padStart(2, "0")}`);
    for (const id of ids) await s.node.declare(id, GSet);
    for (const id of ids) await s.node.update(id, Array.from({ length: parts }, (_, i) => ({ add: `${id}-${i}` })));
    await stillConverging(s, h, 1);
    await until(() => ids.every((id) => h.rt.has(id) && (h.rt.query(id) as unknown[]).length === parts), 20_000, "alice has them all");
    const m = new RawPeer(s.ws, "mallory");
    expect(await m.opened).toBe(true);
    await until(() => s.node.wsServer.neighbours().includes("mallory"));
    const w0 = s.node.runtime.kernel.work;
    m.send({ kind: "digest", session: 9, seq: 0, vars: ids.map((id) => ({ id, hash: new Uint8Array(8) })) });
    await until(() => m.closed !== null, 10_000, "mallory cut off");
    expect(m.closed!.reason).toBe("OVER_BUDGET");
    // 20 decompositions asked for (320 MiB of work); done: what the budget
    // held (40 MiB) plus the one that crossed it, and a little for replies.
    const done = s.node.runtime.kernel.work - w0;
    expect(done).toBeLessThan((40 << 20) + 2 * parts * PART_WORK);
    expect(m.messages.filter((x) => x.kind === "parts")).toHaveLength(0); // stopped: no answer
    // The replicator reports the stopped decomposition (its cause: the kernel's OVER_BUDGET).
    expect(s.logs.some((x) => x.msg === "replication error" && x.peer === "mallory" && /past the limit/.test(x.err?.message))).toBe(true);
    await stillConverging(s, h, 2);
  });
});

describe("expensive sync requests, all peers together", () => {
  it("when many peers' work passes the node's total, their messages wait (BUSY) and nobody is cut for it", async () => {
    const s = await node({ limits: { syncWorkRate: 2 ** 40, syncWorkBurst: 2 ** 40, syncWorkTotalRate: 32 << 20, syncWorkTotalBurst: 2 << 20 } });
    const h = fair(s);
    await s.node.declare("hits", GCounter);
    await s.node.declare("big", AWSet);
    await s.node.update("big", Array.from({ length: 2000 }, (_, i) => ({ add: `element-${i}` })));
    await until(() => h.rt.has("big") && (h.rt.query("big") as unknown[]).length === 2000);
    const peers = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      const p = new RawPeer(s.ws, `m${i}`);
      expect(await p.opened).toBe(true);
      return p;
    }));
    cleanups.push(() => { for (const p of peers) p.terminate(); });
    await until(() => peers.every((p) => s.node.wsServer.neighbours().includes(p.id)));
    for (let r = 0; r < 20; r++) for (const p of peers) p.send({ kind: "digest", session: 5, seq: r, vars: [{ id: "big", hash: new Uint8Array(8) }] });
    await until(() => s.logs.some((x) => x.msg === "sync work over the node's total budget"), 10_000, "total budget reached");
    const answered = peers.reduce((n, p) => n + p.messages.filter((x) => x.kind === "parts").length, 0);
    // 160 digests asked for; the total burst allows about 2 MiB / size of them
    // (plus what refills meanwhile at 256 KiB/s).
    expect(answered).toBeLessThan(160);
    expect(s.node.meters[0].stats().busy).toBeGreaterThan(0);
    expect(peers.every((p) => p.closed === null)).toBe(true);
    expect(s.logs.filter((x) => x.msg === "peer over its sync budget")).toHaveLength(0);
    // Once it refills, the honest replica converges again.
    await stillConverging(s, h, 1);
  }, 30_000);
});

describe("libp2p", () => {
  it("hangs up on a sync-stream peer over its byte rate or its sync-work budget, and resets a stream carrying a frame over maxFrame; the honest peer converges", async () => {
    const { Libp2pTransport } = await import("../dist/host/transport/libp2p.js");
    const { encodeMessage } = await import("../dist/host/replication/wire.js");
    const s = await node({ listen: ["/ip4/127.0.0.1/tcp/0"], maxFrame: 64 * 1024, limits: { wsByteRate: 1024, wsByteBurst: 256 * 1024, syncWorkRate: 1 << 20, syncWorkBurst: 48 << 20 } });
    await s.node.declare("hits", GCounter);
    await s.node.declare("big", AWSet); // small enough to fit in one 64 KiB frame
    await s.node.update("big", Array.from({ length: 500 }, (_, i) => ({ add: `element-${i}` })));
    const addr = s.node.libp2p!.multiaddrs()[0];
    // An honest libp2p replica.
    const ht = await Libp2pTransport.create({ bootstrap: [addr], gossip: false });
    const hrt = new Runtime({ replica: "bob.1" });
    const hrep = new Replicator(hrt, ht, { interval: 100 }).start();
    cleanups.push(async () => { hrep.close(); await ht.close(); hrt.close(); });
    hrt.declare("hits", GCounter);
    hrt.update("hits", { increment: 1 });
    await until(() => s.node.query("hits") === 1 && hrt.has("big") && (hrt.query("big") as unknown[]).length === 500, 20_000, "bob and the node in sync");
    // Outsiders: one sends a frame over maxFrame, another floods valid-size ones.
    const errors = () => s.logs.filter((x) => x.msg === "libp2p error").map((x) => x.code);
    const self = s.node.libp2p!.self;
    const big = await Libp2pTransport.create({ bootstrap: [addr], gossip: false, maxFrame: 1 << 20 });
    cleanups.push(() => big.close());
    await until(() => big.neighbours().includes(self), 20_000, "the first outsider's sync stream");
    big.send(self, new Uint8Array(100 * 1024));
    await until(() => errors().includes("BAD_FRAME"), 10_000, "oversize frame refused");
    const mt = await Libp2pTransport.create({ bootstrap: [addr], gossip: false });
    cleanups.push(() => mt.close());
    await until(() => mt.neighbours().includes(self), 20_000, "the second outsider's sync stream");
    for (let i = 0; i < 40; i++) mt.send(self, new Uint8Array(32 * 1024));
    await until(() => errors().includes("RATE_LIMITED"), 10_000, "rate limit");
    const rl = s.logs.find((x) => x.msg === "libp2p error" && x.code === "RATE_LIMITED")!;
    expect(rl.peer).toBe(mt.self);
    // A third asks for the same decomposition again and again.
    const cpu = await Libp2pTransport.create({ bootstrap: [addr], gossip: false });
    cleanups.push(() => cpu.close());
    await until(() => cpu.neighbours().includes(self), 20_000, "the third outsider's sync stream");
    for (let i = 0; i < 100 && cpu.neighbours().includes(self); i++) {
      cpu.send(self, encodeMessage({ kind: "digest", session: 4, seq: i, vars: [{ id: "big", hash: new Uint8Array(8) }] }));
      if (i % 10 === 9) await sleep(20);
    }
    await until(() => errors().includes("OVER_BUDGET"), 10_000, "work budget");
    const ob = s.logs.filter((x) => x.msg === "libp2p error" && x.code === "OVER_BUDGET");
    expect(ob.every((x) => x.peer === cpu.self)).toBe(true);
    expect(s.logs.filter((x) => x.msg === "peer over its sync budget").every((x) => x.peer === cpu.self && x.transport === "libp2p")).toBe(true);
    expect(s.node.query("hits")).toBe(1);
    hrt.update("hits", { increment: 1 });
    await s.node.update("hits", { increment: 10 });
    await until(() => s.node.query("hits") === 12 && hrt.query("hits") === 12, 20_000, "bob and the node converge");
  }, 60_000);
});
