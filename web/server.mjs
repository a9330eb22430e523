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
// Run: node web/server.mjs [--port 8080] [--data ./data] [--limit 40]  (--help)
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { init, AWSet, GCounter, GSet, LWWRegister, MaxInt, TopK } from "trellis";
import { TrellisNode } from "trellis/node";

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
    data, port, host, trusted: true, interval: 250, log,
    static: fileURLToPath(new URL("../dist/web/", import.meta.url)),
  });
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
    }).catch((e) => { if (!node.closing) node.log.error("enforceOnce failed", { ad: ad.id, err: e }); });
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
