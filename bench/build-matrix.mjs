// The kernel build matrix (issue 10: choose the AssemblyScript runtime and
// build settings by measurement). Builds the release kernel (assembly/index.ts)
// once per runtime × option set into a temporary folder, then for each build:
// - its size, raw and gzipped (level 9);
// - kernel memory after a few merges and loops, each on a fresh kernel (the
//   memory-budget and decompose-loop cases of test/);
// - the speed of five kernel rows (CPU time), run in child processes that
//   alternate the builds round by round, reported as the median and spread
//   of the rounds.
//
// Uses the host JS in dist/ (npm run build first); every build goes through
// the same host, including its collection policy (host/wasm/kernel.ts).
//
//   node bench/build-matrix.mjs [--rounds N] [--no-speed] [--no-memory] [--reuse] [--only name,name]
//
// --only keeps the builds named (exactly: "minimal O3s1", "stub O3s2", …);
// --reuse skips building a variant already in the temporary folder.
//
// Prints a Markdown table (bench/RESULTS.md, "Kernel runtime and build
// settings" holds the last run). The machine is shared and noisy: compare
// medians of alternated rounds, never single runs.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const MiB = 2 ** 20;

// Option sets, on top of asconfig.json's release target (O3, shrink 1, simd, noAssert).
const OPTIONS = {
  "O3s1": [],
  "O3s2": ["--shrinkLevel", "2"],
  "O2s2": ["--optimizeLevel", "2", "--shrinkLevel", "2"],
  "O3s1+converge": ["--converge"],
  "O3s1+unchecked": ["--uncheckedBehavior", "always"],
  "O3s1-simd": ["--disable", "simd"],
};
const RUNTIMES = ["incremental", "minimal", "stub"];

function args() {
  const a = process.argv.slice(2);
  const get = (k, d) => { const i = a.indexOf(k); return i < 0 ? d : a[i + 1]; };
  return {
    rounds: Number(get("--rounds", "5")), speed: !a.includes("--no-speed"), reuse: a.includes("--reuse"),
    memory: !a.includes("--no-memory"), only: get("--only", "")?.split(",").filter(Boolean) ?? [],
  };
}

function build(out, runtime, opts) {
  const t = process.hrtime.bigint();
  execFileSync(join(root, "node_modules/.bin/asc"), [
    "assembly/index.ts", "--config", "asconfig.json", "--target", "release", "--runtime", runtime, ...opts, "-o", out,
  ], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  return Number(process.hrtime.bigint() - t) / 1e9;
}

// ---- the probe: one build, in its own process -------------------------------

async function probe(wasm, what) {
  const host = await import(pathToFileURL(join(root, "dist/host/index.node.js")).href);
  const { init, kernel, GSet, AWSet, GMap, LWWRegister, MaxInt } = host;
  const bytes = readFileSync(wasm);
  const fresh = async () => { await init(bytes); return kernel(); };
  const setOf = (T, rep, from, to) => {
    const s = new T(rep);
    s.batch((t) => { for (let i = from; i < to; i++) t.add("k" + i); });
    const b = s.encode(); s.dispose(); return b;
  };
  const mapOf = (rep, from, to) => {
    const m = new GMap(rep, LWWRegister);
    m.batch((t) => { for (let i = from; i < to; i++) t.update("k" + i, LWWRegister.ops.set("v" + i, 1000 + i)); });
    const b = m.encode(); m.dispose(); return b;
  };
  const n = 100_000;
  await fresh();
  const gA = setOf(GSet, "a", 0, n), gB = setOf(GSet, "b", n / 2, 1.5 * n);
  const aA = setOf(AWSet, "a", 0, n), aB = setOf(AWSet, "b", n / 2, 1.5 * n);
  const mA = mapOf("a", 0, n);
  const one = (() => { const m = new MaxInt("src"); m.set(42); const b = m.encode(); m.dispose(); return b; })();
  const res = {};
  if (what === "memory") {
    // Growth of a fresh kernel's memory across decode(a) + merge(b).
    const growth = async (T, a, b) => {
      const k = await fresh(); const before = k.memoryBytes();
      const s = T.decode(a, "x"); s.merge(b); const g = k.memoryBytes() - before; s.dispose(); return g / MiB;
    };
    res.gsetMerge = await growth(GSet, gA, gB);
    res.awsetMerge = await growth(AWSet, aA, aB);
    // 100k decode + dispose of a MaxInt, and 100k decompose calls of a small AWSet.
    let k = await fresh(); let before = k.memoryBytes();
    for (let i = 0; i < n; i++) MaxInt.decode(one, "r").dispose();
    res.maxintLoop = (k.memoryBytes() - before) / MiB;
    k = await fresh();
    const s = new AWSet("a"); s.add(1); s.add(2); s.add(3); s.remove(1);
    const h = k.call("decode", Uint8Array.from([0, ...s.encode()])); s.dispose();
    before = k.memoryBytes();
    for (let i = 0; i < n; i++) k.bytes("decompose", h);
    res.decomposeLoop = (k.memoryBytes() - before) / MiB;
    // 100k LWWRegister ops, one crossing each.
    k = await fresh(); before = k.memoryBytes();
    const r = new LWWRegister("w");
    for (let i = 0; i < n; i++) r.set(i, 1 + i);
    r.dispose();
    res.lwwOps = (k.memoryBytes() - before) / MiB;
    return res;
  }
  // Speed: each row timed once per process (rounds alternate builds).
  await fresh();
  // CPU time of this process (user + system), not wall time: on a shared
  // machine the wall clock also counts the time other processes held the core.
  const time = (f) => { const t = process.cpuUsage(); f(); const d = process.cpuUsage(t); return (d.user + d.system) / 1e3; };
  const x = GSet.decode(gA, "x"); res.gsetJoin = time(() => x.merge(gB)); x.dispose();
  const y = AWSet.decode(aA, "x"); res.awsetJoin = time(() => y.merge(aB)); y.dispose();
  res.gmapDecode = time(() => GMap.decode(mA, "x").dispose());
  res.maxintLoop = time(() => { for (let i = 0; i < n; i++) MaxInt.decode(one, "r").dispose(); });
  const r = new LWWRegister("w");
  res.lwwOps = time(() => { for (let i = 0; i < n; i++) r.set(i, 1 + i); });
  r.dispose();
  return res;
}

if (process.argv[2] === "--probe") {
  process.stdout.write(JSON.stringify(await probe(process.argv[3], process.argv[4])));
  process.exit(0);
}

// ---- the matrix ---------------------------------------------------------------

const { rounds, speed, reuse, memory, only } = args();
const dir = join(tmpdir(), "trellis-build-matrix");
mkdirSync(dir, { recursive: true });
const builds = [];
for (const rt of RUNTIMES) for (const [name, opts] of Object.entries(OPTIONS)) {
  const id = `${rt} ${name}`;
  if (only.length && !only.includes(id)) continue;
  const file = join(dir, `${rt}-${name}.wasm`);
  // --reuse: keep a build from an earlier run (same sources assumed).
  const secs = reuse && existsSync(file) ? 0 : build(file, rt, opts);
  const b = readFileSync(file);
  builds.push({ id, file, raw: statSync(file).size, gz: gzipSync(b, { level: 9 }).length, secs });
  process.stderr.write(`built ${id}: ${b.length} B (${secs.toFixed(1)} s)\n`);
}
// One probe in a child process; a failure reports the error line it printed.
function run(b, what) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--probe", b.file, what], { cwd: root, maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error((r.stderr.toString().match(/^\w*Error\b.*$/m) ?? [`exit ${r.status}`])[0]);
  return JSON.parse(r.stdout.toString());
}
for (const b of memory ? builds : []) {
  try { b.mem = run(b, "memory"); } catch (e) { b.mem = { error: e.message }; }
  process.stderr.write(`memory ${b.id}: ${JSON.stringify(b.mem)}\n`);
}
const ROWS = ["gsetJoin", "awsetJoin", "gmapDecode", "maxintLoop", "lwwOps"];
if (speed) {
  for (const b of builds) b.speed = Object.fromEntries(ROWS.map((r) => [r, []]));
  for (let i = 0; i < rounds; i++) {
    // Alternate the order each round, so drift on the machine hits every build alike.
    const order = i % 2 ? [...builds].reverse() : builds;
    for (const b of order) {
      try { const s = run(b, "speed"); for (const r of ROWS) b.speed[r].push(s[r]); }
      catch (e) { b.speedError = e.message; }
    }
    process.stderr.write(`speed round ${i + 1}/${rounds} done\n`);
  }
}

const kb = (n) => (n / 1024).toFixed(1);
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[s.length >> 1] : NaN; };
const cell = (xs) => xs?.length ? `${med(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})` : "–";
const m = (v) => v === undefined ? "–" : v.toFixed(2);
console.log("| build | wasm raw KB | wasm gz KB | GSet merge 100k: MiB grown | AWSet merge 100k: MiB | MaxInt decode+dispose ×100k: MiB | decompose ×100k: MiB | LWW set ×100k: MiB |" +
  (speed ? " GSet join 100k ms | AWSet join 100k ms | GMap<LWW> decode 100k ms | MaxInt decode+dispose ×100k ms | LWW set ×100k ms |" : ""));
console.log("|---|---|---|---|---|---|---|---|" + (speed ? "---|---|---|---|---|" : ""));
for (const b of builds) {
  const mem = !b.mem ? ["–", "–", "–", "–", "–"] : b.mem.error ? [`error: ${b.mem.error}`, "", "", "", ""] : [m(b.mem.gsetMerge), m(b.mem.awsetMerge), m(b.mem.maxintLoop), m(b.mem.decomposeLoop), m(b.mem.lwwOps)];
  const sp = speed ? (b.speedError ? [`error: ${b.speedError}`, "", "", "", ""] : ROWS.map((r) => cell(b.speed[r]))) : [];
  console.log(`| ${b.id} | ${kb(b.raw)} | ${kb(b.gz)} | ${[...mem, ...sp].join(" | ")} |`);
}
if (speed) console.log(`\nSpeed: median (min–max) of ${rounds} rounds, one process per build per round, builds alternated; ms of CPU time (user + system) of the probe process.`);
