// The Wasm boundary: a thin typed view of the kernel's exports (assembly/index.ts,
// docs/abi.md). Inputs are copied into the kernel's input buffer, outputs copied
// out of its output buffer; negative results become TrellisErrors, traps become
// KERNEL_TRAP. It knows pointers and memory, nothing of lattice semantics.
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
}

export class Kernel {
  readonly exports: KernelExports;
  constructor(exports: KernelExports) { this.exports = exports; }

  // Copies bytes into the input buffer; returns the length to pass.
  private put(bytes: Uint8Array): number {
    const p = this.exports.input(bytes.length);
    new Uint8Array(this.exports.memory.buffer, p, bytes.length).set(bytes);
    return bytes.length;
  }

  private check(r: number, what: string): number {
    if (r < 0) throw kernelError(r, what);
    return r;
  }

  private out(len: number): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer, this.exports.output(), len).slice();
  }

  // Runs a kernel call, turning a trap (an internal bug, never bad input) into a TrellisError.
  private guard<T>(what: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) throw new TrellisError("KERNEL_TRAP", `${what}: ${e.message}`);
      throw e;
    }
  }

  // apply(h, batch) where batch := count ops, written straight into the input
  // buffer: the hot path of every mutation, so no intermediate copy.
  apply(h: number, count: number, ops: Uint8Array): number {
    return this.guard("apply", () => {
      let n = 1;
      for (let c = count; c >= 0x80; c = Math.floor(c / 128)) n++;
      const len = n + ops.length;
      const p = this.exports.input(len);
      const mem = new Uint8Array(this.exports.memory.buffer, p, len);
      let c = count, i = 0;
      while (c >= 0x80) { mem[i++] = (c & 0x7f) | 0x80; c = Math.floor(c / 128); }
      mem[i++] = c;
      mem.set(ops, i);
      return this.check(this.exports.apply(h, len), "apply");
    });
  }

  call(name: "create" | "decode", input: Uint8Array): number;
  call(name: "joinBytes" | "apply" | "has", input: Uint8Array, h: number): number;
  call(name: string, input: Uint8Array, h?: number): number {
    return this.guard(name, () => {
      const len = this.put(input);
      const f = (this.exports as unknown as Record<string, (...a: number[]) => number>)[name];
      return this.check(h === undefined ? f(len) : f(h, len), name);
    });
  }

  // A call on handles that returns an int.
  int(name: "dispose" | "clone" | "isBottom" | "size" | "leq" | "join" | "delta" | "savepoint" | "restore", a: number, b?: number): number {
    return this.guard(name, () => {
      const f = (this.exports as unknown as Record<string, (...a: number[]) => number>)[name];
      return this.check(b === undefined ? f(a) : f(a, b), name);
    });
  }

  // A call that writes to the output buffer; returns a copy of the output.
  bytes(name: "encode" | "typeOf" | "decompose" | "takeDelta" | "query", h: number): Uint8Array {
    return this.guard(name, () => {
      const f = (this.exports as unknown as Record<string, (h: number) => number>)[name];
      return this.out(this.check(f(h), name));
    });
  }

  // get(h, key): the query bytes of a map value, or null when the key is absent.
  get(h: number, key: Uint8Array): Uint8Array | null {
    return this.guard("get", () => {
      const r = this.exports.get(h, this.put(key));
      if (r === -13) return null;
      return this.out(this.check(r, "get"));
    });
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
