// `trellis/lattice`: the kernels and the typed lattice API alone — no dataflow
// runtime, no replication — for pages that only need CRDTs (what Yjs,
// Automerge and Loro offer). The classes are the same as the core entry's.
import { defaultKernelUrl, instantiate, install, initArgs, InitOptions, WasmSource } from "./wasm/load.js";
export * from "./crdt/index.js";
export { TrellisError } from "./wasm/errors.js";
export type { ErrorCode } from "./wasm/errors.js";
export { instantiate, install } from "./wasm/load.js";
export type { WasmSource, InitOptions } from "./wasm/load.js";
export { kernel, hasKernel } from "./wasm/kernel.js";

// Options: { maxMemory } caps kernel memory in bytes (docs/abi.md, "Memory").
export async function init(source?: WasmSource | InitOptions, options?: InitOptions): Promise<void> {
  const [src, opts] = initArgs(source, options);
  install(await instantiate(src ?? defaultKernelUrl(), {}, opts), opts);
}
