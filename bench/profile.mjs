// Where the time goes in the rows that miss their targets. Builds a copy of the
// release kernel that keeps function names (asc --debug with the same -O3
// options, into a temp dir), runs each case under `node --cpu-prof`, and sums
// self time by category. Usage: node bench/profile.mjs [case ...]
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const N = 1e5;

const CASES = {
  "gmap-batch": async (t) => { const m = new t.GMap("A", t.LWWRegister); m.batch((s) => { for (let i = 0; i < N; i++) s.update("k" + i, t.LWWRegister.ops.set(i)); }); },
  "gmap-each": async (t) => { const m = new t.GMap("A", t.LWWRegister); for (let i = 0; i < N; i++) m.update("k" + i, t.LWWRegister.ops.set(i)); },
  "gcounter-batch": async (t) => { const c = new t.GCounter("A"); c.batch((s) => { for (let i = 0; i < N; i++) s.increment(1); }); },
  "gcounter-deltas": async (t) => {
    const src = new t.GCounter("A"), dst = new t.GCounter("B");
    const ds = []; for (let i = 0; i < N; i++) { src.increment(1); ds.push(src.takeDelta()); }
    const s = performance.now(); for (const d of ds) dst.merge(d); console.log("  merge only:", (performance.now() - s).toFixed(0), "ms");
  },
  "gmap-decode": async (t) => {
    const m = new t.GMap("A", t.LWWRegister); m.batch((s) => { for (let i = 0; i < N; i++) s.update("k" + i, t.LWWRegister.ops.set(i, 1000 + i)); });
    const b = m.encode(); const s = performance.now(); for (let i = 0; i < 10; i++) t.GMap.decode(b).dispose(); console.log("  10 decodes:", (performance.now() - s).toFixed(0), "ms");
  },
  // Boundary cost (bench/boundary.ts): 1e6 small-state calls each.
  "maxint-decode": async (t) => { const b = (() => { const m = new t.MaxInt("A"); m.set(123456); const e = m.encode(); m.dispose(); return e; })(); for (let i = 0; i < 10 * N; i++) t.MaxInt.decode(b).dispose(); },
  "lww-decode": async (t) => { const m = new t.LWWRegister("A"); m.set("hello", 1000); const b = m.encode(); m.dispose(); for (let i = 0; i < 10 * N; i++) t.LWWRegister.decode(b).dispose(); },
  "lww-query": async (t) => { const m = new t.LWWRegister("A"); m.set("hello", 1000); let n = 0; for (let i = 0; i < 10 * N; i++) n += m.value.length; m.dispose(); },
  "lww-set": async (t) => { const m = new t.LWWRegister("A"); for (let i = 0; i < 10 * N; i++) m.set("v", 1000 + i); m.dispose(); },
};

function category(name, url) {
  if (url.startsWith("wasm")) {
    if (name.startsWith("~lib/rt/")) return "Wasm: AS runtime GC + allocator (~lib/rt)";
    if (/^~lib\/(map|set|util\/hash|string)/.test(name)) return "Wasm: AS Map/Set/String (hashing, compare)";
    if (name.startsWith("~lib/")) return "Wasm: other AS std lib";
    if (name.startsWith("assembly/")) return "Wasm: kernel code (assembly/)";
    return "Wasm: other";
  }
  if (name === "(garbage collector)") return "JS: V8 GC";
  if (url.includes("/dist/host/")) return "JS: host (dist/host)";
  if (name === "(idle)" || name === "(program)") return "(idle/program)";
  return "JS: other (bench, node startup)";
}

if (process.argv[2] === "--child") {
  const t = await import("trellis");
  await t.init(readFileSync(process.argv[3]));
  const s = performance.now();
  await CASES[process.argv[4]](t);
  console.log("  total:", (performance.now() - s).toFixed(0), "ms");
} else {
  const tmp = mkdtempSync(join(tmpdir(), "trellis-prof-"));
  const wasm = join(tmp, "trellis-names.wasm");
  execFileSync(join(root, "node_modules/.bin/asc"), ["assembly/index.ts", "--config", "asconfig.json", "--target", "release", "--debug", "--outFile", wasm], { cwd: root, stdio: "inherit" });
  for (const c of process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(CASES)) {
    const dir = join(tmp, c);
    console.log(`${c}:`);
    execFileSync(process.execPath, ["--cpu-prof", "--cpu-prof-dir", dir, fileURLToPath(import.meta.url), "--child", wasm, c], { cwd: root, stdio: "inherit" });
    const p = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]), "utf8"));
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const cat = new Map(), fn = new Map();
    p.samples.forEach((id, i) => {
      const n = byId.get(id), us = p.timeDeltas[i] ?? 0;
      const k = category(n.callFrame.functionName, n.callFrame.url);
      cat.set(k, (cat.get(k) ?? 0) + us);
      const f = (n.callFrame.functionName || "(anonymous)") + (n.callFrame.url.startsWith("wasm") ? "" : " " + n.callFrame.url.split("/").slice(-1)[0]);
      fn.set(f, (fn.get(f) ?? 0) + us);
    });
    const tot = [...cat.values()].reduce((a, b) => a + b, 0);
    for (const [k, v] of [...cat].sort((a, b) => b[1] - a[1])) console.log(`  ${(v / 1000).toFixed(0).padStart(6)} ms ${(100 * v / tot).toFixed(1).padStart(5)}%  ${k}`);
    console.log("  top functions:");
    for (const [k, v] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`  ${(v / 1000).toFixed(0).padStart(6)} ms ${(100 * v / tot).toFixed(1).padStart(5)}%  ${k}`);
  }
  void existsSync;
}
