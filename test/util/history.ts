// Random states with real concurrency: a history of ops on 2–4 replicas,
// interleaved with state merges, delta-groups taken and delivered in any order
// (duplicated, reordered, dropped), delta(a, b) exchanges and snapshots. Every
// state a law looks at comes from one such history, so causal types never see
// two different events under one dot.
import fc from "fast-check";
import type { Crdt } from "../../dist/host/index.node.js";
import { TrellisError } from "../../dist/host/index.node.js";
import type { AnyFixture } from "./fixtures.js";
import type { Scope } from "./scope.js";
import { sameBytes, hex } from "./bytes.js";

// Replica ids of different lengths, one not ASCII, so byte order matters.
export const REPLICAS = ["a", "b2", "ré", "replica-3"] as const;

export type Step<O> =
  | { t: "op"; r: number; op: O }
  | { t: "join"; from: number; to: number; via: "instance" | "bytes" | "delta" }
  | { t: "take"; r: number }
  | { t: "deliver"; m: number; to: number }
  | { t: "snap"; r: number };

export interface History<O> {
  n: number;          // replicas
  steps: Step<O>[];
  picks: number[];    // indexes into the pool of states (mod its size)
}

export interface HistoryOptions { maxSteps?: number; minReplicas?: number; maxReplicas?: number; picks?: number }

export function historyArb<O>(f: AnyFixture, o: HistoryOptions = {}): fc.Arbitrary<History<O>> {
  const r = fc.nat(3);
  const step: fc.Arbitrary<Step<O>> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ t: fc.constant("op" as const), r, op: f.op as fc.Arbitrary<O> }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant("join" as const), from: r, to: r, via: fc.constantFrom("instance" as const, "bytes" as const, "delta" as const) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("take" as const), r }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant("deliver" as const), m: fc.nat(31), to: r }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("snap" as const), r }) },
  );
  return fc.record({
    n: fc.integer({ min: o.minReplicas ?? 2, max: o.maxReplicas ?? 4 }),
    steps: fc.array(step, { maxLength: o.maxSteps ?? 12, size: "medium" }),
    picks: fc.array(fc.nat(63), { minLength: o.picks ?? 3, maxLength: o.picks ?? 3 }),
  });
}

// Applies an op. An op the type refuses in this state (a typed error other
// than a trap, e.g. assigning an IVar twice) must change nothing.
export function applyOp<O>(f: AnyFixture, c: Crdt<unknown>, op: O): boolean {
  const before = c.encode();
  try {
    f.apply(c, op);
    return true;
  } catch (e) {
    if (!(e instanceof TrellisError) || e.code === "KERNEL_TRAP") throw e;
    const after = c.encode();
    if (!sameBytes(before, after)) {
      throw new Error(`${f.name}: op ${JSON.stringify(op)} threw ${e.code} but changed the state: ${hex(before)} -> ${hex(after)}`);
    }
    return false;
  }
}

export interface Universe {
  replicas: Crdt<unknown>[];
  pool: Crdt<unknown>[];        // snapshots, then the replicas' final states
  messages: Uint8Array[];       // delta-groups taken
  pick(i: number): Crdt<unknown>;
}

export function build<O>(f: AnyFixture, h: History<O>, s: Scope): Universe {
  const replicas = Array.from({ length: h.n }, (_, i) => s.track(f.make(REPLICAS[i])));
  const snaps: Crdt<unknown>[] = [];
  const messages: Uint8Array[] = [];
  for (const st of h.steps) {
    switch (st.t) {
      case "op": applyOp(f, replicas[st.r % h.n], st.op); break;
      case "join": {
        const from = replicas[st.from % h.n], to = replicas[st.to % h.n];
        if (st.via === "instance") to.merge(from);
        else if (st.via === "bytes") to.merge(from.encode());
        else { const d = s.track(from.delta(to)); to.merge(d); }
        break;
      }
      case "take": messages.push(replicas[st.r % h.n].takeDelta()); break;
      case "deliver": if (messages.length > 0) replicas[st.to % h.n].merge(messages[st.m % messages.length]); break;
      case "snap": snaps.push(s.track(replicas[st.r % h.n].clone())); break;
    }
  }
  const pool = [...snaps, ...replicas];
  return { replicas, pool, messages, pick: (i) => pool[i % pool.length] };
}
