// `npm run experiment -- both --quick`: every run converges (the script fails
// otherwise), the table has every (topology × workload × mode) row, the SVG
// charts are written and name their series, and the paper's robust claims hold.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const MODES = ["state", "delta", "delta+BP", "delta+RR", "delta+BP+RR"];
const WORKLOADS = ["GSet", "GCounter", "GMap 30%"];
const TOPOLOGIES = ["tree", "partialMesh"];

interface Row { topology: string; workload: string; mode: string; bytes: number; entries: number; memory: number; cpuMs: number; rounds: number; messages: number }

describe("experiment --quick", () => {
  const out = mkdtempSync(join(tmpdir(), "trellis-exp-"));
  execFileSync(join(root, "node_modules", ".bin", "tsx"), ["experiments/run.ts", "both", "--quick", "--out", out], {
    cwd: root, encoding: "utf8", timeout: 110_000, stdio: ["ignore", "pipe", "pipe"],
  });
  const dir = join(out, "icde19");
  const { rows } = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as { rows: Row[] };
  const get = (t: string, w: string, m: string) => rows.find((r) => r.topology === t && r.workload === w && r.mode === m)!;

  it("has one converged run per topology × workload × mode, in results.json and results.md", () => {
    expect(rows).toHaveLength(TOPOLOGIES.length * WORKLOADS.length * MODES.length);
    const md = readFileSync(join(dir, "results.md"), "utf8");
    for (const t of TOPOLOGIES) for (const w of WORKLOADS) for (const m of MODES) {
      const r = get(t, w, m);
      expect(r, `${t} ${w} ${m}`).toBeDefined();
      expect(r.rounds).toBeGreaterThanOrEqual(10); // converged after the last of 10 events
      expect(r.bytes).toBeGreaterThan(0);
      expect(r.entries).toBeGreaterThan(0);
      expect(r.memory).toBeGreaterThan(0);
      expect(md).toContain(`| ${t} | ${w} | ${m} |`);
    }
  });

  it("writes one SVG per metric naming every mode, workload and topology", () => {
    for (const f of ["bytes.svg", "entries.svg", "memory.svg", "cpu.svg"]) {
      const svg = readFileSync(join(dir, f), "utf8");
      expect(svg.startsWith("<svg"), f).toBe(true);
      expect(svg.trimEnd().endsWith("</svg>"), f).toBe(true);
      expect(svg).toMatch(/<rect|<path/);
      for (const s of [...MODES, ...WORKLOADS, ...TOPOLOGIES]) expect(svg, `${f}: ${s}`).toContain(s);
    }
  });

  it("reproduces the paper's robust findings", () => {
    for (const t of TOPOLOGIES) for (const w of ["GSet", "GMap 30%"]) {
      // delta+BP+RR sends far less than state-based...
      expect(get(t, w, "delta+BP+RR").bytes, `${t} ${w}`).toBeLessThan(0.5 * get(t, w, "state").bytes);
      // ...while classic delta is no better than state-based.
      expect(get(t, w, "delta").bytes, `${t} ${w}`).toBeGreaterThan(0.9 * get(t, w, "state").bytes);
    }
    // BP is what matters on the tree (no cycles: nothing comes back another way)...
    expect(get("tree", "GSet", "delta+BP").bytes).toBe(get("tree", "GSet", "delta+BP+RR").bytes);
    expect(get("tree", "GSet", "delta+BP").bytes).toBeLessThan(0.5 * get("tree", "GSet", "delta").bytes);
    // ...RR on the mesh, where BP alone barely helps.
    expect(get("partialMesh", "GSet", "delta+RR").bytes).toBeLessThan(0.5 * get("partialMesh", "GSet", "delta+BP").bytes);
    expect(get("partialMesh", "GSet", "delta+BP").bytes).toBeGreaterThan(0.8 * get("partialMesh", "GSet", "delta").bytes);
  });

  it("runs the ad counter at reduced scale to convergence", () => {
    const r = JSON.parse(readFileSync(join(out, "scale", "results.json"), "utf8"));
    expect(r.replicas).toBe(64);
    expect(r.impressions).toBeGreaterThan(0);
    expect(Object.values(r.finalImpressions as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(r.impressions);
    expect(r.rounds).toBeGreaterThan(0);
    expect(r.bytes).toBeGreaterThan(0);
    expect(r.peak.rss).toBeGreaterThan(0);
  });
});
