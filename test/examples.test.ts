// The runnable programs under examples/ (npm start is the ad counter): each
// exits 0 only if its replicas converged, and prints what it promises.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const run = (file: string, ...args: string[]): string => execFileSync(process.execPath, [file, ...args], { cwd: root, encoding: "utf8" });

describe("examples", () => {
  it.each(["2015", "1", "99"])("ad counter (seed %s): ads removed at the limit, overshoot reported, replicas converge", (seed) => {
    const out = run("examples/ad-counter.mjs", seed);
    expect(out).toMatch(/converged on all 9 replicas: yes/);
    // Every ad with a contract was removed by hq once it reached the limit, and its overshoot is reported.
    for (const ad of ["ad-shoes", "ad-coffee", "ad-bikes", "ad-books"]) {
      expect(out).toMatch(new RegExp(`hq: ${ad} reached (\\d+) ≥ 40 impressions → removed`));
      const row = out.split("\n").find((l) => l.startsWith(ad + " "))!;
      const [, final, atRemoval, over] = row.match(/yes\s+(\d+)\s+(\d+)\s+\+(\d+)/)!.map(Number);
      expect(atRemoval).toBeGreaterThanOrEqual(40);
      expect(final).toBeGreaterThanOrEqual(atRemoval);
      expect(over).toBe(final - 40);
    }
    expect(out).toMatch(/ad-games\s+no\s+0\s+—\s+never displayable/);
    expect(out).toMatch(/still displayable: \[\]/);
  });

  it("leaderboard: the global top-K equals the recomputed one on every device", () => {
    expect(run("examples/leaderboard.mjs")).toMatch(/equals the top-5 recomputed from all \d+ games: yes/);
    expect(run("examples/leaderboard.mjs", "3")).toMatch(/: yes/);
  });

  it("replicas (the lattice API alone) converge", () => {
    expect(run("examples/replicas.mjs")).toMatch(/converge/i);
  });
});
