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
  setReplica(h: number, len: number): number;
  dispose(h: number): number;
  clone(h: number): number;
  encode(h: number): number;
  typeOf(h: number): number;
  tagOf(h: number): number;
  join(a: number, b: number): number;
  joinBytes(h: number, len: number): number;
  leq(a: number, b: number): number;
  isBottom(h: number): number;
  delta(a: number, b: number): number;
  decompose(h: number): number;
  decomposeRange(h: number, start: number, max: number): number;
  partCount(h: number): number;
  partHashes(h: number): number;
  joinMissing(h: number, len: number): number;
  mints(len: number): number;
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
  hostCollects?(): number;
  swept?(): number;
  setMemoryCap?(pages: number): void;
  setHashSeed?(lo: number, hi: number): number;
}

type IntCall = "dispose" | "clone" | "isBottom" | "size" | "leq" | "join" | "delta" | "savepoint" | "restore";
type BytesCall = "encode" | "typeOf" | "decompose" | "takeDelta" | "query" | "partHashes";
type InputCall = "create" | "decode" | "joinBytes" | "has";

const E_NOT_FOUND = -13;

// A trap is an internal kernel bug, never bad input: report it as a typed error.
function rethrow(e: unknown, what: string): never {
  if (e instanceof WebAssembly.RuntimeError) throw new TrellisError("KERNEL_TRAP", `${what}: ${e.message}`);
  throw e;
}

function check(r: number, what: string, state?: Uint8Array): number {
  if (r < 0) throw kernelError(r, what, state);
  return r;
}

// The state in a decode input (replica:bytes state), for error messages.
function afterReplica(input: Uint8Array): Uint8Array {
  let i = 0, n = 0, shift = 0;
  for (; i < input.length && i < 2; i++) {
    n += (input[i] & 0x7f) << shift; shift += 7;
    if ((input[i] & 0x80) === 0) { i++; break; }
  }
  return input.subarray(Math.min(input.length, i + n));
}

// A decomposition costs far more per byte than a copy: measured here, 8-18 µs
// a part (AWSet, 4,000-60,000 parts) against ~1 ns a byte copied. So each
// part a decompose returns adds this many bytes to Kernel.work, keeping
// "bytes of work" roughly "ns of CPU".
export const PART_WORK = 16 * 1024;

// Crossings between host-run collections, at least (see Kernel.#tick):
// measured by bench/build-matrix.mjs (bench/RESULTS.md, "Kernel runtime").
export const COLLECT_EVERY = 1024;

// How much longer than the worst-case interval the host may wait when the
// kernel reports little garbage per crossing (see Kernel.collect). At 4,
// after format v2 (more garbage per encode or decomposition) a mix of calls
// paced on a low average grew memory by doublings: test/leak.test.ts's
// histories took a kernel holding nothing from 4 to 68 MiB. At 1 it stays
// at 2.1 MiB, and small calls beside a 133 MiB map cost 0.9-1.5 µs.
export const PACE_CAP = 1;
// The least garbage a crossing is assumed to make, in bytes (a MaxInt
// decode + dispose, three crossings, makes ~50).
export const MIN_GARBAGE = 16;

// The part count a decompose output starts with (a LEB128 varint).
function leadingCount(b: Uint8Array): number {
  let n = 0, shift = 0;
  for (let i = 0; i < b.length && i < 5; i++) {
    n += (b[i] & 0x7f) * 2 ** shift;
    if ((b[i] & 0x80) === 0) return n;
    shift += 7;
  }
  return 0;
}

export class Kernel {
  readonly exports: KernelExports;
  // Bytes copied into and out of the kernel so far, plus PART_WORK for each
  // part of a decomposition: grows with every decode, join, encode and
  // decomposition, so it measures work deterministically (a node charges each
  // peer the work its messages cause: transport/limits.ts).
  work = 0;
  // A decomposition that takes `work` past this throws OVER_BUDGET (set by
  // whoever meters a caller, e.g. around one peer's message; else Infinity).
  workLimit = Infinity;
  #view: Uint8Array;

  // Safety net for states never disposed: disposes the handle once its owner
  // is collected. The held value is the handle itself (a small integer: no
  // object per registration); the owner is its own unregister token.
  readonly #registry = typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry<number>((h) => { try { this.#tick(); this.exports.dispose(h); } catch { /* kernel gone */ } })
    : null;

  // Collection by the host (docs/abi.md, "Runtime"). A kernel built with the
  // minimal runtime collects only when collect() is called, and only between
  // calls is that safe (its collector does not see the Wasm stack). So every
  // crossing adds to #debt (1, plus 1 per KiB of input, since larger inputs
  // make more garbage), and past #every the host collects before the next
  // call. A collection costs about what is live, so #every grows with it:
  // at least COLLECT_EVERY, twice the live handles, and one crossing per KiB
  // of kernel memory at the last collection (a GMap of GCounters holds one
  // managed object per key: with 100k keys, 133 MiB, a collection took 36 ms,
  // and collecting every 1024 crossings made a loop of small calls 70×
  // slower). A crossing leaves well under 1 KiB of garbage (a decompose of a
  // 3-part AWSet: 0.6 KiB), so garbage stays within about the memory in use.
  // Kernels that collect on their own (incremental) leave #every at Infinity.
  //
  // That interval assumes the worst (1 KiB of garbage every crossing). The
  // kernel reports what each collection freed (swept()), so when crossings
  // made less, the host waits longer, up to PACE_CAP times the interval:
  // long enough for the garbage to reach half the memory in use at the
  // garbage per crossing just measured. With much live (a 36 MiB kernel of
  // 6,000 states: 6 ms a collection), this took a loop of MaxInt decode +
  // dispose from 0.94 to ~0.65 µs a call. If calls then start making more
  // garbage, memory grows before the next collection is due; the host sees
  // the growth (#grew) and collects at the next crossing, so garbage costs
  // at most one growth of memory before the pace adapts.
  #debt = 0;
  #every = Infinity;
  #grew = false;

  constructor(exports: KernelExports) {
    this.exports = exports;
    this.#view = new Uint8Array(exports.memory.buffer);
    if (exports.hostCollects?.() === 1) this.#every = COLLECT_EVERY;
    // 64 random bits for the kernel's hash tables, so peers cannot aim keys
    // at one slot (docs/abi.md, "Hash seed").
    if (typeof exports.setHashSeed === "function") {
      const r = globalThis.crypto.getRandomValues(new Uint32Array(2));
      exports.setHashSeed(r[0], r[1]);
    }
  }

  #tick(bytes = 0): void {
    if ((this.#debt += 1 + (bytes >>> 10)) >= this.#every || this.#grew) this.collect();
  }

  // A call that ran out of memory changed nothing (docs/abi.md). With the
  // minimal runtime, garbage of earlier calls may hold that memory until the
  // host collects: collect, and make the same call once more.
  #retrying = false;
  #again<T>(e: unknown, what: string, call: () => T): T {
    if (this.#retrying || this.#every === Infinity || this.#debt <= 1 || !(e instanceof TrellisError) || e.code !== "OUT_OF_MEMORY") return rethrow(e, what);
    this.collect();
    this.#retrying = true;
    try { return call(); } finally { this.#retrying = false; }
  }

  // Runs a full collection now (any runtime). Safe only between kernel calls.
  collect(): void {
    const debt = this.#debt;
    this.#debt = 0;
    this.#grew = false;
    this.exports.collect();
    if (this.#every === Infinity) return;
    const mem = this.exports.memory.buffer.byteLength;
    const worst = Math.max(COLLECT_EVERY, 2 * this.exports.liveHandles(), mem >>> 10);
    let every = worst;
    // A rate measured over at least COLLECT_EVERY crossings (an early,
    // explicit collect() measures too little to go by).
    const swept = this.exports.swept?.();
    if (swept !== undefined && debt >= COLLECT_EVERY) {
      const perCrossing = Math.max(MIN_GARBAGE, swept / debt);
      every = Math.min(PACE_CAP * worst, Math.max(worst, Math.floor(mem / 2 / perCrossing)));
    }
    this.#every = every;
  }

  // Disposes h when owner is collected, unless unwatch(owner) comes first.
  watch(owner: object, h: number): void { this.#registry?.register(owner, h, owner); }
  unwatch(owner: object): void { this.#registry?.unregister(owner); }

  // A view of kernel memory; replaced when memory grows. Growth detaches the
  // old buffer, which leaves the view empty: testing that is cheaper than
  // reading memory.buffer (a call into the engine) on every crossing.
  #mem(): Uint8Array {
    if (this.#view.length === 0) { this.#view = new Uint8Array(this.exports.memory.buffer); this.#grew = this.#every !== Infinity; }
    return this.#view;
  }

  // The input buffer for len bytes; 0 means the kernel's memory cap leaves no room.
  #input(len: number): number {
    // Pointers cross as i32: past 2 GiB of kernel memory they read negative
    // (the full bench grew one past it), so take them unsigned.
    const p = this.exports.input(len) >>> 0;
    if (p === 0) throw new TrellisError("OUT_OF_MEMORY", `no room for ${len} bytes of input under the kernel's memory cap`);
    return p;
  }

  // Copies bytes into the input buffer; returns the length to pass.
  #put(bytes: Uint8Array): number {
    const p = this.#input(bytes.length);
    this.#mem().set(bytes, p);
    this.work += bytes.length;
    return bytes.length;
  }

  #out(len: number): Uint8Array {
    const p = this.exports.output() >>> 0; // unsigned, as in #input
    this.work += len;
    return this.#mem().slice(p, p + len);
  }

  // apply(h, batch) where batch := count ops, written straight into the input
  // buffer: the hot path of every mutation, so no intermediate copy.
  // ops[0..opsLen) are the ops (default: all of ops); a short batch is copied
  // byte by byte, since a subarray for set() costs more than the copy.
  apply(h: number, count: number, ops: Uint8Array, opsLen: number = ops.length): number {
    try {
      this.#tick(opsLen);
      let n = 1;
      for (let c = count; c >= 0x80; c = Math.floor(c / 128)) n++;
      const len = n + opsLen;
      const p = this.#input(len);
      this.work += len;
      const mem = this.#mem();
      let c = count, i = p;
      while (c >= 0x80) { mem[i++] = (c & 0x7f) | 0x80; c = Math.floor(c / 128); }
      mem[i++] = c;
      if (opsLen <= 64) for (let j = 0; j < opsLen; j++) mem[i + j] = ops[j];
      else mem.set(opsLen === ops.length ? ops : ops.subarray(0, opsLen), i);
      return check(this.exports.apply(h, len), "apply");
    } catch (e) { return this.#again(e, "apply", () => this.apply(h, count, ops, opsLen)); }
  }

  // create(input) or decode(input) where input := replica:bytes rest, written
  // straight into the input buffer (no intermediate copy). replica is either
  // its UTF-8 bytes or a string the caller checked is ASCII and shorter than
  // 128 characters (so its length is one varint byte).
  withReplica(name: "create" | "decode" | "setReplica", replica: string | Uint8Array, rest: Uint8Array, h = 0): number {
    try {
      this.#tick(rest.length);
      const rn = replica.length;
      if (rn > 255) throw new RangeError("replica id longer than 255 bytes");
      const vn = rn < 0x80 ? 1 : 2; // so its length is one or two varint bytes
      const len = vn + rn + rest.length;
      const p = this.#input(len);
      this.work += len;
      const mem = this.#mem();
      let i = p;
      if (vn === 2) { mem[i++] = (rn & 0x7f) | 0x80; mem[i++] = rn >> 7; } else mem[i++] = rn;
      if (typeof replica === "string") {
        if (rn >= 0x80) throw new RangeError("a replica id passed as a string must be shorter than 128 characters");
        for (let j = 0; j < rn; j++) {
          const c = replica.charCodeAt(j);
          if (c > 0x7f) throw new RangeError("a replica id passed as a string must be ASCII (pass other ids as UTF-8 bytes)");
          mem[i++] = c;
        }
      } else { mem.set(replica, i); i += rn; }
      mem.set(rest, i);
      return check(name === "decode" ? this.exports.decode(len) : name === "create" ? this.exports.create(len) : this.exports.setReplica(h, len), name, rest);
    } catch (e) { return this.#again(e, name, () => this.withReplica(name, replica, rest, h)); }
  }

  // joinBytes(h, state): the hot path of merge(bytes), without the generic
  // call's dynamic dispatch.
  joinBytes(h: number, state: Uint8Array): number {
    try {
      this.#tick(state.length);
      const len = state.length;
      const p = this.#input(len);
      this.work += len;
      this.#mem().set(state, p);
      return check(this.exports.joinBytes(h, len), "joinBytes", state);
    } catch (e) { return this.#again(e, "joinBytes", () => this.joinBytes(h, state)); }
  }

  // A call whose input is bytes: create(input), decode(input), or name(h, input).
  call(name: "create" | "decode", input: Uint8Array): number;
  call(name: "joinBytes" | "has", input: Uint8Array, h: number): number;
  call(name: InputCall, input: Uint8Array, h?: number): number {
    try {
      this.#tick(input.length);
      const len = this.#put(input);
      const f = this.exports[name] as (...a: number[]) => number;
      const state = name === "decode" ? afterReplica(input) : name === "joinBytes" ? input : undefined;
      return check(h === undefined ? f(len) : f(h, len), name, state);
    } catch (e) { return this.#again(e, name, () => (this.call as (n: InputCall, i: Uint8Array, h?: number) => number)(name, input, h)); }
  }

  // A call on handles that returns an int.
  int(name: IntCall, a: number, b?: number): number {
    try {
      this.#tick();
      const f = this.exports[name] as (...a: number[]) => number;
      return check(b === undefined ? f(a) : f(a, b), name);
    } catch (e) { return this.#again(e, name, () => this.int(name, a, b)); }
  }

  // A call that writes to the output buffer; returns a copy of the output.
  bytes(name: BytesCall, h: number): Uint8Array {
    try {
      this.#tick();
      const out = this.#out(check(this.exports[name](h), name));
      // decompose's output starts with its part count; partHashes' is bare
      // 8-byte hashes, one a part (no count: reading one would charge noise).
      if (name === "decompose") this.#charge(leadingCount(out), name);
      else if (name === "partHashes") this.#charge(out.length >> 3, name);
      return out;
    } catch (e) { return this.#again(e, name, () => this.bytes(name, h)); }
  }

  // Charges `parts` decomposed parts to `work`. The calls that charge are
  // read-only, so stopping here changes nothing: the caller gets an error
  // instead of going on to the next decomposition.
  #charge(parts: number, what: string): void {
    this.work += PART_WORK * parts;
    if (this.work > this.workLimit) throw new TrellisError("OVER_BUDGET", `${what}: work ${this.work} is past the limit ${this.workLimit}`);
  }

  // get(h, key): the query bytes of a map value, or null when the key is absent.
  get(h: number, key: Uint8Array): Uint8Array | null {
    try {
      this.#tick(key.length);
      const r = this.exports.get(h, this.#put(key));
      if (r === E_NOT_FOUND) return null;
      return this.#out(check(r, "get"));
    } catch (e) { return rethrow(e, "get"); }
  }

  // Parts start .. start+max-1 of h's decomposition: output := count (part:bytes)*.
  decomposeRange(h: number, start: number, max: number): Uint8Array {
    try {
      this.#tick();
      const out = this.#out(check(this.exports.decomposeRange(h, start, max), "decomposeRange"));
      this.#charge(leadingCount(out), "decomposeRange");
      return out;
    } catch (e) { return rethrow(e, "decomposeRange"); }
  }

  // The type tag of h's state (its spec's first byte).
  tagOf(h: number): number {
    try { this.#tick(); return check(this.exports.tagOf(h), "tagOf"); } catch (e) { return rethrow(e, "tagOf"); }
  }

  // The number of join-irreducible parts of h.
  partCount(h: number): number {
    try { this.#tick(); return check(this.exports.partCount(h), "partCount"); } catch (e) { return rethrow(e, "partCount"); }
  }

  // joinMissing(h, sorted 8-byte hashes): output := count:varint [state].
  joinMissing(h: number, hashes: Uint8Array): Uint8Array {
    try {
      this.#tick(hashes.length);
      const out = this.#out(check(this.exports.joinMissing(h, this.#put(hashes)), "joinMissing"));
      // The kernel looks up each of the peer's hashes and walks our parts: at
      // least one part's work per hash sent, and per part sent back.
      this.#charge(Math.floor(hashes.length / 8) + leadingCount(out), "joinMissing");
      return out;
    } catch (e) { return rethrow(e, "joinMissing"); }
  }

  // mints(state): output := count record* (docs/abi.md, "Mint lists").
  mints(state: Uint8Array): Uint8Array {
    try {
      this.#tick(state.length);
      return this.#out(check(this.exports.mints(this.#put(state)), "mints", state));
    } catch (e) { return rethrow(e, "mints"); }
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
