// Builds the kernels (two Wasm modules) and the TypeScript host into dist/.
// Run by `npm run build`, on install (prepare) and before tests and benchmarks.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: "inherit" });

const kernelsOnly = process.argv.includes("--kernels");
// A full build starts from an empty dist/, so nothing stale is packed or tested.
if (!kernelsOnly) rmSync(join(root, "dist"), { recursive: true, force: true });
mkdirSync(join(root, "dist"), { recursive: true });
// asconfig.json targets; entries are passed here because per-target entries are ignored.
run(bin("asc"), ["assembly/index.ts", "--config", "asconfig.json", "--target", "release"]);
run(bin("asc"), ["assembly/wasi.ts", "--config", "asconfig.wasi.json"]);
run(bin("asc"), ["assembly/cli.ts", "--config", "asconfig.wasi-cmd.json"]); // WASI command (docs/abi.md)
if (!kernelsOnly) run(bin("tsc"), ["-p", "tsconfig.json"]);
writeFileSync(join(root, "dist", "package.json"), '{"type":"module"}\n');
