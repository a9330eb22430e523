// Memory budgets under slow readers (issue 11), checked by counting bytes, not
// by timing: N peers that never read sit on a real node while its state grows.
// The node's own accounting of bytes queued to them never passes the
// configured budgets, and the process's RSS grows by less than those budgets
// plus a fixed slack, far below what the same traffic costs unbounded
// (printed alongside for comparison).
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createConnection } from "node:net";
import { init, GSet } from "../dist/host/index.node.js";
import { RawPeer, sleep, startNode, until, type Started } from "./util/outsider.js";

beforeAll(async () => { await init(); });

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f(); });

const MiB = 1 << 20;
const N = 20;
const SLACK = 128 * MiB; // the node's own state and delta buffer, and garbage (delta-groups made for each peer) not yet collected
const rss = () => process.memoryUsage().rss;

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
    const before = rss();
    let peak = before, worst = { total: 0, max: 0 }, wanted = 0;
    for (let i = 0; i < 40; i++) {
      await s.node.update("blob", { add: new Uint8Array(32 * 1024).fill(i) });
      // Unbounded, every round would queue the whole group since their ack to each.
      wanted += N * (i + 1) * 32 * 1024;
      await sleep(20);
      const b = s.node.wsServer.buffered();
      worst = { total: Math.max(worst.total, b.total), max: Math.max(worst.max, b.max) };
      peak = Math.max(peak, rss());
    }
    expect(s.node.wsServer.neighbours().filter((n) => n.startsWith("slow"))).toHaveLength(N);
    expect(s.node.wsServer.stats().dropped).toBeGreaterThan(0); // the budgets did refuse sends (or skip rounds)
    // The accounting: per peer at most its budget (or one frame to an idle
    // connection), and all together the total budget plus one frame.
    expect(worst.max).toBeLessThanOrEqual(Math.max(l.wsSendBudget, maxFrame));
    expect(worst.total).toBeLessThanOrEqual(l.wsTotalSendBudget + maxFrame);
    const growth = peak - before;
    const budget = Math.min(N * Math.max(l.wsSendBudget, maxFrame), l.wsTotalSendBudget + maxFrame);
    console.log(`ws: ${N} slow readers, RSS +${(growth / MiB).toFixed(1)} MiB (budget ${(budget / MiB).toFixed(1)} MiB + slack ${SLACK / MiB}); unbounded would queue ${(wanted / MiB).toFixed(0)} MiB`);
    expect(growth).toBeLessThan(budget + SLACK);
    expect(wanted).toBeGreaterThan(3 * (budget + SLACK)); // the comparison means something
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
