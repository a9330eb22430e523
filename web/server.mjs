// The ad-counter server: a trellis node (storage under ./data, WebSocket sync,
// the HTTP control API) that is the trusted node of the program — it creates
// the ads and contracts and removes an ad once its impressions reach the
// limit — and serves the dashboard (web/, built to dist/web/) at /app/.
// Run: node web/server.mjs [--port 8080] [--data ./data] [--limit 40]
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { init, AWSet, GCounter, MaxInt } from "trellis";
import { TrellisNode } from "trellis/node";

export const ADS = [
  { id: "ad-shoes", campaign: "spring" },
  { id: "ad-coffee", campaign: "mornings" },
  { id: "ad-bikes", campaign: "commute" },
  { id: "ad-books", campaign: "autumn" },
];

export async function startAdServer({ port = 8080, data = "./data", limit = 40, host = "127.0.0.1", log } = {}) {
  await init();
  const node = await TrellisNode.start({
    data, port, host, trusted: true, interval: 250, log,
    static: fileURLToPath(new URL("../dist/web/", import.meta.url)),
  });
  const rt = node.runtime;
  await node.declare("ads", AWSet);
  await node.declare("contracts", AWSet);
  await node.declare("limit", MaxInt);
  for (const ad of ADS) await node.declare(`impressions/${ad.id}`, GCounter);
  // First start only (the store remembers): the campaign.
  if (rt.query("limit") === 0) {
    await node.update("limit", { set: limit });
    await node.update("ads", ADS.map((ad) => ({ add: ad })));
    await node.update("contracts", ADS.map((ad) => ({ add: { ad: ad.id, advertiser: ad.campaign + " co." } })));
  }
  // The trusted node's side effect, once per ad even across restarts.
  for (const ad of ADS) {
    rt.enforceOnce(`impressions/${ad.id}`, { atLeast: rt.query("limit") }, async () => {
      await node.update("ads", { remove: ad });
      node.log.info("ad removed at its limit", { ad: ad.id, impressions: rt.query(`impressions/${ad.id}`) });
    }).catch((e) => node.log.error("enforceOnce failed", { ad: ad.id, err: e }));
  }
  return node;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: "string", default: "8080" }, data: { type: "string", default: "./data" }, limit: { type: "string", default: "40" } } });
  const node = await startAdServer({ port: Number(values.port), data: values.data, limit: Number(values.limit) });
  console.log(`\nad-counter dashboard: http://127.0.0.1:${node.port}/app/  (open it in several tabs; Ctrl-C stops)`);
  let stopping = false;
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, async () => {
    if (stopping) process.exit(130);
    stopping = true;
    await node.close();
    process.exit(0);
  });
}
