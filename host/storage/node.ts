// trellis/storage/node: a Store on classic-level (LevelDB) in a directory.
import { constants, existsSync, readdirSync, readFileSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { Store, type AckMark, type StoreOptions } from "./store.js";
import { StorageError } from "./errors.js";
import { crc32c } from "./format.js";

export * from "./index.js";

// The ack mark's file, beside LevelDB's own (LevelDB ignores names it did not make).
export const ACK_MARK_FILE = "TRELLIS-ACKED";

export async function openNodeStore(dir: string, opts: StoreOptions = {}): Promise<Store> {
  checkCurrent(dir);
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
  // Opened only once LevelDB's lock is held, so no other process writes it.
  const mark = opts.ackMark ?? fileAckMark(join(dir, ACK_MARK_FILE));
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
    return await Store.open(db, { ...opts, ackMark: mark });
  } catch (e) {
    await db.close().catch(() => {});
    await mark.close().catch(() => {});
    throw e;
  }
}

function walCorruption(dir: string): string | null {
  let log: string;
  try { log = readFileSync(join(dir, "LOG"), "utf8"); } catch { return null; }
  const line = log.split("\n").find((l) => /dropping \d+ bytes|Corruption:/.test(l));
  return line ? line.replace(/^\S+ \S+ /, "").trim() : null;
}

// LevelDB finds its files through CURRENT, one line naming the live MANIFEST.
// A CURRENT naming a missing file fails as a plain I/O error, and a missing
// CURRENT beside existing tables makes LevelDB create an empty database and
// delete the old files as obsolete. Both are corruption of the store: say so,
// before LevelDB is let near it.
function checkCurrent(dir: string): void {
  let files: string[];
  try { files = readdirSync(dir); } catch { return; }   // missing: a new store
  const manifests = files.filter((f) => /^MANIFEST-\d+$/.test(f)).sort();
  const hint = manifests.length
    ? `; it should hold the name of the newest manifest and a newline (here probably: printf '${manifests[manifests.length - 1]}\\n' > ${join(dir, "CURRENT")}), or restore the directory from a backup`
    : "; restore the directory from a backup";
  if (!files.includes("CURRENT")) {
    if (manifests.length || files.some((f) => /\.(ldb|sst|log)$/.test(f))) {
      throw new StorageError("CORRUPT", `LevelDB's CURRENT file is missing in ${dir}, which holds database files${hint}`);
    }
    return;
  }
  let current: string;
  try { current = readFileSync(join(dir, "CURRENT"), "latin1"); } catch (e) {
    throw new StorageError("CORRUPT", `LevelDB's CURRENT file in ${dir} cannot be read: ${(e as Error).message}${hint}`, undefined, { cause: e });
  }
  const m = /^(MANIFEST-\d+)\n$/.exec(current);
  if (!m) throw new StorageError("CORRUPT", `LevelDB's CURRENT file in ${dir} is damaged (it holds ${JSON.stringify(current.slice(0, 40))})${hint}`);
  if (!existsSync(join(dir, m[1]))) throw new StorageError("CORRUPT", `LevelDB's CURRENT file in ${dir} names ${m[1]}, which is missing${hint}`);
}

// The ack mark as a file of two 16-byte slots, written alternately:
//   magic "TRA1"  batch:u64be  crc32c(magic ‖ batch):u32be
// A torn write damages only the slot being written; the other still holds the
// previous batch. The highest valid slot counts; no valid slot (or no file,
// as in a store made before marks existed) means nothing to check.
export function fileAckMark(path: string): AckMark {
  let fh: FileHandle | null = null;
  let last: number | null = null;   // the highest batch in the file, once read or written
  const MAGIC = [0x54, 0x52, 0x41, 0x31];
  const slotOf = (batch: number): Buffer => {
    const slot = Buffer.alloc(16);
    slot.set(MAGIC, 0);
    slot.writeUInt32BE(Math.floor(batch / 2 ** 32), 4);
    slot.writeUInt32BE(batch >>> 0, 8);
    slot.writeUInt32BE(crc32c([slot.subarray(0, 12)]), 12);
    return slot;
  };
  return {
    recovery: `delete ${path} to accept the loss`,
    async read() {
      let buf: Buffer;
      try { buf = readFileSync(path); } catch { return null; }
      let best: number | null = null;
      for (let off = 0; off + 16 <= Math.min(buf.length, 32); off += 16) {
        const slot = buf.subarray(off, off + 16);
        if (!MAGIC.every((b, i) => slot[i] === b)) continue;
        if (slot.readUInt32BE(12) !== crc32c([slot.subarray(0, 12)])) continue;
        const n = slot.readUInt32BE(4) * 2 ** 32 + slot.readUInt32BE(8);
        if (n <= Number.MAX_SAFE_INTEGER && (best === null || n > best)) best = n;
      }
      last = best;
      return best;
    },
    async write(batch, sync) {
      const h = fh ??= await open(path, constants.O_RDWR | constants.O_CREAT, 0o644);
      const slot = slotOf(batch);
      if (last !== null && batch < last) {
        // Lowered (a reported loss accepted): both slots, or the other one
        // would still hold the higher number.
        await h.write(slot, 0, 16, 0);
        await h.write(slot, 0, 16, 16);
      } else {
        await h.write(slot, 0, 16, (batch % 2) * 16);
      }
      if (sync) await h.datasync();
      last = batch;
    },
    async close() {
      const h = fh;
      fh = null;
      await h?.close();
    },
  };
}
