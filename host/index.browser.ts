// Browser (and default) entry: no Node built-ins on this path.
import { defaultKernelUrl, instantiate, install, WasmSource } from "./wasm/load.js";
export * from "./index.js";

// Loads the kernel, by default from the package's trellis.wasm (see defaultKernelUrl).
// Pass a URL, a Response, bytes or a compiled module to load it from elsewhere.
export async function init(source?: WasmSource): Promise<void> {
  install(await instantiate(source ?? defaultKernelUrl()));
}
