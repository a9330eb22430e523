// npm run experiment -- <icde19|scale|both> [--quick] [--jobs N] [--out DIR | --save]
//   icde19: the ICDE 2019 micro-benchmarks (experiments/icde19.ts)
//   scale:  the ad counter on 1,024 replicas (experiments/scale.ts)
// Results go to ./experiment-out/<name>/ unless --out DIR is given; only --save
// writes into the tracked results/ folder, so a trial run never overwrites it.
// No experiment named prints the usage and exits 2 (a full run takes minutes on
// every core, so it must be asked for); --help prints it and exits 0.
import { fork } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runOne, plan, table, WORKLOADS, MODES, TOPOLOGIES } from "./icde19.ts";
import type { Icde19Options, Row } from "./icde19.ts";
import { METRICS, metricSpec, renderSvg } from "./charts.ts";
import { Progress } from "./progress.ts";

export const USAGE = `usage: npm run experiment -- <experiment> [options]

experiments:
  icde19   the ICDE 2019 synchronization micro-benchmarks (60 runs, ~6 min on 2 cores)
  scale    the ad counter on 1,024 simulated replicas (~2 min of CPU, ~650 MiB RSS)
  both     icde19, then scale

options:
  --quick      a reduced configuration (15 replicas x 10 events; 64 replicas), 10-30 s
  --jobs N     child processes for icde19 (default 2: one per core)
  --out DIR    write results to DIR/<experiment>/ (default ./experiment-out)
  --save       write results to the tracked results/ folder (for a commit)
  -h, --help   print this and exit

Nothing runs without an experiment name. Method and results: docs/experiments.md.
`;

export interface RunArgs { what: "icde19" | "scale" | "both"; quick: boolean; jobs: number; out: string }

/** Thrown for a command line that must not start a run; `exit` is the process status. */
export class UsageError extends Error {
  constructor(message: string, readonly exit: number) { super(message); }
}

/** Parses the command line; `help` when usage was asked for. Never starts anything. */
export function parseRunArgs(args: string[]): RunArgs | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args, allowPositionals: true, strict: true,
      options: {
        quick: { type: "boolean" }, jobs: { type: "string" }, out: { type: "string" },
        save: { type: "boolean" }, help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    // An unknown or misspelt option (--quik) must not fall through to a full run.
    // Node's message goes on to suggest "--" quoting, which does not apply here.
    throw new UsageError(`${(e as Error).message.split(". ")[0]}\n\n${USAGE}`, 2);
  }
  const { values: v, positionals } = parsed;
  if (v.help || positionals[0] === "help") return "help";
  if (positionals.length === 0) throw new UsageError(`no experiment named\n\n${USAGE}`, 2);
  if (positionals.length > 1) throw new UsageError(`one experiment at a time, got: ${positionals.join(" ")}\n\n${USAGE}`, 2);
  const what = positionals[0];
  if (what !== "icde19" && what !== "scale" && what !== "both") throw new UsageError(`unknown experiment "${what}"\n\n${USAGE}`, 2);
  if (v.save && v.out !== undefined) throw new UsageError("give --out DIR or --save, not both", 2);
  const jobs = v.jobs === undefined ? 2 : Number(v.jobs);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError(`--jobs must be an integer from 1 to 64, got "${v.jobs}"`, 2);
  if (v.out === "") throw new UsageError("--out needs a directory", 2);
  const root = fileURLToPath(new URL("..", import.meta.url));
  const out = v.save ? join(root, "results") : resolve(v.out ?? "experiment-out");
  return { what, quick: v.quick ?? false, jobs, out };
}

export function icde19Options(quick: boolean): Icde19Options {
  if (!quick) return { nodes: 15, events: 100, interval: 1000, latency: 10, gmapKeys: 1000, seed: 2019 };
  // Small: 15 replicas, 10 events each, one workload per type, a 150-key GMap.
  return {
    nodes: 15, events: 10, interval: 1000, latency: 10, gmapKeys: 150, seed: 2019,
    workloads: [WORKLOADS[0], WORKLOADS[1], WORKLOADS[3]],
  };
}

// A child process: runs every n-th run of the plan and reports rows.
async function shard(k: number, n: number, quick: boolean): Promise<void> {
  const o = icde19Options(quick);
  const runs = plan(o);
  for (let i = k; i < runs.length; i += n) {
    const r = runs[i];
    const row = await runOne(r.topology, r.workload, r.mode, o);
    process.send!({ i, row });
  }
}

async function icde19(out: string, quick: boolean, maxJobs: number): Promise<Row[]> {
  const o = icde19Options(quick);
  const runs = plan(o);
  const jobs = Math.min(maxJobs, runs.length);
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
  const argv = process.argv.slice(2);
  // Internal: a child forked by icde19() to run its share of the plan.
  const si = argv.indexOf("--shard");
  if (si >= 0) { const [k, n] = argv[si + 1].split("/").map(Number); await shard(k, n, argv.includes("--quick")); return; }
  const a = parseRunArgs(argv);
  if (a === "help") { process.stdout.write(USAGE); return; }
  if (a.what === "icde19" || a.what === "both") await icde19(join(a.out, "icde19"), a.quick, a.jobs);
  if (a.what === "scale" || a.what === "both") {
    const { runScale, writeScale } = await import("./scale.ts");
    writeScale(await runScale({ quick: a.quick }), join(a.out, "scale"));
  }
  console.log(`\nresults written to ${a.out}${a.out === join(fileURLToPath(new URL("..", import.meta.url)), "results") ? "" : " (not the tracked results/; --save writes there)"}`);
}

// Only when run as a script, so tests can import parseRunArgs without running anything.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    if (e instanceof UsageError) { process.stderr.write(e.message.endsWith("\n") ? e.message : e.message + "\n"); process.exit(e.exit); }
    console.error(e);
    process.exit(1);
  });
}
