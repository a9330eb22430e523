// Random dataflow programs (chains and trees of combinators over 2–3 source
// sets of random types) run on 3 replicas with random workloads — adds and
// removes on several replicas, deltas delivered late, out of order and twice,
// whole states now and then, a program declared late on some replicas — and
// the incrementally maintained results must equal a plain recomputation from
// scratch on the source values, at random moments and at the end, on every
// replica. 500 programs per CI run (TRELLIS_RUNS / TRELLIS_LONG for more); a
// failure prints its seed (replay with TRELLIS_SEED).
import { beforeAll, describe, expect, it } from "vitest";
import { init, Runtime, encodeValue, GSet, TwoPSet, AWSet, ORSet, PNCounter, GCounter, MaxInt } from "../dist/host/index.node.js";
import type { Value } from "../dist/host/index.node.js";
import { Prng } from "./util/prng.js";
import { SCALE, runs, seedFromEnv } from "./util/runs.js";

beforeAll(async () => { await init(); });

const hash = (v: unknown): number => {
  let h = 2166136261;
  for (const ch of JSON.stringify(v)) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h >>> 0;
};
const MAPS: ((v: Value) => Value)[] = [
  (v) => hash(v) % 5,
  (v) => [hash(v) % 3, "m"],
  (v) => (typeof v === "number" ? v + 1 : hash(v) % 7),
  (v) => ({ k: hash(v) % 2 }),
];
const FILTERS: ((v: Value) => boolean)[] = [(v) => hash(v) % 2 === 0, (v) => hash(v) % 3 !== 0, (v) => hash(v) % 5 < 4];
const FOLD_G = (v: Value): number => (hash(v) % 7) - 2;
const SOURCE_TYPES = [GSet, TwoPSet, AWSet, ORSet] as const;

type Node =
  | { id: string; op: "map" | "filter"; input: string; fn: number }
  | { id: string; op: "union" | "product" | "intersection"; inputs: [string, string] }
  | { id: string; op: "sum" | "gsum" | "max"; input: string };

interface Program { sources: { id: string; type: number }[]; nodes: Node[] }

function genProgram(p: Prng): Program {
  const sources = Array.from({ length: p.range(2, 3) }, (_, i) => ({ id: `s${i}`, type: p.int(SOURCE_TYPES.length) }));
  const sets: { id: string; removable: boolean }[] = sources.map((s) => ({ id: s.id, removable: s.type !== 0 }));
  const nodes: Node[] = [];
  let binaries = 0;
  for (let i = 0, n = p.range(1, 6); i < n; i++) {
    const id = `d${i}`;
    // Prefer recent outputs: chains as well as trees.
    const pick = () => (p.chance(0.6) ? sets[sets.length - 1] : p.pick(sets));
    const kind = p.int(5);
    if (kind <= 1 || binaries >= 2) {
      const a = pick();
      if (kind === 0) nodes.push({ id, op: "map", input: a.id, fn: p.int(MAPS.length) });
      else nodes.push({ id, op: "filter", input: a.id, fn: p.int(FILTERS.length) });
      sets.push({ id, removable: a.removable });
    } else {
      binaries++;
      const a = pick(), b = p.pick(sets);
      const op = (["union", "product", "intersection"] as const)[kind - 2];
      nodes.push({ id, op, inputs: [a.id, b.id] });
      sets.push({ id, removable: a.removable || b.removable });
    }
  }
  // Folds at a few of the sets.
  for (let i = 0, n = p.range(0, 2); i < n; i++) {
    const s = p.pick(sets);
    const op = s.removable ? "sum" : p.pick(["sum", "gsum", "max"] as const);
    nodes.push({ id: `f${i}`, op, input: s.id });
  }
  return { sources, nodes };
}

function declareProgram(rt: Runtime, prog: Program): void {
  for (const n of prog.nodes) {
    switch (n.op) {
      case "map": rt.map(n.id, n.input, MAPS[n.fn]); break;
      case "filter": rt.filter(n.id, n.input, FILTERS[n.fn]); break;
      case "union": rt.union(n.id, ...n.inputs); break;
      case "product": rt.product(n.id, ...n.inputs); break;
      case "intersection": rt.intersection(n.id, ...n.inputs); break;
      case "sum": rt.fold(n.id, n.input, PNCounter, FOLD_G); break;
      case "gsum": rt.fold(n.id, n.input, GCounter, (v) => hash(v) % 4); break;
      case "max": rt.fold(n.id, n.input, MaxInt, (v) => ({ set: hash(v) % 100 })); break;
    }
  }
}

// Recomputation from scratch with plain JS sets, keyed by canonical bytes.
type JSet = Map<string, Value>;
const key = (v: Value): string => Buffer.from(encodeValue(v)).toString("latin1");
const toSet = (vs: Value[]): JSet => new Map(vs.map((v) => [key(v), v]));
const sorted = (s: JSet): Value[] => [...s.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);

function scratch(prog: Program, sourceValues: Map<string, Value[]>): Map<string, unknown> {
  const sets = new Map<string, JSet>();
  for (const [id, vs] of sourceValues) sets.set(id, toSet(vs));
  const out = new Map<string, unknown>();
  for (const n of prog.nodes) {
    let r: JSet | undefined;
    switch (n.op) {
      case "map": r = toSet([...sets.get(n.input)!.values()].map(MAPS[n.fn])); break;
      case "filter": r = toSet([...sets.get(n.input)!.values()].filter(FILTERS[n.fn])); break;
      case "union": r = new Map([...sets.get(n.inputs[0])!, ...sets.get(n.inputs[1])!]); break;
      case "intersection": { const b = sets.get(n.inputs[1])!; r = new Map([...sets.get(n.inputs[0])!].filter(([k]) => b.has(k))); break; }
      case "product": {
        r = new Map();
        for (const x of sets.get(n.inputs[0])!.values()) for (const y of sets.get(n.inputs[1])!.values()) r.set(key([x, y]), [x, y]);
        break;
      }
      case "sum": out.set(n.id, [...sets.get(n.input)!.values()].reduce((t: number, v) => t + FOLD_G(v), 0)); break;
      case "gsum": out.set(n.id, [...sets.get(n.input)!.values()].reduce((t: number, v) => t + (hash(v) % 4), 0)); break;
      case "max": out.set(n.id, Math.max(0, ...[...sets.get(n.input)!.values()].map((v) => hash(v) % 100))); break;
    }
    if (r) { sets.set(n.id, r); out.set(n.id, sorted(r)); }
  }
  return out;
}

function check(rt: Runtime, prog: Program, where: string): void {
  const src = new Map(prog.sources.map((s) => [s.id, rt.query(s.id) as Value[]]));
  const want = scratch(prog, src);
  for (const [id, v] of want) expect(rt.query(id), `${where}: ${id}`).toEqual(v);
}

function runProgram(seed: number): void {
  const p = new Prng(seed);
  const prog = genProgram(p);
  const R = 3;
  const rts = Array.from({ length: R }, (_, i) => new Runtime({ replica: `r${i}` }));
  const declared = rts.map(() => false);
  const queues: [string, Uint8Array][][] = rts.map(() => []);
  try {
    rts.forEach((rt, i) => {
      for (const s of prog.sources) rt.declare(s.id, SOURCE_TYPES[s.type]);
      rt.onDelta((id, d, origin) => { if (origin === "local") rts.forEach((_, j) => { if (j !== i) queues[j].push([id, d]); }); });
      if (p.chance(0.6)) { declareProgram(rt, prog); declared[i] = true; }
    });
    const steps = p.range(20, 60);
    for (let step = 0; step < steps; step++) {
      const i = p.int(R), rt = rts[i];
      const s = p.pick(prog.sources);
      const v = p.int(6);
      const t = s.type;
      const r = p.int(10);
      if (t === 0 || r < 6) rt.update(s.id, { add: v });
      else if (t === 2 && r === 9) rt.update(s.id, { clear: [] });
      else rt.update(s.id, { remove: v });
      // Deliver some pending deltas, in random order, sometimes twice.
      for (let j = 0; j < R; j++) {
        while (queues[j].length > 0 && p.chance(0.4)) {
          const k = p.int(queues[j].length);
          const [id, d] = queues[j][k];
          if (!p.chance(0.15)) queues[j].splice(k, 1);
          rts[j].bind(id, d);
        }
      }
      if (p.chance(0.05)) { // a whole state from another replica
        const a = p.int(R), b = p.int(R), src = p.pick(prog.sources);
        rts[b].bind(src.id, rts[a].encode(src.id));
      }
      if (p.chance(0.1)) { const j = p.int(R); if (!declared[j]) { declareProgram(rts[j], prog); declared[j] = true; } }
      if (p.chance(0.15)) { const j = p.int(R); if (declared[j]) check(rts[j], prog, `seed ${seed} step ${step} replica r${j}`); }
    }
    for (let j = 0; j < R; j++) { for (const [id, d] of queues[j]) rts[j].bind(id, d); queues[j] = []; }
    rts.forEach((rt, j) => { if (!declared[j]) declareProgram(rt, prog); });
    rts.forEach((rt, j) => check(rt, prog, `seed ${seed} end replica r${j}`));
    // Converged inputs give equal results everywhere.
    for (const n of prog.nodes) for (let j = 1; j < R; j++) expect(rts[j].query(n.id), `seed ${seed}: ${n.id} r${j} vs r0`).toEqual(rts[0].query(n.id));
  } catch (e) {
    (e as Error).message += `\nprogram: ${JSON.stringify(prog)}`;
    throw e;
  } finally {
    for (const rt of rts) rt.close();
  }
}

describe("random programs: incremental = recomputed from scratch", () => {
  it(`${runs(500)} programs × 3 replicas`, () => {
    const base = seedFromEnv();
    const n = process.env.TRELLIS_SEED ? 1 : runs(500);
    for (let k = 0; k < n; k++) {
      const seed = (base + k) >>> 0;
      try { runProgram(seed); } catch (e) {
        throw new Error(`program seed ${seed} failed (replay: TRELLIS_SEED=${seed}): ${(e as Error).message}`, { cause: e });
      }
    }
  }, 120_000 * Math.max(1, SCALE));
});
