// Browser (and default) entry: no Node built-ins on this path.
import { defaultKernelUrl, instantiate, install, initArgs, InitOptions, WasmSource } from "./wasm/load.js";
export * from "./index.js";

// Loads the kernel, by default from the package's trellis.wasm (see defaultKernelUrl).
// Pass a URL, a Response, bytes or a compiled module to load it from elsewhere.
// Options: { maxMemory } caps kernel memory in bytes (docs/abi.md, "Memory").
export async function init(source?: WasmSource | InitOptions, options?: InitOptions): Promise<void> {
  const [src, opts] = initArgs(source, options);
  install(await instantiate(src ?? defaultKernelUrl(), {}, opts), opts);
}
