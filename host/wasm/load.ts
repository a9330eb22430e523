// Instantiation from bytes, a Response, or a URL. Browser-safe: no Node built-ins.
import { Kernel, KernelExports, setKernel } from "./kernel.js";
import { TrellisError } from "./errors.js";

export type WasmSource = BufferSource | WebAssembly.Module | Response | Promise<Response> | URL | string;

export interface InitOptions {
  // Cap on kernel memory, in bytes (rounded down to whole 64 KiB pages, at
  // least 1 MiB). A kernel call that would need more fails with a
  // TrellisError OUT_OF_MEMORY and changes nothing (docs/abi.md, "Memory").
  maxMemory?: number;
}

const REQUIRED = ["memory", "input", "output", "create", "apply", "encode", "decode", "query"];
const PAGE = 65536;
// Pages the kernel's memory starts with: more than its static data needs.
const INITIAL_PAGES = 16;

function capPages(opts: InitOptions): number | undefined {
  if (opts.maxMemory === undefined) return undefined;
  const pages = Math.floor(opts.maxMemory / PAGE);
  if (!Number.isFinite(opts.maxMemory) || pages < INITIAL_PAGES || pages > 65536) {
    throw new RangeError(`maxMemory must be between ${INITIAL_PAGES * PAGE} and ${65536 * PAGE} bytes, got ${opts.maxMemory}`);
  }
  return pages;
}

// init(source?, options?) or init(options): tells the two apart.
export function initArgs<S>(a: S | InitOptions | undefined, b: InitOptions | undefined): [S | undefined, InitOptions] {
  const isOptions = typeof a === "object" && a !== null && Object.getPrototypeOf(a) === Object.prototype;
  return isOptions ? [undefined, a as InitOptions] : [a as S | undefined, b ?? {}];
}

// The kernel imports its memory (env.memory), so the engine itself enforces
// the cap: growth past it fails inside the kernel, which reports OUT_OF_MEMORY.
// Modules that define their own memory (the WASI builds) ignore this import.
export async function instantiate(source: WasmSource, imports: WebAssembly.Imports = {}, opts: InitOptions = {}): Promise<WebAssembly.Instance> {
  const max = capPages(opts);
  if (!imports.env || !("memory" in imports.env)) {
    const memory = new WebAssembly.Memory(max === undefined ? { initial: INITIAL_PAGES } : { initial: INITIAL_PAGES, maximum: max });
    imports = { ...imports, env: { ...(imports.env ?? {}), memory } };
  }
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
export function install(instance: WebAssembly.Instance, opts: InitOptions = {}): Kernel {
  const ex = instance.exports as unknown as KernelExports;
  for (const name of REQUIRED) {
    if (!(name in ex)) throw new TrellisError("INVALID", `not a trellis kernel: missing export '${name}'`);
  }
  const max = capPages(opts);
  if (max !== undefined && typeof ex.setMemoryCap === "function") ex.setMemoryCap(max);
  const k = new Kernel(ex);
  setKernel(k);
  return k;
}
