// Measuring and reporting: tinybench runs each comparison's cases side by side
// in one process; tables keep the medians and the ratios between them.
import { Bench } from "tinybench";

export interface Case {
  name: string;
  fn: () => unknown;
  before?: () => void; // untimed, before each iteration
  after?: () => void;  // untimed, after each iteration
}

export interface Budget { iterations: number; time: number; warmup: number }

// Median latency (ms) of each case, by name.
export async function measure(cases: Case[], b: Budget): Promise<Map<string, number>> {
  const bench = new Bench({
    iterations: b.iterations, time: b.time,
    warmupIterations: b.warmup, warmupTime: 0, warmup: b.warmup > 0, throws: true,
  });
  for (const c of cases) bench.add(c.name, c.fn, { beforeEach: c.before, afterEach: c.after });
  await bench.run();
  const out = new Map<string, number>();
  for (const t of bench.tasks) {
    const r = t.result as { state: string; latency?: { p50?: number; mean: number } };
    if (!r.latency) throw new Error(`${t.name}: ${r.state}`);
    out.set(t.name, r.latency.p50 ?? r.latency.mean);
  }
  return out;
}

// Times fn once (for work too slow to repeat, and for probes).
export function once(fn: () => unknown): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

export interface Table {
  id: string;        // stable id, for the smoke test
  title: string;
  columns: string[];
  rows: string[][];
  notes: string[];
}

export function table(id: string, title: string, columns: string[]): Table {
  return { id, title, columns, rows: [], notes: [] };
}

export const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
export const ratio = (x: number): string => (x >= 10 ? x.toFixed(0) : x.toFixed(2)) + "×";
export const kb = (b: number): string => (b / 1024).toFixed(1) + " KB";
export const mbps = (bytes: number, msTime: number): string => (bytes / 1e6 / (msTime / 1000)).toFixed(0);
export const count = (n: number): string => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}e6` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : String(n));
export const mark = (ok: boolean): string => (ok ? "PASS" : "MISS");

// A markdown table, padded so it also reads well in a terminal.
export function render(t: Table): string {
  const w = t.columns.map((c, i) => Math.max(c.length, ...t.rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => "| " + cells.map((c, i) => (c ?? "").padEnd(w[i])).join(" | ") + " |";
  const out = [`### ${t.title}`, "", line(t.columns), "|" + w.map((n) => "-".repeat(n + 2)).join("|") + "|", ...t.rows.map(line)];
  if (t.notes.length) out.push("", ...t.notes.map((n) => `- ${n}`));
  return out.join("\n") + "\n";
}
