// The ad-counter server: a trellis node (storage under ./data, WebSocket sync,
// the HTTP control API) that is the trusted node of the program — it creates
// each campaign's ads and contracts and removes an ad once its impressions
// reach the limit — and serves the dashboard (web/, built to dist/web/) at /app/.
//
// Campaigns: a tab (or anyone, through the control API) asks for a new one by
// raising the replicated MaxInt `campaign`; the server then starts campaign n
// with fresh ads (`c<n>-<name>`) and counters, ends the ads still running, and
// adds { n, limit, ads } to the grow-only set `campaigns`, the history.
// `presence` (an LWW register written by the server alone) lists the replicas
// connected to it, so every tab can show who is online.
// Trust: the node runs trustless and owns every variable ("owners: self"):
// each tab gets, from POST /app-api/delegation (a request signed by the
// tab's key), a delegation of what a tab may do — increment the impression
// counters, ask for a campaign, add to the global leaderboard, read — and
// nothing else, so a tab cannot remove an ad: only this node's enforceOnce,
// which declares the remove it makes, can (web/README.md, "Trust").
// Run: node web/server.mjs [--port 8080] [--data ./data] [--limit 40]  (--help)
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { init, AWSet, GCounter, GSet, LWWRegister, MaxInt, TopK } from "trellis";
import { TrellisNode } from "trellis/node";
import { COMMANDS, delegate, encodeProof } from "trellis/trust";
import { verifySignature } from "trellis/identity";

export const AD_NAMES = ["shoes", "coffee", "bikes", "books"];
export const LEADERBOARD_K = 5;
const MAX_PRESENCE = 64; // replicas listed in `presence` (a crowd is summarised by its size)

export const adsOf = (n) => AD_NAMES.map((name) => ({ id: `c${n}-${name}`, campaign: n }));

// A record of `campaigns` as the server writes it; anything else (a peer may
// write what it likes into a replicated set) is ignored.
export function validCampaign(c) {
  return c !== null && typeof c === "object" && Number.isSafeInteger(c.n) && c.n > 0 && Number.isSafeInteger(c.limit) && c.limit > 0 &&
    Array.isArray(c.ads) && c.ads.length > 0 && c.ads.length <= 16 && c.ads.every((id) => typeof id === "string" && id.length <= 64);
}

export async function startAdServer({ port = 8080, data = "./data", limit = 40, host = "127.0.0.1", log } = {}) {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`the limit is a whole number of impressions ≥ 1, got ${limit}`);
  await init();
  const node = await TrellisNode.start({
    data, port, host, interval: 250, log, trust: "trustless", owners: "self",
    static: fileURLToPath(new URL("../dist/web/", import.meta.url)),
  });
  serveDelegations(node);
  const rt = node.runtime;
  await node.declare("ads", AWSet);
  await node.declare("contracts", AWSet);
  await node.declare("campaigns", GSet);
  await node.declare("campaign", MaxInt);
  await node.declare("presence", LWWRegister);
  // The leaderboard page (web/leaderboard.js): the server only relays and stores it.
  await node.declare("lb/global", TopK.of(LEADERBOARD_K));

  const campaigns = () => rt.query("campaigns").filter(validCampaign);
  const started = () => Math.max(0, ...campaigns().map((c) => c.n));

  // The trusted node's side effect, once per ad even across restarts.
  const enforce = (ad, atLeast) => {
    rt.enforceOnce(`impressions/${ad.id}`, { atLeast }, async () => {
      if (node.closing) return;
      await node.update("ads", { remove: ad });
      node.log.info("ad removed at its limit", { ad: ad.id, impressions: rt.query(`impressions/${ad.id}`) });
    }, { writes: [{ variable: "ads", command: COMMANDS.REMOVE }] }).catch((e) => { if (!node.closing) node.log.error("enforceOnce failed", { ad: ad.id, err: e }); });
  };

  // Idempotent: a crash half-way is repaired by starting it again.
  const startCampaign = async (n) => {
    const ads = adsOf(n);
    for (const ad of ads) await node.declare(`impressions/${ad.id}`, GCounter);
    const ended = rt.query("ads").filter((a) => a?.campaign !== n);
    await node.update("ads", [...ended.map((a) => ({ remove: a })), ...ads.map((a) => ({ add: a }))]);
    await node.update("contracts", ads.map((a) => ({ add: { ad: a.id, advertiser: `${a.id.slice(a.id.indexOf("-") + 1)} co.` } })));
    await node.update("campaigns", { add: { n, limit, ads: ads.map((a) => a.id) } });
    await node.update("campaign", { set: n });
    for (const ad of ads) enforce(ad, limit);
    node.log.info("campaign started", { campaign: n, limit, ads: ads.length, ended: ended.length });
  };

  // Ads still running from before a restart keep their enforcement.
  const live = rt.query("ads");
  for (const c of campaigns()) for (const ad of live) if (ad?.campaign === c.n && c.ads.includes(ad.id)) enforce(ad, c.limit);
  if (started() < Math.max(1, rt.query("campaign"))) await startCampaign(Math.max(1, rt.query("campaign")));

  // Requests for a new campaign (one per increase of `campaign`, however many
  // replicas asked for the same number at once). A number that cannot be
  // started (a peer declared one of its counters with another type) is
  // skipped: the next request gets its turn.
  let skipped = 0;
  (async () => {
    for (;;) {
      await rt.read("campaign", { atLeast: Math.max(started(), skipped) + 1 });
      if (node.closing) return;
      const n = rt.query("campaign");
      try { await startCampaign(n); } catch (e) {
        if (node.closing) return;
        skipped = n;
        node.log.error("campaign not started", { campaign: n, err: e });
      }
    }
  })().catch((e) => { if (!node.closing) node.log.error("campaign loop stopped", { err: e }); });

  // Presence, as the server sees it (written at most every 200 ms).
  let presenceTimer = null;
  const writePresence = () => {
    presenceTimer = null;
    if (node.closing) return;
    const peers = node.wsServer.neighbours();
    node.update("presence", { set: { server: node.id, count: peers.length, peers: peers.slice(0, MAX_PRESENCE).sort() } })
      .catch((e) => { if (!node.closing) node.log.warn("presence not written", { err: e }); });
  };
  node.wsServer.onNeighbour(() => { presenceTimer ??= setTimeout(writePresence, 200); });
  writePresence();
  return node;
}

// What a tab may do, delegated to its key for a day.
export const TAB_GRANTS = [
  { cmd: COMMANDS.INCREMENT, pol: ["impressions/*"] },
  { cmd: COMMANDS.SET, pol: ["campaign"] },
  { cmd: COMMANDS.ADD, pol: ["lb/global"] },
  { cmd: COMMANDS.READ, pol: ["*"] },
];
export const DELEGATION_PREFIX = "trellis-web-delegation/1\0"; // as web/trust.js signs it
const DELEGATION_TTL = 24 * 3600;      // s
const DELEGATION_SKEW = 5 * 60_000;    // ms a request's timestamp may be off
const MAX_DELEGATION_BODY = 1024;      // bytes

// POST /app-api/delegation { did, ts, sig }: sig is the tab's signature of
// DELEGATION_PREFIX + did + "\0" + ts (ms), so the delegation goes only to a
// key its holder proves, and a captured request is stale within minutes.
// Rate-limited per key (one every 2 s) and in all (20 a second, bursts of 40).
// Answers { owner, proof (base64 encodeProof), exp (Unix s) }.
function serveDelegations(node) {
  const [api] = node.server.listeners("request");
  const perKey = new Map(); // did → last issue (ms); bounded
  let level = 40, at = Date.now();
  const allowed = (did) => {
    const now = Date.now();
    level = Math.min(40, level + ((now - at) / 1000) * 20); at = now;
    if (level < 1 || now - (perKey.get(did) ?? 0) < 2000) return false;
    level -= 1;
    if (perKey.size >= 10_000) perKey.delete(perKey.keys().next().value);
    perKey.delete(did); perKey.set(did, now);
    return true;
  };
  const answer = (res, status, body) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(body));
  };
  const issue = async (req, res) => {
    let size = 0; const parts = [];
    for await (const c of req) { size += c.length; if (size > MAX_DELEGATION_BODY) return answer(res, 413, { error: "TOO_LARGE" }); parts.push(c); }
    let m;
    try { m = JSON.parse(Buffer.concat(parts).toString("utf8")); } catch { return answer(res, 400, { error: "MALFORMED", message: "a JSON body { did, ts, sig }" }); }
    if (typeof m?.did !== "string" || !m.did.startsWith("did:key:") || m.did.length > 128 || !Number.isSafeInteger(m.ts) || typeof m.sig !== "string" || m.sig.length > 128) {
      return answer(res, 400, { error: "MALFORMED", message: "a JSON body { did, ts, sig }" });
    }
    if (Math.abs(Date.now() - m.ts) > DELEGATION_SKEW) return answer(res, 400, { error: "STALE", message: "ts is not within 5 minutes of the server's clock" });
    const sig = Buffer.from(m.sig, "base64");
    const ok = sig.length === 64 && await verifySignature(m.did, new TextEncoder().encode(`${DELEGATION_PREFIX}${m.did}\0${m.ts}`), sig).catch(() => false);
    if (!ok) return answer(res, 401, { error: "BAD_SIGNATURE" });
    if (!allowed(m.did)) return answer(res, 429, { error: "RATE_LIMITED" });
    const exp = Math.floor(Date.now() / 1000) + DELEGATION_TTL;
    const chains = [];
    for (const g of TAB_GRANTS) chains.push(await delegate(node.identity, { aud: m.did, cmd: g.cmd, pol: g.pol, exp }));
    node.log.info("delegation issued", { did: m.did, exp });
    answer(res, 200, { owner: node.identity.did, proof: Buffer.from(encodeProof(chains)).toString("base64"), exp });
  };
  node.server.removeListener("request", api);
  node.server.on("request", (req, res) => {
    if (req.url !== "/app-api/delegation") return api(req, res);
    if (req.method !== "POST") return answer(res, 405, { error: "METHOD" });
    issue(req, res).catch((e) => { node.log.warn("delegation failed", { err: e }); if (!res.headersSent) answer(res, 500, { error: "INTERNAL" }); });
  });
}

const USAGE = `Usage: node web/server.mjs [--port 8080] [--data ./data] [--limit 40]
       npm start -- --port 8081        (npm passes the flags on)

Serves the ad-counter dashboard at http://127.0.0.1:<port>/app/ and the
leaderboard at /app/leaderboard.html; every browser tab is a replica.

  --port N    HTTP + WebSocket port (default 8080; 0 picks a free one)
  --data DIR  where the node keeps its store (default ./data)
  --limit N   impressions per ad before the server removes it, for campaigns
              started from now on (default 40)
  --help      this text`;

// One clear line for the errors a user can fix, then exit 1.
export function startupError(e, { port, data }) {
  if (e?.code === "EADDRINUSE") return `port ${port} is already in use (another npm start?); choose another port with --port, e.g. npm start -- --port ${port + 1}`;
  if (e?.code === "EACCES") return `port ${port} needs privileges this process does not have; choose a port above 1023 with --port`;
  if (e?.code === "LEVEL_LOCKED" || e?.cause?.code === "LEVEL_LOCKED") return `the data directory ${data} is in use by another process (another npm start?); stop it or choose another directory with --data`;
  return null;
}

// JSON lines on stderr, as the node logs, but held back until the node is up:
// a start that fails for a reason the user can fix prints one line, not these.
function heldLogger() {
  let held = [];
  const write = (line) => (held ? held.push(line) : process.stderr.write(line));
  const make = (base) => {
    const at = (level) => (msg, fields = {}) => {
      const rec = { level, time: new Date().toISOString(), msg, ...base };
      for (const [k, v] of Object.entries(fields)) rec[k] = v instanceof Error ? { name: v.name, message: v.message, ...(v.code ? { code: v.code } : {}) } : v;
      let line;
      try { line = JSON.stringify(rec); } catch { line = JSON.stringify({ level, time: rec.time, msg, unserializable: true }); }
      write(line + "\n");
    };
    return { debug: () => {}, info: at("info"), warn: at("warn"), error: at("error"), child: (f) => make({ ...base, ...f }) };
  };
  return { log: make({}), release(show) { const lines = held ?? []; held = null; if (show) for (const l of lines) process.stderr.write(l); } };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let values;
  try {
    ({ values } = parseArgs({ options: { port: { type: "string", default: "8080" }, data: { type: "string", default: "./data" }, limit: { type: "string", default: "40" }, help: { type: "boolean", short: "h" } } }));
  } catch (e) {
    console.error(`${e.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) { console.log(USAGE); process.exit(0); }
  const port = Number(values.port), limit = Number(values.limit);
  if (!/^\d+$/.test(values.port) || port > 65535) { console.error(`--port is a port number 0..65535, got ${JSON.stringify(values.port)}`); process.exit(2); }
  if (!/^\d+$/.test(values.limit) || !Number.isSafeInteger(limit) || limit < 1) { console.error(`--limit is a whole number ≥ 1, got ${JSON.stringify(values.limit)}`); process.exit(2); }
  if (!existsSync(fileURLToPath(new URL("../dist/web/index.html", import.meta.url)))) {
    console.error("ad-counter: the dashboard is not built (no dist/web/); run npm run build first");
    process.exit(1);
  }
  const logs = heldLogger();
  let node;
  try {
    node = await startAdServer({ port, data: values.data, limit, log: logs.log });
  } catch (e) {
    const line = startupError(e, { port, data: values.data });
    logs.release(!line);
    if (!line) throw e;
    console.error(`ad-counter: ${line}`);
    process.exit(1);
  }
  logs.release(true);
  console.log(`\nad-counter dashboard: http://127.0.0.1:${node.port}/app/  (open it in several tabs; Ctrl-C stops)`);
  console.log(`leaderboard:          http://127.0.0.1:${node.port}/app/leaderboard.html`);
  let stopping = false;
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, async () => {
    if (stopping) process.exit(130);
    stopping = true;
    await node.close();
    process.exit(0);
  });
}
