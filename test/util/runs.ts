// How much randomised work a suite does. CI runs the base counts; longer runs
// sit behind a flag (as in Yjs's tests):
//   TRELLIS_RUNS=10000  laws run 10,000 cases each; the other suites scale by the
//                       same factor (their base count × TRELLIS_RUNS / 1000)
//   TRELLIS_LONG=1      the same as TRELLIS_RUNS=10000
//   TRELLIS_SEED=<n>    replay a failure: fast-check prints the seed (and path)
//   TRELLIS_PATH=<p>    with TRELLIS_SEED, replay exactly the shrunk case
import type fc from "fast-check";

function scale(): number {
  const runs = Number(process.env.TRELLIS_RUNS);
  if (Number.isFinite(runs) && runs > 0) return runs / 1000;
  if (process.env.TRELLIS_LONG === "1" || process.env.TRELLIS_LONG === "true") return 10;
  return 1;
}

export const SCALE = scale();
export const LONG = SCALE > 1;

// The number of cases for a suite whose CI count is `base`.
export function runs(base: number): number {
  return Math.max(1, Math.round(base * SCALE));
}

// fast-check parameters: numRuns plus a replayable seed from the environment.
export function fcParams<T>(numRuns: number): fc.Parameters<T> {
  const p: fc.Parameters<T> = { numRuns, includeErrorInReport: true };
  const seed = process.env.TRELLIS_SEED;
  if (seed !== undefined && seed !== "") {
    p.seed = Number(seed);
    const path = process.env.TRELLIS_PATH;
    if (path) p.path = path;
  }
  return p;
}

// A seed for hand-rolled PRNG loops: TRELLIS_SEED or a fresh one (printed by the caller).
export function seedFromEnv(): number {
  const seed = process.env.TRELLIS_SEED;
  if (seed !== undefined && seed !== "") return Number(seed) >>> 0;
  return (Math.random() * 2 ** 32) >>> 0;
}
