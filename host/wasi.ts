// Node entry for the WASI build (`trellis/wasi`): runs every trellis type on
// dist/trellis-wasi.wasm, a WASI reactor, through node:wasi. The same module is
// what a device runtime (wasm3, WAMR) embeds; docs/abi.md describes the calls.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import { instantiate, install } from "./wasm/load.js";
import type { Kernel } from "./wasm/kernel.js";
export * from "./index.js";

// Instantiates the WASI reactor (from `path`, default: the package's
// dist/trellis-wasi.wasm), runs its `_initialize`, and installs it as the kernel.
export async function initWasi(path?: string | URL): Promise<Kernel> {
  const bytes = await readFile(path ?? new URL("../trellis-wasi.wasm", import.meta.url));
  // The kernels do no I/O: no args, env or preopens are granted.
  const wasi = new WASI({ version: "preview1", args: [], env: {}, returnOnExit: true });
  const instance = await instantiate(bytes, { wasi_snapshot_preview1: wasi.wasiImport });
  wasi.initialize(instance);
  return install(instance);
}

// Same name as the other entries, so code written for `trellis` runs unchanged.
export const init = initWasi;
