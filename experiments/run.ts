// npm run experiment -- icde19 | scale | both [--quick] [--jobs N] [--out DIR]
//   icde19: the ICDE 2019 micro-benchmarks (experiments/icde19.ts) → results/icde19/
//   scale:  the ad counter on 1,024 replicas (experiments/scale.ts) → results/scale/
// --quick runs a reduced configuration (for tests); --jobs splits the icde19 runs
// over child processes (default 2: one per core; CPU time is per process).
import { fork } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runOne, plan, table, WORKLOADS, MODES, TOPOLOGIES } from "./icde19.ts";
import type { Icde19Options, Row } from "./icde19.ts";
import { METRICS, metricSpec, renderSvg } from "./charts.ts";
import { Progress } from "./progress.ts";

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const value = (name: string, d: string) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : d; };
const quick = flag("quick");

export function icde19Options(quick: boolean): Icde19Options {
  if (!quick) return { nodes: 15, events: 100, interval: 1000, latency: 10, gmapKeys: 1000, seed: 2019 };
  // Small: 15 replicas, 10 events each, one workload per type, a 150-key GMap.
  return {
    nodes: 15, events: 10, interval: 1000, latency: 10, gmapKeys: 150, seed: 2019,
    workloads: [WORKLOADS[0], WORKLOADS[1], WORKLOADS[3]],
  };
}

// A child process: runs every n-th run of the plan and reports rows.
async function shard(k: number, n: number): Promise<void> {
  const o = icde19Options(quick);
  const runs = plan(o);
  for (let i = k; i < runs.length; i += n) {
    const r = runs[i];
    const row = await runOne(r.topology, r.workload, r.mode, o);
    process.send!({ i, row });
  }
}

async function icde19(out: string): Promise<Row[]> {
  const o = icde19Options(quick);
  const runs = plan(o);
  const jobs = Math.max(1, Math.min(Number(value("jobs", "2")), runs.length));
  const rows: Row[] = new Array(runs.length);
  const bar = new Progress(`icde19 (${runs.length} runs, ${jobs} processes)`, runs.length);
  const self = fileURLToPath(import.meta.url);
  await Promise.all(Array.from({ length: jobs }, (_, k) => new Promise<void>((resolve, reject) => {
    const child = fork(self, ["--shard", `${k}/${jobs}`, ...(quick ? ["--quick"] : [])], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    child.on("message", (m: { i: number; row: Row }) => { rows[m.i] = m.row; bar.tick(`${m.row.topology} ${m.row.workload} ${m.row.mode}`); });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`icde19 shard ${k} failed (exit ${code})`))));
  })));
  bar.done();
  if (rows.some((r) => r === undefined)) throw new Error("icde19: runs missing");

  mkdirSync(out, { recursive: true });
  const md = table(rows);
  const workloads = (o.workloads ?? WORKLOADS).map((w) => w.name);
  const topologies = o.topologies ?? TOPOLOGIES;
  const svgs: string[] = [];
  for (const m of METRICS) {
    const file = `${m.key === "cpuMs" ? "cpu" : m.key}.svg`;
    writeFileSync(join(out, file), await renderSvg(metricSpec(rows, m, MODES, workloads, topologies, `${o.nodes} replicas, ${o.events} events each`)));
    svgs.push(file);
  }
  const config = { ...o, workloads, topologies, modes: MODES, network: "lossless, FIFO, fixed latency", node: process.version };
  writeFileSync(join(out, "results.json"), JSON.stringify({ experiment: "icde19", quick, config, rows }, null, 2) + "\n");
  writeFileSync(join(out, "results.md"), [
    `# ICDE 2019 micro-benchmarks${quick ? " (quick)" : ""}`,
    "",
    `${o.nodes} replicas, ${o.events} update events per replica (one per ${o.interval} ms sync interval), ` +
      `lossless FIFO links with ${o.latency} ms latency; GMap of ${o.gmapKeys} LWW-register keys split among the replicas. ` +
      "Counts are totals over all replicas from the first event until no message is sent for a whole interval; " +
      "memory is the average per replica of state + delta-buffer bytes, sampled every interval; CPU is this process's user + system time " +
      "of the simulated run (not of the measuring). Every run converged (byte-identical replicas holding every update). Method: docs/experiments.md.",
    "",
    md,
    "",
    ...svgs.map((f) => `![${f}](${f})`),
    "",
  ].join("\n"));
  console.log(md);
  return rows;
}

async function main(): Promise<void> {
  const s = value("shard", "");
  if (s) { const [k, n] = s.split("/").map(Number); await shard(k, n); return; }
  const what = argv.find((a) => !a.startsWith("--") && argv[argv.indexOf(a) - 1] !== "--jobs" && argv[argv.indexOf(a) - 1] !== "--out") ?? "both";
  if (!["icde19", "scale", "both"].includes(what)) throw new Error(`usage: npm run experiment -- icde19|scale|both [--quick] [--jobs N] [--out DIR]`);
  const out = value("out", "results");
  if (what === "icde19" || what === "both") await icde19(join(out, "icde19"));
  if (what === "scale" || what === "both") {
    const { runScale, writeScale } = await import("./scale.ts");
    writeScale(await runScale({ quick }), join(out, "scale"));
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
