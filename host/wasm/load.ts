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
  if (typeof source === "string" || source instanceof URL) source = fetchKernel(source);
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

// The kernel's default location in browsers: trellis.wasm beside this module
// (the build copies it into dist/host/wasm/). Written as the literal
// `new URL("./…", import.meta.url)` that Vite, webpack 5 and Parcel recognise,
// so they emit the file as an asset and rewrite the URL; with esbuild, copy it
// next to the bundle or pass its URL (docs/bundlers.md). A bundle without
// import.meta.url (IIFE, CommonJS) gets this advice, not a bare "Invalid URL".
export function defaultKernelUrl(): URL {
  try {
    return new URL("./trellis.wasm", import.meta.url);
  } catch {
    if (scriptUrl) return new URL("./trellis.wasm", scriptUrl);
    throw new TrellisError("NOT_FOUND", "cannot locate trellis.wasm: this bundle has no import.meta.url (an IIFE or CommonJS build) " +
      "and was not loaded from a <script src>; serve node_modules/trellis/dist/trellis.wasm with your page and pass its URL, " +
      "e.g. init(\"/trellis.wasm\") (docs/bundlers.md)");
  }
}

// An IIFE bundle has no import.meta.url, but while a classic <script src>
// first runs, document.currentScript is that script: remember its URL, so the
// default is trellis.wasm beside the bundle, as for an ES module bundle.
const scriptUrl: string | undefined = typeof document !== "undefined"
  ? (document.currentScript as HTMLScriptElement | null)?.src || undefined : undefined;

// Fetch errors name the URL tried: a bundler that moved the page but not the
// kernel shows up as a 404 on a URL the user can check.
async function fetchKernel(url: string | URL): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new TrellisError("NOT_FOUND", `fetching the kernel from ${String(url)} failed: ${(e as Error).message} (pass init() the URL of trellis.wasm; docs/bundlers.md)`);
  }
  if (!res.ok) {
    throw new TrellisError("NOT_FOUND", `fetching the kernel from ${String(url)} failed: HTTP ${res.status} (serve trellis.wasm there or pass init() its URL; docs/bundlers.md)`);
  }
  return res;
}
