// The environment-neutral part of the public API. Entry points per environment
// (index.node.ts, index.browser.ts, wasi.ts) add an `init` that loads the kernel.
export * from "./crdt/index.js";
export { TrellisError } from "./wasm/errors.js";
export type { ErrorCode } from "./wasm/errors.js";
export { instantiate, install } from "./wasm/load.js";
export type { WasmSource, InitOptions } from "./wasm/load.js";
export { kernel, hasKernel } from "./wasm/kernel.js";
export * from "./dataflow/index.js";
export * from "./replication/index.js";
export { MissingPeerError } from "./peers.js";
