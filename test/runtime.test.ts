// The kernel's runtime (docs/abi.md, "Runtime"): the release build uses
// AssemblyScript's minimal runtime, whose collector runs only when collect()
// is called, so the host collects between calls (host/wasm/kernel.ts). These
// tests check that contract and the host's policy, by memory and by counting
// collections (no timers).
import { describe, expect, it } from "vitest";
import { init, kernel, MaxInt, AWSet, GMap, GCounter } from "../dist/host/index.node.js";
import { Kernel, COLLECT_EVERY, PACE_CAP, type KernelExports } from "../dist/host/wasm/kernel.js";

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

  it("through the host, 100k decode + dispose and 100k decomposes keep kernel memory within two doublings", async () => {
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
    // Collections are paced so that garbage stays within about the memory in
    // use (docs/abi.md, "Runtime"), and TLSF grows memory by doubling it: the
    // switch from a loop with almost no garbage (a long pace) to one with
    // more may take two doublings (measured after the v2 merge: 1.06 to
    // 4.25 MiB; before it, one).
    expect(k.memoryBytes() - before).toBeLessThanOrEqual(Math.max(MiB, 3 * before));
  });

  it("collects first at COLLECT_EVERY crossings, then paces by the garbage the kernel reports", async () => {
    await init();
    kernel().exports.collect(); // nothing earlier tests left is swept below
    const { k, collects } = counted();
    const h = k.withReplica("create", "a", Uint8Array.of(0x03)); // a MaxInt
    // The worst-case interval: 1 KiB of garbage assumed per crossing.
    const worst = Math.max(COLLECT_EVERY, k.memoryBytes() >>> 10);
    const ticks = 10 * COLLECT_EVERY;
    for (let i = 0; i < ticks; i++) k.tagOf(h);
    // tagOf makes no garbage, so after the first collection (at COLLECT_EVERY
    // crossings, the create included) the host waits PACE_CAP times longer.
    expect(collects()).toBe(1 + Math.floor((ticks + 1 - COLLECT_EVERY) / (PACE_CAP * worst)));
    // 4 × COLLECT_EVERY live handles: the worst-case interval becomes twice
    // that many crossings, so a collection's cost (about what is live) stays
    // constant per call.
    const live: number[] = [];
    for (let i = 0; i < 4 * COLLECT_EVERY; i++) live.push(k.withReplica("create", "a", Uint8Array.of(0x03)));
    expect(k.memoryBytes() >>> 10).toBeLessThan(2 * live.length); // the handles, not memory, set the pace
    const c0 = collects();
    const interval = PACE_CAP * 2 * live.length;
    for (let i = 0; i < 4 * interval; i++) k.tagOf(h);
    expect(collects() - c0).toBeGreaterThanOrEqual(3);
    expect(collects() - c0).toBeLessThanOrEqual(5);
    for (const x of live) k.int("dispose", x);
    k.int("dispose", h);
  });

  it("a run of calls that make garbage after a long run that made none keeps memory bounded", async () => {
    await init();
    kernel().exports.collect();
    const { k, collects } = counted();
    const m = k.withReplica("create", "a", Uint8Array.of(0x03));
    for (let i = 0; i < 16 * COLLECT_EVERY; i++) k.tagOf(m); // the pace is now PACE_CAP times the worst case
    const before = k.memoryBytes();
    const s = new AWSet("a"); s.add(1); s.add(2); s.remove(1);
    const h = k.withReplica("decode", "a", s.encode());
    s.dispose();
    const c0 = collects();
    // ~0.6 KiB of garbage each: 60 MiB if never collected.
    for (let i = 0; i < 100_000; i++) k.bytes("decompose", h);
    // The first collections measure the new rate and the pace returns to
    // the worst case's: at least one per max(COLLECT_EVERY, memory KiB)
    // crossings from then on.
    expect(collects() - c0).toBeGreaterThanOrEqual(Math.floor(100_000 / (PACE_CAP * Math.max(COLLECT_EVERY, k.memoryBytes() >>> 10))));
    // Memory grows at most once (the host collects at the crossing after a
    // growth) beyond what the worst-case pace alone reaches (within 1 MiB).
    expect(k.memoryBytes()).toBeLessThanOrEqual(2 * before + MiB);
    k.int("dispose", h);
    k.int("dispose", m);
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
    const mem = k.memoryBytes();
    try { k.call("has", big, h); } catch { /* not a valid element: only its size counts here */ }
    expect(collects()).toBe(1); // before the call that brought the input
    // A 1 MiB input buffer may grow memory: then the next crossing collects.
    k.tagOf(h);
    expect(collects()).toBe(k.memoryBytes() > mem ? 2 : 1);
    k.int("dispose", h);
  });
});
