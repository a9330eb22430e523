// Where the time goes in the rows that miss their targets. Builds a copy of the
// release kernel that keeps function names (asc --debug with the same -O3
// options, into a temp dir), runs each case under `node --cpu-prof`, and sums
// self time by category. Usage: node bench/profile.mjs [case ...]
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
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
  // The kernel-table misses of issue 10 (part A4): joins of two replicas of
  // n parts, half shared, built as canonical bytes (as bench/kernels.ts does).
  "gcounter-join-1e6": async (t) => joinCase(t, t.GCounter, counterState(1, 0, 1e6), counterState(1, 5e5, 1.5e6), 3),
  "gset-join-1e6": async (t) => joinCase(t, t.GSet, setState(0, 1e6), setState(5e5, 1.5e6), 3),
  "pncounter-join-1e5": async (t) => joinCase(t, t.PNCounter, pnState(0, 1e5), pnState(5e4, 1.5e5), 20),
  "gcounter-join-1e4": async (t) => joinCase(t, t.GCounter, counterState(1, 0, 1e4), counterState(1, 5e3, 1.5e4), 500),
  "gset-join-1e4": async (t) => joinCase(t, t.GSet, setState(0, 1e4), setState(5e3, 1.5e4), 500),
  "gset-decode-1e5": async (t) => {
    const b = setState(0, 1e5);
    const s = performance.now(); for (let i = 0; i < 200; i++) t.GSet.decode(b, "p").dispose(); console.log("  200 decodes:", (performance.now() - s).toFixed(0), "ms");
  },
  "gcounter-decode-1e5": async (t) => {
    const b = counterState(1, 0, 1e5);
    const s = performance.now(); for (let i = 0; i < 100; i++) t.GCounter.decode(b, "p").dispose(); console.log("  100 decodes:", (performance.now() - s).toFixed(0), "ms");
  },
  "gmap-decode": async (t) => {
    const m = new t.GMap("A", t.LWWRegister); m.batch((s) => { for (let i = 0; i < N; i++) s.update("k" + i, t.LWWRegister.ops.set(i, 1000 + i)); });
    const b = m.encode(); const s = performance.now(); for (let i = 0; i < 10; i++) t.GMap.decode(b).dispose(); console.log("  10 decodes:", (performance.now() - s).toFixed(0), "ms");
  },
  // Joins of n small states into one (bench/kernels.ts "join n replicas into
  // one"): each state is the next enable / write of one of two replicas.
  "ewflag-join": async (t) => manyCase(t, t.EWFlag, (f, j) => f.enable()),
  "mvregister-join": async (t) => manyCase(t, t.MVRegister, (f, j) => f.set("v" + j)),
  "maxint-join": async (t) => { const bs = Array.from({ length: 2e4 }, (_, j) => { const m = new t.MaxInt("A"); m.set(j + 1); return m; }); return joinAll(t.MaxInt, bs); },
  // Boundary cost (bench/boundary.ts): 1e6 small-state calls each.
  "maxint-decode": async (t) => { const b = (() => { const m = new t.MaxInt("A"); m.set(123456); const e = m.encode(); m.dispose(); return e; })(); for (let i = 0; i < 10 * N; i++) t.MaxInt.decode(b).dispose(); },
  // The same loop beside much live kernel state (6,000 small states and a GMap
  // of 20k GCounters, one managed object per key), as when bench/boundary.ts
  // runs after bench/kernels.ts: collections cost what is live, so their pace
  // matters (host/wasm/kernel.ts), and the Crdt constructor sees many classes.
  "maxint-decode-busy": async (t) => {
    const live = [];
    for (let i = 0; i < 6000; i++) { const T = [t.MaxInt, t.IVar, t.LWWRegister][i % 3]; live.push(new T("A")); }
    const g = new t.GMap("A", t.GCounter); g.batch((s) => { for (let i = 0; i < 2e4; i++) s.update("k" + i, t.GCounter.ops.increment(1)); });
    const m = new t.MaxInt("A"); m.set(123456); const b = m.encode(); m.dispose();
    return () => { for (let i = 0; i < 10 * N; i++) t.MaxInt.decode(b).dispose(); void live; void g; };
  },
  "lww-decode": async (t) => { const m = new t.LWWRegister("A"); m.set("hello", 1000); const b = m.encode(); m.dispose(); for (let i = 0; i < 10 * N; i++) t.LWWRegister.decode(b).dispose(); },
  "lww-query": async (t) => { const m = new t.LWWRegister("A"); m.set("hello", 1000); let n = 0; for (let i = 0; i < 10 * N; i++) n += m.value.length; m.dispose(); },
  "lww-set": async (t) => { const m = new t.LWWRegister("A"); for (let i = 0; i < 10 * N; i++) m.set("v", 1000 + i); m.dispose(); },
};

// ---- canonical states as bytes (docs/format.md, v1) ----
const te = new TextEncoder();
const varint = (v, out) => { while (v >= 0x80) { out.push((v % 128) | 0x80); v = Math.floor(v / 128); } out.push(v); };
const byteOrder = (x, y) => { const n = Math.min(x.length, y.length); for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i]; return x.length - y.length; };
function counterBody(from, to, out) {
  const ids = []; for (let i = from; i < to; i++) ids.push([te.encode("r" + i), (i % 97) + 1]);
  ids.sort((a, b) => byteOrder(a[0], b[0]));
  varint(ids.length, out); for (const [id, v] of ids) { varint(id.length, out); for (const c of id) out.push(c); varint(v, out); }
}
function counterState(tag, from, to) { const out = [0x54, 0x52, 1, tag]; counterBody(from, to, out); return Uint8Array.from(out); }
function pnState(from, to) { const out = [0x54, 0x52, 1, 2]; counterBody(from, to, out); counterBody(from, from + (to - from) / 3, out); return Uint8Array.from(out); }
function setState(from, to) {
  const els = []; for (let i = from; i < to; i++) { const s = te.encode("e" + i); els.push(Uint8Array.from([5, s.length, ...s])); }
  els.sort(byteOrder);
  const out = [0x54, 0x52, 1, 8]; varint(els.length, out); for (const e of els) { varint(e.length, out); for (const c of e) out.push(c); }
  return Uint8Array.from(out);
}
// Joins b into a fresh decode of a, `times` times; only the merges are timed
// (the profile holds the decodes too).
// Returns the part to profile. Few large merges: the decodes happen before
// it. Many small ones: each merge's target is decoded (and disposed) in the
// part, as the bench does, so memory is reused instead of growing by all the
// copies at once; the profile then holds those decodes too, the printed time
// only the merges.
function joinCase(t, T, a, b, times) {
  const kb = T.decode(b, "p");
  const kas = times <= 10 ? Array.from({ length: times }, () => T.decode(a, "p")) : null;
  return () => {
    let ms = 0;
    for (let i = 0; i < times; i++) {
      const ka = kas ? kas[i] : T.decode(a, "p");
      const s = performance.now();
      ka.merge(kb);
      ms += performance.now() - s;
      if (!kas) ka.dispose();
    }
    console.log(`  ${times} merges: ${ms.toFixed(1)} ms (${(ms / times).toFixed(3)} ms each)`);
  };
}

// n = 2e4 small states, the next op of replica B or C each, joined 10 times
// into a fresh bottom (the part profiled).
function manyCase(t, T, op) {
  const src = [new T("B"), new T("C")];
  const bs = Array.from({ length: 2e4 }, (_, j) => { const s = src[j % 2]; op(s, j); return T.decode(s.encode(), "p"); });
  return joinAll(T, bs);
}
function joinAll(T, bs) {
  return () => {
    let ms = 0;
    for (let i = 0; i < 10; i++) {
      const a = new T("A");
      const s = performance.now();
      for (const b of bs) a.merge(b);
      ms += performance.now() - s;
      a.dispose();
    }
    console.log(`  10 × ${bs.length} merges: ${ms.toFixed(1)} ms (${(1000 * ms / 10 / bs.length).toFixed(2)} µs each)`);
  };
}

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
  const part = await CASES[process.argv[4]](t);
  if (typeof part === "function") {
    // Only this part is profiled (the case set up its states before it).
    const { Session } = await import("node:inspector/promises");
    const session = new Session();
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
    part();
    const { profile } = await session.post("Profiler.stop");
    mkdirSync(process.argv[5], { recursive: true });
    writeFileSync(join(process.argv[5], "part.cpuprofile"), JSON.stringify(profile));
  }
  console.log("  total:", (performance.now() - s).toFixed(0), "ms");
} else {
  const tmp = mkdtempSync(join(tmpdir(), "trellis-prof-"));
  const wasm = join(tmp, "trellis-names.wasm");
  execFileSync(join(root, "node_modules/.bin/asc"), ["assembly/index.ts", "--config", "asconfig.json", "--target", "release", "--debug", "--outFile", wasm], { cwd: root, stdio: "inherit" });
  for (const c of process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(CASES)) {
    const dir = join(tmp, c);
    console.log(`${c}:`);
    const partDir = join(tmp, c + "-part");
    execFileSync(process.execPath, ["--cpu-prof", "--cpu-prof-dir", dir, fileURLToPath(import.meta.url), "--child", wasm, c, partDir], { cwd: root, stdio: "inherit" });
    // A case that returned its part: that part's profile; else the whole run's.
    const file = existsSync(join(partDir, "part.cpuprofile")) ? join(partDir, "part.cpuprofile") : join(dir, readdirSync(dir)[0]);
    const p = JSON.parse(readFileSync(file, "utf8"));
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
}
