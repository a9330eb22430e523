// trellis/storage/node: a Store on classic-level (LevelDB) in a directory.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { Store, type StoreOptions } from "./store.js";
import { StorageError } from "./errors.js";

export * from "./index.js";

export async function openNodeStore(dir: string, opts: StoreOptions = {}): Promise<Store> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
  try {
    await db.open();
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause;
    if (cause?.code === "LEVEL_CORRUPTION") {
      throw new StorageError("CORRUPT", `LevelDB cannot open ${dir}: ${(cause as unknown as Error).message}`, undefined, { cause: e });
    }
    throw e;
  }
  try {
    // LevelDB replays its write-ahead log on open and, without paranoid
    // checks (classic-level offers none), drops a record that fails its
    // checksum, saying so only in the info log it starts afresh on each open.
    // Those records never reach our own checksums, so report them here.
    const dropped = walCorruption(dir);
    if (dropped) {
      const err = new StorageError("CORRUPT", `LevelDB dropped part of its write-ahead log in ${dir}: ${dropped}`);
      if (opts.onCorrupt !== "skip") throw err;
      opts.onCorruptRecord?.(err);
    }
    return await Store.open(db, opts);
  } catch (e) {
    await db.close().catch(() => {});
    throw e;
  }
}

function walCorruption(dir: string): string | null {
  let log: string;
  try { log = readFileSync(join(dir, "LOG"), "utf8"); } catch { return null; }
  const line = log.split("\n").find((l) => /dropping \d+ bytes|Corruption:/.test(l));
  return line ? line.replace(/^\S+ \S+ /, "").trim() : null;
}
