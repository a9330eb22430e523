// The trellis CLI as users run it: real `node bin/trellis.mjs serve` processes
// on free ports and temporary data directories, driven by the CLI's client
// commands and by plain HTTP. Covers durability of acknowledged updates under
// SIGKILL, graceful SIGTERM, replica ids across restarts, a three-node mesh
// over WebSocket, bad requests, and threshold reads (long-poll, timeout,
// cancellation). Needs dist/ built (npx tsc -p tsconfig.json).
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseType } from "../host/cli/typename.js";
import { fromJson, toJson } from "../host/cli/json.js";
import { specName } from "../host/crdt/spec.js";
import { onJsonLines } from "./util/json-log.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(root, "bin", "trellis.mjs");
const dirs: string[] = [];
const procs = new Set<Node>();

afterEach(() => {
  for (const n of procs) if (n.proc.exitCode === null && n.proc.signalCode === null) n.proc.kill("SIGKILL");
  procs.clear();
});
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "trellis-cli-"));
  dirs.push(d);
  return d;
}

interface Node {
  proc: ChildProcess;
  port: number;
  url: string;
  logs: Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: string | null }>;
  token: string; // the API token the node made in its data directory
}

// Starts `trellis serve` and resolves once its "listening" log line is out.
function serve(data: string, extra: string[] = []): Promise<Node> {
  const proc = spawn(process.execPath, [BIN, "serve", "--data", data, "--port", "0", "--interval", "100", ...extra], { stdio: ["ignore", "pipe", "pipe"] });
  const logs: Record<string, unknown>[] = [];
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => proc.on("exit", (code, signal) => r({ code, signal })));
  return new Promise((resolveNode, reject) => {
    onJsonLines(proc.stderr!, (rec) => {
      logs.push(rec);
      if (rec.msg === "listening") {
        const token = readFileSync(join(data, "api-token"), "utf8").trim();
        const node: Node = { proc, port: rec.port as number, url: `http://127.0.0.1:${rec.port}`, logs, exited, token };
        procs.add(node);
        resolveNode(node);
      }
    }, (line) => reject(new Error(`not a JSON log line: ${line}`)));
    exited.then(({ code }) => reject(new Error(`serve exited (${code}) before listening: ${JSON.stringify(logs)}`)));
  });
}

// Runs a client command; resolves with its exit code and output.
function cli(args: string[], node?: Node): Promise<{ code: number; out: string; err: string }> {
  return new Promise((r) => {
    const env = { ...process.env, ...(node ? { TRELLIS_TOKEN: node.token } : {}) };
    execFile(process.execPath, [BIN, ...args, ...(node ? ["--node", node.url] : [])], { env }, (e, out, err) => {
      r({ code: e ? (typeof e.code === "number" ? e.code : -1) : 0, out, err });
    });
  });
}

async function http(node: Node, method: string, path: string, body?: unknown, o: { raw?: string | Uint8Array; signal?: AbortSignal } = {}) {
  const ctype = o.raw === undefined ? "application/json" : typeof o.raw === "string" ? "application/json" : "application/octet-stream";
  const res = await fetch(node.url + path, {
    method, signal: o.signal,
    headers: { authorization: `Bearer ${node.token}`, ...(body !== undefined || o.raw !== undefined ? { "content-type": ctype } : {}) },
    body: (o.raw as BodyInit | undefined) ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const type = res.headers.get("content-type") ?? "";
  const data = type.startsWith("application/json") ? await res.json() : new Uint8Array(await res.arrayBuffer());
  return { status: res.status, data: data as any };
}

const value = async (node: Node, id: string): Promise<unknown> => (await http(node, "GET", `/v/${encodeURIComponent(id)}`)).data.value;

async function until(f: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("type names and JSON values", () => {
  it("parses every name specName prints, and refuses bad ones with BAD_TYPE", () => {
    for (const s of ["AWSet", "GMap<GCounter>", "TopK(10)", "Pair<GCounter, AWSet>", "AWMap<Pair<MaxInt, TopK(3)>>", "GMap<GMap<PNCounter>>"]) {
      expect(specName(parseType(s))).toBe(s);
    }
    expect(specName(parseType(" Pair < GSet ,LWWRegister > "))).toBe("Pair<GSet, LWWRegister>");
    for (const s of ["", "Foo", "awset", "GMap", "GMap<>", "Pair<GSet>", "AWSet<GSet>", "TopK", "TopK()", "AWSet x", "GMap<GCounter"]) {
      expect(() => parseType(s), s).toThrow(expect.objectContaining({ code: "BAD_TYPE" }));
    }
    expect(() => parseType("TopK(0)")).toThrow(RangeError);
    expect(() => parseType("GMap<".repeat(20) + "GSet" + ">".repeat(20))).toThrow(/deeper/);
  });

  it("round-trips bytes, maps, non-finite numbers and $-keyed objects", () => {
    const v = [new Uint8Array([0, 255]), new Map<unknown, unknown>([[["k"], 1]]), NaN, -Infinity, { $bytes: "x" }, { a: { b: [null, true] } }];
    const j = JSON.parse(JSON.stringify(toJson(v)));
    expect(j[0]).toEqual({ $bytes: "AP8=" });
    expect(j[4]).toEqual({ $object: { $bytes: "x" } });
    expect(fromJson(j)).toEqual(v);
    expect(() => fromJson({ $byte: "AA==" })).toThrow(/unknown JSON tag/);
    expect(() => fromJson({ $bytes: "@@" })).toThrow(TypeError);
  });
});

describe("trellis serve", () => {
  it("declares, updates and reads through the CLI and HTTP; --help and usage errors", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/trellis serve --data/);
    expect((await cli(["frobnicate"])).code).toBe(2);
    expect((await cli(["serve"])).code).toBe(2); // no --data
    expect((await cli(["vars", "--node", "http://127.0.0.1:9"])).code).toBe(3);

    const a = await serve(tmp());
    expect(await cli(["declare", "cart", "AWSet"], a)).toMatchObject({ code: 0 });
    expect(JSON.parse((await cli(["declare", "cart", "AWSet"], a)).out)).toMatchObject({ created: false });
    expect((await cli(["declare", "views", "GMap<GCounter>"], a)).code).toBe(0);
    expect((await cli(["update", "cart", '{"add":"tea"}', '{"add":{"$bytes":"AQI="}}'], a)).code).toBe(0);
    expect((await cli(["update", "views", '[{"update":["ad-1",{"increment":2}]},{"update":[["k",1],{"increment":1}]}]'], a)).code).toBe(0);
    expect(JSON.parse((await cli(["read", "cart"], a)).out)).toEqual(["tea", { $bytes: "AQI=" }]);
    expect(JSON.parse((await cli(["read", "views"], a)).out)).toEqual({ $map: [["ad-1", 2], [["k", 1], 1]] }); // canonical key order
    expect((await cli(["vars"], a)).out).toBe("cart\tAWSet\treplicated\nviews\tGMap<GCounter>\treplicated\n");

    // HTTP: declare (201, then 200), update (bare descriptor, op, ops), value.
    expect((await http(a, "PUT", "/v/hits%2Fhome", { type: "GCounter" })).status).toBe(201);
    expect((await http(a, "PUT", "/v/hits%2Fhome", { type: "GCounter" })).status).toBe(200);
    expect((await http(a, "POST", "/v/hits%2Fhome", { increment: 2 })).data).toEqual({ ok: true, durable: true });
    expect((await http(a, "POST", "/v/hits%2Fhome", { op: { increment: 1 } })).status).toBe(200);
    expect((await http(a, "POST", "/v/hits%2Fhome", { ops: [{ increment: 1 }, { increment: 1 }] })).status).toBe(200);
    expect(await value(a, "hits/home")).toBe(5);
    expect((await cli(["read", "hits/home", "--at-least", "5"], a)).out.trim()).toBe("5");
    const info = (await http(a, "GET", "/")).data;
    expect(info).toMatchObject({ port: a.port, sync: "/sync", variables: 3 });

    // Raw state out of one variable and bound into another of the same type.
    expect((await http(a, "PUT", "/v/copy", { type: "AWSet" })).status).toBe(201);
    const state = (await http(a, "GET", "/v/cart/state")).data as Uint8Array;
    expect((await http(a, "POST", "/v/copy/bind", undefined, { raw: state })).data).toMatchObject({ changed: true });
    expect(await value(a, "copy")).toEqual(["tea", { $bytes: "AQI=" }]);
  });

  it("an update answered 200 survives a SIGKILL right after; the restart is a new replica incarnation", async () => {
    const data = tmp();
    const a = await serve(data);
    const replica = (await http(a, "GET", "/")).data.replica;
    await http(a, "PUT", "/v/s", { type: "AWSet" });
    // Many updates in flight; kill at the tenth acknowledgement.
    const acked: number[] = [];
    let killed = false;
    const sends = Array.from({ length: 60 }, (_, i) => http(a, "POST", "/v/s", { add: i }).then((r) => {
      if (r.status === 200 && !killed) {
        acked.push(i);
        if (acked.length === 10) { killed = true; a.proc.kill("SIGKILL"); }
      }
    }, () => {}));
    await Promise.all(sends);
    expect((await a.exited).signal).toBe("SIGKILL");
    expect(acked.length).toBe(10);

    const b = await serve(data);
    // A new incarnation: its dots cannot collide with ones the killed process
    // shipped but never made durable.
    const again = (await http(b, "GET", "/")).data.replica as string;
    expect(again).not.toBe(replica);
    expect(again.split(".")[0]).toBe(replica.split(".")[0]);
    const got = await value(b, "s") as number[];
    for (const i of acked) expect(got).toContain(i);
    await http(b, "POST", "/v/s", { add: "after" });
    expect(await value(b, "s")).toContain("after");
  });

  it("SIGTERM: in-flight work finishes, storage is flushed, exit 0; data and node id are back after restart", async () => {
    const data = tmp();
    const a = await serve(data, ["--id", "alpha"]);
    const { replica, did } = (await http(a, "GET", "/")).data;
    // The replica id is bound to the node's key: <did>.<incarnation>.
    expect(did).toMatch(/^did:key:z6Mk/);
    expect(replica.startsWith(`${did}.`)).toBe(true);
    await http(a, "PUT", "/v/c", { type: "PNCounter" });
    await Promise.all(Array.from({ length: 20 }, () => http(a, "POST", "/v/c", { increment: 1 })));
    const poll = http(a, "GET", "/v/c?atLeast=1000&timeout=20000");
    await new Promise((r) => setTimeout(r, 200)); // the long-poll is waiting
    a.proc.kill("SIGTERM");
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect((await poll).status).toBe(503); // the long-poll is ended, not left hanging
    expect(a.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(["shutting down", "closed"]));
    expect(a.logs.find((l) => l.msg === "closed")).toMatchObject({ flushed: true });
    for (const l of a.logs) expect(l).toEqual(expect.objectContaining({ level: expect.any(String), time: expect.any(String), msg: expect.any(String) }));

    const b = await serve(data);
    expect((await http(b, "GET", "/")).data).toMatchObject({ id: "alpha", did }); // the key is kept in the store
    expect((await http(b, "GET", "/")).data.replica.startsWith(`${did}.`)).toBe(true);
    expect((await http(b, "GET", "/")).data.replica).not.toBe(replica);
    expect(await value(b, "c")).toBe(20);
    await http(b, "POST", "/v/c", { decrement: 5 });
    expect(await value(b, "c")).toBe(15);
  });

  it("three nodes joined with --peer converge after concurrent updates at each; a threshold read waits for another node's update", async () => {
    const a = await serve(tmp(), ["--id", "a"]);
    const b = await serve(tmp(), ["--id", "b", "--peer", `ws://127.0.0.1:${a.port}/sync`]);
    const c = await serve(tmp(), ["--id", "c", "--peer", `ws://127.0.0.1:${b.port}/sync`]); // a line: a - b - c
    const nodes = [a, b, c];
    // Declared at a only: b and c learn the variables by replication, with
    // their first change (a declaration alone is not a delta).
    await http(a, "PUT", "/v/n", { type: "GCounter" });
    await http(a, "PUT", "/v/s", { type: "AWSet" });
    await http(a, "POST", "/v/n", { increment: 1 });
    await http(a, "POST", "/v/s", { add: "seed" });
    await until(async () => (await Promise.all(nodes.map((n) => http(n, "GET", "/v/s")))).every((r) => r.status === 200));

    // A long-poll at c for something only a's update will satisfy.
    const waited = http(c, "GET", "/v/n?atLeast=32&timeout=15000");
    await Promise.all(nodes.flatMap((n, k) => Array.from({ length: 10 }, (_, i) => [
      http(n, "POST", "/v/n", { increment: 1 }),
      http(n, "POST", "/v/s", { add: `${k}-${i}` }),
    ]).flat()));
    await http(a, "POST", "/v/s", { remove: "0-0" });
    await http(b, "POST", "/v/s", { add: "0-0" }); // concurrent with the remove unless seen: either way all agree
    await http(a, "POST", "/v/n", { increment: 1 });
    const r = await waited;
    expect(r.status).toBe(200);
    expect(r.data.value).toBeGreaterThanOrEqual(32);

    await until(async () => {
      const states = await Promise.all(nodes.map((n) => http(n, "GET", "/v/s/state")));
      const vals = await Promise.all(nodes.map((n) => value(n, "n")));
      const same = states.every((x) => Buffer.from(x.data).equals(Buffer.from(states[0].data)));
      return same && vals.every((v) => v === 32);
    });
    expect((await value(c, "s") as string[]).length).toBeGreaterThanOrEqual(30);
    // Peers are named by their proven keys.
    const did = async (n: Node): Promise<string> => (await http(n, "GET", "/")).data.did;
    expect((await http(b, "GET", "/")).data.peers).toMatchObject({ server: [await did(c)], clients: [{ peer: await did(a), connected: true }] });
  });

  it("--allow admits only the listed keys; trellis info shows the node's did; a bad --allow is a usage error", async () => {
    const dataA = tmp();
    const a0 = await serve(dataA);
    const info = await cli(["info"], a0);
    expect(info.code).toBe(0);
    const aDid = JSON.parse(info.out).did as string;
    expect(aDid).toMatch(/^did:key:z6Mk/);
    a0.proc.kill("SIGTERM"); await a0.exited;

    const b = await serve(tmp(), ["--allow", aDid]);
    const url = `ws://127.0.0.1:${b.port}/sync`;
    const a = await serve(dataA, ["--peer", url]); // the same key: listed
    const c = await serve(tmp(), ["--peer", url]); // another key: not listed
    const cDid = (await http(c, "GET", "/")).data.did as string;
    await http(a, "PUT", "/v/n", { type: "GCounter" });
    await http(a, "POST", "/v/n", { increment: 1 });
    await http(c, "PUT", "/v/n", { type: "GCounter" });
    await http(c, "POST", "/v/n", { increment: 100 });
    await until(async () => (await http(b, "GET", "/v/n")).status === 200 && await value(b, "n") === 1
      && b.logs.some((l) => l.msg === "ws error" && l.peer === cDid && JSON.stringify(l).includes("NOT_ALLOWED")));
    expect((await http(b, "GET", "/")).data.peers.server).toEqual([aDid]);
    expect((await http(c, "GET", "/")).data.peers.clients).toEqual([{ url, peer: null, connected: false }]);
    expect(await value(b, "n")).toBe(1); // nothing of c's

    const bad = await cli(["serve", "--data", tmp(), "--allow", "did:key:nope"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--allow is an Ed25519 did:key/);
  });

  it("bad requests get their status and change nothing", async () => {
    const a = await serve(tmp(), ["--max-body", "4096", "--log-level", "debug"]);
    await http(a, "PUT", "/v/s", { type: "AWSet" });
    await http(a, "POST", "/v/s", { add: "x" });
    const before = Buffer.from((await http(a, "GET", "/v/s/state")).data);
    const vars = (await http(a, "GET", "/v")).data;

    const cases: [string, string, unknown, { raw?: string | Uint8Array }, number, string][] = [
      ["PUT", "/v/t", { type: "Foo" }, {}, 400, "BAD_TYPE"],
      ["PUT", "/v/t", { type: "TopK(0)" }, {}, 400, "BAD_REQUEST"],
      ["PUT", "/v/t", {}, {}, 400, "BAD_REQUEST"],
      ["PUT", "/v/s", { type: "GSet" }, {}, 409, "TYPE_MISMATCH"],
      ["POST", "/v/s", undefined, { raw: '{"add": ' }, 400, "BAD_JSON"],
      ["POST", "/v/s", undefined, { raw: "[1]" }, 400, "BAD_JSON"],
      ["POST", "/v/s", { increment: 1 }, {}, 400, "BAD_REQUEST"],
      ["POST", "/v/s", { ops: [{ add: "y" }, { add: {} }, { frob: 1 }] }, {}, 400, "BAD_REQUEST"], // all or nothing: y is not added
      ["POST", "/v/s", { add: { $bytes: "!" } }, {}, 400, "BAD_REQUEST"],
      ["POST", "/v/s", { add: "z".repeat(5000) }, {}, 413, "TOO_LARGE"],
      ["POST", "/v/nope", { add: 1 }, {}, 404, "NOT_FOUND"],
      ["GET", "/v/nope", undefined, {}, 404, "NOT_FOUND"],
      ["GET", "/v/s?atLeast=3", undefined, {}, 409, "TYPE_MISMATCH"],
      ["GET", "/v/s?size=x", undefined, {}, 400, "BAD_REQUEST"],
      ["GET", "/v/s?size=1&atLeast=1", undefined, {}, 400, "BAD_REQUEST"],
      ["GET", "/v/s?size=9&timeout=-1", undefined, {}, 400, "BAD_REQUEST"],
      ["POST", "/v/s/bind", undefined, { raw: new Uint8Array([84, 82, 1, 10, 99, 99]) }, 400, "TRUNCATED"],
      ["POST", "/v/s/bind", undefined, { raw: new Uint8Array([1, 2, 3]) }, 400, "BAD_MAGIC"],
      ["DELETE", "/v/s", undefined, {}, 405, "METHOD_NOT_ALLOWED"],
      ["GET", "/nowhere", undefined, {}, 404, "NO_ROUTE"],
    ];
    for (const [method, path, body, o, status, code] of cases) {
      const r = await http(a, method, path, body, o);
      expect({ method, path, status: r.status }).toEqual({ method, path, status });
      if (code === "TRUNCATED") expect(r.data.error.code).toMatch(/^(TRUNCATED|TOO_LARGE|BAD_|INVALID|TRAILING)/);
      else expect(r.data.error, `${method} ${path}`).toMatchObject({ code, message: expect.any(String) });
    }
    expect(Buffer.from((await http(a, "GET", "/v/s/state")).data).equals(before)).toBe(true);
    expect((await http(a, "GET", "/v")).data).toEqual(vars);
    // The node is still fine, and the CLI maps refusals to exit code 1.
    expect(await cli(["update", "s", '{"add":"ok"}'], a)).toMatchObject({ code: 0 });
    expect(await cli(["update", "nope", '{"add":"ok"}'], a)).toMatchObject({ code: 1, err: expect.stringMatching(/NOT_FOUND/) });
    expect(await cli(["update", "s", "{add"], a)).toMatchObject({ code: 2 });
    expect(await cli(["declare", "t", "Foo"], a)).toMatchObject({ code: 2 });
  });

  it("threshold reads: resolved by a later update (CLI), 408 on timeout (exit 4), cancelled when the client goes away", async () => {
    const a = await serve(tmp(), ["--log-level", "debug"]);
    await cli(["declare", "s", "GSet"], a);
    const reading = cli(["read", "s", "--size", "2", "--timeout", "15000"], a);
    await new Promise((r) => setTimeout(r, 300));
    await cli(["update", "s", '{"add":1}', '{"add":2}'], a);
    const r = await reading;
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual([1, 2]);

    const t0 = Date.now();
    const late = await http(a, "GET", "/v/s?size=3&timeout=200");
    expect(late.status).toBe(408);
    expect(late.data.error.code).toBe("TIMEOUT");
    expect(Date.now() - t0).toBeLessThan(3000);
    expect((await cli(["read", "s", "--size", "5", "--timeout", "100"], a)).code).toBe(4);

    const ctl = new AbortController();
    const gone = http(a, "GET", "/v/s?size=10&timeout=60000", undefined, { signal: ctl.signal }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 200));
    ctl.abort();
    await gone;
    await until(() => a.logs.some((l) => l.msg === "read cancelled: client went away"));
  });
});
