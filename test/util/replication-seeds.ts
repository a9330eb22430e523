// Seeds for the replication schedules. CI runs `base` schedules per suite
// from a fresh random start (printed); TRELLIS_LONG=1 runs 100× as many,
// TRELLIS_RUNS=n scales like the other suites (n/1000 × base), and
// TRELLIS_SEED=<n> replays exactly schedule n (under every configuration).
import { runs } from "./runs.js";

function count(base: number): number {
  const replay = process.env.TRELLIS_SEED;
  if (replay !== undefined && replay !== "") return 1;
  const long = process.env.TRELLIS_LONG === "1" || process.env.TRELLIS_LONG === "true";
  return process.env.TRELLIS_RUNS ? runs(base) : long ? base * 100 : base;
}

// A test timeout that grows with the number of schedules (300 s at CI counts: machines here are shared and slow).
export function scheduleTimeout(base: number): number {
  return 300_000 * Math.max(1, count(base) / base);
}

export function scheduleSeeds(suite: string, base: number): number[] {
  const replay = process.env.TRELLIS_SEED;
  if (replay !== undefined && replay !== "") return [Number(replay) >>> 0];
  const n = count(base);
  const start = (Math.random() * 2 ** 31) >>> 0;
  console.log(`replication ${suite}: ${n} schedules from seed ${start}`);
  return Array.from({ length: n }, (_, i) => (start + i) >>> 0);
}
