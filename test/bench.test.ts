// Smoke test of `npm run bench -- --quick`: it runs, and its tables have the
// expected rows. Timings are never asserted (these machines are noisy).
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

interface Table { id: string; columns: string[]; rows: string[][]; notes: string[] }

describe("bench --quick", () => {
  it("prints every comparison with its rows", () => {
    const root = fileURLToPath(new URL("..", import.meta.url));
    const out = join(mkdtempSync(join(tmpdir(), "trellis-bench-")), "quick.json");
    const stdout = execFileSync(join(root, "node_modules", ".bin", "tsx"), ["bench/run.ts", "--quick", "--json", out], {
      cwd: root, encoding: "utf8", timeout: 170_000, stdio: ["ignore", "pipe", "pipe"],
    });
    const { tables, machine } = JSON.parse(readFileSync(out, "utf8")) as { tables: Table[]; machine: Record<string, string> };
    expect(machine.cpu).toBeTruthy();
    expect(machine.node).toBe(process.version);
    const byId = new Map(tables.map((t) => [t.id, t]));
    expect([...byId.keys()].sort()).toEqual(["boundary", "crdts-size", "crdts-time", "dataflow", "kernels", "size", "ws"]);

    // Boundary cost: every small-state call on both types, each with a number and a verdict.
    const bd = byId.get("boundary")!;
    const calls = ["decode + dispose", "merge(bytes)", "query (.value)", "apply one op (set)"];
    expect(bd.rows.map((r) => `${r[0]} ${r[1]}`)).toEqual(["MaxInt", "LWWRegister"].flatMap((ty) => calls.map((c) => `${ty} ${c}`)));
    for (const r of bd.rows) {
      expect(r.slice(2, 5).every((x) => /^\d+\.\d{3}$/.test(x)), r.join(" ")).toBe(true);
      expect(r[r.length - 1]).toMatch(/^(PASS|MISS)$/);
    }
    expect(bd.notes.some((n) => n.includes("DISAGREE"))).toBe(false);

    const k = byId.get("kernels")!;
    const types = ["GCounter", "GSet", "AWSet", "GMap<LWWRegister>", "PNCounter", "MaxInt", "EWFlag", "IVar",
      "LWWRegister", "MVRegister", "TwoPSet", "ORSet", "AWMap<GCounter>", "Pair<GCounter, GSet>", "TopK(100)"];
    // Types whose state does not grow with n are measured as n joins into one replica.
    const single = new Set(["MaxInt", "EWFlag", "IVar", "LWWRegister", "MVRegister", "TopK(100)"]);
    expect([...new Set(k.rows.map((r) => r[0]))].sort()).toEqual([...types].sort());
    for (const type of types) {
      const cases = k.rows.filter((r) => r[0] === type).map((r) => r[1]);
      expect(cases.some((c) => c.startsWith(single.has(type) ? "join n replicas into one" : "join two replicas")), type).toBe(true);
      expect(cases.some((c) => c.startsWith("encode")), type).toBe(true);
      expect(cases.some((c) => c.startsWith("decode")), type).toBe(true);
      expect(cases.some((c) => c.startsWith("apply single-op deltas")), type).toBe(true);
      // a kernel and its twin must agree on the joined state
      expect(cases.some((c) => c.includes("DIFFERENT RESULT")), type).toBe(false);
    }
    for (const r of k.rows) expect(r[r.length - 1]).toMatch(/^(PASS|MISS)$/);
    // Ported types are measured against a same-algorithm twin and idiomatic JS side by side.
    expect(k.columns).toContain("idiomatic JS");
    for (const type of ["GSet", "GCounter", "PNCounter", "TwoPSet"]) {
      for (const r of k.rows.filter((x) => x[0] === type)) expect(r[5], `${type} ${r[1]}`).toMatch(/^[\d.]+$/);
    }

    const c = byId.get("crdts-time")!;
    expect(c.columns.slice(1, 5)).toEqual(["trellis", "Yjs", "Automerge", "Loro"]);
    const workloads = c.rows.map((r) => r[0]);
    for (const w of ["map writes, one transaction", "map writes, one transaction each", "keys set concurrently", "counter increments, one transaction", "counter increments, one transaction each"]) {
      expect(workloads.some((x) => x.includes(w)), w).toBe(true);
    }
    const conc = workloads.find((x) => x.includes("concurrently"))!;
    expect(conc).toContain("trellis yes");
    expect(byId.get("crdts-size")!.rows).toHaveLength(c.rows.length);

    const s = byId.get("size")!;
    expect(s.rows.map((r) => r[0].split(" ")[0])).toEqual(["trellis/lattice", "trellis", "Yjs", "Automerge", "Loro"]);
    // The verdict is the last column; the minified JS is measured for every package.
    expect(s.rows[0][s.rows[0].length - 1]).toMatch(/^(PASS|MISS)$/);
    const minCol = s.columns.indexOf("JS min+gz");
    expect(minCol).toBeGreaterThan(0);
    for (const r of s.rows) expect(r[minCol]).toMatch(/^\d+\.\d KB$/);
    expect(stdout).toContain("| GCounter");

    // The dataflow pipeline: incremental and from scratch agree on the result, and both rates are reported.
    const d = byId.get("dataflow")!;
    expect(d.rows).toHaveLength(1);
    expect(d.rows[0][4]).toBe("yes");
    expect(d.rows[0][3]).toMatch(/×$/);

    // WebSocket sync: a row per client count, every run converged.
    const w = byId.get("ws")!;
    expect(w.rows.map((r) => r[0])).toEqual(["1", "10"]);
    for (const r of w.rows) expect(r[r.length - 1]).toBe("yes");
  }, 180_000);
});
