// Leak test (DESIGN.md, "The Wasm boundary": memory is released
// deterministically by dispose()). Create / merge / encode / decode / dispose
// in a loop; after the kernel's collect(), Wasm memory after 20,000 iterations
// is no larger than after a 2,000-iteration warm-up (plus a small margin), and
// live handles return to their baseline. Also: a disposed instance throws
// DISPOSED on any use, and every class throws NOT_INITIALIZED before init()
// (checked in a child process, since init is global).
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { init, kernel, AWSet, GCounter, TrellisError, decodeState } from "../dist/host/index.node.js";
import type { Crdt } from "../dist/host/index.node.js";
import { fixtures } from "./util/fixtures.js";
import { build, historyArb, History } from "./util/history.js";
import { Scope } from "./util/scope.js";
import { runs, SCALE } from "./util/runs.js";

const MiB = 1 << 20;
// Growth allowed between the warm-up and the end: a few pages of allocator slack.
const MARGIN = 2 * MiB;

let k: ReturnType<typeof kernel>;
beforeAll(async () => { await init(); k = kernel(); });

function settle(): { memory: number; handles: number } {
  k.exports.collect();
  return { memory: k.memoryBytes(), handles: k.exports.liveHandles() };
}

describe("memory stays bounded", () => {
  const iterations = runs(20_000);
  const warmup = Math.round(iterations / 10);

  it(`${iterations} iterations of sets with ~100 elements and counters: bounded memory, handles back to baseline`, () => {
    const base = settle();
    // Sets of ~100 and ~50 elements, built once by ops and then decoded each
    // round (building them by ops each round costs O(n²) in the AWSet kernel,
    // see the report), so every round still creates, mutates, merges,
    // encodes, decodes and disposes sets of that size.
    const seedA = new AWSet<string | number>("r1"), seedB = new AWSet<string | number>("r2");
    seedA.batch((s) => { for (let j = 0; j < 100; j++) s.add(`item-${j}`); });
    seedB.batch((s) => { for (let j = 0; j < 60; j++) s.add(j); for (let j = 0; j < 10; j++) s.remove(j * 3); });
    const bytesA = seedA.encode(), bytesB = seedB.encode();
    seedA.dispose(); seedB.dispose();
    const round = (i: number) => {
      const a = AWSet.decode<string | number>(bytesA, "r1");
      const b = AWSet.decode<string | number>(bytesB, "r2");
      const c = new GCounter("r1");
      const d = new GCounter("r2");
      let e: AWSet<string | number> | undefined, g: GCounter | undefined, h: Crdt<unknown> | undefined;
      try {
        a.batch((s) => { s.add(`new-${i % 300}`); s.remove(`item-${i % 100}`); s.add(i); });
        b.batch((s) => { s.add(`b-${i}`); s.remove((i * 3) % 60); });
        a.merge(b);
        a.merge(b.takeDelta());
        e = AWSet.decode<string | number>(a.encode(), "r3");
        e.merge(a.takeDelta());
        if (e.size !== a.size) throw new Error(`decoded set has ${e.size} elements, not ${a.size}`);
        c.increment(i); d.increment(3);
        c.merge(d.encode());
        g = GCounter.decode(c.encode(), "r4");
        g.merge(d);
        h = g.delta(d);
        if (i % 500 === 0) for (const p of b.decompose()) p.dispose();
      } finally {
        for (const x of [a, b, c, d, e, g, h]) x?.dispose();
      }
    };
    for (let i = 0; i < warmup; i++) round(i);
    const warm = settle();
    for (let i = warmup; i < iterations; i++) round(i);
    const end = settle();
    console.log(`leak: memory ${(base.memory / MiB).toFixed(2)} MiB at start, ${(warm.memory / MiB).toFixed(2)} after ${warmup}, ` +
      `${(end.memory / MiB).toFixed(2)} after ${iterations}; handles ${base.handles} → ${warm.handles} → ${end.handles}`);
    expect(end.handles).toBe(base.handles);
    expect(warm.handles).toBe(base.handles);
    expect(end.memory).toBeLessThanOrEqual(warm.memory + MARGIN);
  }, 300_000 * Math.max(1, SCALE));

  it("every type: random histories built and disposed leave memory and handles where they were", () => {
    const histories = fixtures.map((f) => ({ f, hs: fc.sample(historyArb<unknown>(f, { maxSteps: 16 }), { seed: 3, numRuns: 20 }) as History<unknown>[] }));
    const round = () => {
      for (const { f, hs } of histories) {
        for (const h of hs) {
          const s = new Scope();
          try {
            const u = build(f, h, s);
            const x = u.pick(h.picks[0]);
            s.track(decodeState(x.encode(), "z")).merge(u.pick(h.picks[1]));
            s.trackAll(x.decompose());
            s.track(x.delta(u.pick(h.picks[2])));
          } finally { s.dispose(); }
        }
      }
    };
    const base = settle();
    for (let i = 0; i < 3; i++) round();
    const warm = settle();
    for (let i = 0; i < 17; i++) round();
    const end = settle();
    console.log(`leak (all types): memory ${(warm.memory / MiB).toFixed(2)} → ${(end.memory / MiB).toFixed(2)} MiB; handles ${base.handles} → ${end.handles}`);
    expect(end.handles).toBe(base.handles);
    expect(end.memory).toBeLessThanOrEqual(warm.memory + MARGIN);
  });
});

describe("dispose", () => {
  it.each(fixtures.map((f) => [f.name, f] as const))("%s: any use after dispose throws DISPOSED", (_n, f) => {
    const x = f.make("a");
    const other = f.make("b");
    const op = fc.sample(f.op, { seed: 1, numRuns: 1 })[0];
    f.apply(other, op);
    const bytes = other.encode();
    const live = k.exports.liveHandles();
    x.dispose();
    expect(k.exports.liveHandles()).toBe(live - 1);
    expect(x.disposed).toBe(true);
    const uses: [string, () => unknown][] = [
      ["encode", () => x.encode()], ["takeDelta", () => x.takeDelta()], ["merge(instance)", () => x.merge(other)],
      ["merge(bytes)", () => x.merge(bytes)], ["other.merge(disposed)", () => other.merge(x)], ["leq", () => x.leq(other)],
      ["other.leq(disposed)", () => other.leq(x)], ["equals", () => x.equals(other)], ["isBottom", () => x.isBottom],
      ["delta", () => x.delta(other)], ["other.delta(disposed)", () => other.delta(x)], ["decompose", () => x.decompose()],
      ["clone", () => x.clone()], ["value", () => f.value(x)], ["toJSON", () => x.toJSON()], ["op", () => f.apply(x, op)],
      ["batch", () => x.batch(() => f.apply(x, op))],
    ];
    try {
      for (const [what, use] of uses) {
        let err: unknown;
        try { use(); } catch (e) { err = e; }
        expect(err, `${f.name}.${what} after dispose`).toBeInstanceOf(TrellisError);
        expect((err as TrellisError).code, `${f.name}.${what} after dispose`).toBe("DISPOSED");
      }
      x.dispose(); // disposing twice is harmless
      expect(k.exports.liveHandles()).toBe(live - 1);
      expect(other.encode()).toEqual(bytes); // failed uses did not touch the other state
    } finally { other.dispose(); }
  });
});

describe("before init()", () => {
  it("every class throws NOT_INITIALIZED, and works after init()", () => {
    const script = fileURLToPath(new URL("./util/uninitialized.ts", import.meta.url));
    const out = execFileSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8", timeout: 60_000, cwd: fileURLToPath(new URL("..", import.meta.url)) });
    const results = JSON.parse(out.trim().split("\n").pop()!) as { what: string; before: string; after: string }[];
    expect(results.length).toBeGreaterThanOrEqual(fixtures.length + 3);
    for (const r of results) {
      expect(r.before, `${r.what} before init`).toBe("TrellisError NOT_INITIALIZED");
      expect(r.after, `${r.what} after init`).toBe("ok");
    }
  }, 90_000);
});
