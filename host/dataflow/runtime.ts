// The Lasp runtime of one replica: variables by id, monotone processes
// between them, threshold reads. Three kinds of variable:
//
//   replicated  declare(): a lattice every replica holds; updates and binds
//               emit deltas (onDelta) for replication to ship
//   dynamic     declareDynamic(): this node's own value, never replicated
//   derived     the output of a combinator, recomputed on every replica from
//               its inputs (so it needs no replication), read-only
//
// Every change is atomic: user functions run on the change's candidate
// elements first (a dry run), so one that throws leaves every state as it was.
import { Crdt, adoptOn, createHandle, decodeState } from "../crdt/base.js";
import { ByteReader, ByteWriter } from "../crdt/bytes.js";
import { Op } from "../crdt/map.js";
import { classOf } from "../crdt/registry.js";
import { Tag, TypeLike, TypeSpec, sameSpec, specName, toSpec } from "../crdt/spec.js";
import { Value, decodeValue, encodeValue } from "../crdt/value.js";
import { Kernel, kernel } from "../wasm/kernel.js";
import { TrellisError } from "../wasm/errors.js";
import { randomReplica } from "../crdt/base.js";
import { Flip, Item, ProvSet, Tokens, bytesKey } from "./provenance.js";
import { SET_TAGS, SetSource, removable } from "./sources.js";
import {
  FilterProcess, IntersectionProcess, JoinFoldProcess, MapProcess, Process,
  ProductProcess, SumProcess, UnionProcess,
} from "./combinators.js";
import { Readable, Threshold, thresholdCheck } from "./threshold.js";

export type Kind = "replicated" | "dynamic" | "derived";
export type Origin = "local" | "remote";

// An op: one of a class's static `ops` (`AWSet.ops.add("x")`), or a
// descriptor naming one (`{ add: "x" }`, `{ increment: 2 }`,
// `{ update: ["k", { increment: 1 }] }`), which is what travels as JSON.
export type OpLike = Op | { [name: string]: unknown };

// What an enforceOnce action writes: the command it needs (a capability
// command path, e.g. "/trellis/write/remove") on one variable.
export interface EffectWrite { variable: string; command: string }

// Trustless mode's gate on side effects: whether this node may do `command`
// on `variable` now. Return true to grant; false or a thrown error (the
// reason) to refuse. host/trust's authorityFor() makes one from capabilities;
// the dataflow layer knows nothing of keys or chains.
export interface WriteAuthority {
  mayWrite(variable: string, command: string): boolean | Promise<boolean>;
}

// Why an enforceOnce action did not run in trustless mode.
export interface EnforceRefusal {
  id: string;                 // the variable whose threshold was met
  key: string;                // the action's once-key
  writes: EffectWrite[];      // what it declared
  refused: (EffectWrite & { reason?: unknown })[]; // the writes not granted, with the authority's error if it threw
  message: string;
}

export interface RuntimeOptions {
  replica?: string;
  // Trusted mode: this node is the one designated to run enforceOnce actions.
  // Ignored when `authority` is given.
  trusted?: boolean;
  // Trustless mode: an enforceOnce action runs on this node only if the
  // authority grants every write it declares (`writes`); the capability is
  // the designation. Derived variables are local-only in either mode.
  authority?: WriteAuthority;
  // Trustless mode: told when an action's threshold was met but the
  // authority refused its writes (enforceOnce resolves false).
  onRefused?: (r: EnforceRefusal) => void;
  // Durable record of enforceOnce actions already run (survives restarts).
  once?: { has(key: string): boolean | Promise<boolean>; add(key: string): void | Promise<void> };
  // Errors no caller can catch (a subscriber or an enforceOnce action threw).
  onError?: (e: unknown) => void;
  kernel?: Kernel;
}

export interface ReadOptions { strict?: boolean; signal?: AbortSignal }
export interface VariableInfo { id: string; kind: Kind; spec?: TypeSpec; inputs?: string[] }

interface Waiter { check: () => boolean; done: (value: unknown) => void; fail: (e: unknown) => void }

interface Var {
  id: string;
  kind: Kind;
  spec?: TypeSpec;
  crdt?: Crdt<unknown>;        // kernel-backed: replicated, dynamic, fold into a lattice
  prov?: ProvSet;              // provenance view: derived sets, and kernel sets that feed combinators
  source?: SetSource;          // kernel sets that feed combinators
  sum?: SumProcess;            // fold into a counter
  removable: boolean;          // can elements leave (sets)
  process?: Process;           // what computes it (derived)
  out: Process[];              // processes reading it
  binds: string[];             // bindTo / foldDynamic targets
  waiters: Set<Waiter>;
  subs: Set<(value: unknown, id: string) => void>;
}

export class Runtime {
  readonly replica: string;
  readonly trusted: boolean;
  #authority: WriteAuthority | undefined;
  #onRefused: ((r: EnforceRefusal) => void) | undefined;
  #k: Kernel;
  #vars = new Map<string, Var>();
  #tokens = new Tokens();
  #deltaFns = new Set<(id: string, delta: Uint8Array, origin: Origin) => void>();
  #declareFns = new Set<(id: string, spec: TypeSpec, kind: Kind) => void>();
  #once: RuntimeOptions["once"];
  #onceLocal = new Set<string>();
  #onError: (e: unknown) => void;
  #changed = new Set<Var>();
  #closed = false;

  constructor(o: RuntimeOptions = {}) {
    this.replica = o.replica ?? randomReplica();
    this.trusted = o.trusted ?? false;
    if (o.authority !== undefined && typeof o.authority?.mayWrite !== "function") throw new TypeError("authority needs a mayWrite(variable, command) function");
    this.#authority = o.authority;
    this.#onRefused = o.onRefused;
    this.#k = o.kernel ?? kernel();
    this.#once = o.once;
    this.#onError = o.onError ?? ((e) => { queueMicrotask(() => { throw e; }); });
  }

  // ---- declaring -------------------------------------------------------

  // A replicated variable. Declaring it again with the same type is a no-op.
  declare(id: string, type: TypeLike): this { this.#declareKernel(id, type, "replicated"); return this; }

  // A per-node variable: updated and read here, never replicated.
  declareDynamic(id: string, type: TypeLike): this { this.#declareKernel(id, type, "dynamic"); return this; }

  #declareKernel(id: string, type: TypeLike, kind: Kind): Var {
    this.#open();
    checkId(id);
    const spec = toSpec(type);
    const old = this.#vars.get(id);
    if (old) {
      if (old.kind !== kind) throw new TrellisError("PRECONDITION", `${id} is already declared as ${old.kind}`);
      if (!sameSpec(old.spec!, spec)) throw new TrellisError("TYPE_MISMATCH", `${id} is ${specName(old.spec!)}, not ${specName(spec)}`);
      return old;
    }
    const crdt = this.#make(spec); // validates the spec
    const v = this.#add({ id, kind, spec, crdt, removable: SET_TAGS.has(spec.tag) && removable(spec.tag) });
    for (const f of this.#declareFns) f(id, spec, kind);
    return v;
  }

  #make(spec: TypeSpec): Crdt<unknown> {
    const h = createHandle(spec, this.replica, this.#k);
    return adoptOn(this.#k, () => classOf(spec).fromHandle(h, spec, this.replica));
  }

  #add(v: Omit<Var, "out" | "binds" | "waiters" | "subs">): Var {
    const full: Var = { ...v, out: [], binds: [], waiters: new Set(), subs: new Set() };
    this.#vars.set(v.id, full);
    return full;
  }

  has(id: string): boolean { return this.#vars.has(id); }

  // The kernel this runtime's states live in (replication computes on it too).
  get kernel(): Kernel { return this.#k; }

  variables(): VariableInfo[] {
    return [...this.#vars.values()].map((v) => ({ id: v.id, kind: v.kind, spec: v.spec, inputs: v.process?.inputs }));
  }

  // Trustless mode: enforceOnce actions are gated by an authority.
  get trustless(): boolean { return this.#authority !== undefined; }

  // Whether `id` is a derived variable (a combinator's output). A derived
  // variable is computed on each node from its inputs and is local-only: it
  // is never shipped, and replication must never accept it from a peer (in
  // trustless mode a peer's value for it would bypass admission of the
  // inputs). False for unknown ids; never throws, for replication's use on
  // ids that peers name.
  isDerived(id: string): boolean {
    return this.#vars.get(id)?.kind === "derived";
  }

  // The ids of the derived variables, in declaration order.
  derived(): string[] {
    return [...this.#vars.values()].filter((v) => v.kind === "derived").map((v) => v.id);
  }

  spec(id: string): TypeSpec | undefined { return this.#var(id).spec; }
  kind(id: string): Kind { return this.#var(id).kind; }

  #var(id: string): Var {
    this.#open();
    const v = this.#vars.get(id);
    if (!v) throw new TrellisError("NOT_FOUND", `no variable ${JSON.stringify(id)}`);
    return v;
  }

  // ---- combinators -----------------------------------------------------

  // out = { fn(x) | x ∈ input }
  map(out: string, input: string, fn: (x: any) => Value): this {
    fnArg(fn, "map");
    const src = this.#setInput(input, out);
    return this.#derive(new MapProcess(out, input, fn), src.removable);
  }

  // out = { x ∈ input | pred(x) }
  filter(out: string, input: string, pred: (x: any) => unknown): this {
    fnArg(pred, "filter");
    const src = this.#setInput(input, out);
    return this.#derive(new FilterProcess(out, input, pred), src.removable);
  }

  // out = a ∪ b ∪ …
  union(out: string, ...inputs: string[]): this {
    if (inputs.length < 2) throw new TypeError("union needs at least two inputs");
    const srcs = inputs.map((i) => this.#setInput(i, out));
    return this.#derive(new UnionProcess(out, inputs, this.#tokens), srcs.some((s) => s.removable));
  }

  // out = { [x, y] | x ∈ a, y ∈ b }
  product(out: string, a: string, b: string): this {
    const [sa, sb] = [this.#setInput(a, out), this.#setInput(b, out)];
    return this.#derive(new ProductProcess(out, a, b, this.#tokens, (s) => (s === 0 ? sa : sb).prov!), sa.removable || sb.removable);
  }

  // out = a ∩ b
  intersection(out: string, a: string, b: string): this {
    const [sa, sb] = [this.#setInput(a, out), this.#setInput(b, out)];
    return this.#derive(new IntersectionProcess(out, a, b, this.#tokens, (s) => (s === 0 ? sa : sb).prov!), sa.removable || sb.removable);
  }

  // Folds a set into a lattice.
  //   into GCounter / PNCounter: the value is Σ fn(x) over the present
  //     elements (fn returns a safe integer). Removals subtract again, the
  //     group inverse Lasp's fold needs; so a GCounter (no inverse) accepts
  //     only inputs that never remove.
  //   into any other type: fn(x) returns an op of that type, applied once for
  //     each element that appears (a join of contributions); inputs must be
  //     grow-only, since a lattice without an inverse cannot forget one.
  fold(out: string, input: string, into: TypeLike, fn: (x: any) => number | OpLike): this {
    fnArg(fn, "fold");
    const spec = toSpec(into);
    const src = this.#setInput(input, out);
    if (spec.tag === Tag.PNCounter || spec.tag === Tag.GCounter) {
      if (spec.tag === Tag.GCounter && src.removable) {
        throw new TrellisError("PRECONDITION", `${out}: ${input} can remove elements and a GCounter cannot go down; fold into PNCounter`);
      }
      const p = new SumProcess(out, input, fn as (x: Value) => number, spec.tag === Tag.GCounter);
      return this.#derive(p, false, { spec, sum: p });
    }
    if (src.removable) {
      throw new TrellisError("PRECONDITION", `${out}: folding ${input}, which can remove elements, needs a group (fold into PNCounter)`);
    }
    const crdt = this.#make(spec);
    const p = new JoinFoldProcess<Op>(out, input, (x) => toOp(spec, (fn as (x: Value) => OpLike)(x)), (op) => { op(new ByteWriter(16)); },
      (op) => { applyOps(crdt, [op]); this.#changed.add(this.#vars.get(out)!); });
    return this.#derive(p, false, { spec, crdt });
  }

  // dst := dst ⊔ src, now and after every change of src (same type).
  bindTo(dst: string, src: string): this {
    const [d, s] = [this.#var(dst), this.#var(src)];
    if (!d.crdt || d.kind === "derived") throw new TrellisError("PRECONDITION", `${dst} must be a replicated or dynamic variable`);
    if (!s.crdt) throw new TrellisError("PRECONDITION", `${src} is derived; bindTo needs a lattice-typed source`);
    if (!sameSpec(d.spec!, s.spec!)) throw new TrellisError("TYPE_MISMATCH", `${dst} is ${specName(d.spec!)}, ${src} is ${specName(s.spec!)}`);
    if (dst === src || this.#reaches(dst, src)) throw new TrellisError("PRECONDITION", `bindTo ${dst} <- ${src} would make a cycle`);
    s.binds.push(dst);
    this.#transact(() => this.#joinInto(d, s.crdt!.encode(), "local"));
    return this;
  }

  // Combines a dynamic variable across nodes: dst is a replicated variable of
  // the same type into which every node joins its own dynamic value (e.g. a
  // local top-K per device -> the global top-K).
  foldDynamic(dst: string, src: string): this {
    const s = this.#var(src);
    if (s.kind !== "dynamic") throw new TrellisError("PRECONDITION", `${src} is ${s.kind}, not dynamic`);
    this.declare(dst, s.spec!);
    return this.bindTo(dst, src);
  }

  #reaches(from: string, to: string): boolean {
    const v = this.#vars.get(from)!;
    return v.binds.some((b) => b === to || this.#reaches(b, to)) || v.out.some((p) => p.output === to || this.#reaches(p.output, to));
  }

  // A set variable as a combinator input: gives kernel sets their provenance view.
  #setInput(id: string, out: string): Var {
    const v = this.#var(id);
    if (this.#vars.has(out)) throw new TrellisError("PRECONDITION", `${out} is already declared`);
    checkId(out);
    if (v.prov) return v;
    if (!v.crdt || !SET_TAGS.has(v.spec!.tag)) {
      throw new TrellisError("TYPE_MISMATCH", `${id} is ${v.spec ? specName(v.spec) : "a fold result"}; combinators read sets (GSet, TwoPSet, AWSet, ORSet or derived)`);
    }
    v.source = new SetSource(v.spec!, this.#tokens);
    v.prov = new ProvSet();
    v.prov.join(v.source.read(v.crdt.encode()));
    return v;
  }

  #derive(p: Process, removable: boolean, extra: Partial<Var> = {}): this {
    const inputs = p.inputs.map((i) => this.#vars.get(i)!);
    // Compute the initial state first: a user function that throws leaves nothing declared.
    const initial = inputs.map((v) => [...v.prov!.items()]);
    inputs.forEach((_, side) => p.push(side, initial[side], null, true));
    p.endDry();
    const out = this.#add({ id: p.output, kind: "derived", removable, process: p, prov: extra.sum || extra.crdt ? undefined : new ProvSet(), ...extra });
    inputs.forEach((v, side) => {
      v.out.push(p);
      this.#transact(() => {
        const flips: Flip[] = [];
        const items = [...v.prov!.items()];
        for (const key of v.prov!.entries.keys()) if (v.prov!.has(key)) flips.push({ key, value: v.prov!.entries.get(key)!.value, live: true });
        this.#feed(p, side, items, flips);
      });
    });
    this.#changed.add(out);
    this.#notify();
    return this;
  }

  // ---- changing --------------------------------------------------------

  // Applies ops to a replicated or dynamic variable; returns the delta-group.
  update(id: string, op: OpLike | OpLike[]): Uint8Array {
    const v = this.#var(id);
    if (v.kind === "derived") throw new TrellisError("PRECONDITION", `${id} is derived from ${v.process!.inputs.join(", ")}; update its inputs`);
    const ops = (Array.isArray(op) ? op : [op]).map((o) => toOp(v.spec!, o));
    if (this.#feeds(v)) {
      const w = new ByteWriter(64);
      for (const o of ops) o(w);
      this.#dry(v, candidatesFromOps(v.spec!.tag, w.finish()));
    }
    applyOps(v.crdt!, ops); // the kernel validates the batch: all or nothing
    const delta = v.crdt!.takeDelta();
    this.#transact(() => this.#commit(v, delta, "local"));
    return delta;
  }

  // Joins a state or delta-group (bytes or an instance) into a replicated
  // variable; returns the part that was new (null if none). Bad bytes throw
  // and change nothing.
  bind(id: string, state: Uint8Array | Crdt<unknown>, origin: Origin = "remote"): Uint8Array | null {
    const v = this.#var(id);
    if (v.kind !== "replicated") throw new TrellisError("PRECONDITION", `${id} is ${v.kind}; only replicated variables take binds`);
    let d: Uint8Array | null = null;
    this.#transact(() => { d = this.#joinInto(v, state instanceof Crdt ? state.encode() : state, origin); });
    return d;
  }

  // Recovery from storage: joins a stored state into a replicated or dynamic
  // variable, propagating like any change but emitting no onDelta (the store
  // has it already; replication catches neighbours up by itself).
  restore(id: string, state: Uint8Array): void {
    const v = this.#var(id);
    if (v.kind === "derived") throw new TrellisError("PRECONDITION", `${id} is derived; it is recomputed, not restored`);
    this.#transact(() => { this.#joinInto(v, state, "local", false); });
  }

  // dst ⊔= bytes; returns the strict inflation.
  #joinInto(v: Var, bytes: Uint8Array, origin: Origin, emit = true): Uint8Array | null {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("bind expects a Uint8Array or a trellis state");
    const incoming = decodeState(bytes, this.replica, this.#k);
    try {
      if (!sameSpec(incoming.spec, v.spec!)) throw new TrellisError("TYPE_MISMATCH", `${v.id} is ${specName(v.spec!)}, got ${specName(incoming.spec)}`);
      const d = incoming.delta(v.crdt!);
      try {
        if (d.isBottom) return null;
        const db = d.encode();
        if (this.#feeds(v) && SET_TAGS.has(v.spec!.tag)) this.#dry(v, (v.source ?? new SetSource(v.spec!, this.#tokens)).read(db, false));
        v.crdt!.merge(d);
        this.#commit(v, db, origin, emit);
        return db;
      } finally { d.dispose(); }
    } finally { incoming.dispose(); }
  }

  // After a kernel variable grew by delta: propagate, tell replication, bind onward.
  #commit(v: Var, delta: Uint8Array, origin: Origin, emit = true): void {
    this.#changed.add(v);
    if (v.prov) {
      const flips: Flip[] = [];
      const items = v.prov.join(v.source!.read(delta), flips);
      this.#propagate(v, items, flips);
    }
    if (emit) for (const f of this.#deltaFns) f(v.id, delta, origin);
    for (const b of v.binds) this.#joinInto(this.#vars.get(b)!, delta, "local");
  }

  #propagate(v: Var, items: Item[], flips: Flip[]): void {
    if (items.length === 0) return;
    for (const p of v.out) p.inputs.forEach((i, side) => { if (i === v.id) this.#feed(p, side, items, flips); });
  }

  #feed(p: Process, side: number, items: Item[], flips: Flip[]): void {
    const out = this.#vars.get(p.output)!;
    const produced = p.push(side, items, flips, false);
    if (out.sum) { if (flips.length > 0) this.#changed.add(out); return; }
    if (!out.prov) return; // fold into a lattice: the process applied its ops
    const f2: Flip[] = [];
    const eff = out.prov.join(produced, f2);
    if (eff.length > 0) { this.#changed.add(out); this.#propagate(out, eff, f2); }
  }

  // Whether a change of v reaches any process (directly or through bindTo).
  #feeds(v: Var): boolean {
    return v.out.length > 0 || v.binds.some((b) => this.#feeds(this.#vars.get(b)!));
  }

  // The dry run: every user function downstream of v meets the candidate
  // items (a superset of what the change will bring) before anything changes.
  #dry(v: Var, items: Item[]): void {
    const touched = new Set<Process>();
    const walk = (w: Var, its: Item[]): void => {
      if (its.length === 0) return;
      for (const p of w.out) {
        p.inputs.forEach((i, side) => {
          if (i !== w.id) return;
          touched.add(p);
          const produced = p.push(side, its, null, true);
          const out = this.#vars.get(p.output)!;
          if (out.prov) walk(out, produced);
        });
      }
      for (const b of w.binds) walk(this.#vars.get(b)!, its); // a bound target gets the same elements
    };
    try { walk(v, items); } finally { for (const p of touched) p.endDry(); }
  }

  // Runs a change, then wakes reads and subscribers of what changed.
  #transact(fn: () => void): void {
    try { fn(); } finally { this.#notify(); }
  }

  #notify(): void {
    const changed = [...this.#changed];
    this.#changed.clear();
    for (const v of changed) {
      for (const w of [...v.waiters]) {
        let ok = false;
        try { ok = w.check(); } catch (e) { this.#onError(e); }
        if (ok) { v.waiters.delete(w); w.done(this.#value(v)); }
      }
      if (v.subs.size > 0) {
        const value = this.#value(v);
        for (const s of [...v.subs]) { try { s(value, v.id); } catch (e) { this.#onError(e); } }
      }
    }
  }

  // ---- reading ---------------------------------------------------------

  query(id: string): unknown { return this.#value(this.#var(id)); }

  #value(v: Var): unknown {
    if (v.crdt) return v.crdt.value;
    if (v.sum) return v.sum.sum;
    return v.prov!.values();
  }

  // The state of a kernel-backed variable (read it; change it through the runtime).
  state(id: string): Crdt<unknown> {
    const v = this.#var(id);
    if (!v.crdt) throw new TrellisError("PRECONDITION", `${id} is derived and has no lattice state of its own`);
    return v.crdt;
  }

  encode(id: string): Uint8Array { return this.state(id).encode(); }

  // The provenance view of a set variable that feeds or is a combinator
  // (elements with their tokens): for tests, debugging and law checks.
  provenance(id: string): ProvSet {
    const v = this.#var(id);
    if (!v.prov) throw new TrellisError("PRECONDITION", `${id} has no provenance view (not a set read by a combinator)`);
    return v.prov;
  }

  #readable(v: Var): Readable {
    return {
      id: v.id,
      crdt: v.crdt,
      value: () => this.#value(v),
      size: () => {
        if (v.prov && !v.crdt) return v.prov.size;
        const c = v.crdt as unknown as { size?: number } | undefined;
        return c && typeof c.size === "number" && v.spec!.tag !== Tag.TopK ? c.size : undefined;
      },
      has: (x: Value) => {
        if (v.prov && !v.crdt) return v.prov.has(bytesKey(encodeValue(x)));
        if (v.crdt && SET_TAGS.has(v.spec!.tag)) return (v.crdt as unknown as { has(x: Value): boolean }).has(x);
        return undefined;
      },
    };
  }

  // Resolves with the value once the variable reaches the threshold (never
  // polls: checked after each change). Rejects with the signal's reason when aborted.
  read(id: string, threshold: Threshold, o: ReadOptions = {}): Promise<unknown> {
    return this.readAny([[id, threshold]], o).then((r) => r.value);
  }

  // The first of several reads to be satisfied.
  readAny(reads: [string, Threshold][], o: ReadOptions = {}): Promise<{ id: string; value: unknown }> {
    if (!Array.isArray(reads) || reads.length === 0) return Promise.reject(new TypeError("readAny needs [id, threshold] pairs"));
    let checks: { v: Var; check: () => boolean }[];
    try {
      checks = reads.map(([id, t]) => { const v = this.#var(id); return { v, check: thresholdCheck(this.#readable(v), t, !!o.strict) }; });
    } catch (e) { return Promise.reject(e); }
    const signal = o.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    for (const { v, check } of checks) if (check()) return Promise.resolve({ id: v.id, value: this.#value(v) });
    return new Promise((resolve, reject) => {
      const waiters: [Var, Waiter][] = [];
      const cleanup = (): void => { for (const [v, w] of waiters) v.waiters.delete(w); signal?.removeEventListener("abort", onAbort); };
      const onAbort = (): void => { cleanup(); reject(abortReason(signal!)); };
      for (const { v, check } of checks) {
        const w: Waiter = { check, done: (value) => { cleanup(); resolve({ id: v.id, value }); }, fail: (e) => { cleanup(); reject(e); } };
        waiters.push([v, w]);
        v.waiters.add(w);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  // fn(value, id) after every change of the variable. Returns unsubscribe.
  subscribe(id: string, fn: (value: any, id: string) => void): () => void {
    fnArg(fn, "subscribe");
    const v = this.#var(id);
    v.subs.add(fn);
    return () => { v.subs.delete(fn); };
  }

  // When the threshold is met, the designated node runs fn once (the others
  // do nothing). Designated: in trusted mode the runtime made with `trusted:
  // true`; in trustless mode (an `authority`) every node the authority grants
  // all of `o.writes`, the writes fn will make (checked when the threshold is
  // met, so a revocation before then stops it). In trustless mode an action
  // without `writes` is refused at once (PRECONDITION): an undeclared side
  // effect cannot be authorised. "Once" holds across restarts when the
  // runtime has a durable `once` store: the action is recorded before it
  // runs, so a crash while it runs means it is not run again (at most once;
  // exactly once otherwise). A refused action is not recorded.
  // Resolves true if this node ran fn; false if it is not designated (a
  // trustless refusal is also reported to onRefused), the action already
  // ran, or the runtime closed first; rejects if the signal aborts or fn throws.
  async enforceOnce(
    id: string, threshold: Threshold, fn: () => unknown,
    o: { key?: string; signal?: AbortSignal; writes?: EffectWrite[]; onRefused?: (r: EnforceRefusal) => void } = {},
  ): Promise<boolean> {
    fnArg(fn, "enforceOnce");
    const writes = checkWrites(o.writes);
    const authority = this.#authority;
    if (authority && writes.length === 0) {
      throw new TrellisError("PRECONDITION", `enforceOnce on ${JSON.stringify(id)} in trustless mode needs { writes: [{ variable, command }] }: an undeclared side effect cannot be authorised`);
    }
    const key = o.key ?? `${id}\u0000${thresholdKey(threshold)}`;
    const reached = this.read(id, threshold, { signal: o.signal });
    if (!authority && !this.trusted) { reached.catch(() => {}); return false; }
    try { await reached; } catch (e) {
      if (e instanceof TrellisError && e.code === "DISPOSED") return false; // closed before the threshold
      throw e;
    }
    // Claimed before the first await, so two calls with one key cannot both run.
    if (this.#onceLocal.has(key)) return false;
    this.#onceLocal.add(key);
    try {
      if (this.#once && await this.#once.has(key)) return false;
      if (authority) {
        const refused = await askAuthority(authority, writes);
        if (refused.length > 0) {
          this.#onceLocal.delete(key); // not run: a later call (or restart) with the capability may run it
          const r: EnforceRefusal = {
            id, key, writes, refused,
            message: `enforceOnce on ${JSON.stringify(id)} not run: this node may not ${refused.map((w) => `${w.command} on ${JSON.stringify(w.variable)}${w.reason !== undefined ? ` (${reasonText(w.reason)})` : ""}`).join(", ")}`,
          };
          const report = o.onRefused ?? this.#onRefused;
          if (report) { try { report(r); } catch (e) { this.#onError(e); } }
          return false;
        }
      }
      if (this.#once) await this.#once.add(key);
    } catch (e) {
      this.#onceLocal.delete(key);
      throw e;
    }
    await fn();
    return true;
  }

  // ---- replication hooks -----------------------------------------------

  // fn(id, delta, origin) after every inflation of a replicated or dynamic
  // variable (dynamic ones are for storage; replication ships only replicated).
  onDelta(fn: (id: string, delta: Uint8Array, origin: Origin) => void): () => void {
    this.#deltaFns.add(fn);
    return () => { this.#deltaFns.delete(fn); };
  }

  // fn(id, spec, kind) when a replicated or dynamic variable is declared, so a
  // declaration can travel before the variable's first change (replication
  // ships its bottom state, whose header names the type).
  onDeclare(fn: (id: string, spec: TypeSpec, kind: Kind) => void): () => void {
    this.#declareFns.add(fn);
    return () => { this.#declareFns.delete(fn); };
  }

  #open(): void { if (this.#closed) throw new TrellisError("DISPOSED", "runtime is closed"); }

  // Frees every state; pending reads reject with DISPOSED.
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const v of this.#vars.values()) {
      v.crdt?.dispose();
      for (const w of [...v.waiters]) w.fail(new TrellisError("DISPOSED", "runtime closed"));
    }
  }
}

// ---- helpers -------------------------------------------------------------

function checkId(id: string): void {
  if (typeof id !== "string" || id.length === 0) throw new TypeError("a variable id is a non-empty string");
}

function fnArg(fn: unknown, what: string): void {
  if (typeof fn !== "function") throw new TypeError(`${what} needs a function`);
}

function abortReason(s: AbortSignal): unknown {
  return s.reason ?? new TrellisError("ABORTED", "read aborted");
}

// A capability command path (host/trust/ucan.ts's rule; the dataflow layer does not import trust).
const COMMAND_PATH = /^\/(?:[a-z0-9_-]+(?:\/[a-z0-9_-]+)*)?$/;

// enforceOnce's `writes`: a list of { variable, command } (command a path like
// "/trellis/write/remove"); a copy, so a caller changing it later changes nothing.
function checkWrites(w: unknown): EffectWrite[] {
  if (w === undefined) return [];
  if (!Array.isArray(w)) throw new TypeError("enforceOnce writes is a list of { variable, command }");
  return w.map((x: unknown) => {
    const { variable, command } = (x ?? {}) as Partial<EffectWrite>;
    if (typeof variable !== "string" || variable.length === 0) throw new TypeError("a write names a variable (a non-empty string)");
    if (typeof command !== "string" || command.length > 128 || !COMMAND_PATH.test(command)) throw new TypeError(`a write's command is a path like "/trellis/write/remove", got ${JSON.stringify(String(command)).slice(0, 60)}`);
    return { variable, command };
  });
}

// The writes the authority does not grant. Asked one by one, in order; a
// throw or rejection refuses that write with the error as its reason.
async function askAuthority(a: WriteAuthority, writes: EffectWrite[]): Promise<(EffectWrite & { reason?: unknown })[]> {
  const refused: (EffectWrite & { reason?: unknown })[] = [];
  for (const w of writes) {
    let ok: unknown = false;
    let reason: unknown;
    try { ok = await a.mayWrite(w.variable, w.command); } catch (e) { reason = e; }
    if (ok !== true) refused.push(reason === undefined ? { ...w } : { ...w, reason });
  }
  return refused;
}

function reasonText(r: unknown): string {
  return String(r instanceof Error ? r.message : r).slice(0, 200);
}

function thresholdKey(t: Threshold): string {
  if (t instanceof Uint8Array) return bytesKey(t);
  if (t instanceof Crdt) return bytesKey(t.encode());
  return JSON.stringify(t);
}



// Crdt.op is the queue every typed mutator goes through; the runtime feeds
// ops into it directly, in one batch (all or nothing).
function applyOps(c: Crdt<unknown>, ops: Op[]): void {
  c.batch((s) => { for (const o of ops) (s as unknown as { op(o: Op): void }).op(o); });
}

// A descriptor `{ name: args }` -> the type's static ops[name](...args), with
// nested descriptors (maps' update, Pair's first/second) converted too.
export function toOp(spec: TypeSpec, o: OpLike): Op {
  if (typeof o === "function") return o as Op;
  if (o === null || typeof o !== "object" || Array.isArray(o)) throw new TypeError("an op is a static op (e.g. AWSet.ops.add(x)) or a descriptor like { add: x }");
  const names = Object.keys(o);
  if (names.length !== 1) throw new TypeError(`an op descriptor has exactly one key, got ${JSON.stringify(names)}`);
  const name = names[0];
  const ops = (classOf(spec) as unknown as { ops?: Record<string, (...a: unknown[]) => Op> }).ops;
  const make = ops && Object.hasOwn(ops, name) ? ops[name] : undefined;
  if (!make) throw new TypeError(`${specName(spec)} has no op ${JSON.stringify(name)}${ops ? ` (ops: ${Object.keys(ops).join(", ")})` : ""}`);
  const raw = (o as Record<string, unknown>)[name];
  const args = Array.isArray(raw) ? [...raw] : raw === undefined ? [] : [raw];
  if ((spec.tag === Tag.GMap || spec.tag === Tag.AWMap) && name === "update") args[1] = toOp(spec.value!, args[1] as OpLike);
  if (spec.tag === Tag.Pair && (name === "first" || name === "second")) args[0] = toOp(name === "first" ? spec.a! : spec.b!, args[0] as OpLike);
  return make(...args);
}

// The elements a set op names (adds and removes): the candidates of a dry run.
function candidatesFromOps(tag: number, ops: Uint8Array): Item[] {
  if (!SET_TAGS.has(tag)) return [];
  const r = new ByteReader(ops);
  const out: Item[] = [];
  while (!r.done) {
    const code = r.u8();
    if (code === 2) continue; // AWSet clear: removes only what was already seen
    const b = r.bytes();
    out.push({ key: bytesKey(b), value: decodeValue(b), token: -1, removed: code === 1 });
  }
  return out;
}
