// Node entry: reads the kernel from the package's dist/ unless given a source.
import { instantiate, install, initArgs, InitOptions, WasmSource } from "./wasm/load.js";
export * from "./index.js";

// Options: { maxMemory } caps kernel memory in bytes (docs/abi.md, "Memory").
export async function init(sourceOrOptions?: WasmSource | InitOptions, options?: InitOptions): Promise<void> {
  let [source, opts] = initArgs(sourceOrOptions, options);
  if (source === undefined) {
    const { readFile } = await import("node:fs/promises");
    source = await readFile(new URL("../trellis.wasm", import.meta.url));
  }
  install(await instantiate(source, {}, opts), opts);
}
