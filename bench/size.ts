// Section 2(e): gzipped size of what a browser page loads. For each package the
// JS import closure of its browser entry is computed by following static and
// dynamic imports (bare specifiers through package.json "exports" with the
// browser/import conditions), plus every .wasm file the closure imports or
// names with `new URL("….wasm", import.meta.url)`.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { buildSync } from "esbuild";
import { Table, kb, mark, table } from "./lib/harness.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const CONDITIONS = ["browser", "import", "module", "default"];

function pickExport(x: unknown): string | undefined {
  if (typeof x === "string") return x;
  if (Array.isArray(x)) { for (const y of x) { const r = pickExport(y); if (r) return r; } return undefined; }
  if (x && typeof x === "object") {
    for (const c of CONDITIONS) if (c in (x as Record<string, unknown>)) { const r = pickExport((x as Record<string, unknown>)[c]); if (r) return r; }
  }
  return undefined;
}

function resolveBare(spec: string, from: string): string {
  const parts = spec.split("/");
  const name = spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
  const sub = "." + spec.slice(name.length);
  let dir = dirname(from);
  while (!existsSync(join(dir, "node_modules", name, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot resolve ${spec} from ${from}`);
    dir = up;
  }
  const pkgDir = join(dir, "node_modules", name);
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
  let target: string | undefined;
  if (pkg.exports) {
    const ex = typeof pkg.exports === "string" || Array.isArray(pkg.exports) || !Object.keys(pkg.exports).some((k) => k.startsWith(".")) ? { ".": pkg.exports } : pkg.exports;
    if (ex[sub]) target = pickExport(ex[sub]);
    else for (const k of Object.keys(ex)) if (k.endsWith("*") && sub.startsWith(k.slice(0, -1))) target = pickExport(ex[k])?.replace("*", sub.slice(k.length - 1));
  } else target = sub === "." ? (pkg.module ?? pkg.main ?? "index.js") : sub;
  if (!target) throw new Error(`no export ${sub} in ${name}`);
  return resolve(pkgDir, target);
}

const IMPORT_RE = /^\s*(?:import|export)\s*(?:[\w*{}\s,$]+?\s*from\s*)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm;
const URL_RE = /new URL\(\s*["']([^"']+\.wasm)["']\s*,\s*import\.meta\.url\s*\)/g;

export interface Closure { js: string[]; wasm: string[] }

export function closure(entry: string): Closure {
  const js = new Set<string>(), wasm = new Set<string>();
  const todo = [resolve(entry)];
  while (todo.length) {
    const f = todo.pop()!;
    if (js.has(f)) continue;
    js.add(f);
    const src = readFileSync(f, "utf8");
    const deps: string[] = [];
    for (const m of src.matchAll(IMPORT_RE)) deps.push(m[1] ?? m[2]);
    for (const m of src.matchAll(URL_RE)) { const w = resolve(dirname(f), m[1]); if (existsSync(w)) wasm.add(w); }
    for (const d of deps) {
      if (d.startsWith("node:")) continue;
      let p = d.startsWith(".") || d.startsWith("/") ? resolve(dirname(f), d) : resolveBare(d, f);
      if (!existsSync(p) && existsSync(p + ".js")) p += ".js";
      if (p.endsWith(".wasm")) { wasm.add(p); continue; }
      if (existsSync(p)) todo.push(p);
    }
  }
  return { js: [...js].sort(), wasm: [...wasm].sort() };
}

const gz = (b: Buffer | string) => gzipSync(b, { level: 9 }).length;

export interface Sized { name: string; entry: string; files: number; jsRaw: number; jsGz: number; jsMinGz: number; wasmRaw: number; wasmGz: number }

// The JS as an application would ship it: bundled and minified by esbuild with
// the browser conditions, gzipped (wasm files are counted separately).
function minifiedGz(entry: string): number {
  const out = buildSync({
    entryPoints: [entry], bundle: true, minify: true, format: "esm", platform: "browser",
    write: false, logLevel: "silent", loader: { ".wasm": "empty" },
  });
  return gz(Buffer.from(out.outputFiles[0].contents));
}

export function measureClosure(name: string, entry: string, extraWasm: string[] = []): Sized {
  const c = closure(entry);
  for (const w of extraWasm) if (!c.wasm.includes(w)) c.wasm.push(w);
  // JS gzipped as one bundle (concatenated), as a bundler would ship it.
  const js = Buffer.concat(c.js.map((f) => readFileSync(f)));
  // The same module under two paths (dist/trellis.wasm and the copy beside
  // the loader, dist/host/wasm/) ships once: count identical bytes once.
  const wasm: Buffer[] = [];
  c.wasm = c.wasm.filter((f) => { const b = readFileSync(f); if (wasm.some((x) => x.equals(b))) return false; wasm.push(b); return true; });
  return {
    name, entry: entry.replace(root + "/", ""), files: c.js.length + c.wasm.length,
    jsRaw: js.length, jsGz: gz(js), jsMinGz: minifiedGz(entry),
    wasmRaw: wasm.reduce((a, b) => a + b.length, 0), wasmGz: wasm.reduce((a, b) => a + gz(b), 0),
  };
}

export function sizeBench(): Table {
  const nm = join(root, "node_modules");
  // Two budgets (issue 10): what the others offer, kernels + typed lattice API
  // (trellis/lattice), and the core entry, which adds dataflow and replication.
  const trellis = measureClosure("trellis/lattice", join(root, "dist/host/lattice.browser.js"), [join(root, "dist/trellis.wasm")]);
  const core = measureClosure("trellis (core: + dataflow, replication)", join(root, "dist/host/index.browser.js"), [join(root, "dist/trellis.wasm")]);
  const rows: Sized[] = [
    trellis,
    core,
    measureClosure("Yjs (+ lib0 it imports)", resolveBare("yjs", join(root, "x.js"))),
    measureClosure("Automerge", resolveBare("@automerge/automerge", join(root, "x.js"))),
    measureClosure("Loro", resolveBare("loro-crdt", join(root, "x.js"))),
  ];
  void nm;
  const t = table("size", "Gzipped size of the browser entry's import closure (JS as shipped: bundled + minified by esbuild, gzip level 9; also the unminified modules concatenated; wasm gzipped)",
    ["package", "entry", "files", "JS raw", "JS gz", "JS min+gz", "wasm raw", "wasm gz", "total gz (min JS)", "target (issue 10): lattice ≤ 20 KB, core ≤ 30 KB gz"]);
  for (const r of rows) {
    const total = r.jsMinGz + r.wasmGz;
    t.rows.push([r.name, r.entry.replace(/^.*node_modules\//, ""), String(r.files), kb(r.jsRaw), kb(r.jsGz), kb(r.jsMinGz), kb(r.wasmRaw), kb(r.wasmGz), kb(total),
      r === trellis ? mark(total <= 20 * 1024) : r === core ? mark(total <= 30 * 1024) : ""]);
  }
  const c = closure(join(root, "dist/host/lattice.browser.js"));
  t.notes.push(`trellis/lattice closure: ${[...c.js.map((f) => f.replace(root + "/", "")), "dist/trellis.wasm"].join(", ")}.`);
  t.notes.push("Budgets (issue 10): `trellis/lattice` (the kernels and the typed lattice API, the part comparable to the other libraries) ≤ 20 KB gzipped; the core entry `trellis`, which adds the dataflow runtime and the replication protocol, ≤ 30 KB. The kernel is built with the minimal runtime (bench/RESULTS.md, \"Kernel runtime and build settings\"; bench/build-matrix.mjs measures the choices).");
  t.notes.push("Entries are what a bundler picks for a browser (conditions browser, import, module, default). Automerge's browser entry imports its .wasm; Loro's browser entry imports loro_wasm_bg.wasm. Yjs is pure JS; its closure includes the lib0 modules it imports.");
  return t;
}
