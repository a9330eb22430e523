// Trustless replication (host/trust/sync.ts) on the simulated network: the
// seeded convergence schedules of test/replication*.test.ts with signed
// envelopes instead of raw deltas. CI runs 100 schedules (and 20 with a
// crash); TRELLIS_BIG=1 runs 1,000 and 200 (TRELLIS_SEED=<n> replays one;
// TRELLIS_LONG / TRELLIS_RUNS scale as for the trusted schedules).
import { beforeAll, describe, expect, it } from "vitest";
import { init } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import { check, makeSchedule } from "./util/replication.js";
import { scheduleSeeds } from "./util/replication-seeds.js";
import { runTrustless } from "./util/trustless.js";

beforeAll(async () => { await init(); });

const big = process.env.TRELLIS_BIG === "1" || process.env.TRELLIS_TRUSTLESS_BIG === "1";
let keys: Identity[] = [];
beforeAll(async () => { keys = await Promise.all(Array.from({ length: 8 }, () => Identity.generate())); });

describe("trustless schedules", () => {
  it("a short schedule converges with no rejection", async () => {
    const out = await runTrustless(makeSchedule(7), keys);
    expect(out.errors.map((e) => (e as Error).message)).toEqual([]);
    expect(check(out, false)).toBeNull();
    expect(out.rejected).toBe(0);
  }, 120_000);
});

describe("trustless seeded schedules", () => {
  const seeds = scheduleSeeds("trustless", big ? 1000 : 100);
  for (let k = 0; k < seeds.length; k += 50) {
    const chunk = seeds.slice(k, k + 50);
    it(`converge to the join of all updates under loss, duplication, reordering and partitions (schedules ${k + 1}-${k + chunk.length})`, async () => {
      for (const seed of chunk) {
        const out = await runTrustless(makeSchedule(seed), keys);
        const why = check(out, false) ?? (out.rejected > 0 ? `${out.rejected} honest envelopes rejected` : null);
        if (why) throw new Error(`seed ${seed} (trustless): ${why}; replay with TRELLIS_SEED=${seed}`);
      }
    }, 600_000);
  }

  // With a few authors "auto" catches up by frontier; these run the
  // range-based sessions (every neighbour that comes up) under the same faults.
  it("converge with range-based catch-up sessions (catchUp: \"reconcile\"), with and without a crash", async () => {
    for (const seed of scheduleSeeds("trustless-reconcile", big ? 200 : 20)) {
      const out = await runTrustless(makeSchedule(seed), keys, { catchUp: "reconcile" });
      const why = check(out, false) ?? (out.rejected > 0 ? `${out.rejected} honest envelopes rejected` : null);
      if (why) throw new Error(`seed ${seed} (trustless, reconcile): ${why}; replay with TRELLIS_SEED=${seed}`);
    }
    for (const seed of scheduleSeeds("trustless-reconcile-crash", big ? 100 : 10)) {
      const out = await runTrustless(makeSchedule(seed, { crash: true }), keys, { catchUp: "reconcile" });
      const why = check(out, true) ?? (out.rejected > 0 ? `${out.rejected} honest envelopes rejected` : null);
      if (why) throw new Error(`seed ${seed} (trustless, reconcile, crash): ${why}; replay with TRELLIS_SEED=${seed}`);
    }
  }, 600_000);

  // A crashed replica keeps its envelope log and own sequence number (its
  // disk), so it continues its chain instead of equivocating.
  it("converge with a crash and restart (memory lost, disk kept), and no replica equivocates", async () => {
    for (const seed of scheduleSeeds("trustless-crash", big ? 200 : 20)) {
      const out = await runTrustless(makeSchedule(seed, { crash: true }), keys);
      const why = check(out, true) ?? (out.rejected > 0 ? `${out.rejected} honest envelopes rejected` : null);
      if (why) throw new Error(`seed ${seed} (trustless, crash): ${why}; replay with TRELLIS_SEED=${seed}`);
    }
  }, 600_000);
});
