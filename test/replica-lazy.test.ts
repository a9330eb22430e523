// A state made or decoded without a replica id gets a random one only when it
// is first written or its id is read (host/crdt/base.ts, Crdt's replica
// getter; kernel export setReplica). These check that the id the kernel
// writes with is always the one the state reports.
import { describe, expect, it, beforeAll } from "vitest";
import { init, AWSet, GCounter, LWWRegister, MaxInt, decodeState } from "../dist/host/index.node.js";

beforeAll(async () => { await init(); });

const hex16 = /^[0-9a-f]{16}$/;

function lwwBytes(): Uint8Array {
  const w = new LWWRegister<string>("writer-1");
  w.set("hello", 1_700_000_000_000);
  const b = w.encode();
  w.dispose();
  return b;
}

describe("replica ids chosen on first need", () => {
  it("a decoded state writes under the id it then reports", () => {
    const r = LWWRegister.decode<string>(lwwBytes());
    r.set("mine");
    expect(r.replica).toMatch(hex16);
    expect(r.writer).toBe(r.replica);
    expect(r.value).toBe("mine");
    r.dispose();
  });

  it("an id read before the first write is the one written with", () => {
    const r = LWWRegister.decode<string>(lwwBytes());
    const id = r.replica;
    expect(r.replica).toBe(id); // stable
    r.set("later");
    expect(r.writer).toBe(id);
    r.dispose();
  });

  it("a new state without an id counts under the id it reports", () => {
    const c = new GCounter();
    c.increment(5);
    const id = c.replica;
    // Decoded under that same id, one more increment lands on the same entry.
    const d = GCounter.decode(c.encode(), id);
    d.increment(2);
    expect(d.value).toBe(7);
    // Under another id it is a second entry: still 7 in all, but the bytes
    // name two replicas, so they differ from the same-id ones.
    const e = GCounter.decode(c.encode(), "other");
    e.increment(2);
    expect(e.value).toBe(7);
    expect(e.encode()).not.toEqual(d.encode());
    for (const x of [c, d, e]) x.dispose();
  });

  it("two lazily named states get different ids", () => {
    const bytes = lwwBytes();
    const a = LWWRegister.decode<string>(bytes), b = LWWRegister.decode<string>(bytes);
    a.set("a", 1_800_000_000_000); b.set("b", 1_800_000_000_000);
    expect(a.writer).not.toBe(b.writer);
    a.dispose(); b.dispose();
  });

  it("a clone of a lazily named state writes under the same id", () => {
    const s = AWSet.decode(new AWSet("x").add("e").encode());
    const c = s.clone();
    expect(c.replica).toBe(s.replica);
    c.add("f");
    // The clone's dot is the shared replica's: its state names s.replica.
    const merged = decodeState(c.encode(), "reader");
    expect((merged as AWSet).values()).toEqual(["e", "f"]);
    expect(Buffer.from(c.encode()).includes(Buffer.from(s.replica))).toBe(true);
    for (const x of [s, c, merged]) x.dispose();
  });

  it("a disposed state still answers its id", () => {
    const src = new MaxInt("x");
    src.set(3);
    const m = MaxInt.decode(src.encode());
    src.dispose();
    m.dispose();
    expect(m.replica).toMatch(hex16);
  });
});
