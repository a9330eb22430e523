// Memory budgets under slow readers (issue 11), checked by counting bytes, not
// by timing: N peers that never read sit on a real node while its state grows.
// The node's own accounting of bytes queued to them never passes the
// configured budgets, and the process's RSS grows by less than those budgets
// plus a fixed slack, far below what the same traffic costs unbounded
// (printed alongside for comparison).
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createConnection } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { init, GSet } from "../dist/host/index.node.js";
import { RawPeer, sleep, startNode, until, type Started } from "./util/outsider.js";
import { Buckets, DEFAULT_LIMITS, MeteredTransport, TokenBucket, limits, maySend } from "../dist/host/transport/limits.js";

beforeAll(async () => { await init(); });

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f(); });

const MiB = 1 << 20;
const N = 20;
const SLACK = 128 * MiB; // the node's own state and delta buffer, and garbage (delta-groups made for each peer) not yet collected
const rss = () => process.memoryUsage().rss;
// What the process still holds once garbage is collected: JS heap and
// buffers (the kernel's memory, which never shrinks, is counted apart).
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const retained = (): number => { gc(); const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
const RETAINED_SLACK = 24 * MiB; // the node's state, delta buffer and per-peer bookkeeping

// Acks once (so every later round owes it a growing delta-group), then stops reading.
async function slowReader(s: Started, id: string): Promise<RawPeer> {
  const p = new RawPeer(s.ws, id);
  expect(await p.opened).toBe(true);
  await until(() => p.messages.some((m) => m.kind === "digest"), 10_000, `${id} gets a digest`);
  const d = p.messages.find((m) => m.kind === "digest")! as { session: number; seq: number };
  p.send({ kind: "ack", session: 3, acked: d.session, seq: d.seq });
  p.stopReading();
  return p;
}

// The accounting itself, on a clock the test moves.
describe("budget primitives", () => {
  it("a token bucket spends, refills at its rate up to its burst, and stays in debt after a charge", () => {
    let t = 0;
    const b = new TokenBucket(10, 5, () => t);
    for (let i = 0; i < 5; i++) expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    t = 100; // 0.1 s: one token
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    t = 10_000;
    expect(b.level()).toBe(5); // never above the burst
    expect(b.charge(25)).toBe(-20);
    expect(b.take()).toBe(false);
    t = 12_000; // 2 s pays the debt back
    expect(b.level()).toBe(0);
    t = 12_100;
    expect(b.take()).toBe(true);
  });

  it("remembers a bounded number of peers, forgetting those that owe nothing first", () => {
    let t = 0;
    const bs = new Buckets(1, 10, 3, () => t);
    bs.get("debtor").charge(100);
    bs.get("a"); bs.get("b");
    bs.get("c"); // over the max: the full ones go, the debtor stays
    expect(bs.size).toBeLessThanOrEqual(3);
    expect(bs.get("debtor").level()).toBeLessThan(0);
    for (let i = 0; i < 100; i++) bs.get(`flood${i}`);
    expect(bs.size).toBeLessThanOrEqual(3);
  });

  it("maySend: one frame to an idle peer, nothing past a busy peer's budget or the total", () => {
    const l = limits({ wsSendBudget: 100, wsTotalSendBudget: 1000 });
    expect(maySend(l, 0, 0, 5000)).toBe(true);     // idle everywhere: a big frame goes
    expect(maySend(l, 50, 50, 40)).toBe(true);
    expect(maySend(l, 50, 50, 60)).toBe(false);    // past this peer's budget
    expect(maySend(l, 0, 990, 20)).toBe(false);    // past the total
    expect(maySend(l, 0, 990, 0)).toBe(true);      // may it send at all? an idle peer: yes
    expect(maySend(l, 10, 1000, 0)).toBe(false);
  });

  it("limits() refuses unknown names and values that are not positive", () => {
    expect(limits()).toEqual(DEFAULT_LIMITS);
    expect(() => limits({ nope: 1 } as never)).toThrow(TypeError);
    for (const v of [0, -1, NaN, "5"]) expect(() => limits({ wsSendBudget: v as never })).toThrow(RangeError);
  });

  it("MeteredTransport charges each peer the work around its messages and refuses one in debt before any work", () => {
    let t = 0;
    const meter = { work: 0 };
    const handlers: ((from: string, m: Uint8Array) => void)[] = [];
    const inner = {
      self: "me", neighbours: () => ["x", "y"], send: () => {}, onNeighbour: () => () => {},
      onMessage: (h: (from: string, m: Uint8Array) => void) => { handlers.push(h); return () => {}; },
    };
    const over: string[] = [];
    const mt = new MeteredTransport(inner, { work: meter, rate: 1, burst: 100, now: () => t, onOver: (p) => over.push(p) });
    let done = 0;
    mt.onMessage(() => { meter.work += 40; done++; }); // each message costs 40 + its length
    const m = new Uint8Array(10);
    handlers[0]("x", m); handlers[0]("x", m); // 100 spent: at zero, still allowed
    expect(over).toEqual([]);
    handlers[0]("x", m); // this one crosses the budget: done, then reported
    expect(done).toBe(3);
    expect(over).toEqual(["x"]);
    handlers[0]("x", m); // in debt: refused before any work
    expect(done).toBe(3);
    handlers[0]("y", m); // another peer is untouched
    expect(done).toBe(4);
    expect(mt.stats()).toMatchObject({ delivered: 4, refused: 1, work: 200 });
    t = 60_000; // paid back at 1/s
    handlers[0]("x", m);
    expect(done).toBe(5);
  });
});

describe("what the kernel charges", () => {
  it("a part-hash list and a decomposition each charge PART_WORK a part (plus the bytes moved)", async () => {
    const { Runtime, kernel } = await import("../dist/host/index.node.js");
    const { partHashes, partsOf } = await import("../dist/host/replication/lattice.js");
    const { PART_WORK } = await import("../dist/host/wasm/kernel.js");
    const rt = new Runtime({ replica: "r.1" });
    rt.declare("s", GSet);
    rt.update("s", Array.from({ length: 300 }, (_, i) => ({ add: `x${i}` })));
    const bytes = rt.encode("s");
    for (const f of [partHashes, partsOf]) {
      const w0 = kernel().work;
      expect(f(bytes, kernel())).toHaveLength(300);
      const w = kernel().work - w0;
      expect(w).toBeGreaterThanOrEqual(300 * PART_WORK);
      expect(w).toBeLessThan(301 * PART_WORK + 8 * bytes.length);
    }
    rt.close();
  });
});

describe("work limits inside one message", () => {
  it("MeteredTransport sets the meter's workLimit to what the peer has left while its message is handled, then restores it", () => {
    const meter = { work: 1000, workLimit: Infinity };
    let h!: (from: string, m: Uint8Array) => void;
    const inner = { self: "me", neighbours: () => [], send: () => {}, onNeighbour: () => () => {}, onMessage: (f: typeof h) => { h = f; return () => {}; } };
    const total = new TokenBucket(1, 500, () => 0);
    const mt = new MeteredTransport(inner, { work: meter, rate: 1, burst: 300, now: () => 0, total, onOver: () => {} });
    const seen: number[] = [];
    mt.onMessage(() => { seen.push(meter.workLimit); meter.work += 100; });
    h("x", new Uint8Array(0));
    expect(seen).toEqual([1300]); // the peer's 300 (the total's 500 is larger)
    expect(meter.workLimit).toBe(Infinity);
    h("y", new Uint8Array(0)); // the total has 400 left, y has 300
    h("z", new Uint8Array(0)); // the total has 300 left
    h("w", new Uint8Array(0)); // the total has 200 left: that is all w may cost
    expect(seen).toEqual([1300, 1400, 1500, 1500]); // work so far + what is left
  });
});

describe("memory under slow readers", () => {
  it(`WebSocket: ${N} peers that never read hold no more than the send budgets`, async () => {
    const maxFrame = 2 * MiB;
    const l = { wsSendBudget: 256 * 1024, wsTotalSendBudget: 4 * MiB, wsStalls: 1_000_000 }; // kept connected: the budgets alone bound them
    const s = await startNode({ limits: l, maxFrame });
    cleanups.push(s.close);
    await s.node.declare("blob", GSet);
    const peers: RawPeer[] = [];
    for (let i = 0; i < N; i++) peers.push(await slowReader(s, `slow${i}`));
    cleanups.push(() => { for (const p of peers) p.terminate(); });
    const before = rss(), held0 = retained();
    let peak = before, worst = { total: 0, max: 0 }, wanted = 0, peakAb = 0, peakHeap = 0, peakHeld = held0;
    for (let i = 0; i < 40; i++) {
      await s.node.update("blob", { add: new Uint8Array(32 * 1024).fill(i) });
      // Unbounded, every round would queue the whole group since their ack to each.
      wanted += N * (i + 1) * 32 * 1024;
      await sleep(20);
      const b = s.node.wsServer.buffered();
      worst = { total: Math.max(worst.total, b.total), max: Math.max(worst.max, b.max) };
      peak = Math.max(peak, rss());
      const mu = process.memoryUsage();
      peakAb = Math.max(peakAb, mu.arrayBuffers); peakHeap = Math.max(peakHeap, mu.heapUsed);
      if (i % 4 === 3) peakHeld = Math.max(peakHeld, retained());
    }
    expect(s.node.wsServer.neighbours().filter((n) => n.startsWith("slow"))).toHaveLength(N);
    expect(s.node.wsServer.stats().dropped).toBeGreaterThan(0); // the budgets did refuse sends (or skip rounds)
    // The accounting: per peer at most its budget (or one frame to an idle
    // connection), and all together the total budget plus one frame.
    expect(worst.max).toBeLessThanOrEqual(Math.max(l.wsSendBudget, maxFrame));
    expect(worst.total).toBeLessThanOrEqual(l.wsTotalSendBudget + maxFrame);
    const growth = peak - before;
    const budget = Math.min(N * Math.max(l.wsSendBudget, maxFrame), l.wsTotalSendBudget + maxFrame);
    console.log(`ws: ${N} slow readers, RSS +${(growth / MiB).toFixed(1)} MiB (budget ${(budget / MiB).toFixed(1)} MiB + slack ${SLACK / MiB}); unbounded would queue ${(wanted / MiB).toFixed(0)} MiB; peak array buffers ${(peakAb / MiB).toFixed(0)} MiB, heap ${(peakHeap / MiB).toFixed(0)} MiB, kernel memory ${(s.node.runtime.kernel.memoryBytes() / MiB).toFixed(0)} MiB`);
    expect(growth).toBeLessThan(budget + SLACK);
    expect(wanted).toBeGreaterThan(3 * (budget + SLACK)); // the comparison means something
    // Garbage collected, what stays is bounded per peer (a frame's worth or
    // its send budget, each) plus a fixed slack; unbounded it would grow with
    // every round. (Measured: 1.6-2.8 MiB a peer here, more than the bytes the
    // accounting sees queued: kept in ws/socket bookkeeping; not yet pinned down.)
    console.log(`ws: retained after GC +${((peakHeld - held0) / MiB).toFixed(1)} MiB`);
    expect(peakHeld - held0).toBeLessThan(N * Math.max(l.wsSendBudget, maxFrame) + RETAINED_SLACK);
  }, 60_000);

  it(`HTTP: ${N} connections that request big states and never read hold no more than the reply budget`, async () => {
    const l = { httpResponseBudget: 4 * MiB, httpTotalBudget: 8 * MiB };
    const s = await startNode({ limits: l });
    cleanups.push(s.close);
    await s.node.declare("blob", GSet);
    for (let i = 0; i < 64; i++) await s.node.update("blob", { add: new Uint8Array(32 * 1024).fill(i) });
    const size = s.node.runtime.encode("blob").length;
    const before = rss();
    const req = `GET /v/blob/state HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${s.node.token}\r\n\r\n`.repeat(3);
    const socks = Array.from({ length: N }, () => {
      const k = createConnection({ host: "127.0.0.1", port: s.node.port });
      k.on("error", () => {});
      k.on("connect", () => { k.write(req); k.pause(); });
      return k;
    });
    cleanups.push(() => { for (const k of socks) k.destroy(); });
    let peak = before;
    for (let i = 0; i < 40; i++) { await sleep(25); peak = Math.max(peak, rss()); }
    const st = s.node.httpLimits.stats();
    expect(st.maxHeld).toBeLessThanOrEqual(l.httpTotalBudget);
    const growth = peak - before;
    const wanted = N * 3 * size;
    console.log(`http: ${N} slow readers, RSS +${(growth / MiB).toFixed(1)} MiB (budget ${l.httpTotalBudget / MiB} MiB + slack ${SLACK / MiB}); unbounded would hold ${(wanted / MiB).toFixed(0)} MiB; refused ${JSON.stringify(st.refused)}`);
    expect((st.refused.BUSY ?? 0) + (st.refused.SLOW_READER ?? 0)).toBeGreaterThan(0); // the budget was reached
    // Each refused request still encoded its state once (garbage, not held):
    // the slack covers that, the budget what is held.
    expect(growth).toBeLessThan(l.httpTotalBudget + SLACK);
  }, 60_000);
});
