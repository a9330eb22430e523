// Builds the kernels (two Wasm modules) and the TypeScript host into dist/.
// Run by `npm run build`, on install (prepare) and before tests and benchmarks.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: "inherit" });

const kernelsOnly = process.argv.includes("--kernels");
// What asconfig.json's release target enables (AssemblyScript 0.28's defaults
// plus SIMD), so that binaryen passes after asc accept and keep the same set.
const RELEASE_FEATURES = ["--enable-simd", "--enable-bulk-memory", "--enable-sign-ext", "--enable-mutable-globals", "--enable-nontrapping-float-to-int"];
// A full build starts from an empty dist/, so nothing stale is packed or tested.
if (!kernelsOnly) rmSync(join(root, "dist"), { recursive: true, force: true });
mkdirSync(join(root, "dist"), { recursive: true });
// asconfig.json targets; entries are passed here because per-target entries are ignored.
run(bin("asc"), ["assembly/index.ts", "--config", "asconfig.json", "--target", "release"]);
// The release kernel imports its memory, so the compiler must assume it may
// hold garbage and ships zeroed static data as data segments (8.5 KB of
// zeros: the span allocator's page bitmap). Its memory is always a fresh,
// zero-filled WebAssembly.Memory (docs/abi.md, "Memory"), so drop them.
run(bin("wasm-opt"), ["dist/trellis.wasm", ...RELEASE_FEATURES, "--zero-filled-memory", "--memory-packing", "-o", "dist/trellis.wasm"]);
run(bin("asc"), ["assembly/wasi.ts", "--config", "asconfig.wasi.json"]);
run(bin("asc"), ["assembly/cli.ts", "--config", "asconfig.wasi-cmd.json"]); // WASI command (docs/abi.md)
if (!kernelsOnly) run(bin("tsc"), ["-p", "tsconfig.json"]);
// The browser entries' default kernel URL is ./trellis.wasm beside
// dist/host/wasm/load.js, a path bundlers can follow (host/wasm/load.ts).
mkdirSync(join(root, "dist", "host", "wasm"), { recursive: true });
copyFileSync(join(root, "dist", "trellis.wasm"), join(root, "dist", "host", "wasm", "trellis.wasm"));
writeFileSync(join(root, "dist", "package.json"), '{"type":"module"}\n');
// trellis/ws, trellis/storage/node, trellis/libp2p, trellis/node: entries that
// name the missing package when an optional peer is not installed.
if (!kernelsOnly) await (await import("./peer-entries.mjs")).writePeerEntries(root);
// The browser app (web/): one bundle, served by the node (npm start).
if (!kernelsOnly) {
  const { build } = await import("esbuild");
  mkdirSync(join(root, "dist", "web"), { recursive: true });
  await build({
    entryPoints: [join(root, "web", "app.js"), join(root, "web", "leaderboard.js")], bundle: true, format: "esm", platform: "browser",
    target: "es2022", minify: true, sourcemap: true, outdir: join(root, "dist", "web"), logLevel: "warning",
  });
  for (const f of ["index.html", "leaderboard.html", "style.css", "sw.js"]) copyFileSync(join(root, "web", f), join(root, "dist", "web", f));
  copyFileSync(join(root, "dist", "trellis.wasm"), join(root, "dist", "web", "trellis.wasm"));
}
