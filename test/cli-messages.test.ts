// What the CLI and a node tell a user when something is wrong: an unreachable
// --peer is a warning with its cause, a failed start leaves no data directory
// it created, hints show valid examples, a string where a number belongs says
// so, read timeouts are TrellisErrors, and bad bytes get a message for users.
// Needs dist/ built.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { onJsonLines } from "./util/json-log.js";
import { init, GCounter, TrellisError } from "../dist/host/index.node.js";
import { TrellisNode } from "../dist/host/cli/node.js";
import { silentLogger } from "../dist/host/cli/log.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(root, "bin", "trellis.mjs");
const dirs: string[] = [];
const procs = new Set<ChildProcess>();
const servers: Server[] = [];

afterEach(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  procs.clear();
});
afterAll(() => {
  for (const s of servers) s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "trellis-msg-"));
  dirs.push(d);
  return d;
}

// A port that something is listening on (kept open), or one just freed.
async function port(keepOpen: boolean): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const p = (s.address() as { port: number }).port;
  if (keepOpen) servers.push(s); else await new Promise((r) => s.close(r));
  return p;
}

interface Proc { proc: ChildProcess; logs: Record<string, unknown>[]; exited: Promise<number | null> }

function serve(args: string[]): Proc {
  const proc = spawn(process.execPath, [BIN, "serve", "--interval", "100", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  procs.add(proc);
  const logs: Record<string, unknown>[] = [];
  onJsonLines(proc.stderr!, (rec) => logs.push(rec), () => {});
  return { proc, logs, exited: new Promise((r) => proc.on("exit", (code) => r(code))) };
}

async function until(f: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((r) => {
    execFile(process.execPath, [BIN, ...args], (e, out, err) => r({ code: e ? (typeof e.code === "number" ? e.code : -1) : 0, out, err }));
  });
}

describe("trellis serve messages", () => {
  it("warns once, with the cause, about a --peer it cannot reach", async () => {
    const dead = await port(false);
    const n = serve(["--data", tmp(), "--port", "0", "--log-level", "debug", "--peer", `ws://127.0.0.1:${dead}/sync`]);
    // Wait for several failed attempts: the first warns, the retries do not.
    await until(() => n.logs.filter((l) => l.msg === "ws error").length >= 2, "retries");
    const warns = n.logs.filter((l) => l.level === "warn" && l.msg === "cannot reach peer");
    expect(warns).toHaveLength(1);
    expect(warns[0].peer).toBe(`ws://127.0.0.1:${dead}/sync`);
    expect(String(warns[0].cause)).toMatch(/ECONNREFUSED/);
  });

  it("logs the unreachable-peer warning at the default level", async () => {
    const dead = await port(false);
    const n = serve(["--data", tmp(), "--port", "0", "--peer", `ws://127.0.0.1:${dead}/sync`]);
    await until(() => n.logs.some((l) => l.msg === "cannot reach peer"), "the warning");
    expect(n.logs.find((l) => l.msg === "cannot reach peer")!.level).toBe("warn");
  });

  it("warns once about a libp2p --peer multiaddr it cannot dial", async () => {
    const { generateKeyPair } = await import("@libp2p/crypto/keys");
    const { peerIdFromPrivateKey } = await import("@libp2p/peer-id");
    const id = peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString();
    const dead = await port(false);
    const n = serve(["--data", tmp(), "--port", "0", "--log-level", "debug", "--peer", `/ip4/127.0.0.1/tcp/${dead}/p2p/${id}`]);
    await until(() => n.logs.filter((l) => l.msg === "libp2p error" && l.code === "DIAL").length >= 1, "a redial", 60_000);
    const warns = n.logs.filter((l) => l.level === "warn" && l.msg === "cannot reach peer");
    expect(warns).toHaveLength(1);
    expect(warns[0].peer).toBe(id);
    expect(warns[0].addr).toBe(`/ip4/127.0.0.1/tcp/${dead}/p2p/${id}`);
    expect(String(warns[0].cause)).not.toBe("");
  }, 90_000);

  it("a start that fails (port in use) removes the data directory it created", async () => {
    const busy = await port(true);
    const base = tmp();
    const data = join(base, "new", "node1");
    const n = serve(["--data", data, "--port", String(busy)]);
    expect(await n.exited).toBe(1);
    expect(n.logs.some((l) => l.msg === "failed to start")).toBe(true);
    expect(existsSync(join(base, "new"))).toBe(false);
    expect(readdirSync(base)).toEqual([]);
  });

  it("a start that fails keeps a data directory that existed, and what was in it", async () => {
    const busy = await port(true);
    const data = tmp();
    writeFileSync(join(data, "keep.txt"), "mine");
    const n = serve(["--data", data, "--port", String(busy)]);
    expect(await n.exited).toBe(1);
    expect(existsSync(join(data, "keep.txt"))).toBe(true);
    // An existing empty folder is kept too.
    const empty = tmp();
    mkdirSync(join(empty, "d"));
    const m = serve(["--data", join(empty, "d"), "--port", String(busy)]);
    expect(await m.exited).toBe(1);
    expect(existsSync(join(empty, "d"))).toBe(true);
  });
});

describe("client command hints", () => {
  it("--contains that is not JSON shows a valid --contains example", async () => {
    const r = await cli(["read", "s", "--contains", "x", "--node", "http://127.0.0.1:1"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`--contains '["x", 2]'`);
    expect(r.err).not.toContain(`{"add"`);
  });

  it("--contains that is JSON but not an array is refused before any request", async () => {
    const r = await cli(["read", "s", "--contains", '"x"', "--node", "http://127.0.0.1:1"]);
    expect(r.code).toBe(2); // a request would have given 3 (unreachable)
    expect(r.err).toContain("JSON array");
  });

  it("an op's string where a number belongs is reported as a string", async () => {
    const data = tmp();
    const n = serve(["--data", data, "--port", "0"]);
    await until(() => n.logs.some((l) => l.msg === "listening"), "listening");
    const url = `http://127.0.0.1:${n.logs.find((l) => l.msg === "listening")!.port}`;
    expect((await cli(["declare", "c", "GCounter", "--node", url, "--data", data])).code).toBe(0);
    const r = await cli(["update", "c", '{"increment":"2"}', "--node", url, "--data", data]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('expected a number, got the string "2"');
    const ok = await cli(["update", "c", '{"increment":2}', "--node", url, "--data", data]);
    expect(ok.code).toBe(0);
  });

  it("bad bytes to bind are described for users, with the code kept", async () => {
    const data = tmp();
    const n = serve(["--data", data, "--port", "0"]);
    await until(() => n.logs.some((l) => l.msg === "listening"), "listening");
    const url = `http://127.0.0.1:${n.logs.find((l) => l.msg === "listening")!.port}`;
    expect((await cli(["declare", "c", "GCounter", "--node", url, "--data", data])).code).toBe(0);
    const file = join(tmp(), "junk.bin");
    writeFileSync(file, "hello, not trellis");
    const r = await cli(["bind", "c", file, "--node", url, "--data", data]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("BAD_MAGIC");
    expect(r.err).toContain("not a trellis encoding (bad magic)");
  });
});

describe("typed errors in the library", () => {
  it("kernel errors carry a readable message and their code", async () => {
    await init();
    const cases: [Uint8Array, string, RegExp][] = [
      [new TextEncoder().encode("hello"), "BAD_MAGIC", /not a trellis encoding/],
      [new GCounter("a").encode().slice(0, 3), "TRUNCATED", /end in the middle of a value/],
    ];
    for (const [bytes, code, msg] of cases) {
      let err: unknown;
      try { GCounter.decode(bytes).dispose(); } catch (e) { err = e; }
      expect(err, code).toBeInstanceOf(TrellisError);
      expect((err as TrellisError).code).toBe(code);
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message).not.toMatch(/failed \(kernel error/);
      expect((err as Error).message).toMatch(/ \[decode, kernel error \d+\]$/); // kept for bug reports
    }
  });

  it("GCounter.increment names a string argument as a string", async () => {
    await init();
    const g = new GCounter("a");
    try {
      expect(() => g.increment("2" as never)).toThrow('expected a number, got the string "2"');
      expect(() => g.increment(1.5)).toThrow("got 1.5");
      expect(g.value).toBe(0);
    } finally { g.dispose(); }
  });

  it("a start that fails after listening (libp2p port in use) removes the new data directory", async () => {
    await init();
    const busy = await port(true);
    const base = tmp();
    const err = await TrellisNode.start({ data: join(base, "n", "d"), port: 0, listen: [`/ip4/127.0.0.1/tcp/${busy}`], log: silentLogger })
      .then(async (n) => { await n.close(); return null; }, (e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(readdirSync(base)).toEqual([]);
  }, 60_000);

  it("node.read rejects with TrellisError TIMEOUT", async () => {
    await init();
    const node = await TrellisNode.start({ data: tmp(), port: 0, log: silentLogger });
    try {
      await node.declare("c", "GCounter");
      let err: unknown;
      try { await node.read("c", { atLeast: 5 }, { timeout: 20 }); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(TrellisError);
      expect((err as TrellisError).code).toBe("TIMEOUT");
      expect((err as Error).message).toMatch(/timed out after 20 ms/);
    } finally { await node.close(); }
  });
});
