// `trellis/lattice`: the kernels and the typed lattice API alone — no dataflow
// runtime, no replication — for pages that only need CRDTs (what Yjs,
// Automerge and Loro offer). The classes are the same as the core entry's.
import { defaultKernelUrl, instantiate, install, WasmSource } from "./wasm/load.js";
export * from "./crdt/index.js";
export { TrellisError } from "./wasm/errors.js";
export type { ErrorCode } from "./wasm/errors.js";
export { instantiate, install } from "./wasm/load.js";
export type { WasmSource } from "./wasm/load.js";
export { kernel, hasKernel } from "./wasm/kernel.js";

export async function init(source?: WasmSource): Promise<void> {
  install(await instantiate(source ?? defaultKernelUrl()));
}
