// Update throughput and latency between a server and 1 / 10 / 100 WebSocket
// clients on loopback: every peer is a Runtime with a Replicator over the
// real transport (ws server, WsClient on ws's WebSocket), shipping each
// change at once (as TrellisNode does) with rounds every second to catch up.
//   throughput: every client increments its own GCounter entry as fast as it
//     can; updates/s until the server has seen them all
//   latency: one client updates; time until the server's threshold read
//     resolves, and until another client's does (client → server → client)
import { Runtime, GCounter, Replicator } from "trellis";
import { WsServer, WsClient, NodeWebSocket } from "trellis/ws";
import { Table, count, ms, table } from "./lib/harness.js";

interface Peer { rt: Runtime; rep: Replicator; close(): Promise<void> }

// Eager shipping: a round right after a change (coalesced per turn).
function eager(rt: Runtime, rep: Replicator): void {
  let queued = false;
  rt.onDelta((_id, _d, origin) => {
    if (origin !== "local" || queued) return;
    queued = true;
    setImmediate(() => { queued = false; rep.sync(); });
  });
}

async function setup(clients: number): Promise<{ server: Peer; clients: Peer[]; ws: WsServer }> {
  const ws = await WsServer.listen({ id: "server", open: true, port: 0, path: "/sync" });
  const srt = new Runtime({ replica: "server" }).declare("views", GCounter);
  const srep = new Replicator(srt, ws, { interval: 1000 }).start();
  eager(srt, srep);
  // The server also forwards what it learns from one client to the others at once.
  srt.onDelta((_id, _d, origin) => { if (origin === "remote") setImmediate(() => srep.sync()); });
  const server: Peer = { rt: srt, rep: srep, close: async () => { srep.close(); await ws.close(0); srt.close(); } };
  const url = `ws://127.0.0.1:${ws.port}/sync`;
  const peers: Peer[] = [];
  for (let i = 0; i < clients; i++) {
    const rt = new Runtime({ replica: `c${i}` }).declare("views", GCounter);
    const t = new WsClient({ url, id: `c${i}`, WebSocket: NodeWebSocket });
    const rep = new Replicator(rt, t, { interval: 1000 }).start();
    eager(rt, rep);
    peers.push({ rt, rep, close: async () => { rep.close(); await t.close(); rt.close(); } });
  }
  while (ws.neighbours().length < clients) await new Promise((r) => setTimeout(r, 10));
  return { server, clients: peers, ws };
}

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };

export async function wsBench(o: { sizes: number[]; updates: number; samples: number; log: (s: string) => void }): Promise<Table> {
  const t = table("ws", "WebSocket sync on loopback: one server, n clients (each a Runtime + Replicator over the real transport)",
    ["clients", "updates", "throughput (updates/s)", "client → server p50 (ms)", "p95", "client → client p50 (ms)", "p95", "converged"]);
  for (const n of o.sizes) {
    const { server, clients, ws } = await setup(n);
    // Throughput: all clients at once, each its own increments.
    const per = Math.max(1, Math.floor(o.updates / n));
    const total = per * n;
    const start = performance.now();
    const done = server.rt.read("views", { atLeast: total });
    await Promise.all(clients.map(async (c) => {
      for (let i = 0; i < per; i++) {
        c.rt.update("views", { increment: 1 });
        if (i % 50 === 49) await new Promise((r) => setImmediate(r)); // let the socket drain
      }
    }));
    await done;
    const thr = total / ((performance.now() - start) / 1000);
    // Latency, one update at a time.
    const toServer: number[] = [], toClient: number[] = [];
    const a = clients[0], b = clients[clients.length > 1 ? 1 : 0];
    for (let i = 0; i < o.samples; i++) {
      const target = (server.rt.query("views") as number) + 1;
      const s = performance.now();
      const atServer = server.rt.read("views", { atLeast: target }).then(() => toServer.push(performance.now() - s));
      const atClient = b !== a ? b.rt.read("views", { atLeast: target }).then(() => toClient.push(performance.now() - s)) : Promise.resolve();
      a.rt.update("views", { increment: 1 });
      await Promise.all([atServer, atClient]);
    }
    // All replicas end equal.
    const want = server.rt.encode("views");
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !clients.every((c) => Buffer.compare(Buffer.from(c.rt.encode("views")), Buffer.from(want)) === 0)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const converged = clients.every((c) => Buffer.compare(Buffer.from(c.rt.encode("views")), Buffer.from(want)) === 0);
    t.rows.push([String(n), count(total), Math.round(thr).toLocaleString("en"), ms(pct(toServer, 50)), ms(pct(toServer, 95)),
      toClient.length ? ms(pct(toClient, 50)) : "—", toClient.length ? ms(pct(toClient, 95)) : "—", converged ? "yes" : "NO"]);
    o.log(`  ${n} clients: ${Math.round(thr)} updates/s`);
    for (const c of clients) await c.close();
    await server.close();
    void ws;
  }
  t.notes.push("All peers in one Node process on the 2-core machine (server and clients compete for the same cores); each change is shipped at once, and a client's update reaches the other clients through the server's state.");
  t.notes.push("Throughput: every client increments as fast as it can, yielding every 50 updates; the time is until the server has all of them. Latency: a single update, timed to the server's and another client's threshold read.");
  return t;
}
