// The ad counter (examples/ad-counter.mjs: the same Lasp program) on 1,024
// simulated replicas in a partial mesh, the cluster size of Lasp's PPDP 2017
// evaluation: rounds and bytes until every replica has converged, and the
// process's peak memory. Method: docs/experiments.md.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { init, Runtime, AWSet, GCounter, Replicator } from "trellis";
import { SimNetwork, Prng } from "trellis/sim";
import { Progress } from "./progress.ts";

export interface ScaleOptions {
  quick?: boolean;     // 64 replicas instead of 1,024
  replicas?: number;
  degree?: number;     // partial mesh degree (4)
  interval?: number;   // sync interval, virtual ms (100)
  activeFor?: number;  // virtual ms during which clients show ads (3,000)
  limit?: number;      // impressions per ad before hq removes it
  seed?: number;
  progress?: boolean;
}

export interface ScaleResult {
  replicas: number; degree: number; edges: number; interval: number; activeFor: number; limit: number; seed: number;
  network: string;
  impressions: number;            // made by clients in all
  finalImpressions: Record<string, number>;
  removed: string[];              // ads hq removed at the limit
  rounds: number;                 // sync intervals from the start until every replica converged
  roundsAfterLastUpdate: number;  // ... counted from the last impression
  convergedAtMs: number;
  messages: number; bytes: number; // sent by all replicas until convergence (acks and digests included)
  bytesPerReplica: number;
  peak: { rss: number; heapUsed: number; external: number; arrayBuffers: number };
  wallMs: number; cpuMs: number;
  phases: { setupMs: number; updatesMs: number; settleMs: number; checksMs: number };
}

const ADS = [
  { id: "ad-shoes", campaign: "spring" },
  { id: "ad-coffee", campaign: "mornings" },
  { id: "ad-bikes", campaign: "commute" },
  { id: "ad-books", campaign: "autumn" },
  { id: "ad-games", campaign: "holidays" },
];
const CONTRACTS = ADS.filter((a) => a.id !== "ad-games").map((a) => ({ ad: a.id, advertiser: a.campaign + " co." }));
const REPLICATED = ["ads", "contracts", ...ADS.map((a) => `impressions/${a.id}`)];

export async function runScale(o: ScaleOptions = {}): Promise<ScaleResult> {
  const n = o.replicas ?? (o.quick ? 64 : 1024);
  const degree = o.degree ?? 4, interval = o.interval ?? 100, activeFor = o.activeFor ?? 3000;
  const limit = o.limit ?? Math.max(40, Math.round(n * 0.6)), seed = o.seed ?? 2017;
  const showBar = o.progress ?? true;
  await init();
  const wall0 = performance.now(), cpu0 = process.cpuUsage();
  const peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const mem = () => {
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss); peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
    peak.external = Math.max(peak.external, m.external); peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
  };

  // Faults as in the example (latency 5–60 ms, loss, duplicates, reordering).
  const netOpts = { seed, latency: [5, 60] as [number, number], loss: 0.05, duplicate: 0.02, reorder: 0.1 };
  const net = new SimNetwork(netOpts);
  const ids = ["hq", ...Array.from({ length: n - 1 }, (_, i) => `c${i + 1}`)];
  const edges = net.topology("partialMesh", ids, { degree }).length;
  const rng = new Prng(seed, 11);

  const bar = showBar ? new Progress(`scale: setting up ${n} replicas`, n) : null;
  const nodes = ids.map((id, i) => {
    const rt = new Runtime({ replica: id, trusted: id === "hq" });
    rt.declare("ads", AWSet).declare("contracts", AWSet);
    for (const ad of ADS) rt.declare(`impressions/${ad.id}`, GCounter);
    rt.product("ads×contracts", "ads", "contracts");
    rt.filter("matched", "ads×contracts", ([ad, contract]: [{ id: string }, { ad: string }]) => ad.id === contract.ad);
    rt.map("displayable", "matched", ([ad]: [{ id: string }]) => ad.id);
    const t = net.transport(id);
    const rep = new Replicator(rt, t, { clock: t.clock, interval, session: i + 1, countEntries: false });
    t.clock.setTimeout(() => rep.start(), rng.int(interval)); // rounds not in lock-step
    if (i % 64 === 0) bar?.set(i + 1);
    return { id, rt, rep };
  });
  bar?.set(n); bar?.done();
  mem();
  const setupMs = performance.now() - wall0;

  const hq = nodes[0].rt;
  hq.update("ads", ADS.map((ad) => ({ add: ad })));
  hq.update("contracts", CONTRACTS.map((c) => ({ add: c })));
  const removed: string[] = [];
  for (const ad of ADS) {
    hq.enforceOnce(`impressions/${ad.id}`, { atLeast: limit }, () => {
      hq.update("ads", { remove: ad });
      removed.push(ad.id);
    });
  }

  // Clients: about one impression per second each, of an ad in their own view.
  let impressions = 0, lastImpression = 0;
  for (const x of nodes.slice(1)) {
    const tick = () => {
      if (net.now >= activeFor) return;
      const shown = x.rt.query("displayable") as string[];
      if (shown.length > 0) {
        x.rt.update(`impressions/${shown[rng.int(shown.length)]}`, { increment: 1 });
        impressions++; lastImpression = net.now;
      }
      net.clock.setTimeout(tick, 500 + rng.int(1000));
    };
    net.clock.setTimeout(tick, 200 + rng.int(1000));
  }

  // Run interval by interval; between slices, promise callbacks (enforceOnce)
  // get their turn, as on a real event loop.
  const slice = async (until: number) => { net.run({ until }); await new Promise((r) => setImmediate(r)); mem(); };
  const upd0 = performance.now();
  const b1 = showBar ? new Progress(`scale: ${n} replicas, clients active`, activeFor) : null;
  let t = 0;
  while (t < activeFor) { t += interval; await slice(t); b1?.set(Math.min(t, activeFor), `${impressions} impressions`); }
  b1?.done();
  const updatesMs = performance.now() - upd0;

  // Settle: until every replica's replicated state equals hq's, byte for byte
  // (derived views are checked too), then stop counting.
  const set0 = performance.now();
  let checksMs = 0;
  const b2 = showBar ? new Progress(`scale: converging`, n) : null;
  const key = (rt: Runtime) => REPLICATED.map((v) => Buffer.from(rt.encode(v)).toString("base64")).join("|");
  let convergedAtMs = -1;
  const maxT = activeFor + 600 * interval;
  while (t < maxT) {
    t += interval;
    await slice(t);
    const c0 = performance.now();
    const ref = key(hq);
    let same = 0;
    for (const x of nodes) if (key(x.rt) === ref) same++;
    checksMs += performance.now() - c0;
    b2?.set(same, `t=${(t / 1000).toFixed(1)}s`);
    if (same === n) { convergedAtMs = t; break; }
  }
  b2?.done();
  if (convergedAtMs < 0) throw new Error(`scale: not converged after ${maxT} ms`);
  const view = JSON.stringify(hq.query("displayable"));
  const badView = nodes.find((x) => JSON.stringify(x.rt.query("displayable")) !== view);
  if (badView) throw new Error(`scale: ${badView.id} sees ${JSON.stringify(badView.rt.query("displayable"))}, hq ${view}`);
  const settleMs = performance.now() - set0 - checksMs;

  let messages = 0, bytes = 0;
  for (const x of nodes) { const s = x.rep.stats(); messages += s.messages; bytes += s.bytes; }
  const finalImpressions = Object.fromEntries(ADS.map((a) => [a.id, hq.query(`impressions/${a.id}`) as number]));
  const total = Object.values(finalImpressions).reduce((a, b) => a + b, 0);
  if (total !== impressions) throw new Error(`scale: ${total} impressions counted, ${impressions} made`);
  const cpu = process.cpuUsage(cpu0);
  const result: ScaleResult = {
    replicas: n, degree, edges, interval, activeFor, limit, seed,
    network: `partial mesh (degree ≥ ${degree}), latency 5–60 ms, ${netOpts.loss * 100}% loss, ${netOpts.duplicate * 100}% duplicates, ${netOpts.reorder * 100}% reordered`,
    impressions, finalImpressions, removed,
    rounds: Math.round(convergedAtMs / interval),
    roundsAfterLastUpdate: Math.ceil((convergedAtMs - lastImpression) / interval),
    convergedAtMs, messages, bytes, bytesPerReplica: bytes / n, peak,
    wallMs: performance.now() - wall0, cpuMs: (cpu.user + cpu.system) / 1000,
    phases: { setupMs, updatesMs, settleMs, checksMs },
  };
  for (const x of nodes) { x.rep.close(); x.rt.close(); }
  return result;
}

const mib = (b: number) => (b / 2 ** 20).toFixed(1);

export function writeScale(r: ScaleResult, out: string): void {
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "results.json"), JSON.stringify({ experiment: "scale", node: process.version, ...r }, null, 2) + "\n");
  const md = [
    `# Ad counter on ${r.replicas.toLocaleString("en-US")} replicas`,
    "",
    `The ad counter program of examples/ad-counter.mjs (ads × contracts → filter → map; a GCounter of impressions per ad; ` +
      `hq removes an ad at ${r.limit} impressions) on ${r.replicas} replicas: ${r.network}, ${r.edges} links, sync every ${r.interval} ms ` +
      `(delta mode, BP + RR). Clients show about one ad a second each for ${r.activeFor / 1000} s of virtual time, then the run goes on until ` +
      "every replica's replicated variables are byte-identical to hq's (and every derived view equal). Method: docs/experiments.md.",
    "",
    "| metric | value |",
    "|---|--:|",
    `| replicas | ${r.replicas.toLocaleString("en-US")} |`,
    `| impressions made | ${r.impressions.toLocaleString("en-US")} |`,
    `| ads removed at the limit | ${r.removed.length} of 5 |`,
    `| rounds (sync intervals) until convergence, from the start | ${r.rounds} |`,
    `| rounds after the last impression | ${r.roundsAfterLastUpdate} |`,
    `| messages sent | ${r.messages.toLocaleString("en-US")} |`,
    `| bytes sent | ${mib(r.bytes)} MiB |`,
    `| bytes sent per replica | ${(r.bytesPerReplica / 1024).toFixed(1)} KiB |`,
    `| peak RSS | ${mib(r.peak.rss)} MiB |`,
    `| peak JS heap used | ${mib(r.peak.heapUsed)} MiB |`,
    `| peak external (Wasm memory, buffers) | ${mib(r.peak.external)} MiB |`,
    `| wall time | ${(r.wallMs / 1000).toFixed(1)} s |`,
    `| CPU time | ${(r.cpuMs / 1000).toFixed(1)} s |`,
    `| of which: setup / clients active / settling / convergence checks | ${(r.phases.setupMs / 1000).toFixed(1)} / ${(r.phases.updatesMs / 1000).toFixed(1)} / ${(r.phases.settleMs / 1000).toFixed(1)} / ${(r.phases.checksMs / 1000).toFixed(1)} s |`,
    "",
    `Final impressions per ad: ${Object.entries(r.finalImpressions).map(([k, v]) => `${k} ${v}`).join(", ")}.`,
    "",
  ].join("\n");
  writeFileSync(join(out, "results.md"), md);
  console.log(md);
}
