// Instantiation from bytes, a Response, or a URL. Browser-safe: no Node built-ins.
import { Kernel, KernelExports, setKernel } from "./kernel.js";
import { TrellisError } from "./errors.js";

export type WasmSource = BufferSource | WebAssembly.Module | Response | Promise<Response> | URL | string;

const REQUIRED = ["memory", "input", "output", "create", "apply", "encode", "decode", "query"];

export async function instantiate(source: WasmSource, imports: WebAssembly.Imports = {}): Promise<WebAssembly.Instance> {
  if (typeof source === "string" || source instanceof URL) source = fetch(source);
  if (source instanceof WebAssembly.Module) return WebAssembly.instantiate(source, imports);
  if (typeof Response !== "undefined" && (source instanceof Response || source instanceof Promise)) {
    const res = await source;
    if (!res.ok) throw new TrellisError("INVALID", `fetching the kernel failed: HTTP ${res.status}`);
    if (typeof WebAssembly.instantiateStreaming === "function" && res.headers.get("content-type") === "application/wasm") {
      return (await WebAssembly.instantiateStreaming(res, imports)).instance;
    }
    source = await res.arrayBuffer();
  }
  return (await WebAssembly.instantiate(source as BufferSource, imports)).instance;
}

// Checks the exports and installs the kernel for every trellis type.
export function install(instance: WebAssembly.Instance): Kernel {
  const ex = instance.exports as unknown as KernelExports;
  for (const name of REQUIRED) {
    if (!(name in ex)) throw new TrellisError("INVALID", `not a trellis kernel: missing export '${name}'`);
  }
  const k = new Kernel(ex);
  setKernel(k);
  return k;
}
