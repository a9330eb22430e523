// Damage LevelDB recovers from silently: a truncated write-ahead log replays
// without error and drops acknowledged writes (a node came back with 15 of 60
// elements), and a damaged CURRENT file surfaced as LEVEL_DATABASE_NOT_OPEN.
// The ack mark (a file beside the database, written after each durable batch)
// turns the first into CORRUPT; CURRENT is checked before LevelDB opens.
// Needs dist/ built.
import { afterAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StorageError } from "../dist/host/storage/index.js";
import { openNodeStore, ACK_MARK_FILE } from "../dist/host/storage/node.js";
import { init } from "../dist/host/index.node.js";
import { TrellisNode } from "../dist/host/cli/node.js";
import { silentLogger } from "../dist/host/cli/log.js";

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = mkdtempSync(join(tmpdir(), "trellis-corrupt-")); dirs.push(d); return d; };
const text = (s: string) => new TextEncoder().encode(s);

// A store with x declared and `n` deltas appended, each acknowledged.
async function filled(n = 60): Promise<string> {
  const dir = tmp();
  const s = await openNodeStore(dir);
  await s.declare("x", new Uint8Array([1]), "replicated");
  for (let i = 0; i < n; i++) await s.append("x", text(`delta-${i}`.padEnd(40, ".")));
  await s.meta.put("k", new Uint8Array([7]));
  await s.close();
  return dir;
}

function truncateLog(dir: string, fraction: number): void {
  const log = readdirSync(dir).find((f) => f.endsWith(".log"));
  expect(log, "a LevelDB write-ahead log").toBeDefined();
  const p = join(dir, log!);
  truncateSync(p, Math.floor(statSync(p).size * fraction));
}

const openErr = (dir: string, opts = {}) => openNodeStore(dir, opts).then(async (s) => { await s.close(); return null; }, (e) => e);

describe("a truncated LevelDB write-ahead log", () => {
  it("without the ack mark (a store from before it) loses acknowledged deltas silently", async () => {
    // The reproduction, and proof that a missing mark file never blocks a start.
    const dir = await filled();
    unlinkSync(join(dir, ACK_MARK_FILE));
    truncateLog(dir, 0.25);
    const s = await openNodeStore(dir);
    const deltas = (await s.load()).vars.get("x")?.deltas.length ?? 0;
    await s.close();
    expect(deltas).toBeLessThan(60);
  });

  for (const fraction of [0.1, 0.25, 0.5, 0.9, 0.99]) {
    it(`cut to ${fraction * 100}% is CORRUPT, naming the loss and how to recover`, async () => {
      const dir = await filled();
      truncateLog(dir, fraction);
      const err = await openErr(dir);
      expect(err).toBeInstanceOf(StorageError);
      expect(err.code).toBe("CORRUPT");
      // Either LevelDB noticed a torn record itself, or the mark shows lost batches.
      expect(err.message).toMatch(/lost acknowledged writes: batch \d+ was acknowledged, but the last batch it holds is \d+|dropped part of its write-ahead log/);
      if (/lost acknowledged/.test(err.message)) {
        expect(err.message).toContain(`delete ${join(dir, ACK_MARK_FILE)} to accept the loss`);
        expect(err.message).toContain('onCorrupt: "skip"');
      }
    });
  }

  it('onCorrupt: "skip" reports the loss once, loads what is left, and the store goes on', async () => {
    const dir = await filled();
    truncateLog(dir, 0.5);
    const reported: StorageError[] = [];
    const s = await openNodeStore(dir, { onCorrupt: "skip", onCorruptRecord: (e) => reported.push(e) });
    const l = await s.load();
    expect(reported.some((e) => /lost acknowledged writes/.test(e.message))).toBe(true);
    expect(l.corrupt.some((e) => /lost acknowledged writes/.test(e.message))).toBe(true);
    const left = l.vars.get("x")!.deltas.length;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(60);
    await s.append("x", text("after"));
    await s.close();
    // The loss was accepted: a normal open works and keeps the new write.
    const t = await openNodeStore(dir);
    const deltas = (await t.load()).vars.get("x")!.deltas;
    await t.close();
    expect(deltas).toHaveLength(left + 1);
    expect(new TextDecoder().decode(deltas[left])).toBe("after");
  });

  it("deleting the mark file, as the message says, accepts the loss", async () => {
    const dir = await filled();
    truncateLog(dir, 0.5);
    expect((await openErr(dir))?.code).toBe("CORRUPT");
    unlinkSync(join(dir, ACK_MARK_FILE));
    expect(await openErr(dir)).toBeNull();
  });

  it("an intact store with its mark opens, again and again", async () => {
    const dir = await filled(10);
    for (let i = 0; i < 3; i++) {
      const s = await openNodeStore(dir);
      expect((await s.load()).vars.get("x")!.deltas).toHaveLength(10 + i);
      await s.append("x", text(`more-${i}`));
      await s.close();
    }
  });

  it("a mark file that is garbage or torn is not trusted, and never blocks a start", async () => {
    const dir = await filled(5);
    writeFileSync(join(dir, ACK_MARK_FILE), "not a mark at all, just bytes......");
    expect(await openErr(dir)).toBeNull();
    // A torn write of one slot: the other slot holds an older batch.
    const s = await openNodeStore(dir);
    await s.append("x", text("a"));
    await s.append("x", text("b"));
    await s.close();
    const buf = readFileSync(join(dir, ACK_MARK_FILE));
    expect(buf.subarray(0, 4).toString()).toBe("TRA1"); // rewritten over the garbage
    expect(buf.subarray(16, 20).toString()).toBe("TRA1");
    for (const slot of [0, 16]) {
      const torn = Buffer.from(buf);
      torn.fill(0xee, slot, slot + 10);
      writeFileSync(join(dir, ACK_MARK_FILE), torn);
      expect(await openErr(dir), `slot at ${slot}`).toBeNull();
    }
  });

  it("a node restarted on a truncated log refuses to start with CORRUPT instead of serving 15 of 60", async () => {
    await init();
    const dir = tmp();
    const a = await TrellisNode.start({ data: dir, port: 0, log: silentLogger });
    await a.declare("s", "GSet");
    for (let i = 0; i < 60; i++) await a.update("s", { add: `element-${i}` });
    await a.close();
    truncateLog(dir, 0.25);
    const err = await TrellisNode.start({ data: dir, port: 0, log: silentLogger }).then(async (n) => { await n.close(); return null; }, (e) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err.code).toBe("CORRUPT");
    expect(existsSync(dir)).toBe(true); // the failed start keeps a directory it did not create
  });
});

describe("a damaged LevelDB CURRENT file", () => {
  const cases: [string, (dir: string) => void, RegExp][] = [
    ["garbage", (d) => writeFileSync(join(d, "CURRENT"), "garbage\n"), /CURRENT file .* is damaged/],
    ["empty", (d) => writeFileSync(join(d, "CURRENT"), ""), /CURRENT file .* is damaged/],
    ["no newline", (d) => writeFileSync(join(d, "CURRENT"), readFileSync(join(d, "CURRENT"), "latin1").trim()), /CURRENT file .* is damaged/],
    ["a missing manifest", (d) => writeFileSync(join(d, "CURRENT"), "MANIFEST-999999\n"), /names MANIFEST-999999, which is missing/],
    ["deleted", (d) => unlinkSync(join(d, "CURRENT")), /CURRENT file is missing/],
  ];
  for (const [name, damage, msg] of cases) {
    it(`${name}: CORRUPT with a way to repair it, and nothing deleted`, async () => {
      const dir = await filled(5);
      const good = readFileSync(join(dir, "CURRENT"), "latin1");
      damage(dir);
      const before = readdirSync(dir).filter((f) => f !== "CURRENT" && f !== "LOG" && f !== "LOG.old").sort();
      const err = await openErr(dir);
      expect(err).toBeInstanceOf(StorageError);
      expect(err.code).toBe("CORRUPT");
      expect(err.message).toMatch(msg);
      expect(err.message).toContain(`printf '${good.trim()}\\n' > ${join(dir, "CURRENT")}`);
      // LevelDB was not let near it: every file is still there...
      expect(readdirSync(dir).filter((f) => f !== "CURRENT" && f !== "LOG" && f !== "LOG.old").sort()).toEqual(before);
      // ...so the repair the message suggests brings everything back.
      writeFileSync(join(dir, "CURRENT"), good);
      const s = await openNodeStore(dir);
      expect((await s.load()).vars.get("x")!.deltas).toHaveLength(5);
      await s.close();
    });
  }

  it("an empty or new directory is still a new store", async () => {
    const dir = tmp();
    expect(await openErr(dir)).toBeNull();
    expect(await openErr(join(dir, "sub", "store"))).toBeNull();
  });
});
