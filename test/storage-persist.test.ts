// persist(): a dataflow Runtime over a Store — recovery after a restart,
// snapshots every N deltas, flushed() as the acknowledgement point.
import { beforeAll, describe, expect, it } from "vitest";
import { MemoryLevel } from "memory-level";
import { init, AWSet, GCounter, Runtime } from "../dist/host/index.node.js";
import { Store, persist, onceRecord } from "../dist/host/storage/index.js";

const mem = () => new MemoryLevel<Uint8Array, Uint8Array>({ keyEncoding: "view", valueEncoding: "view" });

beforeAll(async () => { await init(); });

describe("persist", () => {
  it("a restarted runtime recovers every variable byte for byte; snapshots bound the log", async () => {
    const db = mem();
    const store = await Store.open(db);
    const rt = new Runtime({ replica: "a" });
    rt.declare("pre", GCounter);
    rt.update("pre", { increment: 5 });       // before persist: stored as a snapshot
    const p = await persist(rt, store, { snapshotEvery: 4 });
    rt.declare("s", AWSet);
    rt.declare("c", GCounter);
    for (let i = 0; i < 10; i++) rt.update("s", { add: `e${i}` });
    rt.update("s", { remove: "e3" });
    for (let i = 0; i < 3; i++) rt.update("c", { increment: 1 });
    // A remote replica's delta, arriving by replication.
    const other = new Runtime({ replica: "b" });
    other.declare("s", AWSet);
    rt.bind("s", other.update("s", { add: "from-b" }));
    await p.flushed();
    expect(store.logLength("s")).toBeLessThan(4);
    expect(store.logLength("c")).toBe(3);

    const want = Object.fromEntries(["pre", "s", "c"].map((id) => [id, rt.encode(id)]));
    p.stop();
    await store.close();

    const store2 = await Store.open(db);
    const rt2 = new Runtime({ replica: "a" });
    // Declared before persist is attached: recovered into; a new variable
    // updated before persist is written as a snapshot.
    rt2.declare("c", GCounter);
    rt2.declare("fresh", GCounter);
    rt2.update("fresh", { increment: 7 });
    const p2 = await persist(rt2, store2, { snapshotEvery: 4 });
    expect(p2.recovered.sort()).toEqual(["c", "pre", "s"]);
    for (const id of Object.keys(want)) expect(rt2.encode(id), id).toEqual(want[id]);
    await p2.flushed();
    expect((await store2.load()).vars.get("fresh")!.snapshot).toEqual(rt2.encode("fresh"));
    // And it keeps logging.
    rt2.update("c", { increment: 1 });
    await p2.flushed();
    const l = await store2.load();
    expect(l.vars.get("c")!.deltas).toHaveLength(1);
    await store2.close();
    rt.close(); rt2.close(); other.close();
  });

  const canRestore = typeof (Runtime.prototype as { restore?: unknown }).restore === "function";

  it("dynamic variables are logged; recovering one needs Runtime.restore, and without it persist refuses", async () => {
    const db = mem();
    const store = await Store.open(db);
    const rt = new Runtime({ replica: "a" });
    const p = await persist(rt, store);
    rt.declareDynamic("mine", GCounter);
    rt.update("mine", { increment: 2 });
    await p.flushed();
    const l = await store.load();
    expect(l.vars.get("mine")).toMatchObject({ kind: "dynamic", deltas: [expect.any(Uint8Array)] });
    const want = rt.encode("mine");
    await store.close();
    const store2 = await Store.open(db);
    const rt2 = new Runtime({ replica: "a" });
    if (canRestore) {
      await persist(rt2, store2);
      expect(rt2.kind("mine")).toBe("dynamic");
      expect(rt2.encode("mine")).toEqual(want);
    } else {
      await expect(persist(rt2, store2)).rejects.toThrow(/dynamic variable "mine".*restore/);
    }
    await store2.close();
    rt.close(); rt2.close();
  });

  it("onceRecord keeps enforceOnce markers durably in the store's meta records", async () => {
    const db = mem();
    const s = await Store.open(db);
    const once = onceRecord(s);
    expect(once.has("k")).toBe(false);
    await once.add("k");
    await s.close();
    const s2 = await Store.open(db);
    expect(onceRecord(s2).has("k")).toBe(true);
    await s2.close();
  });
});
