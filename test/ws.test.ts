// WebSocket transport (host/transport/ws-*.ts) on loopback with free ports:
// the hello exchange, messages both ways, neighbour events, reconnection with
// backoff after a server restart and a server-side drop, refusal of malformed
// and oversized frames (on both ends), many clients, and two Runtimes
// replicated through a server Runtime, end to end.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createServer } from "node:http";
import { WebSocket as RawWs, WebSocketServer } from "ws";
import { AWSet, GCounter, Runtime, init } from "../dist/host/index.node.js";
import { Replicator } from "../dist/host/replication/index.js";
import type { ReplicationError } from "../dist/host/replication/index.js";
import {
  NodeWebSocket, WsClient, WsServer, WsTransportError, decodeFrame, encodeFrame, encodeHello,
} from "../dist/host/transport/ws-server.js";
import type { WebSocketConstructor, WsClientOptions, WsServerOptions } from "../dist/host/transport/ws-server.js";
import { sleep, until } from "./util/wait.js";

beforeAll(async () => { await init(); });

const bytes = (...xs: number[]) => new Uint8Array(xs);
const text = (s: string) => new TextEncoder().encode(s);


// Everything opened in a test is closed after it, even when it fails.
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

interface Log { errors: WsTransportError[]; msgs: [string, Uint8Array][]; nbs: [string, boolean][] }
function watch<T extends { onMessage: WsServer["onMessage"]; onNeighbour: WsServer["onNeighbour"] }>(t: T): Log {
  const log: Log = { errors: [], msgs: [], nbs: [] };
  t.onMessage((from, m) => log.msgs.push([from, m.slice()]));
  t.onNeighbour((p, up) => log.nbs.push([p, up]));
  return log;
}

async function server(o: Partial<WsServerOptions> = {}, errors?: WsTransportError[]): Promise<WsServer> {
  // open: these tests are about the frame protocol of unauthenticated peers (test/auth-ws.test.ts has the handshake).
  const s = await WsServer.listen({ id: "hub", open: true, port: 0, host: "127.0.0.1", onError: (e) => errors?.push(e), ...o });
  cleanups.push(() => s.close());
  return s;
}

function client(port: number, id: string, o: Partial<WsClientOptions> = {}, errors?: WsTransportError[]): WsClient {
  const c = new WsClient({
    url: `ws://127.0.0.1:${port}`, id, WebSocket: NodeWebSocket as unknown as WebSocketConstructor,
    reconnect: { initial: 20, max: 200 }, onError: (e) => errors?.push(e), ...o,
  });
  cleanups.push(() => c.close());
  return c;
}

// A raw `ws` socket speaking (or not) the frame protocol by hand.
async function raw(port: number): Promise<RawWs> {
  const ws = new RawWs(`ws://127.0.0.1:${port}`);
  cleanups.push(() => ws.terminate());
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  return ws;
}
const closed = (ws: RawWs) => new Promise<number>((r) => ws.once("close", (code) => r(code)));

describe("frames", () => {
  it("encode and validate at the byte level", () => {
    expect([...encodeFrame("data", bytes(9, 8))]).toEqual([0x54, 0x57, 1, 2, 9, 8]);
    expect([...encodeHello("ab")]).toEqual([0x54, 0x57, 1, 1, 0x61, 0x62]);
    expect(decodeFrame(encodeHello("é"), 10)).toEqual({ type: "hello", id: "é" });
    expect(decodeFrame(encodeFrame("ping"), 0)).toEqual({ type: "ping" });
    const code = (f: Uint8Array, max = 100) => (decodeFrame(f, max) as { code?: string }).code;
    expect(code(bytes(0x54, 0x57, 1))).toBe("BAD_MAGIC");
    expect(code(bytes(0x54, 0x58, 1, 2))).toBe("BAD_MAGIC");
    expect(code(bytes(0x54, 0x57, 2, 2))).toBe("BAD_VERSION");
    expect(code(bytes(0x54, 0x57, 1, 9))).toBe("UNKNOWN_TYPE");
    expect(code(bytes(0x54, 0x57, 1, 3, 0))).toBe("UNKNOWN_TYPE"); // ping with a body
    expect(code(bytes(0x54, 0x57, 1, 1))).toBe("BAD_HELLO"); // empty id
    expect(code(bytes(0x54, 0x57, 1, 1, 0xff))).toBe("BAD_HELLO"); // not UTF-8
    expect(code(encodeFrame("data", new Uint8Array(101)))).toBe("TOO_LARGE");
    expect(code(encodeFrame("data", new Uint8Array(100)))).toBeUndefined();
    expect(() => encodeHello("")).toThrow(RangeError);
    expect(() => encodeHello("x".repeat(256))).toThrow(RangeError);
  });
});

describe("server and client", () => {
  it("exchange hellos, carry messages both ways and report neighbours", async () => {
    const s = await server();
    const sl = watch(s);
    const c = client(s.port!, "alice");
    const cl = watch(c);
    await until(() => c.connected && s.neighbours().includes("alice"), 5000, "hello");
    expect(c.neighbours()).toEqual(["hub"]);
    expect(c.server).toBe("hub");
    expect(sl.nbs).toEqual([["alice", true]]);
    expect(cl.nbs).toEqual([["hub", true]]);

    c.send("hub", bytes(1, 2, 3));
    c.send("hub", new Uint8Array(0)); // empty messages are messages
    s.send("alice", bytes(4, 5));
    await until(() => sl.msgs.length === 2 && cl.msgs.length === 1);
    expect(sl.msgs).toEqual([["alice", bytes(1, 2, 3)], ["alice", new Uint8Array(0)]]);
    expect(cl.msgs).toEqual([["hub", bytes(4, 5)]]);

    // Best effort: unknown peers are dropped, never thrown at.
    s.send("nobody", bytes(1));
    c.send("not-the-server", bytes(1));
    expect(s.stats().dropped).toBe(1);
    expect(c.stats().dropped).toBe(1);

    await c.close();
    expect(cl.nbs).toEqual([["hub", true], ["hub", false]]);
    await until(() => s.neighbours().length === 0);
    expect(sl.nbs).toEqual([["alice", true], ["alice", false]]);
    c.send("hub", bytes(1)); // after close: dropped
    expect(c.stats().dropped).toBe(2);
  });

  it("attaches to an existing http server on a path, and leaves it running on close", async () => {
    const http = createServer((_, res) => { res.end("plain http"); });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise((r) => http.close(r)));
    const port = (http.address() as { port: number }).port;
    const s = new WsServer({ id: "hub", open: true, server: http, path: "/sync" });
    cleanups.push(() => s.close());
    await s.ready;
    expect(s.port).toBe(port);
    const wrong = client(port, "w", { url: `ws://127.0.0.1:${port}/other`, reconnect: false });
    const right = client(port, "r", { url: `ws://127.0.0.1:${port}/sync` });
    await until(() => right.connected);
    expect(s.neighbours()).toEqual(["r"]);
    expect(wrong.connected).toBe(false);
    await s.close();
    await until(() => !right.connected);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("plain http");
  });

  it("refuses oversized sends locally and reports TOO_LARGE", async () => {
    const errs: WsTransportError[] = [];
    const s = await server({ maxFrame: 64 }, errs);
    const cerrs: WsTransportError[] = [];
    const c = client(s.port!, "a", { maxFrame: 64 }, cerrs);
    await until(() => c.connected && s.neighbours().length === 1);
    s.send("a", new Uint8Array(65));
    c.send("hub", new Uint8Array(65));
    expect(errs.map((e) => [e.code, e.peer, e.closed])).toEqual([["TOO_LARGE", "a", false]]);
    expect(cerrs.map((e) => [e.code, e.closed])).toEqual([["TOO_LARGE", false]]);
    expect(c.connected).toBe(true);
  });

  it("backoff: delays grow by the factor, are capped and jittered", () => {
    let r = 0;
    const c = new WsClient({
      url: "ws://127.0.0.1:1", id: "x", WebSocket: NodeWebSocket as unknown as WebSocketConstructor,
      reconnect: { initial: 100, max: 1000, factor: 2, jitter: 0.5 }, random: () => r,
    });
    cleanups.push(() => c.close());
    expect([1, 2, 3, 4, 5, 6].map((n) => c.delay(n))).toEqual([100, 200, 400, 800, 1000, 1000]);
    r = 0.999999;
    expect(c.delay(1)).toBeCloseTo(50, 3);
    expect(c.delay(9)).toBeCloseTo(500, 2);
  });

  it("reconnects with backoff after the server restarts, and neighbour-up fires again", async () => {
    const s1 = await server();
    const port = s1.port!;
    let attempts = 0;
    const Counting = class extends (NodeWebSocket as unknown as new (...a: unknown[]) => object) {
      constructor(...a: unknown[]) { super(...a); attempts++; }
    } as unknown as WebSocketConstructor;
    const errs: WsTransportError[] = [];
    const c = client(port, "a", { WebSocket: Counting, reconnect: { initial: 20, max: 1000, factor: 2, jitter: 0 } }, errs);
    const cl = watch(c);
    await until(() => c.connected);
    expect(attempts).toBe(1);

    await s1.close();
    expect(c.connected).toBe(false);
    expect(cl.nbs).toEqual([["hub", true], ["hub", false]]);
    await sleep(600); // retries at 20, 60, 140, 300, 620 ms... (4 in 600 ms; 30 without backoff)
    expect(attempts - 1).toBeGreaterThanOrEqual(3);
    expect(attempts - 1).toBeLessThanOrEqual(6);
    expect(c.failures).toBeGreaterThanOrEqual(3);
    expect(errs.every((e) => e.code === "SOCKET")).toBe(true); // connection refused

    const s2 = await server({ port });
    const sl = watch(s2);
    await until(() => c.connected, 3000, "reconnect");
    expect(cl.nbs).toEqual([["hub", true], ["hub", false], ["hub", true]]);
    expect(sl.nbs).toEqual([["a", true]]);
    expect(c.failures).toBe(0);
    c.send("hub", bytes(7));
    await until(() => sl.msgs.length === 1);
    expect(sl.msgs[0]).toEqual(["a", bytes(7)]);
  });

  it("reconnects after a server-side drop", async () => {
    const s = await server();
    const sl = watch(s);
    const c = client(s.port!, "a");
    const cl = watch(c);
    await until(() => c.connected);
    expect(s.disconnect("a")).toBe(true);
    expect(s.disconnect("a")).toBe(false);
    expect(sl.nbs).toEqual([["a", true], ["a", false]]);
    await until(() => cl.nbs.length === 3, 3000, "reconnect");
    expect(cl.nbs).toEqual([["hub", true], ["hub", false], ["hub", true]]);
    await until(() => sl.nbs.length === 3);
    expect(sl.nbs).toEqual([["a", true], ["a", false], ["a", true]]);
  });

  it("a second connection with the same id replaces the first", async () => {
    const s = await server();
    const sl = watch(s);
    const c1 = client(s.port!, "a", { reconnect: false });
    await until(() => c1.connected);
    const c2 = client(s.port!, "a", { reconnect: false });
    await until(() => c2.connected);
    await until(() => !c1.connected);
    expect(sl.nbs).toEqual([["a", true], ["a", false], ["a", true]]);
    expect(s.neighbours()).toEqual(["a"]);
  });

  it("drops a client that misses heartbeats, and a client drops a silent server", async () => {
    const errs: WsTransportError[] = [];
    const s = await server({ heartbeat: 50 }, errs);
    const sl = watch(s);
    // A raw client that says hello but never answers pings (autoPong off).
    const ws = new RawWs(`ws://127.0.0.1:${s.port}`, { autoPong: false });
    cleanups.push(() => ws.terminate());
    await new Promise((r) => ws.once("open", r));
    ws.send(encodeHello("mute"));
    await until(() => sl.nbs.length === 2, 2000, "heartbeat drop");
    expect(sl.nbs).toEqual([["mute", true], ["mute", false]]);
    expect(errs.map((e) => e.code)).toContain("HEARTBEAT");

    // A server that says hello and then nothing, not even pongs.
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    cleanups.push(() => new Promise((r) => { for (const x of wss.clients) x.terminate(); wss.close(r); }));
    await new Promise((r) => wss.once("listening", r));
    wss.on("connection", (x) => x.send(encodeHello("silent")));
    const cerrs: WsTransportError[] = [];
    const c = client((wss.address() as { port: number }).port, "a", { heartbeat: 40, reconnect: false }, cerrs);
    const cl = watch(c);
    await until(() => cl.nbs.length === 2, 2000, "client heartbeat drop");
    expect(cl.nbs).toEqual([["silent", true], ["silent", false]]);
    expect(cerrs.map((e) => e.code)).toEqual(["HEARTBEAT"]);
  });
});

describe("malformed frames", () => {
  it("server: before the hello a bad frame closes the connection; after it, it is dropped and the connection kept", async () => {
    const errs: WsTransportError[] = [];
    const s = await server({ maxFrame: 1024, helloTimeout: 100 }, errs);
    const sl = watch(s);

    // Data before hello: NO_HELLO, closed with 1002, nothing delivered.
    let ws = await raw(s.port!);
    let code = closed(ws);
    ws.send(encodeFrame("data", bytes(1)));
    expect(await code).toBe(1002);
    expect(errs.pop()).toMatchObject({ code: "NO_HELLO", peer: undefined, closed: true });

    // Text before hello.
    ws = await raw(s.port!);
    code = closed(ws);
    ws.send("hello?");
    expect(await code).toBe(1002);
    expect(errs.pop()).toMatchObject({ code: "TEXT_FRAME", closed: true });

    // No hello at all: closed after helloTimeout.
    ws = await raw(s.port!);
    expect(await closed(ws)).toBe(1008);
    expect(errs.pop()).toMatchObject({ code: "HELLO_TIMEOUT", closed: true });

    // A hello with the server's own id.
    ws = await raw(s.port!);
    code = closed(ws);
    ws.send(encodeHello("hub"));
    expect(await code).toBe(1002);
    expect(errs.pop()).toMatchObject({ code: "BAD_HELLO" });

    // After a good hello: every bad frame is reported and dropped, the connection stays.
    ws = await raw(s.port!);
    const got: Uint8Array[] = [];
    ws.on("message", (d: Buffer) => got.push(new Uint8Array(d)));
    ws.send(encodeHello("m"));
    await until(() => s.neighbours().includes("m"));
    ws.send("text");
    ws.send(bytes(1, 2, 3));
    ws.send(bytes(0x54, 0x57, 9, 2, 0));
    ws.send(bytes(0x54, 0x57, 1, 77, 0));
    ws.send(encodeHello("other"));
    ws.send(encodeFrame("ping"));
    ws.send(encodeFrame("data", bytes(42)));
    await until(() => sl.msgs.length === 1);
    expect(sl.msgs).toEqual([["m", bytes(42)]]); // only the good one
    expect(errs.map((e) => [e.code, e.peer, e.closed])).toEqual([
      ["TEXT_FRAME", "m", false], ["BAD_MAGIC", "m", false], ["BAD_VERSION", "m", false],
      ["UNKNOWN_TYPE", "m", false], ["BAD_HELLO", "m", false],
    ]);
    await until(() => got.length === 2);
    expect(decodeFrame(got[0], 0)).toEqual({ type: "hello", id: "hub" });
    expect(decodeFrame(got[1], 0)).toEqual({ type: "pong" });
    expect(s.neighbours()).toEqual(["m"]);
    expect(s.stats().byCode).toMatchObject({ NO_HELLO: 1, TEXT_FRAME: 2, HELLO_TIMEOUT: 1, BAD_HELLO: 2, BAD_MAGIC: 1, BAD_VERSION: 1, UNKNOWN_TYPE: 1 });

    // Oversized: refused by ws at the socket (maxPayload), connection closed with 1009.
    code = closed(ws);
    ws.send(encodeFrame("data", new Uint8Array(1025)));
    expect(await code).toBe(1009);
    await until(() => errs.length === 6);
    expect(errs[5]).toMatchObject({ code: "TOO_LARGE", peer: "m", closed: true });
    expect(sl.msgs.length).toBe(1);
    expect(sl.nbs).toEqual([["m", true], ["m", false]]);
  });

  it("client: bad frames from the server are dropped after its hello; oversized ones too without a socket limit", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    cleanups.push(() => new Promise((r) => { for (const x of wss.clients) x.terminate(); wss.close(r); }));
    await new Promise((r) => wss.once("listening", r));
    wss.on("connection", (x) => {
      x.send(encodeHello("evil"));
      x.send("text");
      x.send(bytes(0, 0, 0, 0));
      x.send(encodeFrame("data", new Uint8Array(65))); // above the client's maxFrame
      x.send(encodeFrame("data", bytes(1)));
    });
    // Like a browser: the constructor ignores maxPayload, so the size check is
    // the client's own, and the connection survives it.
    const Browserish = class extends (NodeWebSocket as unknown as new (...a: unknown[]) => object) {
      constructor(url: string, protocols: string[]) { super(url, protocols); }
    } as unknown as WebSocketConstructor;
    const errs: WsTransportError[] = [];
    const c = client((wss.address() as { port: number }).port, "a", { WebSocket: Browserish, maxFrame: 64, reconnect: false }, errs);
    const cl = watch(c);
    await until(() => cl.msgs.length === 1);
    expect(cl.msgs).toEqual([["evil", bytes(1)]]);
    expect(errs.map((e) => [e.code, e.closed])).toEqual([["TEXT_FRAME", false], ["BAD_MAGIC", false], ["TOO_LARGE", false]]);
    expect(c.connected).toBe(true);

    // With ws's constructor the socket itself refuses it (1009) and the client reconnects.
    const errs2: WsTransportError[] = [];
    const c2 = client((wss.address() as { port: number }).port, "b", { maxFrame: 64 }, errs2);
    const cl2 = watch(c2);
    await until(() => errs2.some((e) => e.code === "TOO_LARGE"));
    expect(errs2.find((e) => e.code === "TOO_LARGE")!.closed).toBe(true);
    expect(cl2.msgs).toEqual([]);
    await until(() => cl2.nbs.filter(([, up]) => up).length >= 2, 3000, "reconnect after 1009");
  });
});

describe("many clients", () => {
  it("50 clients connect; all get a broadcast and the server gets all of theirs", async () => {
    const s = await server();
    const sl = watch(s);
    const cs = Array.from({ length: 50 }, (_, i) => client(s.port!, `c${i}`));
    const logs = cs.map(watch);
    await until(() => s.neighbours().length === 50 && cs.every((c) => c.connected), 10_000, "50 connections");
    for (const p of s.neighbours()) s.send(p, text(`to ${p}`));
    cs.forEach((c, i) => c.send("hub", text(`from c${i}`)));
    await until(() => logs.every((l) => l.msgs.length === 1) && sl.msgs.length === 50, 10_000, "deliveries");
    logs.forEach((l, i) => expect(l.msgs[0]).toEqual(["hub", text(`to c${i}`)]));
    expect(new Set(sl.msgs.map(([from, m]) => `${from}:${new TextDecoder().decode(m)}`)))
      .toEqual(new Set(cs.map((_, i) => `c${i}:from c${i}`)));
    await s.close();
    await until(() => cs.every((c) => !c.connected));
    expect(sl.nbs.filter(([, up]) => !up).length).toBe(50);
  });
});

describe("replication over WebSocket", () => {
  const eqBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

  it("two Runtimes replicated through a server Runtime converge, catch up after a drop, and ignore malformed input", async () => {
    const repErrors: ReplicationError[] = [];
    const mk = (replica: string) => new Runtime({ replica }).declare("n", GCounter).declare("s", AWSet);
    const hub = mk("hub"), a = mk("a"), b = mk("b");
    const s = await server({ maxFrame: 4096 });
    const ca = client(s.port!, "a", { maxFrame: 4096 });
    const cb = client(s.port!, "b", { maxFrame: 4096 });
    const reps = [new Replicator(hub, s, { interval: 20, onError: (e) => repErrors.push(e) }),
      new Replicator(a, ca, { interval: 20 }), new Replicator(b, cb, { interval: 20 })];
    for (const r of reps) { r.start(); cleanups.push(() => r.close()); }
    const all = [hub, a, b];
    const converged = () => all.every((r) => eqBytes(r.encode("n"), hub.encode("n")) && eqBytes(r.encode("s"), hub.encode("s")));

    a.update("n", { increment: 2 });
    a.update("s", { add: "x" });
    b.update("n", { increment: 5 });
    b.update("s", { add: "y" });
    await until(() => converged() && hub.state("n").value === 7, 5000, "convergence");
    expect(a.state("s").value).toEqual(b.state("s").value);

    // b is dropped; both sides change meanwhile; it reconnects and catches up.
    s.disconnect("b");
    a.update("n", { increment: 10 });
    b.update("s", { add: "offline" });
    await until(() => converged() && hub.state("n").value === 17 && b.state("n").value === 17, 5000, "catch-up");
    expect([...(a.state("s") as AWSet).values()].sort()).toEqual(["offline", "x", "y"]);

    // Malformed input changes no variable: frame-level garbage, an oversized
    // frame, and a well-framed but malformed replication message.
    const before = all.map((r) => [r.encode("n"), r.encode("s")]);
    const ws = await raw(s.port!);
    ws.send(encodeHello("intruder"));
    await until(() => s.neighbours().includes("intruder"));
    ws.send(bytes(0x54, 0x57, 1, 99, 1, 2));
    ws.send("{\"increment\": 1000}");
    ws.send(encodeFrame("data", text("TP garbage")));
    const code = closed(ws);
    ws.send(encodeFrame("data", new Uint8Array(5000)));
    expect(await code).toBe(1009);
    await until(() => repErrors.length >= 1);
    expect(repErrors[0].peer).toBe("intruder");
    await sleep(100); // some replication rounds
    expect(all.map((r) => [r.encode("n"), r.encode("s")])).toEqual(before);
    expect(s.stats().byCode).toMatchObject({ UNKNOWN_TYPE: 1, TEXT_FRAME: 1, TOO_LARGE: 1 });
  });
});
