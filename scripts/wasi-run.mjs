#!/usr/bin/env node
// Runs the WASI command module under Node's node:wasi, e.g.
//   node scripts/wasi-run.mjs merge a.bin b.bin > out.bin
//   node scripts/wasi-run.mjs delta a.bin b.bin > d.bin
//   node scripts/wasi-run.mjs inspect out.bin
// The module sees only what it is granted: the current directory as "." and,
// for each file argument, its parent directory under its absolute name
// (arguments are passed on as absolute paths). stdin/stdout/stderr are this
// process's own descriptors, so exit codes and bytes are exactly the module's.
// TRELLIS_WASI_CMD=<path> runs another build of the module.
//
// Node 20's node:wasi crashes intermittently (SIGSEGV, or a V8 fatal error in
// the collector while Wasm memory grows) on inputs of a few MB when V8 uses
// its fast API calls for the WASI imports; with --no-turbo-fast-api-calls it
// did not crash in any run (test/wasi-runner.test.ts). So the runner re-runs
// itself under that flag, passing stdio through.
import { readFileSync, existsSync, statSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SAFE_FLAG = "--no-turbo-fast-api-calls";
if (!process.execArgv.includes(SAFE_FLAG)) {
  const r = spawnSync(process.execPath, [...process.execArgv, SAFE_FLAG, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  if (r.error) {
    process.stderr.write(`wasi-run: cannot start node: ${r.error.message}\n`);
    process.exit(3);
  }
  // Die the same way as the child, so callers see its signal.
  if (r.signal) process.kill(process.pid, r.signal);
  process.exit(r.status ?? 1);
}

// node:wasi prints an ExperimentalWarning on load; it is noise for a CLI.
const emit = process.emitWarning;
process.emitWarning = (w, ...rest) => {
  if (String(w).includes("WASI")) return;
  return emit.call(process, w, ...rest);
};
const { WASI } = await import("node:wasi");

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wasmPath = process.env.TRELLIS_WASI_CMD ?? join(root, "dist", "trellis-wasi-cmd.wasm");
if (!existsSync(wasmPath)) {
  process.stderr.write(`wasi-run: ${wasmPath} not found; run \`node scripts/build.mjs --kernels\` first\n`);
  process.exit(3);
}

const [cmd, ...rest] = process.argv.slice(2);
const preopens = { ".": process.cwd() };
const args = ["trellis"];
if (cmd !== undefined) args.push(cmd);
for (const a of rest) {
  if (a === "-" || a.startsWith("-")) { args.push(a); continue; }
  const abs = resolve(a);
  // The module can only say a directory is "not inside a preopened directory"
  // (only its parent is granted), which sends users looking the wrong way.
  let isDir = false;
  try { isDir = statSync(abs).isDirectory(); } catch { /* missing: the module reports it */ }
  if (isDir) {
    process.stderr.write(`trellis: ${a}: is a directory (give a file of state bytes)\n`);
    process.exit(3);
  }
  preopens[dirname(abs)] = dirname(abs);
  args.push(abs);
}

const wasi = new WASI({ version: "preview1", args, env: {}, preopens, returnOnExit: true });
const module = await WebAssembly.compile(readFileSync(wasmPath));
const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.wasiImport });
process.exitCode = wasi.start(instance);
