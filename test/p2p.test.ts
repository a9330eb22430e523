// A libp2p mesh of real `trellis serve` processes on loopback (docs/p2p.md):
// five nodes joined from one bootstrap address converge after concurrent
// updates at every node; one is SIGKILLed while updates flow and restarted
// from its data directory (same peer id), and no acknowledged update (HTTP 200)
// is lost; a node started afterwards catches up; a node stopped with SIGSTOP
// (a partition: its TCP connections stay open but nothing is read) rejoins
// after SIGCONT. Every wait polls with a deadline. Needs dist/ built
// (npx tsc -p tsconfig.json).
import { afterAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { onJsonLines } from "./util/json-log.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(root, "bin", "trellis.mjs");
const base = mkdtempSync(join(tmpdir(), "trellis-p2p-"));
const procs = new Set<ChildProcess>();

afterAll(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) { p.kill("SIGCONT"); p.kill("SIGKILL"); }
  rmSync(base, { recursive: true, force: true });
});

interface Node {
  name: string;
  data: string;
  proc: ChildProcess;
  url: string;
  peerId: string;
  addrs: string[];
  logs: Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: string | null }>;
}

// Starts `trellis serve` with libp2p; resolves once its "libp2p listening" line is out.
function serve(name: string, peers: string[]): Promise<Node> {
  const data = join(base, name);
  const args = [BIN, "serve", "--data", data, "--port", "0", "--interval", "250", "--listen", "/ip4/127.0.0.1/tcp/0", ...peers.flatMap((p) => ["--peer", p])];
  const proc = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  procs.add(proc);
  const logs: Record<string, unknown>[] = [];
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => proc.on("exit", (code, signal) => r({ code, signal })));
  return new Promise((ok, fail) => {
    let url = "";
    onJsonLines(proc.stderr!, (rec) => {
      logs.push(rec);
      if (rec.msg === "listening") url = `http://127.0.0.1:${rec.port}`;
      if (rec.msg === "libp2p listening") ok({ name, data, proc, url, peerId: rec.peerId as string, addrs: rec.addrs as string[], logs, exited });
    }, (line) => fail(new Error(`${name}: not a JSON log line: ${line}`)));
    exited.then(({ code }) => fail(new Error(`${name} exited (${code}) before listening: ${JSON.stringify(logs)}`)));
  });
}

async function http(n: Node, method: string, path: string, body?: unknown): Promise<{ status: number; data: any }> {
  const token = readFileSync(join(n.data, "api-token"), "utf8").trim();
  const res = await fetch(n.url + path, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
  });
  const type = res.headers.get("content-type") ?? "";
  return { status: res.status, data: type.startsWith("application/json") ? await res.json() : Buffer.from(await res.arrayBuffer()) };
}

async function until(what: string, f: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try { if (await f()) return; } catch { /* a node not answering yet */ }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const neighbours = async (n: Node): Promise<string[]> => (await http(n, "GET", "/")).data.peers.libp2p?.neighbours ?? [];
const members = async (n: Node): Promise<string[]> => (await http(n, "GET", "/v/s")).data.value ?? [];
const stateOf = async (n: Node): Promise<Buffer> => (await http(n, "GET", "/v/s/state")).data as Buffer;

// Every node holds every acknowledged element, and all states are byte-identical.
async function converged(nodes: Node[], acked: Set<string>, ms = 20_000): Promise<void> {
  let last = "";
  try {
    await until(`${nodes.length} nodes to converge on ${acked.size} acknowledged elements`, async () => {
      const states = await Promise.all(nodes.map(stateOf));
      const sets = await Promise.all(nodes.map(members));
      const missing = sets.map((s) => { const have = new Set(s); return [...acked].filter((x) => !have.has(x)).length; });
      last = `missing per node: ${missing.join(", ")}; sizes ${sets.map((s) => s.length).join(", ")}`;
      return missing.every((m) => m === 0) && states.every((s) => s.equals(states[0]));
    }, ms);
  } catch (e) {
    throw new Error(`${(e as Error).message} (${last})`);
  }
}

// Nothing but acknowledged elements, except the killed node's requests that
// were in flight when it died (applied, perhaps shipped, never answered): at
// most the `parallel` (2) of its writer.
function expectOnlyAcked(have: string[], acked: Set<string>): void {
  const extra = have.filter((x) => !acked.has(x));
  expect(extra.every((x) => x.startsWith("bn2-")), JSON.stringify(extra)).toBe(true);
  expect(extra.length).toBeLessThanOrEqual(2);
}

// Adds `count` elements at a node, `parallel` requests at a time; an element
// is acknowledged when its POST answers 200. Stops at the first failure (the
// node went away) when `tolerant`, else throws.
async function writes(n: Node, tag: string, count: number, acked: Set<string>, o: { parallel?: number; tolerant?: boolean; onAck?: (k: number) => void } = {}): Promise<number> {
  let next = 0, ok = 0, failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < count) {
      const el = `${tag}-${next++}`;
      try {
        const r = await http(n, "POST", "/v/s", { op: { add: el } });
        if (r.status !== 200) throw new Error(`${n.name}: POST answered ${r.status} ${JSON.stringify(r.data)}`);
        acked.add(el);
        o.onAck?.(++ok);
      } catch (e) {
        if (!o.tolerant) throw e;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: o.parallel ?? 2 }, worker));
  return ok;
}

describe("a libp2p mesh of trellis serve processes", () => {
  const nodes: Node[] = [];
  const acked = new Set<string>();
  const t0 = Date.now();
  const lap = (what: string): void => { process.stderr.write(`p2p: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s\n`); };

  it("forms a full mesh from one bootstrap address and converges after concurrent updates at every node", async () => {
    nodes.push(await serve("n0", []));
    nodes.push(...await Promise.all([1, 2, 3, 4].map((i) => serve(`n${i}`, [nodes[0].addrs[0]]))));
    expect(new Set(nodes.map((n) => n.peerId)).size).toBe(5);
    // Peer exchange: every node ends up a neighbour of every other.
    await until("a full mesh", async () => (await Promise.all(nodes.map(neighbours))).every((l) => l.length === 4));
    lap("full mesh");
    for (const n of nodes) expect((await http(n, "PUT", "/v/s", { type: "AWSet" })).status).toBeLessThan(300);
    await Promise.all(nodes.map((n) => writes(n, `a${n.name}`, 20, acked)));
    expect(acked.size).toBe(100);
    await converged(nodes, acked);
    lap("converged after 100 concurrent updates");
  });

  it("loses no acknowledged update when a node is SIGKILLed while updates flow, and the restarted node keeps its peer id", async () => {
    const victim = nodes[2];
    let killed = false;
    const kill = (k: number): void => {
      if (killed || k < 10) return;
      killed = true;
      victim.proc.kill("SIGKILL");
    };
    // Updates at every node at once; the victim dies at its tenth acknowledgement.
    const flows = nodes.map((n) => writes(n, `b${n.name}`, 40, acked, n === victim ? { tolerant: true, onAck: kill } : {}));
    const victimAcked = await flows[2];
    expect(killed).toBe(true);
    expect((await victim.exited).signal).toBe("SIGKILL");
    expect(victimAcked).toBeGreaterThanOrEqual(10);
    expect(victimAcked).toBeLessThan(40);
    // Restarted from its data directory, bootstrapping from another node.
    const back = await serve("n2", [nodes[0].addrs[0]]);
    expect(back.peerId).toBe(victim.peerId); // the identity key is in the store
    nodes[2] = back;
    // Everything it acknowledged before dying is there at once (durable)...
    const have = new Set(await members(back));
    const victimsAcked = [...acked].filter((x) => x.startsWith("bn2-"));
    expect(victimsAcked).toHaveLength(victimAcked);
    for (const x of victimsAcked) expect(have.has(x), x).toBe(true);
    // ...and it takes updates again while the others' flows go on.
    await Promise.all([...flows.filter((_, i) => i !== 2), writes(back, "cn2", 20, acked)]);
    lap("restarted the killed node");
    await until("the restarted node back in the mesh", async () => (await Promise.all(nodes.map(neighbours))).every((l) => l.length === 4));
    await converged(nodes, acked);
    lap("converged after SIGKILL + restart");
  });

  it("catches up a node started after the updates", async () => {
    const late = await serve("n5", [nodes[3].addrs[0]]);
    nodes.push(late);
    await converged(nodes, acked);
    expectOnlyAcked(await members(late), acked);
    lap("late joiner caught up");
  });

  it("heals a partition: a node stopped with SIGSTOP while others update, then resumed with SIGCONT", async () => {
    const frozen = nodes[1];
    frozen.proc.kill("SIGSTOP");
    const others = nodes.filter((n) => n !== frozen);
    // An update sent to the frozen node waits in its socket until it resumes.
    const pending = http(frozen, "POST", "/v/s", { op: { add: "frozen-1" } });
    const before = acked.size;
    const during = new Set<string>();
    await Promise.all(others.map((n) => writes(n, `d${n.name}`, 10, during)));
    for (const x of during) acked.add(x);
    expect(acked.size).toBe(before + 50);
    // The rest of the mesh goes on without it.
    await converged(others, acked);
    lap("the others converged during the partition");
    frozen.proc.kill("SIGCONT");
    const r = await pending;
    expect(r.status).toBe(200);
    acked.add("frozen-1");
    await converged(nodes, acked, 30_000);
    lap("healed after SIGCONT");
    expectOnlyAcked(await members(nodes[0]), acked);
  });

  it("shuts down on SIGTERM with storage flushed", async () => {
    await Promise.all(nodes.map(async (n) => {
      n.proc.kill("SIGTERM");
      const { code } = await n.exited;
      expect(code, n.name).toBe(0);
      expect(n.logs.some((l) => l.msg === "closed" && l.flushed === true), n.name).toBe(true);
    }));
    lap("all stopped");
  });
});
