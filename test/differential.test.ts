// Differential tests: every type's Wasm kernel against its plain-TS model
// (test/model/<name>.ts) under random multi-replica schedules, after Yjs's
// seeded multi-replica tests. 3–5 replicas apply random ops; delta-groups
// (takeDelta bytes) and full states (encode bytes) travel as messages that are
// delivered in random order, duplicated, reordered or dropped. At the end every
// replica receives everything and all must converge byte for byte.
//
// The model has no delta mutators, so it follows the kernel through the events
// (ops) each replica has seen: a kernel state is the join of the deltas of its
// events (that is the delta-mutator law, checked in laws.test.ts), and the
// model state of an event's *birth* (its replica right after the op) is known.
// Whenever a replica's events are a union of births (every event's birth is
// among them), its state must equal the model join of those births — byte for
// byte (encodeModel) and by value. That holds after every op and full-state
// merge, and after any delta delivery that closes the gaps. Before an op on a
// replica with gaps, the replica first receives the full states of the births
// it lacks (late, out-of-order full-state messages), so every op runs on a
// state the model knows.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { isDeepStrictEqual } from "node:util";
import { init, kernel } from "../dist/host/index.node.js";
import type { Crdt } from "../dist/host/index.node.js";
import { encodeModel } from "./model/common.js";
import { fixtures, AnyFixture } from "./util/fixtures.js";
import { applyOp } from "./util/history.js";
import { hex, sameBytes } from "./util/bytes.js";
import { fcParams, runs } from "./util/runs.js";
import { withScope } from "./util/scope.js";

const REPLICAS = ["a", "b2", "ré", "replica-3", "e5"];

type Step<O> =
  | { t: "op"; r: number; op: O }
  | { t: "take"; r: number }
  | { t: "send"; r: number }
  | { t: "deliver"; m: number; to: number }
  | { t: "drop"; m: number };

interface Plan<O> { n: number; steps: Step<O>[]; order: number[] }

function planArb<O>(f: AnyFixture): fc.Arbitrary<Plan<O>> {
  const r = fc.nat(REPLICAS.length - 1);
  const m = fc.nat(63);
  return fc.record({
    n: fc.integer({ min: 3, max: 5 }),
    steps: fc.array(fc.oneof(
      { weight: 5, arbitrary: fc.record({ t: fc.constant("op" as const), r, op: f.op as fc.Arbitrary<O> }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant("take" as const), r }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant("send" as const), r }) },
      { weight: 4, arbitrary: fc.record({ t: fc.constant("deliver" as const), m, to: r }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant("drop" as const), m }) },
    ), { maxLength: 40, size: "medium" }),
    // Drives the final exchange's delivery order and duplicates.
    order: fc.array(fc.nat(1 << 20), { minLength: 8, maxLength: 8 }),
  });
}

interface Birth { events: Set<number>; model: unknown; bytes: Uint8Array }
interface Message { kind: "delta" | "state"; bytes: Uint8Array; events: Set<number> }
interface Replica { name: string; k: Crdt<unknown>; events: Set<number>; local: Set<number> }

// Per type: runs, model comparisons, comparisons right after a delta, deliveries
// that left a gap (out of order), ops that needed healing first.
const stats = new Map<string, { runs: number; checks: number; afterDelta: number; gaps: number; heals: number }>();

function runPlan<O>(f: AnyFixture, plan: Plan<O>): void {
  const st = stats.get(f.name)!;
  st.runs++;
  const model = f.model;
  withScope((s) => {
    const births: Birth[] = [];
    const reps: Replica[] = Array.from({ length: plan.n }, (_, i) =>
      ({ name: REPLICAS[i], k: s.track(f.make(REPLICAS[i])), events: new Set<number>(), local: new Set<number>() }));
    let pool: Message[] = [];
    const where = (i: number, what: string) => `after step ${i} (${what})`;

    const covered = (ev: Set<number>): boolean => {
      for (const e of ev) for (const x of births[e].events) if (!ev.has(x)) return false;
      return true;
    };
    const modelOf = (ev: Set<number>): unknown => {
      let m = model.bottom();
      for (const e of ev) m = model.join(m, births[e].model);
      return m;
    };
    // The kernel state must equal the model's, bytes and value.
    const check = (r: Replica, at: string): unknown => {
      const m = modelOf(r.events);
      const want = encodeModel(model, m);
      const got = r.k.encode();
      if (!sameBytes(got, want)) {
        throw new Error(`${f.name}: replica ${r.name} differs from the model ${at}\n  kernel = ${hex(got)}\n  model  = ${hex(want)}`);
      }
      const kv = f.value(r.k), mv = model.value(m);
      if (!isDeepStrictEqual(kv, mv)) {
        throw new Error(`${f.name}: replica ${r.name} value differs from the model ${at}: ${JSON.stringify(kv)} vs ${JSON.stringify(mv)}`);
      }
      st.checks++;
      return m;
    };
    const deliver = (msg: Message, r: Replica, at: string): void => {
      const before = r.k.encode();
      const changed = r.k.merge(msg.bytes);
      const grew = !sameBytes(before, r.k.encode());
      if (changed !== grew) throw new Error(`${f.name}: merge of a ${msg.kind} into ${r.name} returned ${changed} but the state ${grew ? "changed" : "did not change"} ${at}`);
      for (const e of msg.events) r.events.add(e);
      if (covered(r.events)) { check(r, at); if (msg.kind === "delta") st.afterDelta++; } else st.gaps++;
    };

    plan.steps.forEach((step, i) => {
      switch (step.t) {
        case "op": {
          const r = reps[step.r % plan.n];
          if (!covered(r.events)) {
            // Late full states of the births this replica lacks close its gaps.
            st.heals++;
            for (const e of [...r.events]) {
              if ([...births[e].events].every((x) => r.events.has(x))) continue;
              deliver({ kind: "state", bytes: births[e].bytes, events: births[e].events }, r, where(i, `healing ${r.name}`));
            }
          }
          const prev = check(r, where(i, "before an op"));
          const applied = applyOp(f, r.k, step.op);
          let next: unknown;
          try { next = model.apply(model.clone(prev), step.op, r.name); } catch (e) {
            if (applied) throw e;
            next = prev; // both refused the op
          }
          const id = births.length;
          r.events.add(id);
          r.local.add(id);
          births.push({ events: new Set(r.events), model: next, bytes: r.k.encode() });
          check(r, where(i, `op ${JSON.stringify(step.op)} at ${r.name}`));
          break;
        }
        case "take": {
          const r = reps[step.r % plan.n];
          pool.push({ kind: "delta", bytes: r.k.takeDelta(), events: r.local });
          r.local = new Set();
          break;
        }
        case "send": {
          const r = reps[step.r % plan.n];
          pool.push({ kind: "state", bytes: r.k.encode(), events: new Set(r.events) });
          break;
        }
        case "deliver":
          if (pool.length > 0) deliver(pool[step.m % pool.length], reps[step.to % plan.n], where(i, "delivery"));
          break;
        case "drop":
          if (pool.length > 0) pool = pool.filter((_, j) => j !== step.m % pool.length);
          break;
      }
    });

    // Final exchange: every replica's last delta-group, then every message to
    // every replica in a per-replica order, some twice.
    for (const r of reps) { pool.push({ kind: "delta", bytes: r.k.takeDelta(), events: r.local }); r.local = new Set(); }
    const deltas = pool.filter((m) => m.kind === "delta");
    reps.forEach((r, ri) => {
      const seed = plan.order[ri % plan.order.length];
      const idx = deltas.map((_, j) => j).sort((x, y) => ((x * 2654435761 + seed) % 97) - ((y * 2654435761 + seed) % 97) || x - y);
      for (const j of idx) deliver(deltas[j], r, "in the final delta exchange");
      for (const j of idx) if ((j + seed) % 3 === 0) deliver(deltas[j], r, "re-delivering in the final exchange");
    });
    // Without drops every replica has every event, by deltas alone.
    const all = new Set<number>(births.map((_, e) => e));
    const dropped = plan.steps.some((x) => x.t === "drop");
    if (!dropped) {
      for (const r of reps) {
        if (r.events.size !== all.size) throw new Error(`${f.name}: bookkeeping: ${r.name} lacks events after the delta exchange`);
        check(r, "after the final delta exchange");
      }
    }
    // Full states, taken before anyone merges, to everyone in a random order.
    const states = reps.map((r) => ({ kind: "state" as const, bytes: r.k.encode(), events: new Set(r.events) }));
    reps.forEach((r, ri) => {
      const seed = plan.order[(ri + 3) % plan.order.length];
      const idx = states.map((_, j) => j).sort((x, y) => ((x * 40503 + seed) % 31) - ((y * 40503 + seed) % 31) || x - y);
      for (const j of idx) deliver(states[j], r, "in the final state exchange");
    });
    const want = encodeModel(model, modelOf(all));
    for (const r of reps) {
      const got = r.k.encode();
      if (!sameBytes(got, want)) {
        throw new Error(`${f.name}: replica ${r.name} did not converge to the model\n  kernel = ${hex(got)}\n  model  = ${hex(want)}\n  replica0 = ${hex(reps[0].k.encode())}`);
      }
      check(r, "at the end");
      if (r.k.merge(want)) throw new Error(`${f.name}: merging the converged state into ${r.name} reported a change`);
    }
  });
}

let handlesAtStart = 0;
beforeAll(async () => { await init(); handlesAtStart = kernel().exports.liveHandles(); });
afterAll(() => {
  console.log([...stats].map(([n, s]) => `${n}: ${s.runs} runs, ${s.checks} model comparisons (${s.afterDelta} right after a delta), ${s.gaps} out-of-order deliveries, ${s.heals} heals`).join("\n"));
  expect(kernel().exports.liveHandles()).toBe(handlesAtStart);
});

const numRuns = runs(300);

describe.each(fixtures.map((f) => [f.name, f] as const))("%s", (name, fixture) => {
  it(`kernel = model on 3–5 replicas with reordered, duplicated and dropped deltas (${numRuns} runs)`, () => {
    stats.set(name, { runs: 0, checks: 0, afterDelta: 0, gaps: 0, heals: 0 });
    fc.assert(fc.property(planArb(fixture), (plan) => runPlan(fixture, plan)), fcParams(numRuns));
    const st = stats.get(name)!;
    // Guards that the comparison really ran, including right after deltas.
    expect(st.runs).toBeGreaterThanOrEqual(numRuns);
    expect(st.checks).toBeGreaterThan(numRuns * 5);
    expect(st.afterDelta).toBeGreaterThan(numRuns);
    expect(st.gaps).toBeGreaterThan(numRuns / 10);
  });
});

it("has fixtures to test", () => {
  expect(fixtures.length).toBeGreaterThanOrEqual(2);
});
