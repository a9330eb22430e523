// Seeded replication schedules, second half (the first is in
// replication.test.ts, so the two run on both cores), and schedules with a
// crash: one replica loses its memory and restarts under a new replica id.
import { beforeAll, describe, it } from "vitest";
import { init } from "../dist/host/index.node.js";
import { CONFIGS, check, makeSchedule, runSchedule } from "./util/replication.js";
import { scheduleSeeds, scheduleTimeout } from "./util/replication-seeds.js";

beforeAll(async () => { await init(); });

describe("seeded schedules", () => {
  // 500 schedules in chunks of 100, so progress shows and a slow machine
  // meets the timeout per chunk rather than for the whole half.
  const seeds = scheduleSeeds("part2", 500);
  for (let k = 0; k < seeds.length; k += 100) {
    const chunk = seeds.slice(k, k + 100);
    it(`converge to the join of all updates under loss, duplication, reordering and partitions (part 2, schedules ${k + 1}-${k + chunk.length})`, () => {
      for (const seed of chunk) {
        const cfg = CONFIGS[seed % CONFIGS.length];
        const why = check(runSchedule(makeSchedule(seed), cfg), false);
        if (why) throw new Error(`seed ${seed} (${cfg.name}): ${why}; replay with TRELLIS_SEED=${seed}`);
      }
    }, 300_000);
  }

  // Updates a crashed replica had not yet shipped are gone, so the end state
  // lies between the join of the updates no crash could lose and the join of all.
  it("converge with a crash and restart (memory lost)", () => {
    for (const seed of scheduleSeeds("crash", 60)) {
      const cfg = CONFIGS[seed % CONFIGS.length];
      const why = check(runSchedule(makeSchedule(seed, { crash: true }), cfg), true);
      if (why) throw new Error(`seed ${seed} (${cfg.name}, crash): ${why}; replay with TRELLIS_SEED=${seed}`);
    }
  }, scheduleTimeout(60));
});
