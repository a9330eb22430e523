// SVG charts from experiment rows: a Vega-Lite spec per metric, compiled to
// Vega and rendered headless (no canvas, no browser).
import * as vega from "vega";
import * as vl from "vega-lite";
import type { Row } from "./icde19.ts";

export interface Metric { key: "bytes" | "entries" | "memory" | "cpuMs"; title: string }
export const METRICS: Metric[] = [
  { key: "bytes", title: "Bytes transmitted" },
  { key: "entries", title: "CRDT entries transmitted" },
  { key: "memory", title: "Average memory (state + buffer)" },
  { key: "cpuMs", title: "CPU time" },
];

export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  try { return await view.toSVG(); } finally { view.finalize(); }
}

// One chart per metric: bars grouped by workload, one bar per mode, one panel
// per topology. Values are relative to state-based in the same topology and
// workload (as the paper plots them), so workloads of very different sizes share
// an axis; the absolute numbers are in results.md.
export function metricSpec(rows: Row[], m: Metric, modes: readonly string[], workloads: string[], topologies: string[], subtitle: string): vl.TopLevelSpec {
  const base = new Map<string, number>();
  for (const r of rows) if (r.mode === "state") base.set(`${r.topology}|${r.workload}`, r[m.key]);
  const data = rows.map((r) => {
    const b = base.get(`${r.topology}|${r.workload}`);
    return { topology: r.topology, workload: r.workload, mode: r.mode, value: r[m.key], ratio: b ? r[m.key] / b : null };
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: `${m.title}, relative to state-based`, subtitle: `${subtitle}; lower is better` },
    data: { values: data },
    facet: { column: { field: "topology", type: "nominal", sort: topologies, title: null, header: { labelFontSize: 13 } } },
    spec: {
      width: 360, height: 220,
      mark: { type: "bar" },
      encoding: {
        x: { field: "workload", type: "nominal", sort: workloads, title: null, axis: { labelAngle: -30 } },
        xOffset: { field: "mode", type: "nominal", sort: [...modes] },
        y: { field: "ratio", type: "quantitative", title: "× state-based" },
        color: { field: "mode", type: "nominal", sort: [...modes], title: "mode", scale: { scheme: "tableau10" } },
        tooltip: [{ field: "mode" }, { field: "workload" }, { field: "value", format: ",.0f" }, { field: "ratio", format: ".3f" }],
      },
    },
    config: { font: "sans-serif" },
  } as vl.TopLevelSpec;
}
