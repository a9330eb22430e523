// Browser (and default) entry: no Node built-ins on this path.
import { instantiate, install, WasmSource } from "./wasm/load.js";
export * from "./index.js";

// Loads the kernel, by default from trellis.wasm next to the package's dist/.
// Pass a URL, a Response, bytes or a compiled module to load it from elsewhere.
export async function init(source: WasmSource = new URL("../trellis.wasm", import.meta.url)): Promise<void> {
  install(await instantiate(source));
}
