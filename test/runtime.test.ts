// The kernel's runtime (docs/abi.md, "Runtime"): the release build uses
// AssemblyScript's minimal runtime, whose collector runs only when collect()
// is called, so the host collects between calls (host/wasm/kernel.ts). These
// tests check that contract and the host's policy, by memory and by counting
// collections (no timers).
import { describe, expect, it } from "vitest";
import { init, kernel, MaxInt, AWSet, GMap, GCounter } from "../dist/host/index.node.js";
import { Kernel, COLLECT_EVERY, type KernelExports } from "../dist/host/wasm/kernel.js";

const MiB = 2 ** 20;

// A Kernel over the installed instance whose collect() is counted.
function counted(): { k: Kernel; collects: () => number } {
  const ex = kernel().exports;
  let n = 0;
  const spy: KernelExports = Object.create(null);
  for (const name of Object.keys(ex) as (keyof KernelExports)[]) (spy as unknown as Record<string, unknown>)[name] = ex[name];
  spy.collect = () => { n++; ex.collect(); };
  return { k: new Kernel(spy), collects: () => n };
}

const maxInt = (): Uint8Array => { const m = new MaxInt("src"); m.set(42); const b = m.encode(); m.dispose(); return b; };

describe("runtime: the host collects the kernel's garbage between calls", () => {
  it("the release kernel collects only when asked (hostCollects() is 1)", async () => {
    await init();
    const ex = kernel().exports;
    expect(ex.hostCollects?.()).toBe(1);
    // Calls made past the host leave their garbage until collect(): a
    // second identical loop after collect() reuses what the first freed.
    const state = maxInt();
    const loop = (): void => {
      for (let i = 0; i < 20_000; i++) {
        const p = ex.input(state.length + 2);
        const mem = new Uint8Array(ex.memory.buffer);
        mem[p] = 1; mem[p + 1] = 0x72; mem.set(state, p + 2);
        const h = ex.decode(state.length + 2);
        expect(h).toBeGreaterThan(0);
        ex.dispose(h);
      }
    };
    loop();
    ex.collect();
    const after = kernel().memoryBytes();
    loop();
    expect(kernel().memoryBytes()).toBe(after);
    ex.collect();
  });

  it("through the host, 100k decode + dispose and 100k decomposes keep kernel memory within 1 MiB", async () => {
    await init();
    const k = kernel();
    const state = maxInt();
    const before = k.memoryBytes();
    for (let i = 0; i < 100_000; i++) MaxInt.decode(state, "r").dispose();
    const s = new AWSet("a"); s.add(1); s.add(2); s.remove(1);
    const h = k.withReplica("decode", "a", s.encode());
    s.dispose();
    for (let i = 0; i < 100_000; i++) k.bytes("decompose", h);
    k.int("dispose", h);
    // Without collections these loops took the kernel from 1 to 8 and 64 MiB.
    expect(k.memoryBytes() - before).toBeLessThanOrEqual(MiB);
  });

  it("collects every COLLECT_EVERY crossings, and less often the more handles are live", async () => {
    await init();
    const { k, collects } = counted();
    const h = k.withReplica("create", "a", Uint8Array.of(0x03)); // a MaxInt
    // The first collection comes at COLLECT_EVERY crossings (the create
    // included), the next ones every max(COLLECT_EVERY, memory KiB).
    const every = Math.max(COLLECT_EVERY, k.memoryBytes() >>> 10);
    const ticks = 10 * COLLECT_EVERY;
    for (let i = 0; i < ticks; i++) k.tagOf(h);
    expect(collects()).toBe(1 + Math.floor((ticks + 1 - COLLECT_EVERY) / every));
    // 4 × COLLECT_EVERY live handles: after the next collection the host
    // waits for twice that many crossings, so a collection's cost (about
    // what is live) stays constant per call.
    const live: number[] = [];
    for (let i = 0; i < 4 * COLLECT_EVERY; i++) live.push(k.withReplica("create", "a", Uint8Array.of(0x03)));
    expect(k.memoryBytes() >>> 10).toBeLessThan(2 * live.length); // the handles, not memory, set the pace
    const c0 = collects();
    for (let i = 0; i < 32 * COLLECT_EVERY; i++) k.tagOf(h);
    expect(collects() - c0).toBeGreaterThanOrEqual(3);
    expect(collects() - c0).toBeLessThanOrEqual(5);
    for (const x of live) k.int("dispose", x);
    k.int("dispose", h);
  });

  it("collects less often the more kernel memory is in use (a large map of managed values)", async () => {
    await init();
    // A GMap of GCounters holds one managed object per key: 20k keys.
    const g = new GMap("a", GCounter);
    g.batch((t) => { for (let i = 0; i < 20_000; i++) t.update("k" + i, GCounter.ops.increment(1)); });
    const { k, collects } = counted();
    const h = k.withReplica("create", "a", Uint8Array.of(0x03));
    const every = k.memoryBytes() >>> 10;
    expect(every).toBeGreaterThan(8 * COLLECT_EVERY); // the memory sets the pace
    const ticks = 32 * COLLECT_EVERY;
    for (let i = 0; i < ticks; i++) k.tagOf(h);
    // The first at COLLECT_EVERY, then one per `every` crossings (32 without the memory term).
    expect(collects()).toBeLessThanOrEqual(1 + Math.ceil(ticks / every));
    expect(collects()).toBeGreaterThanOrEqual(1);
    k.int("dispose", h);
    g.dispose();
  });

  it("large inputs count towards the next collection by their size", async () => {
    await init();
    const { k, collects } = counted();
    const h = k.withReplica("create", "a", Uint8Array.of(0x08)); // a GSet
    const big = new Uint8Array(COLLECT_EVERY * 1024); // debt: 1 + COLLECT_EVERY
    try { k.call("has", big, h); } catch { /* not a valid element: only its size counts here */ }
    k.tagOf(h);
    expect(collects()).toBe(1);
    k.int("dispose", h);
  });
});
