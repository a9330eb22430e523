// Range-based set reconciliation (host/replication/reconcile.ts,
// docs/replication.md "Range-based reconciliation"): two random sets learn
// exactly their symmetric difference, on both sides, within the wire limits
// and a bounded number of rounds, whatever the limits.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ReconcileSet, Reconciler, type ReconcileItem, type ReconcileOptions } from "../dist/host/replication/reconcile.js";
import { DEFAULT_WIRE_LIMITS, decodeRanges } from "../dist/host/replication/reconcile-wire.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const hexSet = (xs: Uint8Array[]) => new Set(xs.map(hex));

// Distinct ids from a seed (fast-check shrinks the seed, not 32-byte arrays).
function ids(seed: number, n: number): Uint8Array[] {
  let s = seed >>> 0 || 1;
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const b = new Uint8Array(32);
    for (let j = 0; j < 32; j++) { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; b[j] = s; }
    b[0] = i & 0xff; b[1] = (i >>> 8) & 0xff; b[2] = i >>> 16; // distinct whatever the generator does
    out.push(b);
  }
  return out;
}

interface Run { messages: number; bytes: number; a: Reconciler; b: Reconciler; maxMessage: number }

// b starts; messages alternate until one side has nothing to send. Every
// message must decode under the limits both sides share.
function exchange(a: Reconciler, b: Reconciler, limits = DEFAULT_WIRE_LIMITS): Run {
  let msg: Uint8Array | null = b.initiate();
  let messages = 0, bytes = 0, maxMessage = 0, turn = 0, senderDone = false;
  while (msg) {
    messages++; bytes += msg.length; maxMessage = Math.max(maxMessage, msg.length);
    decodeRanges(msg, limits); // throws if a reply broke a limit
    const step = (turn++ % 2 === 0 ? a : b).reconcile(msg);
    // A side that said it was done (its message asked nothing) gets no answer.
    if (senderDone) expect(step.reply).toBeNull();
    senderDone = step.done;
    msg = step.reply;
  }
  return { messages, bytes, a, b, maxMessage };
}

function expectDifference(run: Run, onlyA: Uint8Array[], onlyB: Uint8Array[]): void {
  expect(hexSet(run.a.have)).toEqual(hexSet(onlyA));
  expect(hexSet(run.a.need)).toEqual(hexSet(onlyB));
  expect(hexSet(run.b.have)).toEqual(hexSet(onlyB));
  expect(hexSet(run.b.need)).toEqual(hexSet(onlyA));
  // Each id is reported once.
  for (const l of [run.a.have, run.a.need, run.b.have, run.b.need]) expect(hexSet(l).size).toBe(l.length);
}

const limitsArb = fc.record({
  branching: fc.integer({ min: 2, max: 16 }),
  idListThreshold: fc.integer({ min: 1, max: 16 }),
  extraRanges: fc.integer({ min: 0, max: 40 }),
  extraIds: fc.integer({ min: 0, max: 40 }),
  extraBytes: fc.integer({ min: 0, max: 3000 }),
}).map((l): Partial<ReconcileOptions> => {
  const maxIds = l.idListThreshold + l.extraIds;
  return {
    branching: l.branching, idListThreshold: l.idListThreshold, maxRanges: l.branching + 2 + l.extraRanges, maxIds, maxRounds: 100_000,
    // From the smallest message the options allow (the first range of a reply always fits) up.
    maxMessageBytes: 1 + (l.branching + 2) * 60 + maxIds * 32 + (maxIds >> 3) + l.extraBytes,
  };
});

describe("range-based reconciliation", () => {
  it("two random sets learn exactly their symmetric difference, on both sides, under any limits", () => {
    fc.assert(fc.property(
      fc.integer(), fc.nat(300), fc.nat(60), fc.nat(60), fc.option(limitsArb, { nil: undefined }),
      (seed, common, onlyA, onlyB, limits) => {
        const all = ids(seed, common + onlyA + onlyB);
        const shared = all.slice(0, common), aOnly = all.slice(common, common + onlyA), bOnly = all.slice(common + onlyA);
        const a = new Reconciler([...shared, ...aOnly], limits), b = new Reconciler([...bOnly, ...shared], limits);
        const run = exchange(a, b, { ...DEFAULT_WIRE_LIMITS, ...limits });
        expectDifference(run, aOnly, bOnly);
      }), { numRuns: 300 });
  });

  it("ids sharing long prefixes (ties in the sort, bounds of up to 32 bytes) give the same difference", () => {
    fc.assert(fc.property(
      fc.integer(), fc.integer({ min: 4, max: 31 }), fc.nat(200), fc.nat(40), fc.nat(40), fc.option(limitsArb, { nil: undefined }),
      (seed, shared, common, onlyA, onlyB, limits) => {
        // Every id starts with the same `shared` bytes; they differ only after.
        const all = ids(seed, common + onlyA + onlyB).map((b) => {
          const c = new Uint8Array(32);
          c.fill(0xab, 0, shared);
          c.set(b.subarray(0, 32 - shared).reverse(), shared); // the distinct bytes last
          return c;
        });
        fc.pre(hexSet(all).size === all.length);
        const aOnly = all.slice(common, common + onlyA), bOnly = all.slice(common + onlyA);
        const a = new Reconciler([...aOnly, ...all.slice(0, common)].reverse(), limits), b = new Reconciler([...all.slice(0, common), ...bOnly], limits);
        const run = exchange(a, b, { ...DEFAULT_WIRE_LIMITS, ...limits });
        expectDifference(run, aOnly, bOnly);
      }), { numRuns: 150 });
  });

  it("counter-like ids do not collide: sums are of the ids' hashes (regression: raw sums of 16 ids 186..201 and 202..217 matched)", () => {
    // Ids that differ only in their last three bytes, a big-endian counter:
    // read as little-endian numbers those are the top bytes, which wrap mod 2^256.
    const id = (i: number) => { const c = new Uint8Array(32).fill(0xab); c[29] = i >> 16; c[30] = (i >> 8) & 0xff; c[31] = i & 0xff; return c; };
    const range = (a: number, b: number) => Array.from({ length: b - a }, (_, k) => id(a + k));
    const limits = { branching: 8, idListThreshold: 12, maxRanges: 10, maxIds: 17, maxMessageBytes: 1147 };
    const run = exchange(new Reconciler(range(0, 202), limits), new Reconciler([...range(0, 169), ...range(202, 218)], limits), { ...DEFAULT_WIRE_LIMITS, ...limits });
    expectDifference(run, range(169, 202), range(202, 218));
  });

  it("with timestamps (ties included) the difference is the same", () => {
    fc.assert(fc.property(
      fc.integer(), fc.nat(200), fc.nat(40), fc.nat(40), fc.integer({ min: 1, max: 6 }), fc.option(limitsArb, { nil: undefined }),
      (seed, common, onlyA, onlyB, spread, limits) => {
        const all = ids(seed, common + onlyA + onlyB);
        const item = (id: Uint8Array, i: number): ReconcileItem => ({ id, ts: 1_700_000_000_000 + ((i * 7919) % spread) });
        const items = all.map(item);
        const o = { ...limits, timestamps: true };
        const a = new Reconciler([...items.slice(0, common + onlyA)], o);
        const b = new Reconciler([...items.slice(common + onlyA), ...items.slice(0, common)], o);
        const run = exchange(a, b, { ...DEFAULT_WIRE_LIMITS, ...limits });
        expectDifference(run, all.slice(common, common + onlyA), all.slice(common + onlyA));
      }), { numRuns: 150 });
  });

  it("empty sets: two messages, nothing learned; one empty side learns all of the other", () => {
    const empty = exchange(new Reconciler([]), new Reconciler([]));
    expect(empty.messages).toBe(2);
    expectDifference(empty, [], []);
    const xs = ids(7, 500);
    const run = exchange(new Reconciler(xs), new Reconciler([]));
    expectDifference(run, xs, []);
    const back = exchange(new Reconciler([]), new Reconciler(xs));
    expectDifference(back, [], xs);
  });

  it("identical sets agree in one round trip: the answer is the version byte alone", () => {
    for (const n of [1, 16, 17, 10_000]) {
      const xs = ids(n, n);
      const run = exchange(new Reconciler(xs), new Reconciler([...xs].reverse()));
      expect(run.messages).toBe(2);
      expect(run.bytes).toBeLessThanOrEqual(1 + 16 * 40); // 16 fingerprints and one byte back
      expectDifference(run, [], []);
    }
  });

  it("a returning replica missing k of 10,000: rounds grow with log16(n), bytes with k", () => {
    const xs = ids(3, 10_000);
    const sizes: number[] = [];
    for (const k of [1, 10, 100]) {
      const missing = xs.filter((_, i) => i % Math.floor(10_000 / k) === 0).slice(0, k);
      const gone = hexSet(missing);
      const run = exchange(new Reconciler(xs), new Reconciler(xs.filter((x) => !gone.has(hex(x)))));
      expectDifference(run, missing, []);
      // 16 -> 256 -> 4096 ranges, then lists of <= 16 ids and their Diff: 5 messages.
      expect(run.messages).toBeLessThanOrEqual(6);
      sizes.push(run.bytes);
    }
    // Far below the 8-byte hash of every one of 10,000 parts (80 kB) for small k.
    expect(sizes[0]).toBeLessThan(8_000);
    expect(sizes[1]).toBeLessThan(20_000);
    expect(sizes[2]).toBeGreaterThan(sizes[1]);
  });

  it("a new replica catching up 50,000 ids takes n / maxIds rounds, each message within the limits", () => {
    const xs = ids(5, 50_000);
    const run = exchange(new Reconciler(xs), new Reconciler([]));
    expectDifference(run, xs, []);
    expect(run.maxMessage).toBeLessThanOrEqual(DEFAULT_WIRE_LIMITS.maxMessageBytes);
    expect(run.messages).toBeLessThanOrEqual(2 * Math.ceil(50_000 / DEFAULT_WIRE_LIMITS.maxIds) + 6);
  });

  it("one ReconcileSet serves many sessions: each peer's difference is its own", () => {
    const xs = ids(12, 3000);
    const set = new ReconcileSet(xs.slice(0, 2000));
    const peers = [xs.slice(500, 2500), xs.slice(0, 1990), xs.slice(1000, 3000)];
    for (const p of peers) {
      const run = exchange(new Reconciler(set), new Reconciler(p));
      const theirs = hexSet(p), mine = hexSet(xs.slice(0, 2000));
      expectDifference(run, xs.slice(0, 2000).filter((x) => !theirs.has(hex(x))), p.filter((x) => !mine.has(hex(x))));
    }
    expect(new Reconciler(set).size).toBe(2000);
    expect(() => new Reconciler(set, { timestamps: true })).toThrow(/BAD_INPUT/);
  });

  it("input: an id not of 32 bytes, a bad or unexpected timestamp, an id under two timestamps or bad options are BAD_INPUT; repeats collapse", () => {
    const [x, y] = ids(1, 2);
    const code = (f: () => unknown) => { try { f(); } catch (e) { return (e as { name: string; code: string }).name + ":" + (e as { code: string }).code; } return "ok"; };
    expect(code(() => new Reconciler([new Uint8Array(31)]))).toBe("ReconcileError:BAD_INPUT");
    const timed = { timestamps: true };
    expect(code(() => new Reconciler([{ id: x, ts: -1 }], timed))).toBe("ReconcileError:BAD_INPUT");
    expect(code(() => new Reconciler([{ id: x, ts: 1.5 }], timed))).toBe("ReconcileError:BAD_INPUT");
    expect(code(() => new Reconciler([{ id: x, ts: 1 }, { id: x, ts: 2 }], timed))).toBe("ReconcileError:BAD_INPUT");
    expect(new Reconciler([{ id: x, ts: 1 }, { id: y, ts: 2 }], timed).size).toBe(2);
    expect(code(() => new Reconciler([{ id: x, ts: 1 }]))).toBe("ReconcileError:BAD_INPUT"); // timestamps, but the option is off
    expect(code(() => new Reconciler([], { timestamps: "yes" as unknown as boolean }))).toBe("ReconcileError:BAD_INPUT");
    expect(code(() => new Reconciler([null as unknown as Uint8Array]))).toBe("ReconcileError:BAD_INPUT");
    expect(code(() => new Reconciler(null as unknown as Uint8Array[]))).toBe("ReconcileError:BAD_INPUT");
    expect(code(() => new Reconciler([], { branching: 1 }))).toBe("ReconcileError:BAD_INPUT");
    expect(code(() => new Reconciler([], { branching: 16, maxRanges: 17 }))).toBe("ReconcileError:BAD_INPUT");
    expect(code(() => new Reconciler([], { idListThreshold: 32, maxIds: 31 }))).toBe("ReconcileError:BAD_INPUT");
    expect(code(() => new Reconciler([], { maxIds: 1000, maxMessageBytes: 1000 * 32 }))).toBe("ReconcileError:BAD_INPUT"); // the ids alone fill it
    expect(new Reconciler([x, y, x, { id: y }]).size).toBe(2);
  });
});
