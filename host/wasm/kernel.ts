// The Wasm boundary: a thin typed view of the kernel's exports (assembly/index.ts,
// docs/abi.md). Inputs are copied into the kernel's input buffer, outputs copied
// out of its output buffer; negative results become TrellisErrors, traps become
// KERNEL_TRAP. It knows pointers and memory, nothing of lattice semantics.
// Every mutation crosses here, so the calls avoid allocating beyond the copy out.
import { TrellisError, kernelError } from "./errors.js";

export interface KernelExports {
  memory: WebAssembly.Memory;
  input(len: number): number;
  output(): number;
  create(len: number): number;
  decode(len: number): number;
  dispose(h: number): number;
  clone(h: number): number;
  encode(h: number): number;
  typeOf(h: number): number;
  join(a: number, b: number): number;
  joinBytes(h: number, len: number): number;
  leq(a: number, b: number): number;
  isBottom(h: number): number;
  delta(a: number, b: number): number;
  decompose(h: number): number;
  apply(h: number, len: number): number;
  takeDelta(h: number): number;
  query(h: number): number;
  has(h: number, len: number): number;
  size(h: number): number;
  get(h: number, len: number): number;
  liveHandles(): number;
  savepoint(h: number): number;
  restore(h: number, s: number): number;
  collect(): void;
  setMemoryCap?(pages: number): void;
}

type IntCall = "dispose" | "clone" | "isBottom" | "size" | "leq" | "join" | "delta" | "savepoint" | "restore";
type BytesCall = "encode" | "typeOf" | "decompose" | "takeDelta" | "query";
type InputCall = "create" | "decode" | "joinBytes" | "has";

const E_NOT_FOUND = -13;

// A trap is an internal kernel bug, never bad input: report it as a typed error.
function rethrow(e: unknown, what: string): never {
  if (e instanceof WebAssembly.RuntimeError) throw new TrellisError("KERNEL_TRAP", `${what}: ${e.message}`);
  throw e;
}

function check(r: number, what: string): number {
  if (r < 0) throw kernelError(r, what);
  return r;
}

export class Kernel {
  readonly exports: KernelExports;
  #view: Uint8Array;

  constructor(exports: KernelExports) {
    this.exports = exports;
    this.#view = new Uint8Array(exports.memory.buffer);
  }

  // A view of kernel memory; replaced when memory grows (the old buffer detaches).
  #mem(): Uint8Array {
    if (this.#view.buffer !== this.exports.memory.buffer) this.#view = new Uint8Array(this.exports.memory.buffer);
    return this.#view;
  }

  // The input buffer for len bytes; 0 means the kernel's memory cap leaves no room.
  #input(len: number): number {
    const p = this.exports.input(len);
    if (p === 0) throw new TrellisError("OUT_OF_MEMORY", `no room for ${len} bytes of input under the kernel's memory cap`);
    return p;
  }

  // Copies bytes into the input buffer; returns the length to pass.
  #put(bytes: Uint8Array): number {
    const p = this.#input(bytes.length);
    this.#mem().set(bytes, p);
    return bytes.length;
  }

  #out(len: number): Uint8Array {
    const p = this.exports.output();
    return this.#mem().slice(p, p + len);
  }

  // apply(h, batch) where batch := count ops, written straight into the input
  // buffer: the hot path of every mutation, so no intermediate copy.
  apply(h: number, count: number, ops: Uint8Array): number {
    try {
      let n = 1;
      for (let c = count; c >= 0x80; c = Math.floor(c / 128)) n++;
      const len = n + ops.length;
      const p = this.#input(len);
      const mem = this.#mem();
      let c = count, i = p;
      while (c >= 0x80) { mem[i++] = (c & 0x7f) | 0x80; c = Math.floor(c / 128); }
      mem[i++] = c;
      mem.set(ops, i);
      return check(this.exports.apply(h, len), "apply");
    } catch (e) { return rethrow(e, "apply"); }
  }

  // A call whose input is bytes: create(input), decode(input), or name(h, input).
  call(name: "create" | "decode", input: Uint8Array): number;
  call(name: "joinBytes" | "has", input: Uint8Array, h: number): number;
  call(name: InputCall, input: Uint8Array, h?: number): number {
    try {
      const len = this.#put(input);
      const f = this.exports[name] as (...a: number[]) => number;
      return check(h === undefined ? f(len) : f(h, len), name);
    } catch (e) { return rethrow(e, name); }
  }

  // A call on handles that returns an int.
  int(name: IntCall, a: number, b?: number): number {
    try {
      const f = this.exports[name] as (...a: number[]) => number;
      return check(b === undefined ? f(a) : f(a, b), name);
    } catch (e) { return rethrow(e, name); }
  }

  // A call that writes to the output buffer; returns a copy of the output.
  bytes(name: BytesCall, h: number): Uint8Array {
    try {
      return this.#out(check(this.exports[name](h), name));
    } catch (e) { return rethrow(e, name); }
  }

  // get(h, key): the query bytes of a map value, or null when the key is absent.
  get(h: number, key: Uint8Array): Uint8Array | null {
    try {
      const r = this.exports.get(h, this.#put(key));
      if (r === E_NOT_FOUND) return null;
      return this.#out(check(r, "get"));
    } catch (e) { return rethrow(e, "get"); }
  }

  memoryBytes(): number { return this.exports.memory.buffer.byteLength; }
}

let current: Kernel | null = null;

export function setKernel(k: Kernel): void { current = k; }
export function hasKernel(): boolean { return current !== null; }

export function kernel(): Kernel {
  if (current === null) {
    throw new TrellisError("NOT_INITIALIZED", "call `await init()` before using trellis types");
  }
  return current;
}
