// Replication between separate processes on loopback, over libp2p
// (trellis/libp2p: sync streams + gossip) and over WebSocket (trellis/ws),
// side by side, for 2, 5 and 16 processes. Each process is a Runtime with one
// GCounter and a Replicator wired as `trellis serve` wires it (interval 1 s,
// a round at once after every change; over libp2p also gossipDeltas), with no
// storage, so the numbers are the network path alone.
//   libp2p: process 0 is the bootstrap address, the others find each other by
//     peer exchange (up to 8 sync neighbours each, the default).
//   WebSocket: a star, as with `trellis serve --peer ws://hub/sync`: process 0
//     runs the server, the others are its clients.
//   throughput: every process increments its own entry as fast as it can
//     (yielding every 50 updates); updates/s until every process has them all,
//     and the replication messages (and gossip deliveries) per second it took.
//   latency: one update at a time, at each process in turn; the time until
//     each other process's threshold read resolves (wall clocks of one
//     machine: performance.timeOrigin + now()).
// `npx tsx bench/p2p.ts [--quick] [--sizes 2,5,16]`, or p2pBench() from bench/run.ts.
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Table, count, ms, table } from "./lib/harness.js";

// libp2p: gossip fast path + anti-entropy rounds (as trellis serve runs it);
// libp2p-sync: no gossip, a sync round after every change; ws: WebSocket star.
type Kind = "libp2p" | "libp2p-sync" | "ws";
const KINDS: Kind[] = ["libp2p", "libp2p-sync", "ws"];
const LABEL: Record<Kind, string> = { "libp2p": "libp2p (gossip)", "libp2p-sync": "libp2p (streams only)", "ws": "WebSocket (star)" };
const now = (): number => performance.timeOrigin + performance.now();
const SELF = fileURLToPath(import.meta.url);

// ---- worker (one process of the mesh) ------------------------------------------

async function worker(): Promise<void> {
  const { init, Runtime, GCounter, Replicator, gossipDeltas } = await import("trellis");
  await init();
  const rt = new Runtime({ replica: `p${process.pid}` }).declare("views", GCounter);
  let rep: InstanceType<typeof Replicator> | null = null;
  const reps: InstanceType<typeof Replicator>[] = []; // run after every change
  let neighbours = (): number => 0;
  let gossip = (): { out: number; in: number } => ({ out: 0, in: 0 });
  const closers: (() => Promise<void> | void)[] = [];
  // As TrellisNode: a round right after every change (coalesced per turn).
  let queued = false;
  rt.onDelta(() => {
    if (queued) return;
    queued = true;
    setImmediate(() => { queued = false; for (const r of reps) r.sync(); });
  });
  const reply = (req: number, v: unknown = null): void => { process.send!({ req, v }); };
  process.on("message", async (m: { req: number; cmd: string; [k: string]: unknown }) => {
    switch (m.cmd) {
      case "start": {
        if (m.kind === "libp2p" || m.kind === "libp2p-sync") {
          const { Libp2pTransport } = await import("trellis/libp2p");
          const gossipOn = m.kind === "libp2p";
          const t = await Libp2pTransport.create({ bootstrap: m.bootstrap ? [m.bootstrap as string] : [], gossip: gossipOn });
          const r = rep = new Replicator(rt, t, { interval: 1000 }).start();
          // With gossip, as TrellisNode: rounds every interval and when a neighbour comes up.
          if (gossipOn) t.onNeighbour((_p, up) => { if (up) setImmediate(() => r.sync()); });
          else reps.push(rep);
          const stop = gossipOn ? gossipDeltas(rt, t) : () => {};
          neighbours = () => t.neighbours().length;
          gossip = () => { const s = t.stats(); return { out: s.gossipOut, in: s.gossipIn }; };
          closers.push(stop, () => t.close());
          reply(m.req, t.multiaddrs()[0]);
        } else if (m.hub) {
          const { WsClient, NodeWebSocket } = await import("trellis/ws");
          const t = new WsClient({ url: m.hub as string, id: `p${process.pid}`, WebSocket: NodeWebSocket });
          rep = new Replicator(rt, t, { interval: 1000 }).start();
          reps.push(rep);
          neighbours = () => t.neighbours().length;
          closers.push(() => t.close());
          reply(m.req, null);
        } else {
          const { WsServer } = await import("trellis/ws");
          const t = await WsServer.listen({ id: `p${process.pid}`, open: true, port: 0, host: "127.0.0.1", path: "/sync" });
          rep = new Replicator(rt, t, { interval: 1000 }).start();
          reps.push(rep);
          neighbours = () => t.neighbours().length;
          closers.push(() => t.close(0));
          reply(m.req, `ws://127.0.0.1:${t.port}/sync`);
        }
        return;
      }
      case "neighbours": reply(m.req, neighbours()); return;
      case "watch":
        // Resolves when the counter reaches the target: the time it did.
        rt.read("views", { atLeast: m.target as number }).then(() => reply(m.req, now()), () => reply(m.req, -1));
        return;
      case "burst": {
        const per = m.per as number;
        for (let i = 0; i < per; i++) {
          rt.update("views", { increment: 1 });
          if (i % 50 === 49) await new Promise((r) => setImmediate(r));
        }
        reply(m.req, null);
        return;
      }
      case "update": { const at = now(); rt.update("views", { increment: 1 }); reply(m.req, at); return; }
      case "stats": {
        const s = rep!.stats();
        reply(m.req, { messages: s.messages, bytes: s.bytes, ...gossip() });
        return;
      }
      case "close":
        for (const r of reps) r.close();
        for (const c of closers) await c();
        rt.close();
        reply(m.req, null);
        setImmediate(() => process.exit(0));
        return;
    }
  });
  process.send!({ ready: true });
}

// ---- driver ------------------------------------------------------------------------

interface Proc { child: ChildProcess; call(cmd: string, args?: Record<string, unknown>): Promise<any> }

function spawnWorker(): Promise<Proc> {
  const child = fork(SELF, [], {
    env: { ...process.env, TRELLIS_P2P_WORKER: "1" },
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let next = 0;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; cmd: string }>();
  child.on("message", (m: { req?: number; v?: unknown }) => {
    if (m.req === undefined) return;
    waiting.get(m.req)?.resolve(m.v);
    waiting.delete(m.req);
  });
  child.on("exit", (code) => {
    for (const w of waiting.values()) w.reject(new Error(`worker exited (${code}) during ${w.cmd}`));
    waiting.clear();
  });
  const p: Proc = {
    child,
    call: (cmd, args = {}) => new Promise((resolve, reject) => {
      const req = next++;
      waiting.set(req, { resolve, reject, cmd });
      child.send({ req, cmd, ...args });
    }),
  };
  return new Promise((resolve, reject) => {
    child.once("message", () => resolve(p));
    child.once("exit", (code) => reject(new Error(`worker exited (${code}) before it was ready`)));
  });
}

async function until(what: string, f: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };

interface Result {
  kind: Kind; n: number; updates: number; seconds: number; startup: number;
  messages: number; bytes: number; gossipIn: number; each: number[]; all: number[]; degree: number;
}

async function runOne(kind: Kind, n: number, updates: number, samples: number): Promise<Result> {
  const t0 = performance.now();
  const procs = await Promise.all(Array.from({ length: n }, spawnWorker));
  try {
    const first = await procs[0].call("start", { kind });
    await Promise.all(procs.slice(1).map((p) => p.call("start", kind === "ws" ? { kind, hub: first } : { kind, bootstrap: first })));
    // libp2p: at least min(n-1, 4) sync neighbours each; ws: every client connected.
    await until(`${kind} mesh of ${n}`, async () => {
      const nb: number[] = await Promise.all(procs.map((p) => p.call("neighbours")));
      return kind === "ws" ? nb[0] === n - 1 && nb.slice(1).every((x) => x === 1) : nb.every((x) => x >= Math.min(n - 1, 4));
    });
    const degree = (await Promise.all(procs.map((p) => p.call("neighbours")))).reduce((a: number, b: number) => a + b, 0) / n;
    // Warm-up: one update per process, everywhere.
    let value = n;
    await Promise.all(procs.map((p) => p.call("update")));
    await Promise.all(procs.map((p) => p.call("watch", { target: value })));
    const startup = (performance.now() - t0) / 1000;
    const before = await Promise.all(procs.map((p) => p.call("stats")));
    // Throughput.
    const per = Math.max(1, Math.floor(updates / n));
    value += per * n;
    const seen = procs.map((p) => p.call("watch", { target: value }));
    const s = now();
    await Promise.all(procs.map((p) => p.call("burst", { per })));
    const end = Math.max(...(await Promise.all(seen)) as number[]);
    const seconds = (end - s) / 1000;
    const after = await Promise.all(procs.map((p) => p.call("stats")));
    const sum = (k: string): number => after.reduce((a: number, x: Record<string, number>, i: number) => a + x[k] - before[i][k], 0);
    // Latency: one update at a time, origins in turn.
    const each: number[] = [], all: number[] = [];
    for (let i = 0; i < samples; i++) {
      const origin = i % n;
      value += 1;
      const others = procs.filter((_, j) => j !== origin);
      const watches = others.map((p) => p.call("watch", { target: value }));
      const at: number = await procs[origin].call("update");
      const times = (await Promise.all(watches)) as number[];
      const lat = times.map((t) => t - at);
      each.push(...lat);
      all.push(Math.max(...lat));
    }
    return { kind, n, updates: per * n, seconds, startup, messages: sum("messages"), bytes: sum("bytes"), gossipIn: sum("in"), each, all, degree };
  } finally {
    await Promise.allSettled(procs.map((p) => p.call("close")));
    await Promise.all(procs.map((p) => new Promise<void>((r) => {
      if (p.child.exitCode !== null) return r();
      const t = setTimeout(() => { p.child.kill("SIGKILL"); r(); }, 5000);
      p.child.once("exit", () => { clearTimeout(t); r(); });
    })));
  }
}

export async function p2pBench(o: { sizes: number[]; updates: number; samples: number; kinds?: Kind[]; log: (s: string) => void }): Promise<Table> {
  const t = table("p2p", "Replication between processes on loopback: libp2p (sync streams + gossip) vs WebSocket (star), n processes",
    ["transport", "processes", "neighbours (mean)", "updates", "updates/s", "sync msgs/s", "sync KB/s", "gossip deliveries/s", "latency p50 (ms)", "p95", "to all p50 (ms)", "p95"]);
  for (const n of o.sizes) {
    for (const kind of o.kinds ?? KINDS) {
      const r = await runOne(kind, n, o.updates, o.samples);
      o.log(`  ${kind} × ${n}: ${Math.round(r.updates / r.seconds)} updates/s, p50 ${pct(r.each, 50).toFixed(1)} ms (set up in ${r.startup.toFixed(1)} s)`);
      t.rows.push([
        LABEL[kind], String(n), r.degree.toFixed(1), count(r.updates),
        Math.round(r.updates / r.seconds).toLocaleString("en"),
        Math.round(r.messages / r.seconds).toLocaleString("en"),
        Math.round(r.bytes / 1e3 / r.seconds).toLocaleString("en"),
        kind !== "libp2p" ? "—" : Math.round(r.gossipIn / r.seconds).toLocaleString("en"),
        ms(pct(r.each, 50)), ms(pct(r.each, 95)), ms(pct(r.all, 50)), ms(pct(r.all, 95)),
      ]);
    }
  }
  t.notes.push("Every process is a separate Node process on the same 2-core machine, so 16 processes share two cores; a process is a Runtime + Replicator (interval 1 s, a round right after every change) without storage.");
  t.notes.push("libp2p: TCP + Noise + yamux, anti-entropy on /trellis/sync/1.0.0 streams, local deltas also published with gossipsub; peers found from one bootstrap address by peer exchange (at most 8 dialled). WebSocket: one server, n − 1 clients, so a client's update reaches the other clients through the server.");
  t.notes.push("Throughput: all processes increment at once as fast as they can; the time runs until the last process has every update. sync msgs/s and KB/s: Replicator messages sent by all processes; gossip deliveries/s: gossip messages received by all processes (several updates of one turn share a message).");
  t.notes.push("Latency: one update at a time, at each process in turn, to each other process's threshold read (p50/p95 over all pairs), and to the last of them (to all).");
  return t;
}

if (process.env.TRELLIS_P2P_WORKER === "1") {
  await worker();
} else if (process.argv[1] && fileURLToPath(new URL(`file://${process.argv[1]}`)) === SELF) {
  const { render } = await import("./lib/harness.js");
  const args = process.argv.slice(2);
  const quick = args.includes("--quick");
  const i = args.indexOf("--sizes");
  const sizes = i >= 0 ? args[i + 1].split(",").map(Number) : quick ? [2, 5] : [2, 5, 16];
  const k = args.indexOf("--kinds");
  const kinds = k >= 0 ? args[k + 1].split(",") as Kind[] : undefined;
  const log = (s: string): void => { process.stderr.write(s + "\n"); };
  const t0 = performance.now();
  const t = await p2pBench({ sizes, updates: quick ? 2000 : 20_000, samples: quick ? 20 : 100, kinds, log });
  process.stdout.write("\n" + render(t));
  log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
