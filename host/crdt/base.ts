// The surface every trellis type shares (DESIGN.md, "The lattice contract"),
// over a kernel handle. State lives in Wasm memory; this object holds the
// handle and a queue of encoded ops that crosses the boundary once per batch.
import { Kernel, kernel } from "../wasm/kernel.js";
import { TrellisError } from "../wasm/errors.js";
import { ByteReader, ByteWriter, equalBytes, utf8 } from "./bytes.js";
import { Tag, TypeSpec, readSpec, sameSpec, specName, writeSpec } from "./spec.js";
import { classOf, classOfTag, CrdtClass } from "./registry.js";

export const MAX_REPLICA_BYTES = 255;

// Random replica ids are cut from a pool of random bytes: one
// getRandomValues call per 256 ids, not per id (a decode without a replica
// takes one, and that call cost several µs).
const HEX = Array.from("0123456789abcdef", (c) => c.charCodeAt(0));
const pool = new Uint8Array(8 * 256);
let poolPos = pool.length;
const hexOf = (b: number, shift: number) => HEX[(b >> shift) & 15];

// A random replica id (16 hex digits) for callers that do not name one:
// built as one flat string (no concatenation).
export function randomReplica(): string {
  if (poolPos === pool.length) { globalThis.crypto.getRandomValues(pool); poolPos = 0; }
  const b = pool, i = poolPos;
  poolPos += 8;
  return String.fromCharCode(
    hexOf(b[i], 4), hexOf(b[i], 0), hexOf(b[i + 1], 4), hexOf(b[i + 1], 0), hexOf(b[i + 2], 4), hexOf(b[i + 2], 0),
    hexOf(b[i + 3], 4), hexOf(b[i + 3], 0), hexOf(b[i + 4], 4), hexOf(b[i + 4], 0), hexOf(b[i + 5], 4), hexOf(b[i + 5], 0),
    hexOf(b[i + 6], 4), hexOf(b[i + 6], 0), hexOf(b[i + 7], 4), hexOf(b[i + 7], 0));
}

// The replica id as the kernel calls take it: a short ASCII string as it is
// (Kernel.withReplica writes its chars), anything else as checked UTF-8.
function replicaArg(replica: string): string | Uint8Array {
  if (typeof replica !== "string") throw new TypeError("replica id must be a string");
  const n = replica.length;
  if (n < 0x80) {
    let ascii = true;
    for (let i = 0; i < n; i++) if (replica.charCodeAt(i) > 0x7f) { ascii = false; break; }
    if (ascii) return replica;
  }
  const b = utf8(replica);
  if (b.length > MAX_REPLICA_BYTES) throw new RangeError(`replica id longer than ${MAX_REPLICA_BYTES} bytes`);
  return b;
}

const specBytes = new ByteWriter(32);
const EMPTY = new Uint8Array(0);

export function createHandle(spec: TypeSpec, replica: string, k: Kernel = kernel()): number {
  const rep = replicaArg(replica);
  specBytes.reset();
  writeSpec(specBytes, spec);
  return k.withReplica("create", rep, specBytes.view());
}

// The spec of a decoded state: types without parameters take their class's
// spec, so a small decode makes no typeOf call and reads no output.
function specOf(k: Kernel, h: number): TypeSpec {
  const tag = k.tagOf(h);
  if (tag !== Tag.TopK && tag !== Tag.GMap && tag !== Tag.AWMap && tag !== Tag.Pair) {
    const cls = classOfTag(tag);
    if (cls !== undefined && cls.spec.tag === tag) return cls.spec;
  }
  return readSpec(new ByteReader(k.bytes("typeOf", h)));
}

// Decodes any encoded state into an instance of its class.
// Without a replica the state gets none until it is first written or its id
// read (Crdt's replica getter): then a random one.
export function decodeState(bytes: Uint8Array, replica?: string, k: Kernel = kernel()): Crdt<unknown> {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("decode expects a Uint8Array");
  const h = k.withReplica("decode", replica === undefined ? "" : replicaArg(replica), bytes);
  adoptedKernel = k;
  try {
    const spec = specOf(k, h);
    return classOf(spec).fromHandle(h, spec, replica);
  } catch (e) {
    k.int("dispose", h);
    throw e;
  } finally {
    adoptedKernel = undefined;
  }
}

// fromHandle() wraps an existing kernel handle by setting this around `new`,
// so public constructors need no internal parameter.
// adoptOn() names the kernel such a handle lives in (default: the current one).
let adopted: number | undefined;
let adoptedKernel: Kernel | undefined;
export function adopt<T>(handle: number, make: () => T): T {
  adopted = handle;
  try { return make(); } finally { adopted = undefined; }
}
export function adoptOn<T>(k: Kernel, make: () => T): T {
  adoptedKernel = k;
  try { return make(); } finally { adoptedKernel = undefined; }
}

// A state's own fields, in one object of one shape. Each subclass gives its
// instances their own hidden class, so once a program uses a few types,
// every field the Crdt constructor defines on `this` is a megamorphic store,
// and V8 takes its slow path for class-field definitions: 8 fields cost
// 0.8-1.5 µs a state (bench/boundary.ts after bench/kernels.ts: MaxInt
// decode + dispose 1.7 µs instead of 0.4). Here the constructor makes three
// plain stores on `this`; the rest are monomorphic stores into Fields.
class Fields {
  // The kernel this state lives in: the current one when it was made. States
  // on different kernels (say Node's and WASI's) meet only through bytes.
  readonly k: Kernel;
  h: number;
  // The op queue and open batch() levels, made on first use: a state that is
  // only decoded, merged and read never needs them.
  ops: ByteWriter | null = null;
  count = 0;
  levels: { savepoint: number }[] | null = null;
  // 1 once registered with the kernel's FinalizationRegistry (see #watchLater).
  watched = 0;
  // The replica id; null until one is needed (Crdt's replica getter).
  rep: string | null = null;
  constructor(k: Kernel, h: number) { this.k = k; this.h = h; }
}

export abstract class Crdt<Q> {
  // TS declarations only: assigned in the constructor, never defined as class
  // fields (see Fields). _s is private to TypeScript, not a #private field: a
  // megamorphic #private definition costs ~0.1 µs more than a plain store.
  declare readonly spec: TypeSpec;
  private declare readonly _s: Fields;

  protected constructor(spec: TypeSpec, replica: string | undefined) {
    this.spec = spec;
    const h = adopted;
    adopted = undefined;
    const k = h !== undefined && adoptedKernel !== undefined ? adoptedKernel : kernel();
    // The kernel holds the same id as _s.rep: none ("") while that is null.
    this._s = new Fields(k, h ?? createHandle(spec, replica ?? "", k));
    if (replica !== undefined) this._s.rep = replica;
    Crdt.#watchLater(this);
  }

  // The FinalizationRegistry safety net, registered late: register + unregister
  // cost ~0.6 µs, more than the rest of a small decode, and most short-lived
  // states are disposed in the job that made them. So a new state waits in
  // #fresh; at the end of the job (a microtask), or once 1024 wait, those not
  // yet disposed are registered. A state dropped before then is held by #fresh
  // until that point and registered there, so the net still catches it.
  static #fresh: Crdt<unknown>[] = [];
  static #queued = false;
  static #watchLater(c: Crdt<unknown>): void {
    const f = Crdt.#fresh;
    f.push(c);
    if (f.length >= 1024) Crdt.#watchFresh();
    else if (!Crdt.#queued) { Crdt.#queued = true; queueMicrotask(Crdt.#watchFresh); }
  }
  static #watchFresh(this: void): void {
    Crdt.#queued = false;
    const f = Crdt.#fresh;
    for (let i = 0; i < f.length; i++) {
      const c = f[i];
      const s = c._s;
      if (s.h !== 0 && s.watched === 0) { s.watched = 1; s.k.watch(c, s.h); }
    }
    f.length = 0;
  }

  protected get wasm(): Kernel { return this._s.k; }

  // The replica whose writes this state makes: the one it was made or decoded
  // with, else a random id chosen now (and given to the kernel), on the first
  // write or the first read of this getter. A random id costs a third of a
  // small decode, and most decoded states are only read.
  get replica(): string {
    const s = this._s;
    if (s.rep !== null) return s.rep;
    const r = randomReplica();
    if (s.h !== 0) s.k.withReplica("setReplica", r, EMPTY, s.h);
    s.rep = r;
    return r;
  }

  protected get handle(): number {
    const h = this._s.h;
    if (h === 0) throw new TrellisError("DISPOSED", `${specName(this.spec)} was disposed`);
    return h;
  }

  // Queues one encoded op; applies at once unless inside batch().
  protected op(write: (w: ByteWriter) => void): void {
    this.handle;
    if (this._s.rep === null) this.replica; // the kernel needs an id to write with
    const ops = this._s.ops ??= new ByteWriter(64);
    const mark = ops.pos;
    try { write(ops); } catch (e) { ops.pos = mark; throw e; }
    this._s.count++;
    if (this._s.levels === null || this._s.levels.length === 0) this.flush();
  }

  // Applies queued ops in one boundary crossing. The kernel validates the whole
  // batch first: on error nothing is applied and the queue is dropped. Inside
  // batch() (a read flushed early), each open level first takes a savepoint,
  // so a level that fails can still roll back what was applied.
  protected flush(): void {
    if (this._s.count === 0) return;
    if (this._s.levels !== null) for (const level of this._s.levels) if (level.savepoint === 0) level.savepoint = this._s.k.int("savepoint", this.handle);
    this.#applyQueued();
  }

  #applyQueued(): void {
    if (this._s.count === 0) return;
    const count = this._s.count;
    this._s.count = 0;
    const w = this._s.ops!;
    const n = w.pos;
    w.reset();
    this._s.k.apply(this.handle, count, w.buf, n);
  }

  // Runs fn with ops queued, then applies them all in one crossing. All or
  // nothing: if fn throws, none of its ops are applied, even those a read inside
  // fn applied early (reads inside fn see the ops made so far). Batches nest; a
  // failing inner batch caught by the outer one rolls back only its own ops.
  batch(fn: (self: this) => void): this {
    this.flush(); // ops queued so far belong to the enclosing level
    const level = { savepoint: 0 };
    const levels = this._s.levels ??= [];
    levels.push(level);
    try {
      fn(this);
      // The outermost level applies everything in one atomic kernel call; a
      // savepoint is needed only if a read inside fn applied ops early.
      if (levels.length === 1) this.#applyQueued();
    } catch (e) {
      this._s.ops?.reset();
      this._s.count = 0;
      if (level.savepoint !== 0) this._s.k.int("restore", this.handle, level.savepoint);
      level.savepoint = 0;
      throw e;
    } finally {
      levels.pop();
      if (level.savepoint !== 0) this._s.k.int("dispose", level.savepoint);
    }
    return this;
  }

  // The current handle with queued ops applied: what every read goes through.
  protected get h(): number { this.flush(); return this.handle; }

  protected checkSame(other: Crdt<unknown>): void {
    if (!(other instanceof Crdt)) throw new TypeError("expected a trellis type or encoded bytes");
    if (!sameSpec(this.spec, other.spec)) {
      throw new TrellisError("TYPE_MISMATCH", `${specName(this.spec)} vs ${specName(other.spec)}`);
    }
  }

  // this := this ⊔ other (an instance or an encoded state / delta-group).
  // Returns true if this grew. Bad bytes throw and change nothing.
  merge(other: Crdt<Q> | Uint8Array): boolean {
    if (other instanceof Uint8Array) return this._s.k.joinBytes(this.h, other) === 1;
    this.checkSame(other);
    if (other._s.k !== this._s.k) return this._s.k.call("joinBytes", other.encode(), this.h) === 1;
    return this._s.k.int("join", this.h, other.h) === 1;
  }

  // Runs f with a handle in this state's kernel holding other's state: other's
  // own, or a temporary decoded copy when other lives in another kernel.
  #local<R>(other: Crdt<Q>, f: (h: number) => R): R {
    this.checkSame(other);
    if (other._s.k === this._s.k) return f(other.h);
    const copy = decodeState(other.encode(), other.replica, this._s.k);
    try { return f(copy._s.h); } finally { copy.dispose(); }
  }

  // The delta-group of local ops since the last call (a state: merge it anywhere).
  takeDelta(): Uint8Array { return this._s.k.bytes("takeDelta", this.h); }

  // Canonical encoding: equal states give equal bytes.
  encode(): Uint8Array { return this._s.k.bytes("encode", this.h); }

  // this ⊑ other in the lattice order.
  leq(other: Crdt<Q>): boolean {
    return this.#local(other, (h) => this._s.k.int("leq", this.h, h) === 1);
  }

  equals(other: Crdt<Q>): boolean {
    this.checkSame(other);
    return equalBytes(this.encode(), other.encode());
  }

  get isBottom(): boolean { return this._s.k.int("isBottom", this.h) === 1; }

  // The part of this that inflates other: delta(this, other) ⊔ other = this ⊔ other.
  delta(other: Crdt<Q>): this {
    return this.wrap(this.#local(other, (h) => this._s.k.int("delta", this.h, h)));
  }

  // The join-irreducible parts of this.
  decompose(): this[] {
    const r = new ByteReader(this._s.k.bytes("decompose", this.h));
    const n = r.varint();
    const out: this[] = [];
    const rep = this._s.rep ?? undefined;
    for (let i = 0; i < n; i++) out.push(decodeState(r.bytes(), rep, this._s.k) as this);
    return out;
  }

  clone(replica: string = this.replica): this {
    const h = this._s.k.int("clone", this.h);
    if (replica === this.replica) return this.wrap(h);
    // A clone for another replica: re-decode under the new id.
    const bytes = this._s.k.bytes("encode", h);
    this._s.k.int("dispose", h);
    return decodeState(bytes, replica, this._s.k) as this;
  }

  // Frees the kernel state. Further use throws DISPOSED.
  dispose(): void {
    const s = this._s;
    if (s.h === 0) return;
    if (s.watched === 1) { s.watched = 0; s.k.unwatch(this); }
    s.k.int("dispose", s.h);
    s.h = 0;
  }

  [Symbol.dispose](): void { this.dispose(); }

  get disposed(): boolean { return this._s.h === 0; }

  // The user-visible value.
  abstract get value(): Q;

  protected queryReader(): ByteReader { return new ByteReader(this._s.k.bytes("query", this.h)); }

  protected wrap(h: number): this {
    return adoptOn(this._s.k, () => (this.constructor as unknown as CrdtClass).fromHandle(h, this.spec, this._s.rep ?? undefined) as this);
  }

  toJSON(): unknown { return this.value; }
}

// Checks that bytes decode to the expected type; used by each class's static decode.
export function decodeAs<T extends Crdt<unknown>>(bytes: Uint8Array, spec: TypeSpec | number, replica?: string): T {
  const x = decodeState(bytes, replica);
  const ok = typeof spec === "number" ? x.spec.tag === spec : sameSpec(x.spec, spec);
  if (!ok) {
    x.dispose();
    throw new TrellisError("TYPE_MISMATCH", `encoded ${specName(x.spec)} where ${typeof spec === "number" ? "#" + spec : specName(spec)} was expected`);
  }
  return x as T;
}
