// Seeded replication schedules on the simulated network: 5-8 replicas of a
// Runtime, random updates over several types, 10% loss, 10% duplication,
// reordering, partitions that heal and (optionally) a crash with memory loss.
// A schedule is generated from the seed alone, so every protocol
// configuration replays exactly the same updates and faults.
import {
  AWSet, GCounter, GMap, LWWRegister, ORSet, Runtime, TopK, decodeState,
} from "../../dist/host/index.node.js";
import type { Crdt, TypeSpec } from "../../dist/host/index.node.js";
import { Replicator } from "../../dist/host/replication/index.js";
import type { ReplicatorOptions, ReplicationError } from "../../dist/host/replication/index.js";
import { SimNetwork } from "../../dist/host/transport/sim.js";
import type { TopologyKind } from "../../dist/host/transport/sim.js";
import { Prng } from "./prng.js";

type Op = Record<string, unknown>;
// op: any op; pure: an op whose delta does not depend on what the replica
// has seen (no removes, explicit LWW timestamps), so every configuration,
// whatever its timing, makes the very same updates.
interface VarType { id: string; spec: TypeSpec; op: (rng: Prng, t: number) => Op; pure?: (rng: Prng, t: number) => Op }

export const VARS: VarType[] = [
  { id: "count", spec: GCounter.spec, op: (r) => ({ increment: r.range(1, 3) }) },
  { id: "aw", spec: AWSet.spec, op: (r) => (r.chance(0.65) ? { add: r.int(40) } : { remove: r.int(40) }), pure: (r, t) => ({ add: `u${t}.${r.int(1e9)}` }) }, // an add retires the element's older dots it saw: add each once
  { id: "or", spec: ORSet.spec, op: (r) => (r.chance(0.65) ? { add: `e${r.int(40)}` } : { remove: `e${r.int(40)}` }), pure: (r) => ({ add: `e${r.int(40)}` }) },
  { id: "map", spec: GMap.of(GCounter), op: (r) => ({ update: [`k${r.int(12)}`, { increment: r.range(1, 2) }] }) },
  { id: "top", spec: TopK.of(5), op: (r) => ({ add: [`p${r.int(25)}`, r.int(10_000)] }) },
  { id: "reg", spec: LWWRegister.spec, op: (r, t) => ({ setAfter: [r.int(1000), Math.floor(t)] }), pure: (r, t) => ({ set: [r.int(1000), Math.floor(t)] }) },
];

export interface Config { name: string; o: ReplicatorOptions }
export const CONFIGS: Config[] = [
  { name: "delta+BP+RR", o: { mode: "delta", bp: true, rr: true } },
  { name: "delta+BP", o: { mode: "delta", bp: true, rr: false } },
  { name: "delta+RR", o: { mode: "delta", bp: false, rr: true } },
  { name: "delta", o: { mode: "delta", bp: false, rr: false } },
  { name: "state", o: { mode: "state" } },
];

export const INTERVAL = 50; // virtual ms between rounds
const HORIZON = 1500;       // updates and faults happen in [0, HORIZON)
const TOPOLOGIES: TopologyKind[] = ["fullMesh", "partialMesh", "ring", "tree", "line"];

type Event =
  | { t: number; kind: "update"; node: number; v: number; op: Op }
  | { t: number; kind: "partition"; groups: number[][] }
  | { t: number; kind: "heal" }
  | { t: number; kind: "crash"; node: number }
  | { t: number; kind: "restart"; node: number };

export interface Schedule { seed: number; n: number; topology: TopologyKind; declared: number[][]; events: Event[]; crashes: boolean }

export function makeSchedule(seed: number, o: { updates?: [number, number]; crash?: boolean; pure?: boolean } = {}): Schedule {
  const r = new Prng(seed);
  const n = r.range(5, 8);
  const topology = r.pick(TOPOLOGIES);
  // Each node starts with a random subset of the variables; the rest arrive
  // by auto-declaration or are declared at the first local update.
  const declared = Array.from({ length: n }, () => VARS.map((_, i) => i).filter(() => r.chance(0.5)));
  const events: Event[] = [];
  const [lo, hi] = o.updates ?? [100, 200];
  const u = r.range(lo, hi);
  for (let i = 0; i < u; i++) {
    const t = r.int(HORIZON), v = r.int(VARS.length);
    const node = r.int(n), make = (o.pure && VARS[v].pure) || VARS[v].op;
    events.push({ t, kind: "update", node, v, op: make(r, t) });
  }
  // One or two partitions, each healed before the horizon.
  const parts = r.range(1, 2);
  let start = r.range(50, 300);
  for (let p = 0; p < parts && start < HORIZON - 100; p++) {
    const k = r.range(2, 3);
    const groups: number[][] = Array.from({ length: k }, () => []);
    for (let i = 0; i < n; i++) groups[r.int(k)].push(i);
    const heal = start + r.range(100, 500);
    events.push({ t: start, kind: "partition", groups }, { t: Math.min(heal, HORIZON - 1), kind: "heal" });
    start = heal + r.range(20, 200);
  }
  if (o.crash) {
    const node = r.int(n), at = r.range(100, 900);
    events.push({ t: at, kind: "crash", node }, { t: at + r.range(50, 400), kind: "restart", node });
  }
  events.sort((a, b) => a.t - b.t);
  return { seed, n, topology, declared, events, crashes: !!o.crash };
}

interface Node { id: string; rt: Runtime; rep: Replicator; inc: number; up: boolean }

// What replicas must converge to: the join of every update (all), and of the
// updates no crash could have lost (safe: made before the node's last crash).
export class References {
  readonly all = new Map<string, Crdt<unknown>>();
  readonly safe = new Map<string, Crdt<unknown>>();
  readonly #lastCrash = new Map<number, number>();
  constructor(s: Schedule) { for (const e of s.events) if (e.kind === "crash") this.#lastCrash.set(e.node, e.t); }
  #join(ref: Map<string, Crdt<unknown>>, id: string, d: Uint8Array): void {
    const x = ref.get(id);
    if (x) x.merge(d); else ref.set(id, decodeState(d, "ref"));
  }
  // An update of node `node` at time t: at the crash instant it may be lost.
  record(node: number, t: number, id: string, delta: Uint8Array): void {
    this.#join(this.all, id, delta);
    if (!(this.#lastCrash.get(node)! >= t)) this.#join(this.safe, id, delta);
  }
  dispose(): void { for (const x of [...this.all.values(), ...this.safe.values()]) x.dispose(); }
}

export interface Outcome {
  seed: number; config: string;
  states: Map<string, Uint8Array>[];   // per live node: variable -> encoded state
  refAll: Map<string, Uint8Array>;      // join of every update
  refSafe: Map<string, Uint8Array>;     // join of updates no crash could have lost
  converged: boolean; convergedAt: number; quiet: boolean;
  errors: ReplicationError[];
  sent: { messages: number; bytes: number; entries: number };
}

export function runSchedule(s: Schedule, config: Config, o: { countEntries?: boolean; quiescence?: boolean; maxTime?: number } = {}): Outcome {
  const net = new SimNetwork({ seed: s.seed, loss: 0.1, duplicate: 0.1, reorder: 0.1, latency: [1, 10] });
  const ids = Array.from({ length: s.n }, (_, i) => `n${i}`);
  net.topology(s.topology, ids, { degree: 3 });
  const errors: ReplicationError[] = [];
  const sent = { messages: 0, bytes: 0, entries: 0 };
  const opts: ReplicatorOptions = { ...config.o, interval: INTERVAL, countEntries: o.countEntries ?? false, onError: (e) => errors.push(e) };
  const start = (i: number, inc: number): Node => {
    const id = ids[i];
    // A replica that lost its memory comes back under a new replica id: reusing
    // the old one would hand out dots and counter values already used.
    const rt = new Runtime({ replica: inc === 0 ? id : `${id}~${inc}` });
    if (inc === 0) for (const v of s.declared[i]) rt.declare(VARS[v].id, VARS[v].spec);
    const tr = net.transport(id);
    const rep = new Replicator(rt, tr, { ...opts, clock: tr.clock, session: (s.seed * 31 + i * 7 + inc) >>> 0 }).start();
    return { id, rt, rep, inc, up: true };
  };
  const nodes = ids.map((_, i) => start(i, 0));
  const refs = new References(s), refAll = refs.all, refSafe = refs.safe;
  for (const e of s.events) {
    net.clock.setTimeout(() => {
      switch (e.kind) {
        case "update": {
          const nd = nodes[e.node];
          if (!nd.up) return;
          const v = VARS[e.v];
          nd.rt.declare(v.id, v.spec);
          const d = nd.rt.update(v.id, e.op);
          refs.record(e.node, e.t, v.id, d);
          return;
        }
        case "partition": net.partition(e.groups.map((g) => g.map((i) => ids[i])).filter((g) => g.length > 0)); return;
        case "heal": net.heal(); return;
        case "crash": {
          const nd = nodes[e.node];
          nd.rep.close(); nd.rt.close(); nd.up = false;
          net.crash(nd.id);
          return;
        }
        case "restart": {
          net.restart(ids[e.node]);
          nodes[e.node] = start(e.node, nodes[e.node].inc + 1);
          return;
        }
      }
    }, e.t);
  }
  net.run({ until: HORIZON });
  // Converge: run round by round until every replica equals the first one and
  // holds every variable any update touched.
  const maxTime = o.maxTime ?? HORIZON + 400 * INTERVAL;
  const snapshot = () => nodes.map((nd) => {
    const m = new Map<string, Uint8Array>();
    for (const v of VARS) if (nd.rt.has(v.id)) m.set(v.id, nd.rt.encode(v.id));
    return m;
  });
  const same = (): boolean => {
    const want = [...refAll.keys()];
    const a = nodes[0].rt;
    for (const id of want) {
      if (!a.has(id)) return false;
      const x = a.encode(id);
      for (let i = 1; i < nodes.length; i++) {
        if (!nodes[i].rt.has(id) || !eq(nodes[i].rt.encode(id), x)) return false;
      }
      if (!s.crashes && !eq(x, refAll.get(id)!.encode())) return false;
    }
    return true;
  };
  let converged = false;
  while (net.now < maxTime) {
    net.run({ until: net.now + 2 * INTERVAL });
    if (same()) { converged = true; break; }
  }
  const convergedAt = net.now;
  // Delta mode goes quiet once every ack is in: find three silent rounds.
  let quiet = false;
  if (converged && o.quiescence && config.o.mode !== "state") {
    for (let k = 0; k < 100 && !quiet; k++) {
      const before = net.totals().sent;
      net.run({ until: net.now + 3 * INTERVAL });
      quiet = net.totals().sent === before;
    }
  }
  for (const nd of nodes) {
    const st = nd.rep.stats();
    sent.messages += st.messages; sent.bytes += st.bytes; sent.entries += st.entries;
  }
  const out: Outcome = {
    seed: s.seed, config: config.name, states: snapshot(),
    refAll: enc(refAll), refSafe: enc(refSafe), converged, convergedAt, quiet, errors, sent,
  };
  for (const nd of nodes) { nd.rep.close(); nd.rt.close(); }
  refs.dispose();
  return out;
}

function enc(m: Map<string, Crdt<unknown>>): Map<string, Uint8Array> {
  return new Map([...m].map(([k, v]) => [k, v.encode()]));
}

export function eq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// a ⊑ b for two encoded states of one type.
export function leqBytes(a: Uint8Array, b: Uint8Array): boolean {
  const x = decodeState(a, "x"), y = decodeState(b, "y");
  try { return x.leq(y); } finally { x.dispose(); y.dispose(); }
}

// Every check on one outcome; returns a failure description or null.
export function check(out: Outcome, crashes: boolean): string | null {
  if (!out.converged) return "did not converge";
  if (out.errors.length > 0) return `errors: ${out.errors[0].message}`;
  const first = out.states[0];
  for (const [id, ref] of out.refAll) {
    const x = first.get(id);
    if (!x) return `${id} missing on n0`;
    if (!crashes) { if (!eq(x, ref)) return `${id} differs from the join of all updates`; continue; }
    if (!leqBytes(x, ref)) return `${id} holds something no update made`;
    const safe = out.refSafe.get(id);
    if (safe && !leqBytes(safe, x)) return `${id} lost an update that was not at risk`;
  }
  for (let i = 1; i < out.states.length; i++) {
    for (const id of out.refAll.keys()) {
      const x = first.get(id)!, y = out.states[i].get(id);
      if (!y || !eq(x, y)) return `n${i} differs on ${id}`;
    }
  }
  return null;
}
