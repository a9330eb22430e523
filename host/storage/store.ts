// A durable delta log plus snapshots over any abstract-level database
// (classic-level on Node, browser-level in browsers, memory-level in tests).
// Layout and framing: docs/storage.md and ./format.ts.
//
// Durability: every write goes through one queue. Writes made while a batch is
// being written wait for the next batch (group commit); a batch is written
// with `sync: true` and each caller's promise resolves only after its batch
// is durable, so an update may be acknowledged once its promise resolves.
import type { AbstractLevel } from "abstract-level";
import { StorageError } from "./errors.js";
import {
  HEADER_KEY, SEAL_KEY, P_DECL, P_ENV, P_HEADER, P_LOG, P_META, P_SNAP, FORMAT_VERSION,
  frame, unframe, seqKey, keySeq, nameKey, keyName, utf8, fromUtf8,
} from "./format.js";

// Any abstract-level database; the store passes its own (binary) encodings.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LevelDb = AbstractLevel<any, any, any>;

export interface StoreOptions {
  // What a CORRUPT record does on open/load: "throw" (default) stops with a
  // StorageError naming the record; "skip" leaves the record out, reports it
  // (onCorrupt callback and `corrupt` in load()) and loads the rest.
  onCorrupt?: "throw" | "skip";
  onCorruptRecord?: (err: StorageError) => void;
  // Pass `sync: true` to the database (fsync on classic-level). Default true;
  // turning it off gives up durability across power loss (not process crash).
  sync?: boolean;
  // Detects acknowledged writes the database lost (a truncated LevelDB
  // write-ahead log replays without error). Every batch then also puts its
  // number under SEAL_KEY, and once the batch is durable the mark records
  // that number (durably) before any caller is acknowledged; on open a mark
  // above the stored seal means acknowledged batches are gone: CORRUPT.
  // openNodeStore passes a file beside the database.
  ackMark?: AckMark;
}

// A durable record, kept outside the database, of the last batch acknowledged.
export interface AckMark {
  // The last batch number written, or null when there is none (a store made
  // before marks existed, or a mark that cannot be read): then nothing is checked.
  read(): Promise<number | null>;
  // Records `batch`; resolves once it is durable (when `sync`).
  write(batch: number, sync: boolean): Promise<void>;
  close(): Promise<void>;
  // How to accept a reported loss and start anyway (appended to the error).
  readonly recovery?: string;
}

export interface LoadedVar {
  spec: Uint8Array;
  kind: string;
  snapshot?: Uint8Array;
  deltas: Uint8Array[];   // after the snapshot, in append order
}

export interface Loaded {
  vars: Map<string, LoadedVar>;
  // Signed envelopes (trustless mode, host/trust/sync.ts), in the order they
  // were appended. A corrupt one is always skipped and reported (never fatal,
  // whatever onCorrupt says): peers hold it and catch-up brings it back.
  envelopes: Uint8Array[];
  envelopeKeys: WeakMap<Uint8Array, Uint8Array>; // each envelope's record key (replaceEnvelopes)
  meta: Map<string, Uint8Array>;
  corrupt: StorageError[]; // records left out ("skip" mode only)
}

export interface StoreStats {
  batches: number;   // database batches written
  records: number;   // puts and deletes in them
}

type Op = { type: "put"; key: Uint8Array; value: Uint8Array } | { type: "del"; key: Uint8Array };
type Waiter = { resolve: () => void; reject: (e: unknown) => void };

interface VarIndex {
  spec: Uint8Array;
  kind: string;
  logs: number[];   // sequence numbers of live log records, ascending
  snap?: number;    // sequence number of the live snapshot
}

const ENC = { keyEncoding: "view", valueEncoding: "view" } as const;

export class Store {
  readonly stats: StoreStats = { batches: 0, records: 0 };
  private index = new Map<string, VarIndex>();
  private metaCache = new Map<string, Uint8Array>();
  private nextSeq = 1;
  private pending: Op[] = [];
  private waiters: Waiter[] = [];
  private writing = false;
  private scheduled = false;
  private closed = false;
  private recovered: Loaded | null;
  private readonly sync: boolean;
  private batchNo = 0;   // the last batch number put under SEAL_KEY (with an ack mark)

  private constructor(readonly db: LevelDb, private readonly opts: StoreOptions, loaded: Loaded) {
    this.sync = opts.sync ?? true;
    this.recovered = loaded;
  }

  // Opens (creating if empty) and recovers: checks every record, finishes an
  // interrupted compaction, and keeps the result for the first load().
  static async open(db: LevelDb, opts: StoreOptions = {}): Promise<Store> {
    if (db.status === "opening" || db.status === "closed") await db.open();
    const scan = await scanDb(db, opts);
    const store = new Store(db, opts, scan.loaded);
    store.index = scan.index;
    store.metaCache = new Map(scan.loaded.meta);
    store.nextSeq = scan.maxSeq + 1;
    store.batchNo = scan.seal;
    store.recoveredEnvelopes = scan.loaded.envelopes;
    store.envelopeKeys = scan.loaded.envelopeKeys;
    store.envelopeCount = scan.loaded.envelopes.length;
    if (opts.ackMark) await checkMark(opts.ackMark, scan, opts, store.sync);
    const ops: Op[] = scan.stale.map((key) => ({ type: "del", key }));
    if (!scan.hasHeader) ops.push({ type: "put", key: HEADER_KEY, value: frame(HEADER_KEY, () => {}) });
    if (ops.length) await store.write(ops);
    return store;
  }

  // Records a variable's type (spec bytes, e.g. host/crdt/spec.ts writeSpec)
  // and kind. Declaring again with the same spec and kind is a no-op.
  declare(varId: string, spec: Uint8Array, kind: string): Promise<void> {
    this.checkOpen();
    const have = this.index.get(varId);
    if (have) {
      if (have.kind === kind && sameBytes(have.spec, spec)) return this.flushed();
      return Promise.reject(new StorageError("CONFLICT", `variable ${JSON.stringify(varId)} is stored as another type or kind`));
    }
    this.index.set(varId, { spec: spec.slice(), kind, logs: [] });
    const key = nameKey(P_DECL, varId);
    return this.write([{ type: "put", key, value: frame(key, (w) => { w.string(kind); w.bytes(spec); }) }]);
  }

  isDeclared(varId: string): boolean { return this.index.has(varId); }

  // Appends a delta to the log; resolves once it is durable.
  append(varId: string, delta: Uint8Array): Promise<void> {
    this.checkOpen();
    const v = this.index.get(varId);
    if (!v) return Promise.reject(undeclared(varId));
    const seq = this.nextSeq++;
    v.logs.push(seq);
    const key = seqKey(P_LOG, seq);
    return this.write([{ type: "put", key, value: frame(key, (w) => { w.string(varId); w.bytes(delta); }) }]);
  }

  // Appends an admitted envelope (its canonical bytes) to the envelope log;
  // resolves once it is durable. Envelopes are read back in append order.
  appendEnvelope(bytes: Uint8Array): Promise<void> {
    this.checkOpen();
    const key = seqKey(P_ENV, this.nextSeq++);
    this.envelopeCount++;
    this.envelopeKeys.set(bytes, key);
    return this.write([{ type: "put", key, value: frame(key, (w) => w.bytes(bytes)) }]);
  }

  // In one batch: appends `bytes` to the envelope log and removes the
  // records of `drop` (the very arrays appended, or read back by
  // envelopes()): a fuller copy of a redacted envelope, or a squash in place
  // of the envelopes it covers (host/trust/sync.ts). An array this store does
  // not know is ignored.
  replaceEnvelopes(drop: Uint8Array[], bytes: Uint8Array): Promise<void> {
    this.checkOpen();
    const ops: Op[] = [];
    for (const d of drop) {
      const k = this.envelopeKeys.get(d);
      if (!k) continue;
      this.envelopeKeys.delete(d);
      this.envelopeCount--;
      ops.push({ type: "del", key: k });
    }
    const key = seqKey(P_ENV, this.nextSeq++);
    this.envelopeCount++;
    this.envelopeKeys.set(bytes, key);
    ops.push({ type: "put", key, value: frame(key, (w) => w.bytes(bytes)) });
    return this.write(ops);
  }
  private envelopeKeys = new WeakMap<Uint8Array, Uint8Array>();

  // Envelopes in the log (those skipped as corrupt at open not counted).
  envelopeCount = 0;

  // Every stored envelope in append order: what open() recovered, the first
  // time (then released); later calls read the log again.
  async envelopes(): Promise<Uint8Array[]> {
    this.checkOpen();
    if (this.recoveredEnvelopes) { const e = this.recoveredEnvelopes; this.recoveredEnvelopes = null; return e; }
    await this.flushed();
    const { loaded } = await scanDb(this.db, { ...this.opts, onCorrupt: "skip", onCorruptRecord: undefined });
    this.envelopeKeys = loaded.envelopeKeys;
    return loaded.envelopes;
  }
  private recoveredEnvelopes: Uint8Array[] | null = null;

  // Number of log records the variable has since its last snapshot.
  logLength(varId: string): number { return this.index.get(varId)?.logs.length ?? 0; }

  // Writes `state` (which must include every delta appended for varId so far)
  // as the variable's snapshot; resolves once it is durable. Only then are
  // the log records and the snapshot it replaces deleted, in a later batch:
  // a crash in between leaves both, and recovery deletes the covered ones.
  snapshot(varId: string, state: Uint8Array): Promise<void> {
    this.checkOpen();
    const v = this.index.get(varId);
    if (!v) return Promise.reject(undeclared(varId));
    const seq = this.nextSeq++;
    const covered = v.logs;
    const oldSnap = v.snap;
    v.logs = [];
    v.snap = seq;
    const key = seqKey(P_SNAP, seq);
    const written = this.write([{ type: "put", key, value: frame(key, (w) => { w.string(varId); w.bytes(state); }) }]);
    return written.then(
      () => {
        const dels: Op[] = covered.map((s) => ({ type: "del", key: seqKey(P_LOG, s) }));
        if (oldSnap !== undefined) dels.push({ type: "del", key: seqKey(P_SNAP, oldSnap) });
        // Housekeeping: if this fails, recovery on the next open deletes them.
        if (dels.length && !this.closed) this.write(dels).catch(() => {});
      },
      (e) => {
        if (v.snap === seq) { v.logs = covered.concat(v.logs); v.snap = oldSnap; }
        throw e;
      },
    );
  }

  // Deletes a variable and everything stored for it.
  drop(varId: string): Promise<void> {
    this.checkOpen();
    const v = this.index.get(varId);
    if (!v) return this.flushed();
    this.index.delete(varId);
    const ops: Op[] = v.logs.map((s) => ({ type: "del", key: seqKey(P_LOG, s) }));
    if (v.snap !== undefined) ops.push({ type: "del", key: seqKey(P_SNAP, v.snap) });
    ops.push({ type: "del", key: nameKey(P_DECL, varId) });
    return this.write(ops);
  }

  // Small durable key-values (markers, a node's identity key). get() reads a
  // cache filled on open; put() and delete() resolve once durable.
  readonly meta = {
    get: (key: string): Uint8Array | undefined => this.metaCache.get(key),
    put: (key: string, value: Uint8Array): Promise<void> => {
      this.checkOpen();
      this.metaCache.set(key, value.slice());
      const k = nameKey(P_META, key);
      return this.write([{ type: "put", key: k, value: frame(k, (w) => w.bytes(value)) }]);
    },
    delete: (key: string): Promise<void> => {
      this.checkOpen();
      this.metaCache.delete(key);
      return this.write([{ type: "del", key: nameKey(P_META, key) }]);
    },
  };

  // Everything stored: each variable's spec, kind, snapshot and the deltas
  // after it. Until the first write, this is what open() recovered; after
  // that, load() waits for queued writes and scans the database again. CORRUPT records throw (or are skipped and reported).
  async load(): Promise<Loaded> {
    this.checkOpen();
    if (this.recovered) { const r = this.recovered; this.recovered = null; return r; }
    await this.flushed();
    return (await scanDb(this.db, this.opts)).loaded;
  }

  // Resolves once every write requested so far is durable.
  flushed(): Promise<void> {
    if (!this.writing && !this.scheduled && this.pending.length === 0) return Promise.resolve();
    return this.write([]);
  }

  // Waits for every queued write (including compaction's deletes), then
  // closes the database.
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.writing || this.scheduled || this.pending.length) await this.flushed().catch(() => {});
    this.closed = true;
    try { await this.db.close(); } finally { await this.opts.ackMark?.close(); }
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError("CLOSED", "the store is closed");
  }

  // Queues ops for the next batch; resolves when that batch is durable.
  private write(ops: Op[]): Promise<void> {
    if (ops.length) this.recovered = null;  // load() must see this write
    return new Promise<void>((resolve, reject) => {
      for (const op of ops) this.pending.push(op);
      this.waiters.push({ resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.writing || this.scheduled || this.waiters.length === 0) return;
    // Start on a microtask, so writes made in the same tick share a batch.
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      if (this.writing || this.waiters.length === 0) return;
      const ops = this.pending, waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      if (ops.length === 0) { for (const w of waiters) w.resolve(); return; }
      this.writing = true;
      this.stats.batches++;
      this.stats.records += ops.length;
      const mark = this.opts.ackMark;
      const n = mark ? ++this.batchNo : 0;
      if (mark) ops.push({ type: "put", key: SEAL_KEY, value: frame(SEAL_KEY, (w) => w.varint(n)) });
      // `sync` is classic-level's option (fsync before the batch resolves); other
      // backends ignore it. abstract-level's types do not list it.
      this.db.batch(ops, { ...ENC, sync: this.sync } as typeof ENC)
        // The mark follows the batch (never precedes it: a crash in between
        // must not accuse the database of losing a batch it never acknowledged),
        // and acks wait for both.
        .then(() => mark?.write(n, this.sync))
        .then(
          () => { for (const w of waiters) w.resolve(); },
          (e: unknown) => { for (const w of waiters) w.reject(e); },
        ).finally(() => { this.writing = false; this.kick(); });
    });
  }
}

const undeclared = (varId: string) => new StorageError("UNDECLARED", `variable ${JSON.stringify(varId)} was not declared`);

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// On open: a mark above the stored seal means the database lost batches whose
// writes were acknowledged. In "skip" mode the loss is reported and the mark
// brought down to the seal, so the next open does not report it again.
async function checkMark(mark: AckMark, scan: Scan, opts: StoreOptions, sync: boolean): Promise<void> {
  const acked = await mark.read();
  if (acked === null || acked <= scan.seal) return;
  const lost = acked - scan.seal;
  const err = new StorageError("CORRUPT",
    `the database lost acknowledged writes: batch ${acked} was acknowledged, but the last batch it holds is ${scan.seal} ` +
    `(${lost} batch${lost === 1 ? "" : "es"} of deltas, declarations or meta records gone, e.g. a truncated LevelDB write-ahead log). ` +
    "Updates made on this replica in them exist now only on peers that received them; " +
    `open with onCorrupt: "skip" to start with what is left and let anti-entropy bring back what peers hold` +
    (mark.recovery ? `, or ${mark.recovery}` : "") + ".");
  if (opts.onCorrupt !== "skip") throw err;
  scan.loaded.corrupt.push(err);
  opts.onCorruptRecord?.(err);
  await mark.write(scan.seal, sync);
}

interface Scan {
  seal: number;     // the last batch number stored under SEAL_KEY (0: none)
  loaded: Loaded;
  index: Map<string, VarIndex>;
  stale: Uint8Array[];   // records a finished compaction should have deleted
  maxSeq: number;
  hasHeader: boolean;
}

// One pass over the database: checks every record, and works out which
// snapshot is live for each variable and which log records follow it.
async function scanDb(db: LevelDb, opts: StoreOptions): Promise<Scan> {
  const skip = opts.onCorrupt === "skip";
  const corrupt: StorageError[] = [];
  const report = (e: unknown) => {
    if (!(e instanceof StorageError) || !skip || e.code !== "CORRUPT") throw e;
    corrupt.push(e);
    opts.onCorruptRecord?.(e);
  };
  const decls = new Map<string, { spec: Uint8Array; kind: string; key: Uint8Array }>();
  const logs: { seq: number; varId: string; delta: Uint8Array; key: Uint8Array }[] = [];
  const snaps: { seq: number; varId: string; state: Uint8Array; key: Uint8Array }[] = [];
  const meta = new Map<string, Uint8Array>();
  const envelopes: Uint8Array[] = [];
  const envelopeKeys = new WeakMap<Uint8Array, Uint8Array>();
  let maxSeq = 0, hasHeader = false, count = 0, seal = 0;

  const it = db.iterator(ENC);
  try {
    for (;;) {
      let entries: [Uint8Array, Uint8Array][];
      try { entries = await it.nextv(1024); } catch (e) { throw levelError(e); }
      if (entries.length === 0) break;
      for (const [k, v] of entries) {
        count++;
        // Plain views (Node gives Buffers, whose slice() does not copy).
        const key = new Uint8Array(k.buffer, k.byteOffset, k.byteLength);
        const value = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
        try {
          switch (key[0]) {
            case P_HEADER: {
              if (sameBytes(key, SEAL_KEY)) { seal = unframe(key, value, (r) => r.varint()); break; }
              if (!sameBytes(key, HEADER_KEY)) throw new StorageError("CORRUPT", "unknown key", key);
              unframe(key, value, () => {});
              hasHeader = true;
              break;
            }
            case P_DECL: {
              const varId = keyName(key);
              const d = unframe(key, value, (r) => ({ kind: r.string(), spec: r.bytes().slice() }));
              decls.set(varId, { ...d, key });
              break;
            }
            case P_LOG: case P_SNAP: {
              const seq = keySeq(key);
              maxSeq = Math.max(maxSeq, seq);
              const rec = unframe(key, value, (r) => ({ varId: r.string(), bytes: r.bytes().slice() }));
              if (key[0] === P_LOG) logs.push({ seq, varId: rec.varId, delta: rec.bytes, key });
              else snaps.push({ seq, varId: rec.varId, state: rec.bytes, key });
              break;
            }
            case P_ENV: {
              try {
                const seq = keySeq(key);
                maxSeq = Math.max(maxSeq, seq);
                const env = unframe(key, value, (r) => r.bytes().slice());
                envelopes.push(env);
                envelopeKeys.set(env, key);
              } catch (e) {
                if (!(e instanceof StorageError)) throw e;
                corrupt.push(e);
                opts.onCorruptRecord?.(e);
              }
              break;
            }
            case P_META: {
              const name = keyName(key);
              meta.set(name, unframe(key, value, (r) => r.bytes().slice()));
              break;
            }
            default:
              throw new StorageError("CORRUPT", "unknown key prefix", key);
          }
        } catch (e) { report(e); }
      }
    }
  } finally {
    await it.close();
  }
  if (!hasHeader && count > 0) report(new StorageError("CORRUPT", "database has records but no trellis header", HEADER_KEY));

  const vars = new Map<string, LoadedVar>();
  const index = new Map<string, VarIndex>();
  for (const [varId, d] of decls) {
    vars.set(varId, { spec: d.spec, kind: d.kind, deltas: [] });
    index.set(varId, { spec: d.spec, kind: d.kind, logs: [] });
  }
  const stale: Uint8Array[] = [];
  // The live snapshot of each variable is its newest; older ones are stale.
  for (const s of snaps) {                    // ascending by seq (key order)
    const v = vars.get(s.varId), ix = index.get(s.varId);
    if (!v || !ix) { report(new StorageError("CORRUPT", `snapshot of undeclared variable ${JSON.stringify(s.varId)}`, s.key)); continue; }
    if (ix.snap !== undefined) stale.push(seqKey(P_SNAP, ix.snap));
    ix.snap = s.seq;
    v.snapshot = s.state;
  }
  for (const l of logs) {                     // ascending by seq
    const v = vars.get(l.varId), ix = index.get(l.varId);
    if (!v || !ix) { report(new StorageError("CORRUPT", `delta of undeclared variable ${JSON.stringify(l.varId)}`, l.key)); continue; }
    // Covered by a snapshot written after it: a compaction was interrupted.
    if (ix.snap !== undefined && l.seq < ix.snap) { stale.push(l.key); continue; }
    ix.logs.push(l.seq);
    v.deltas.push(l.delta);
  }
  return { loaded: { vars, meta, corrupt, envelopes, envelopeKeys }, index, stale, maxSeq, hasHeader, seal };
}

// The database's own corruption errors (LevelDB's block checksums, an
// IndexedDB read failure) are CORRUPT too.
function levelError(e: unknown): unknown {
  const code = (e as { code?: string } | null)?.code;
  if (code === "LEVEL_CORRUPTION") return new StorageError("CORRUPT", `database reports corruption: ${(e as Error).message}`, undefined, { cause: e });
  return e;
}

export { FORMAT_VERSION, utf8, fromUtf8 };
