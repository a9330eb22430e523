// Wires a dataflow runtime to a Store: recovers every stored variable into the
// runtime, then logs every delta the runtime emits and snapshots a variable
// every `snapshotEvery` deltas. An update may be acknowledged to its caller
// once `flushed()` (called after the update) resolves: it is durable then.
import { ByteReader, ByteWriter } from "../crdt/bytes.js";
import { readSpec, writeSpec, type TypeSpec } from "../crdt/spec.js";
import type { Store } from "./store.js";

export type VariableKind = "replicated" | "dynamic" | "derived";

// The part of host/dataflow's Runtime this module uses.
export interface PersistRuntime {
  declare(id: string, spec: TypeSpec): unknown;
  declareDynamic?(id: string, spec: TypeSpec): unknown;
  // Joins stored bytes into a dynamic variable (Runtime.bind takes only
  // replicated ones); needed to recover a stored dynamic variable.
  restore?(id: string, bytes: Uint8Array): unknown;
  variables(): { id: string; kind: VariableKind; spec?: TypeSpec }[];
  encode(id: string): Uint8Array;
  bind(id: string, bytes: Uint8Array, origin?: "local" | "remote"): Uint8Array | null;
  onDelta(fn: (id: string, delta: Uint8Array, origin: "local" | "remote") => void): () => void;
}

export interface PersistOptions {
  // Snapshot a variable after this many logged deltas (default 64).
  snapshotEvery?: number;
}

export interface Persisted {
  // Resolves once everything the runtime emitted so far is durable; rejects
  // if any write since the last call failed.
  flushed(): Promise<void>;
  // Variables recovered from the store on start.
  readonly recovered: string[];
  // Stops logging (the store stays open).
  stop(): void;
}

export function specBytes(spec: TypeSpec): Uint8Array {
  const w = new ByteWriter(16);
  writeSpec(w, spec);
  return w.finish();
}

export async function persist(rt: PersistRuntime, store: Store, opts: PersistOptions = {}): Promise<Persisted> {
  const every = opts.snapshotEvery ?? 64;
  if (!(every >= 1)) throw new RangeError("snapshotEvery must be at least 1");

  // 1. Recovery: declare what the runtime lacks, then join snapshot and deltas.
  const loaded = await store.load();
  const known = new Set(rt.variables().map((v) => v.id));
  const recovered: string[] = [];
  for (const [id, v] of loaded.vars) {
    if (v.kind === "derived") continue;
    const dynamic = v.kind === "dynamic";
    if (!known.has(id)) {
      const spec = readSpec(new ByteReader(v.spec));
      if (dynamic && rt.declareDynamic) rt.declareDynamic(id, spec); else rt.declare(id, spec);
    }
    if (dynamic && !rt.restore) {
      // Runtime.bind takes only replicated variables; refuse rather than
      // start with a dynamic variable silently reset to bottom.
      throw new TypeError(`persist: the store holds dynamic variable ${JSON.stringify(id)}, and this runtime has no restore(id, bytes) to join it back`);
    }
    const join = (b: Uint8Array) => { if (dynamic) rt.restore!(id, b); else rt.bind(id, b); };
    if (v.snapshot) join(v.snapshot);
    for (const d of v.deltas) join(d);
    recovered.push(id);
  }

  let failure: unknown = null;
  const fail = (e: unknown) => { failure ??= e; };
  const snapshotDue = new Set<string>();

  const ensureDeclared = (id: string): boolean => {
    if (store.isDeclared(id)) return true;
    const v = rt.variables().find((x) => x.id === id);
    if (!v || !v.spec || v.kind === "derived") return false;
    store.declare(id, specBytes(v.spec), v.kind).catch(fail);
    return true;
  };

  // 2. Variables the runtime had before we attached may hold updates the
  // store never saw: store their (now recovered and joined) state.
  for (const v of rt.variables()) {
    if (v.kind === "derived" || !v.spec || !known.has(v.id)) continue;
    ensureDeclared(v.id);
    store.snapshot(v.id, rt.encode(v.id)).catch(fail);
  }

  // 3. Every delta from now on. Snapshots are taken on a microtask, outside
  // the runtime's callback; the state then holds every delta logged before
  // it, which is all a snapshot must cover (a later one joined again is
  // harmless: joins are idempotent).
  const off = rt.onDelta((id, delta) => {
    if (!ensureDeclared(id)) return;
    store.append(id, delta).catch(fail);
    if (store.logLength(id) >= every && !snapshotDue.has(id)) {
      snapshotDue.add(id);
      queueMicrotask(() => {
        snapshotDue.delete(id);
        if (store.logLength(id) < every) return;
        try { store.snapshot(id, rt.encode(id)).catch(fail); } catch (e) { fail(e); }
      });
    }
  });

  return {
    recovered,
    async flushed() {
      await store.flushed().catch(fail);
      // The microtask that may queue a snapshot has run by now; it is not
      // needed for durability (the deltas are logged), so no second wait.
      if (failure !== null) { const e = failure; failure = null; throw e; }
    },
    stop: off,
  };
}

// A Runtime's `once` option (the enforceOnce actions already run) kept in the
// store's meta records, so an action that ran is not run again after a restart.
export function onceRecord(store: Store, prefix = "once:"): { has(key: string): boolean; add(key: string): Promise<void> } {
  return {
    has: (key) => store.meta.get(prefix + key) !== undefined,
    add: (key) => store.meta.put(prefix + key, new Uint8Array(0)),
  };
}
