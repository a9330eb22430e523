// The kernel's runtime (docs/abi.md, "Runtime"): the release build uses
// AssemblyScript's minimal runtime, whose collector runs only when collect()
// is called, so the host collects between calls (host/wasm/kernel.ts). These
// tests check that contract and the host's policy, by memory and by counting
// collections (no timers).
import { describe, expect, it } from "vitest";
import { init, kernel, MaxInt, AWSet } from "../dist/host/index.node.js";
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
    for (let i = 0; i < 10 * COLLECT_EVERY; i++) k.tagOf(h);
    expect(collects()).toBe(10);
    // 4 × COLLECT_EVERY live handles: after the next collection the host
    // waits for twice that many crossings, so a collection's cost (about
    // what is live) stays constant per call.
    const live: number[] = [];
    for (let i = 0; i < 4 * COLLECT_EVERY; i++) live.push(k.withReplica("create", "a", Uint8Array.of(0x03)));
    const c0 = collects();
    for (let i = 0; i < 32 * COLLECT_EVERY; i++) k.tagOf(h);
    expect(collects() - c0).toBeGreaterThanOrEqual(3);
    expect(collects() - c0).toBeLessThanOrEqual(5);
    for (const x of live) k.int("dispose", x);
    k.int("dispose", h);
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
