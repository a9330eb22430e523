// Durable storage (host/storage): round trips on memory-level and
// classic-level, compaction order, recovery, corruption, and crash durability
// under repeated SIGKILLs of a writer process.
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryLevel } from "memory-level";
import { ClassicLevel } from "classic-level";
import { Store, StorageError } from "../dist/host/storage/index.js";
import { openNodeStore } from "../dist/host/storage/node.js";
// @ts-expect-error plain .mjs helper
import { decodeDelta, decodeState } from "./util/storage-writer.mjs";

const bytes = (...xs: number[]) => new Uint8Array(xs);
const text = (s: string) => new TextEncoder().encode(s);
const mem = () => new MemoryLevel<Uint8Array, Uint8Array>({ keyEncoding: "view", valueEncoding: "view" });
const tmp = () => mkdtempSync(join(tmpdir(), "trellis-storage-"));

type Raw = [Uint8Array, Uint8Array][];
async function raw(db: MemoryLevel<Uint8Array, Uint8Array> | ClassicLevel<Uint8Array, Uint8Array>): Promise<Raw> {
  if (db.status !== "open") await db.open();
  const out: Raw = [];
  const plain = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice();
  for await (const [k, v] of db.iterator({ keyEncoding: "view", valueEncoding: "view" })) out.push([plain(k), plain(v)]);
  return out;
}
const prefix = (r: Raw, c: string) => r.filter(([k]) => k[0] === c.charCodeAt(0));

async function fill(store: Store) {
  await store.declare("x", bytes(1), "replicated");
  await store.declare("y", bytes(12, 1), "dynamic");
  await Promise.all([store.append("x", text("x1")), store.append("x", text("x2")), store.append("y", text("y1"))]);
  await store.snapshot("x", text("X12"));
  await store.append("x", text("x3"));
  await store.meta.put("node-key", bytes(9, 9, 9));
}

function expectFilled(l: Awaited<ReturnType<Store["load"]>>) {
  expect([...l.vars.keys()].sort()).toEqual(["x", "y"]);
  const x = l.vars.get("x")!, y = l.vars.get("y")!;
  expect(x.spec).toEqual(bytes(1));
  expect(x.kind).toBe("replicated");
  expect(x.snapshot).toEqual(text("X12"));
  expect(x.deltas).toEqual([text("x3")]);
  expect(y).toMatchObject({ spec: bytes(12, 1), kind: "dynamic", deltas: [text("y1")] });
  expect(y.snapshot).toBeUndefined();
  expect(l.meta.get("node-key")).toEqual(bytes(9, 9, 9));
  expect(l.corrupt).toEqual([]);
}

describe("round trip", () => {
  it("memory-level: what was written loads back after reopening", async () => {
    const db = mem();
    const s1 = await Store.open(db);
    await fill(s1);
    await s1.close();
    const s2 = await Store.open(db);
    expectFilled(await s2.load());
    expect(s2.meta.get("node-key")).toEqual(bytes(9, 9, 9));
    // The compaction deleted x1 and x2: two deltas left (x3, y1), one snapshot.
    const r = await raw(db);
    expect(prefix(r, "L")).toHaveLength(2);
    expect(prefix(r, "S")).toHaveLength(1);
    // Sequence numbers continue after reopening.
    await s2.append("y", text("y2"));
    expect((await s2.load()).vars.get("y")!.deltas).toEqual([text("y1"), text("y2")]);
    await s2.close();
  });

  it("classic-level: same, on disk", async () => {
    const dir = tmp();
    try {
      const s1 = await openNodeStore(dir);
      await fill(s1);
      await s1.close();
      const s2 = await openNodeStore(dir);
      expectFilled(await s2.load());
      await s2.close();
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it("declare is idempotent; another spec or kind, or an undeclared variable, is refused", async () => {
    const s = await Store.open(mem());
    await s.declare("x", bytes(1), "replicated");
    await s.declare("x", bytes(1), "replicated");
    await expect(s.declare("x", bytes(2), "replicated")).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(s.declare("x", bytes(1), "dynamic")).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(s.append("nope", bytes(1))).rejects.toMatchObject({ code: "UNDECLARED" });
    await s.drop("x");
    await s.declare("x", bytes(2), "replicated");
    await s.close();
    expect(() => s.append("x", bytes(1))).toThrow(StorageError);
  });

  it("group commit: appends made in one tick share a batch, later ones the next", async () => {
    const s = await Store.open(mem());
    await s.declare("x", bytes(1), "replicated");
    const before = s.stats.batches;
    const first = Array.from({ length: 100 }, (_, i) => s.append("x", bytes(i)));
    await Promise.resolve(); await Promise.resolve();
    const second = Array.from({ length: 100 }, (_, i) => s.append("x", bytes(100 + i)));
    await Promise.all([...first, ...second]);
    expect(s.stats.batches - before).toBe(2);
    expect((await s.load()).vars.get("x")!.deltas).toHaveLength(200);
    await s.close();
  });
});

describe("compaction", () => {
  it("writes the snapshot in one batch and deletes what it replaces only in a later one", async () => {
    const db = mem();
    const batches: { type: string; key: Uint8Array }[][] = [];
    const s = await Store.open(db);
    const orig = db.batch.bind(db) as (ops: unknown, o: unknown) => Promise<void>;
    (db as unknown as { batch: unknown }).batch = (ops: { type: string; key: Uint8Array }[], o: unknown) => {
      batches.push(ops.map(({ type, key }) => ({ type, key })));
      return orig(ops, o);
    };
    await s.declare("x", bytes(1), "replicated");
    await s.append("x", text("a"));
    await s.append("x", text("b"));
    await s.snapshot("x", text("AB"));
    await s.snapshot("x", text("AB2"));
    await s.close();
    const kinds = batches.map((b) => b.map(({ type, key }) => `${type} ${String.fromCharCode(key[0])}${key.length === 9 ? key[8] : ""}`));
    // seq 1, 2 are the deltas; 3 and 4 the snapshots.
    const putS3 = kinds.findIndex((b) => b.includes("put S3"));
    const delL = kinds.findIndex((b) => b.includes("del L1"));
    expect(putS3).toBeGreaterThanOrEqual(0);
    expect(delL).toBeGreaterThan(putS3);
    expect(kinds[delL]).toContain("del L2");
    const putS4 = kinds.findIndex((b) => b.includes("put S4"));
    expect(kinds.findIndex((b) => b.includes("del S3"))).toBeGreaterThan(putS4);
    expect(prefix(await raw(db), "L")).toHaveLength(0);
    expect(prefix(await raw(db), "S")).toHaveLength(1);
  });

  it("a crash between the snapshot write and the deletes loads, and recovery finishes the compaction", async () => {
    const db = mem();
    const s = await Store.open(db);
    await s.declare("x", bytes(1), "replicated");
    await s.append("x", text("a"));
    await s.snapshot("x", text("A"));          // compacted normally
    await s.append("x", text("b"));
    await s.append("x", text("c"));
    // Crash: batches that only delete (compaction's second step) never reach
    // the database, as if the process died after the snapshot was durable.
    const orig = db.batch.bind(db) as (ops: unknown, o: unknown) => Promise<void>;
    (db as unknown as { batch: unknown }).batch = (ops: { type: string }[], o: unknown) =>
      ops.every((op) => op.type === "del") ? new Promise(() => {}) : orig(ops, o);
    await s.snapshot("x", text("ABC"));
    await new Promise((r) => setTimeout(r, 10));
    delete (db as unknown as { batch?: unknown }).batch;
    const r = await raw(db);
    expect(prefix(r, "L")).toHaveLength(2);   // b, c still there
    expect(prefix(r, "S")).toHaveLength(2);   // and both snapshots

    const s2 = await Store.open(db);
    const l = await s2.load();
    expect(l.vars.get("x")!.snapshot).toEqual(text("ABC"));
    expect(l.vars.get("x")!.deltas).toEqual([]);   // b, c are covered by the new snapshot
    const after = await raw(db);
    expect(prefix(after, "L")).toHaveLength(0);
    expect(prefix(after, "S")).toHaveLength(1);
    // New records continue after the highest sequence number seen.
    await s2.append("x", text("d"));
    expect((await s2.load()).vars.get("x")!.deltas).toEqual([text("d")]);
    await s2.close();
  });
});

describe("corruption", () => {
  async function filledDb() {
    const db = mem();
    const s = await Store.open(db);
    await fill(s);
    await s.close();
    await db.open();
    return db;
  }
  const flip = async (db: MemoryLevel<Uint8Array, Uint8Array>, which: string, at: number) => {
    const [k, v] = prefix(await raw(db), which)[0];
    const bad = v.slice();
    bad[at < 0 ? bad.length + at : at] ^= 0x01;
    await db.put(k, bad, { keyEncoding: "view", valueEncoding: "view" });
    return k;
  };

  for (const [which, at] of [["L", -1], ["L", 0], ["L", 5], ["S", 7], ["D", -1], ["M", -2], ["\0", 4]] as const) {
    it(`a flipped byte in a ${JSON.stringify(which)} record at ${at} is reported by name on open, nothing loaded`, async () => {
      const db = await filledDb();
      const key = await flip(db, which, at);
      const err = await Store.open(db).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect(err.code).toBe("CORRUPT");
      expect(err.key).toEqual(key);
      expect(err.message).toMatch(/checksum mismatch/);
    });
  }

  it("a record moved under another key fails its checksum (the key is checksummed too)", async () => {
    const db = await filledDb();
    const [k, v] = prefix(await raw(db), "L")[0];
    const moved = k.slice(); moved[8] = 200;
    await db.put(moved, v, { keyEncoding: "view", valueEncoding: "view" });
    await expect(Store.open(db)).rejects.toMatchObject({ code: "CORRUPT", key: moved });
  });

  it("truncated records, unknown keys and bad framing are CORRUPT", async () => {
    for (const mutate of [
      (v: Uint8Array) => v.subarray(0, 3),
      (v: Uint8Array) => v.subarray(0, v.length - 1),
    ]) {
      const db = await filledDb();
      const [k, v] = prefix(await raw(db), "L")[0];
      await db.put(k, mutate(v), { keyEncoding: "view", valueEncoding: "view" });
      await expect(Store.open(db)).rejects.toMatchObject({ code: "CORRUPT", key: k });
    }
    const db = await filledDb();
    await db.put(text("Zzz"), bytes(1), { keyEncoding: "view", valueEncoding: "view" });
    await expect(Store.open(db)).rejects.toMatchObject({ code: "CORRUPT", message: expect.stringMatching(/Zzz/) });
    const db2 = await filledDb();
    await db2.put(bytes(0x4c, 1, 2), bytes(1), { keyEncoding: "view", valueEncoding: "view" });
    await expect(Store.open(db2)).rejects.toMatchObject({ code: "CORRUPT", message: expect.stringMatching(/9 bytes/) });
  });

  it('onCorrupt: "skip" leaves the record out, reports it, and loads the rest', async () => {
    const db = await filledDb();
    const key = await flip(db, "L", -1);
    const reported: StorageError[] = [];
    const s = await Store.open(db, { onCorrupt: "skip", onCorruptRecord: (e) => reported.push(e) });
    const l = await s.load();
    expect(reported).toHaveLength(1);
    expect(l.corrupt).toEqual(reported);
    expect(reported[0].key).toEqual(key);
    const all = [...l.vars.values()].flatMap((v) => v.deltas);
    expect(all).toHaveLength(1);  // x3 or y1, whichever was not flipped
    // New appends never reuse the corrupt record's sequence number.
    await s.append("x", text("x4"));
    expect(prefix(await raw(db), "L")).toHaveLength(3);
    await s.close();
  });

  // Incompressible payload, so it sits verbatim in LevelDB's files.
  const payload = new Uint8Array(4096);
  for (let i = 0, x = 0x9e3779b9; i < payload.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; payload[i] = x & 0xff; }
  const needle = Buffer.from(payload.subarray(1000, 1032));
  async function onDisk(intoTable: boolean): Promise<[string, string]> {
    const dir = tmp();
    const s = await openNodeStore(dir);
    await s.declare("x", bytes(1), "replicated");
    await s.append("x", payload);
    await s.append("x", text("after"));
    // Moves everything from LevelDB's write-ahead log into a table file.
    if (intoTable) await s.db.compactRange(bytes(0), bytes(0xff), { keyEncoding: "view" });
    await s.close();
    const file = readdirSync(dir).map((f) => join(dir, f))
      .find((f) => f.endsWith(intoTable ? ".ldb" : ".log") && readFileSync(f).includes(needle));
    expect(file).toBeDefined();
    const buf = readFileSync(file!);
    buf[buf.indexOf(needle) + 7] ^= 0x40;
    writeFileSync(file!, buf);
    return [dir, file!];
  }

  it("classic-level: a flipped byte in a LevelDB table file on disk is detected on load", async () => {
    const [dir] = await onDisk(true);
    try {
      const err = await openNodeStore(dir).then(async (st) => { await st.close(); return null; }, (e) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect(err.code).toBe("CORRUPT");
      expect(String(err.message)).toMatch(/checksum mismatch.*record L\\x00/);
      expect(err.key[0]).toBe(0x4c);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it("classic-level: a flipped byte in LevelDB's write-ahead log is reported, though LevelDB drops the record itself", async () => {
    const [dir] = await onDisk(false);
    try {
      const err = await openNodeStore(dir).then(async (st) => { await st.close(); return null; }, (e) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect(err.code).toBe("CORRUPT");
      expect(String(err.message)).toMatch(/write-ahead log.*dropping \d+ bytes/);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});

describe("crash durability", () => {
  const KILLS = Number(process.env.STORAGE_KILLS ?? 50);
  const writer = new URL("./util/storage-writer.mjs", import.meta.url).pathname;

  // Runs the writer until `killAfter` ms after it is ready (or after spawn, if
  // `early`), SIGKILLs it, and returns the acknowledged records.
  function runOnce(dir: string, killAfter: number, early: boolean): Promise<{ acks: [string, number][]; signal: string | null; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [writer, dir], { stdio: ["ignore", "pipe", "pipe"] });
      const acks: [string, number][] = [];
      let buf = "", stderr = "";
      const kill = () => child.kill("SIGKILL");
      if (early) setTimeout(kill, killAfter);
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (chunk: string) => {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line === "ready" && !early) setTimeout(kill, killAfter);
          const m = /^ack (\w+) (\d+)$/.exec(line);
          if (m) acks.push([m[1], Number(m[2])]);
        }
      });
      child.stderr.setEncoding("utf8");
      child.stderr.on("data", (c: string) => { stderr += c; });
      child.on("error", reject);
      child.on("close", (_code, signal) => resolve({ acks, signal, stderr }));
    });
  }

  it(`every acknowledged update survives ${KILLS} SIGKILLs mid-write, and the store always loads`, async () => {
    const dir = tmp();
    const acked = new Map<string, Set<number>>();
    let seed = 0x2545f491;
    const rand = () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) / 2 ** 32; };
    let killed = 0, total = 0;
    try {
      for (let i = 0; i < KILLS; i++) {
        // One kill in five lands while the writer is still opening/recovering.
        const early = i % 5 === 4;
        const run = await runOnce(dir, early ? 40 + rand() * 120 : 5 + rand() * 150, early);
        expect(run.stderr).toBe("");
        if (run.signal === "SIGKILL") killed++;
        for (const [v, n] of run.acks) {
          if (!acked.has(v)) acked.set(v, new Set());
          acked.get(v)!.add(n);
        }
        total += run.acks.length;
        // Restart: the store loads and holds every acknowledged record.
        const s = await openNodeStore(dir);
        const l = await s.load();
        await s.close();
        for (const [v, ns] of acked) {
          const lv = l.vars.get(v);
          expect(lv, `variable ${v} after kill ${i}`).toBeDefined();
          const have = new Set<number>(lv!.snapshot ? decodeState(lv!.snapshot) : []);
          for (const d of lv!.deltas) have.add(decodeDelta(d));
          const missing = [...ns].filter((n) => !have.has(n));
          expect(missing, `acknowledged but lost after kill ${i}`).toEqual([]);
        }
      }
      expect(killed).toBe(KILLS);
      expect(total).toBeGreaterThan(KILLS * 5);
      console.log(`storage crash test: ${killed} SIGKILLs, ${total} acknowledged appends, all present`);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
