// The micro-benchmarks of Enes, Almeida, Baquero & Leitão, "Efficient
// Synchronization of State-based CRDTs" (ICDE 2019), on the simulated network:
// 15 replicas, a tree and a partial mesh, 100 update events per replica (one per
// sync interval), GSet / GCounter / GMap K%, under state-based and delta-based
// synchronisation with and without BP and RR. Method: docs/experiments.md.
import { init, Runtime, GSet, GCounter, GMap, LWWRegister, Replicator, decodeMessage, decodeState, hash64 } from "trellis";
import type { ReplicatorOptions, Transport } from "trellis";
import { SimNetwork, Prng } from "trellis/sim";

export const MODES = ["state", "delta", "delta+BP", "delta+RR", "delta+BP+RR"] as const;
export type Mode = (typeof MODES)[number];
export type Topology = "tree" | "partialMesh";
export const TOPOLOGIES: Topology[] = ["tree", "partialMesh"];

export interface Workload { name: string; kind: "gset" | "gcounter" | "gmap"; percent?: number }
export const WORKLOADS: Workload[] = [
  { name: "GSet", kind: "gset" },
  { name: "GCounter", kind: "gcounter" },
  { name: "GMap 10%", kind: "gmap", percent: 10 },
  { name: "GMap 30%", kind: "gmap", percent: 30 },
  { name: "GMap 60%", kind: "gmap", percent: 60 },
  { name: "GMap 100%", kind: "gmap", percent: 100 },
];

export interface Icde19Options {
  nodes?: number;       // 15, as in the paper
  events?: number;      // update events per node (100)
  interval?: number;    // sync interval = event interval, virtual ms (1000)
  latency?: number;     // fixed one-way latency, virtual ms (10)
  gmapKeys?: number;    // keys of the GMap, split evenly among nodes (1000, as in the paper's code)
  seed?: number;
  topologies?: Topology[];
  workloads?: Workload[];
  modes?: readonly Mode[];
  onRun?: (done: number, total: number, label: string) => void;
}

export interface Row {
  topology: Topology;
  workload: string;
  mode: Mode;
  messages: number;    // sent by all replicas, acks and digests included
  bytes: number;       // bytes of those messages
  entries: number;     // join-irreducibles in the states / delta-groups sent
  memory: number;      // average per replica of states + delta buffer (bytes), sampled every interval
  cpuMs: number;       // process CPU (user + system) of the run, without the measuring
  rounds: number;      // sync intervals from the first event until convergence
  quietRounds: number; // ... until no message was sent during a whole interval (state: = rounds)
}

const ID = "events";

function modeOptions(mode: Mode): ReplicatorOptions {
  if (mode === "state") return { mode: "state" };
  return { mode: "delta", bp: mode.includes("BP"), rr: mode.includes("RR") };
}

function typeOf(w: Workload) {
  if (w.kind === "gset") return GSet;
  if (w.kind === "gcounter") return GCounter;
  return GMap.of(LWWRegister);
}

// One run: a fresh network and fresh runtimes. Throws unless every replica
// ends byte-identical and holds every update.
// Join-irreducibles in a state: its size for sets and maps (each element, each
// key's register, is one), a decomposition otherwise (small states here).
export function irreducibles(bytes: Uint8Array): number {
  const x = decodeState(bytes, "~");
  try {
    if (x instanceof GSet || x instanceof GMap) return x.size;
    const parts = x.decompose();
    for (const p of parts) p.dispose();
    return parts.length;
  } finally { x.dispose(); }
}

// Keeps what the replicator sends, to count its entries after the measured
// part of an interval. (Replicator's own countEntries decomposes every state
// once per neighbour: most of a run's CPU in state mode.)
function tap(t: Transport, log: Uint8Array[]): Transport {
  return {
    neighbours: () => t.neighbours(),
    send: (to, m) => { log.push(m); t.send(to, m); },
    onMessage: (h) => t.onMessage(h),
    onNeighbour: (h) => t.onNeighbour(h),
  };
}

// Equal states are counted once (state mode sends one state to every neighbour).
function countLog(log: Uint8Array[], seen: Map<string, number>): number {
  let n = 0;
  for (const m of log) {
    const msg = decodeMessage(m);
    if (msg.kind !== "delta" && msg.kind !== "state") continue;
    for (const e of msg.entries) {
      const key = `${e.bytes.length}:${Buffer.from(hash64(e.bytes)).toString("hex")}`;
      let c = seen.get(key);
      if (c === undefined) seen.set(key, (c = irreducibles(e.bytes)));
      n += c;
    }
  }
  if (seen.size > 50_000) seen.clear();
  log.length = 0;
  return n;
}

export async function runOne(topology: Topology, w: Workload, mode: Mode, o: Icde19Options = {}, countEntries = false): Promise<Row> {
  const n = o.nodes ?? 15, events = o.events ?? 100, interval = o.interval ?? 1000;
  const latency = o.latency ?? 10, gmapKeys = o.gmapKeys ?? 1000, seed = o.seed ?? 2019;
  await init();
  // Lossless, no duplicates, no reordering (so FIFO per link), fixed latency.
  const net = new SimNetwork({ seed, latency, loss: 0, duplicate: 0, reorder: 0 });
  const ids = Array.from({ length: n }, (_, i) => `n${String(i).padStart(2, "0")}`);
  net.topology(topology, ids, topology === "tree" ? { fanout: 2 } : { degree: 4 });
  const rng = new Prng(seed, 7);
  const log: Uint8Array[] = [];
  let entries = 0;
  const seen = new Map<string, number>();

  const nodes = ids.map((id, i) => {
    const rt = new Runtime({ replica: id });
    rt.declare(ID, typeOf(w));
    const t = net.transport(id);
    const rep = new Replicator(rt, tap(t, log), { ...modeOptions(mode), clock: t.clock, interval, countEntries, session: i + 1 });
    return { id, rt, rep, t };
  });
  // Rounds are not in lock-step: each replica starts at its own phase.
  for (const x of nodes) x.t.clock.setTimeout(() => x.rep.start(), rng.int(interval));

  // Warm-up: two intervals with empty states, so delta mode learns its
  // neighbours' acks (a digest exchange) before anything is counted.
  let t = 2 * interval;
  net.run({ until: t });
  for (const x of nodes) x.rep.resetStats();
  log.length = 0;

  // Events: one per node per interval, at a per-node phase apart from its round.
  const keysPer = Math.ceil(gmapKeys / n);
  const touched = new Set<number>();
  nodes.forEach((x, i) => {
    const own = Array.from({ length: Math.max(0, Math.min(gmapKeys, (i + 1) * keysPer) - i * keysPer) }, (_, k) => i * keysPer + k);
    const perEvent = Math.ceil(((w.percent ?? 0) * own.length) / 100);
    const phase = rng.int(interval);
    for (let e = 0; e < events; e++) {
      net.clock.setTimeout(() => {
        if (w.kind === "gset") x.rt.update(ID, { add: `${x.id}#${e}` });
        else if (w.kind === "gcounter") x.rt.update(ID, { increment: 1 });
        else {
          // A fresh sample of this node's keys (keys are disjoint per node, as in the paper).
          for (let k = own.length - 1; k > 0; k--) { const j = rng.int(k + 1); [own[k], own[j]] = [own[j], own[k]]; }
          const ts = e + 1;
          const keys = own.slice(0, perEvent);
          for (const k of keys) touched.add(k);
          x.rt.update(ID, keys.map((key) => ({ update: [key, { set: [null, ts] }] })));
        }
      }, t + e * interval + phase);
    }
  });

  let cpu = 0;
  const measure = (until: number) => {
    const c = process.cpuUsage();
    net.run({ until });
    const d = process.cpuUsage(c);
    cpu += (d.user + d.system) / 1000;
  };
  const sent = () => nodes.reduce((s, x) => s + x.rep.stats().messages, 0);
  const encoded = () => nodes.map((x) => Buffer.from(x.rt.encode(ID)));
  const converged = () => { const e = encoded(); return e.every((b) => b.equals(e[0])); };

  let memSum = 0, memSamples = 0;
  const sample = () => {
    for (const x of nodes) { const m = x.rep.memory(); memSum += m.states + m.buffer; }
    memSamples += n;
  };

  let rounds = 0, quietRounds = 0, convergedAt = -1;
  const maxRounds = events + 200;
  for (let r = 1; ; r++) {
    t += interval;
    const before = sent();
    measure(t);
    entries += countLog(log, seen);
    sample();
    const allIn = r >= events; // every node has made its last event
    if (allIn && convergedAt < 0 && converged()) {
      convergedAt = r;
      if (mode === "state") for (const x of nodes) x.rep.stop(); // it would repeat itself forever
    }
    if (convergedAt > 0 && net.idle() && sent() === before) { quietRounds = r; break; }
    if (r > maxRounds) throw new Error(`${topology} ${w.name} ${mode}: no convergence or no quiescence after ${r} rounds`);
  }
  rounds = convergedAt;

  // Convergence, checked loudly: byte-identical, and every update present.
  if (!converged()) throw new Error(`${topology} ${w.name} ${mode}: replicas differ after quiescence`);
  const value = nodes[0].rt.query(ID) as unknown;
  if (w.kind === "gset" && (value as unknown[]).length !== n * events) throw new Error(`GSet has ${(value as unknown[]).length} elements, expected ${n * events}`);
  if (w.kind === "gcounter" && value !== n * events) throw new Error(`GCounter is ${String(value)}, expected ${n * events}`);
  if (w.kind === "gmap") {
    const size = nodes[0].rt.state(ID).size as number;
    if (size !== touched.size) throw new Error(`GMap has ${size} keys, expected ${touched.size}`);
  }

  const st = nodes.map((x) => x.rep.stats());
  const row: Row = {
    topology, workload: w.name, mode,
    messages: st.reduce((s, x) => s + x.messages, 0),
    bytes: st.reduce((s, x) => s + x.bytes, 0),
    entries,
    memory: memSum / memSamples,
    cpuMs: cpu,
    rounds, quietRounds,
  };
  for (const x of nodes) { x.rep.close(); x.rt.close(); }
  if (countEntries) {
    const own = st.reduce((s, x) => s + x.entries, 0);
    if (own !== entries) throw new Error(`${topology} ${w.name} ${mode}: counted ${entries} entries, the replicators ${own}`);
  }
  return row;
}

export async function runIcde19(o: Icde19Options = {}): Promise<Row[]> {
  const tops = o.topologies ?? TOPOLOGIES, wls = o.workloads ?? WORKLOADS, modes = o.modes ?? MODES;
  const total = tops.length * wls.length * modes.length;
  const rows: Row[] = [];
  for (const top of tops) for (const w of wls) for (const m of modes) {
    o.onRun?.(rows.length, total, `${top} ${w.name} ${m}`);
    rows.push(await runOne(top, w, m, o));
  }
  o.onRun?.(rows.length, total, "done");
  return rows;
}

// Every (topology, workload, mode) of a configuration, in table order.
export function plan(o: Icde19Options = {}): { topology: Topology; workload: Workload; mode: Mode }[] {
  const out = [];
  for (const topology of o.topologies ?? TOPOLOGIES) for (const workload of o.workloads ?? WORKLOADS) for (const mode of o.modes ?? MODES) out.push({ topology, workload, mode });
  return out;
}

const kib = (b: number) => (b / 1024).toLocaleString("en-US", { maximumFractionDigits: 1 });
const int = (x: number) => Math.round(x).toLocaleString("en-US");

// The markdown table: absolute numbers, and bytes relative to state-based.
export function table(rows: Row[]): string {
  const base = new Map(rows.filter((r) => r.mode === "state").map((r) => [`${r.topology}|${r.workload}`, r]));
  const lines = [
    "| topology | workload | mode | messages | KiB sent | × state | entries sent | avg memory KiB | CPU ms | rounds to converge |",
    "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const r of rows) {
    const b = base.get(`${r.topology}|${r.workload}`);
    lines.push(`| ${r.topology} | ${r.workload} | ${r.mode} | ${int(r.messages)} | ${kib(r.bytes)} | ${b ? (r.bytes / b.bytes).toFixed(3) : "—"} | ${int(r.entries)} | ${kib(r.memory)} | ${int(r.cpuMs)} | ${r.rounds} |`);
  }
  return lines.join("\n");
}
