// Node entry: reads the kernel from the package's dist/ unless given a source.
import { instantiate, install, WasmSource } from "./wasm/load.js";
export * from "./index.js";

export async function init(source?: WasmSource): Promise<void> {
  if (source === undefined) {
    const { readFile } = await import("node:fs/promises");
    source = await readFile(new URL("../trellis.wasm", import.meta.url));
  }
  install(await instantiate(source));
}
