// trellis/storage: a durable delta log plus snapshots over the abstract-level
// family. This entry runs anywhere (no Node built-ins); open a database with
// ./node.ts (classic-level) or ./browser.ts (browser-level), or pass any
// abstract-level database (memory-level in tests) to Store.open.
export { Store } from "./store.js";
export type { LevelDb, StoreOptions, AckMark, Loaded, LoadedVar, StoreStats } from "./store.js";
export { StorageError, describeKey } from "./errors.js";
export type { StorageErrorCode } from "./errors.js";
export { persist, onceRecord, specBytes } from "./persist.js";
export type { Persisted, PersistOptions, PersistRuntime } from "./persist.js";
