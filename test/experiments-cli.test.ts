// The experiment runner's command line: --help and a missing or wrong argument
// print usage and run nothing; results land outside the tracked results/
// unless --save is given.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseRunArgs, UsageError, USAGE } from "../experiments/run.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const tsx = join(root, "node_modules", ".bin", "tsx");
const script = join(root, "experiments", "run.ts");

// Runs the script from `cwd`, so a default output folder would appear there.
function run(args: string[], cwd = mkdtempSync(join(tmpdir(), "trellis-expcli-"))) {
  const r = spawnSync(tsx, [script, ...args], { cwd, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, cwd };
}

// mtimes of the tracked results, to prove a run did not touch them.
function resultsStamp(): string {
  const dir = join(root, "results");
  const out: string[] = [];
  for (const sub of readdirSync(dir)) for (const f of readdirSync(join(dir, sub))) out.push(`${sub}/${f}:${statSync(join(dir, sub, f)).mtimeMs}`);
  return out.sort().join("\n");
}

describe("experiment runner usage", () => {
  it("--help after an experiment prints usage, exits 0 and runs nothing", () => {
    const before = resultsStamp();
    const r = run(["icde19", "--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(USAGE);
    expect(r.stderr).not.toMatch(/icde19 \(/); // no progress bar: no run started
    expect(readdirSync(r.cwd)).toEqual([]);
    expect(resultsStamp()).toBe(before);
  });

  it("no argument prints usage on stderr and exits 2", () => {
    const r = run([]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("no experiment named");
    expect(r.stderr).toContain("usage: npm run experiment");
    expect(readdirSync(r.cwd)).toEqual([]);
  });

  it("a misspelt option or unknown experiment exits 2 without running", () => {
    const a = run(["icde19", "--quik"]);
    expect(a.status).toBe(2);
    expect(a.stderr).toContain("--quik");
    const b = run(["icde91"]);
    expect(b.status).toBe(2);
    expect(b.stderr).toContain('unknown experiment "icde91"');
    expect(readdirSync(a.cwd)).toEqual([]);
  });

  it("parses options and rejects bad ones", () => {
    expect(parseRunArgs(["-h"])).toBe("help");
    expect(parseRunArgs(["help"])).toBe("help");
    expect(parseRunArgs(["scale", "--quick", "--help"])).toBe("help");
    const a = parseRunArgs(["scale", "--quick", "--jobs", "3", "--out", "/tmp/x"]);
    expect(a).toEqual({ what: "scale", quick: true, jobs: 3, out: "/tmp/x" });
    expect(parseRunArgs(["both", "--save"])).toMatchObject({ what: "both", out: join(root, "results") });
    expect(parseRunArgs(["icde19"])).toMatchObject({ jobs: 2, quick: false, out: join(process.cwd(), "experiment-out") });
    for (const bad of [["icde19", "--jobs", "0"], ["icde19", "--jobs", "two"], ["icde19", "--save", "--out", "d"], ["icde19", "scale"], ["icde19", "--out"]]) {
      expect(() => parseRunArgs(bad), bad.join(" ")).toThrow(UsageError);
    }
  });

  it("by default writes to ./experiment-out and says so, leaving results/ alone", () => {
    const before = resultsStamp();
    const r = run(["scale", "--quick"]);
    expect(r.status, r.stderr).toBe(0);
    const out = join(r.cwd, "experiment-out");
    expect(r.stdout).toContain(`results written to ${out}`);
    const res = JSON.parse(readFileSync(join(out, "scale", "results.json"), "utf8"));
    expect(res.replicas).toBe(64);
    expect(existsSync(join(out, "icde19"))).toBe(false);
    expect(resultsStamp()).toBe(before);
  });
});
