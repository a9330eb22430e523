// The authenticated WebSocket handshake (docs/ws.md, docs/security.md): both
// sides prove their key by signing a transcript of both nonces and both dids;
// the peer id is the proven did. Impersonation, unknown keys, bad signatures
// and replayed handshakes are refused with their close code and error, and
// the honest peer stays connected throughout.
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket as RawWs, WebSocketServer } from "ws";
import { GCounter, Runtime, init } from "../dist/host/index.node.js";
import { Replicator } from "../dist/host/replication/index.js";
import { Identity } from "../dist/host/identity/index.js";
import {
  CloseCode, NodeWebSocket, WsClient, WsServer, WsTransportError, decodeFrame, encodeFrame, transcript,
} from "../dist/host/transport/ws-server.js";
import type { WebSocketConstructor, WsClientOptions, WsServerOptions } from "../dist/host/transport/ws-server.js";
import { until } from "./util/wait.js";


const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f(); });

async function server(identity: Identity | undefined, o: Partial<WsServerOptions> = {}, errors?: WsTransportError[]): Promise<WsServer> {
  const s = await WsServer.listen({ identity, port: 0, host: "127.0.0.1", onError: (e) => errors?.push(e), ...o });
  cleanups.push(() => s.close());
  return s;
}

function client(port: number, identity: Identity | undefined, o: Partial<WsClientOptions> = {}, errors?: WsTransportError[]): WsClient {
  const c = new WsClient({
    url: `ws://127.0.0.1:${port}`, identity, WebSocket: NodeWebSocket as unknown as WebSocketConstructor,
    reconnect: { initial: 20, max: 200 }, onError: (e) => errors?.push(e), ...o,
  });
  cleanups.push(() => c.close());
  return c;
}

// A raw socket that speaks the handshake by hand (the attacker's tool).
interface Raw { ws: RawWs; frames: ReturnType<typeof decodeFrame>[]; closed: Promise<number> }
async function raw(port: number): Promise<Raw> {
  const ws = new RawWs(`ws://127.0.0.1:${port}`);
  cleanups.push(() => ws.terminate());
  const frames: Raw["frames"] = [];
  ws.on("message", (d) => frames.push(decodeFrame(new Uint8Array(d as Buffer), 1 << 20)));
  const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  return { ws, frames, closed };
}

const utf8 = new TextEncoder();
function authFrame(nonce: Uint8Array, did: string): Uint8Array {
  const d = utf8.encode(did);
  const b = new Uint8Array(33 + d.length);
  b[0] = 1; b.set(nonce, 1); b.set(d, 33);
  return encodeFrame("auth", b);
}
type Challenge = { type: "challenge"; nonce: Uint8Array; sig: Uint8Array; did: string };
const challengeOf = async (r: Raw): Promise<Challenge> => {
  await until(() => r.frames.length > 0, 5000, "the challenge");
  expect(r.frames[0].type).toBe("challenge");
  return r.frames[0] as Challenge;
};

describe("authenticated WebSocket", () => {
  it("both sides prove their keys; peer ids are the dids; data and replication flow", async () => {
    await init();
    const [sk, ak] = await Promise.all([Identity.generate(), Identity.generate()]);
    const s = await server(sk);
    const c = client(s.port!, ak);
    await until(() => c.connected && s.neighbours().length === 1);
    expect(s.self).toBe(sk.did);
    expect(c.self).toBe(ak.did);
    expect(s.neighbours()).toEqual([ak.did]);
    expect(c.server).toBe(sk.did);

    const ra = new Runtime({ replica: ak.replicaId() }), rs = new Runtime({ replica: sk.replicaId() });
    cleanups.push(() => { ra.close(); rs.close(); });
    const pa = new Replicator(ra, c, { interval: 20 }).start(), ps = new Replicator(rs, s, { interval: 20 }).start();
    cleanups.push(() => { pa.close(); ps.close(); });
    ra.declare("n", GCounter).update("n", { increment: 2 });
    rs.declare("n", GCounter).update("n", { increment: 3 });
    await until(() => ra.query("n") === 5 && rs.query("n") === 5, 5000, "convergence");
  });

  it("impersonation of a connected peer's key is refused (4010) every time, and the honest peer stays connected", async () => {
    const [sk, honest, attacker] = await Promise.all([Identity.generate(), Identity.generate(), Identity.generate()]);
    const errors: WsTransportError[] = [];
    const s = await server(sk, {}, errors);
    const nbs: [string, boolean][] = [];
    s.onNeighbour((p, up) => nbs.push([p, up]));
    const a = client(s.port!, honest);
    await until(() => a.connected);
    let samples = 0, connected = 0;
    for (let i = 0; i < 10; i++) {
      // 1. Claim the honest key, sign the challenge with another.
      const r = await raw(s.port!);
      r.ws.send(authFrame(crypto.getRandomValues(new Uint8Array(32)), honest.did));
      const ch = await challengeOf(r);
      r.ws.send(encodeFrame("proof", await attacker.sign(transcript("client", new Uint8Array(32), ch.nonce, ch.did, honest.did))));
      expect(await r.closed).toBe(CloseCode.authFailed);
      // 2. A plain (unauthenticated) hello with the honest did.
      const p = await raw(s.port!);
      p.ws.send(encodeFrame("hello", utf8.encode(honest.did)));
      expect(await p.closed).toBe(CloseCode.authRequired);
      samples++; if (a.connected && s.neighbours().includes(honest.did)) connected++;
    }
    expect(connected).toBe(samples); // the issue measured 14% before
    expect(nbs).toEqual([[honest.did, true]]);
    expect(a.failures).toBe(0);
    expect(errors.filter((e) => e.code === "AUTH_FAILED").map((e) => e.peer)).toEqual(Array(10).fill(honest.did));
    expect(errors.filter((e) => e.code === "AUTH_REQUIRED")).toHaveLength(10);
  });

  it("an open server still refuses an unauthenticated hello that claims a key id", async () => {
    const [sk, honest] = await Promise.all([Identity.generate(), Identity.generate()]);
    const s = await server(sk, { open: true });
    const a = client(s.port!, honest);
    await until(() => a.connected);
    const p = await raw(s.port!);
    p.ws.send(encodeFrame("hello", utf8.encode(honest.did)));
    expect(await p.closed).toBe(CloseCode.authFailed);
    // A plain name is still admitted on an open server (the old behaviour).
    const old = client(s.port!, undefined, { id: "legacy" });
    await until(() => old.connected);
    expect(s.neighbours().sort()).toEqual([honest.did, "legacy"].sort());
    expect(a.connected).toBe(true);
  });

  it("under an allow-list, an unknown key is refused (4011) and told so; a listed one connects", async () => {
    const [sk, listed, stranger] = await Promise.all([Identity.generate(), Identity.generate(), Identity.generate()]);
    const serr: WsTransportError[] = [], cerr: WsTransportError[] = [];
    const s = await server(sk, { allow: [listed.did] }, serr);
    const ok = client(s.port!, listed);
    const no = client(s.port!, stranger, { reconnect: false }, cerr);
    await until(() => ok.connected && cerr.length > 0);
    expect(cerr[0]).toMatchObject({ code: "NOT_ALLOWED", closed: true });
    expect(serr.find((e) => e.code === "NOT_ALLOWED")?.peer).toBe(stranger.did);
    expect(no.connected).toBe(false);
    expect(s.neighbours()).toEqual([listed.did]);
  });

  it("a bad signature is refused (4010); so is a proof before the auth frame", async () => {
    const [sk, k] = await Promise.all([Identity.generate(), Identity.generate()]);
    const s = await server(sk);
    const r = await raw(s.port!);
    r.ws.send(authFrame(crypto.getRandomValues(new Uint8Array(32)), k.did));
    await challengeOf(r);
    r.ws.send(encodeFrame("proof", crypto.getRandomValues(new Uint8Array(64))));
    expect(await r.closed).toBe(CloseCode.authFailed);
    const q = await raw(s.port!);
    q.ws.send(encodeFrame("proof", new Uint8Array(64)));
    expect(await q.closed).toBe(CloseCode.protocol);
    expect(s.neighbours()).toEqual([]);
  });

  it("a replayed handshake is refused: a recorded proof, and the server's own signature reflected", async () => {
    const [sk, k] = await Promise.all([Identity.generate(), Identity.generate()]);
    const s = await server(sk);
    // An honest handshake, recorded.
    const nonceC = crypto.getRandomValues(new Uint8Array(32));
    const r1 = await raw(s.port!);
    r1.ws.send(authFrame(nonceC, k.did));
    const ch = await challengeOf(r1);
    expect(await k.verify(sk.did, transcript("server", nonceC, ch.nonce, sk.did, k.did), ch.sig)).toBe(true);
    const proof = encodeFrame("proof", await k.sign(transcript("client", nonceC, ch.nonce, sk.did, k.did)));
    r1.ws.send(proof);
    await until(() => s.neighbours().includes(k.did));
    r1.ws.close();
    await until(() => s.neighbours().length === 0);
    // Replayed on a new connection: the server's nonce is new, so it fails.
    const r2 = await raw(s.port!);
    r2.ws.send(authFrame(nonceC, k.did));
    await challengeOf(r2);
    r2.ws.send(proof);
    expect(await r2.closed).toBe(CloseCode.authFailed);
    // The server's challenge signature sent back as the client's proof (same
    // key claimed: the server's own did is refused; another key: the role differs).
    const r3 = await raw(s.port!);
    r3.ws.send(authFrame(nonceC, sk.did));
    expect(await r3.closed).toBe(CloseCode.authFailed);
    expect(s.neighbours()).toEqual([]);
  });

  it("the client checks the server: an unexpected key or a bad signature is refused and nothing goes up", async () => {
    const [sk, other, k] = await Promise.all([Identity.generate(), Identity.generate(), Identity.generate()]);
    const s = await server(sk);
    const cerr: WsTransportError[] = [];
    const c = client(s.port!, k, { server: other.did, reconnect: false }, cerr);
    await until(() => cerr.length > 0);
    expect(cerr[0]).toMatchObject({ code: "NOT_ALLOWED" });
    expect(c.connected).toBe(false);
    const pinned = client(s.port!, k, { server: [other.did, sk.did] });
    await until(() => pinned.connected);

    // A fake server that answers with a wrong signature, or with a hello and no proof of its key.
    let mode: "badsig" | "nohello" = "badsig";
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    cleanups.push(() => new Promise((r) => wss.close(r)));
    await new Promise((r) => wss.once("listening", r));
    wss.on("connection", (ws) => ws.on("message", () => {
      const d = utf8.encode(sk.did);
      if (mode === "nohello") return ws.send(encodeFrame("hello", d));
      const b = new Uint8Array(96 + d.length); b.set(d, 96);
      ws.send(encodeFrame("challenge", b));
    }));
    const fport = (wss.address() as { port: number }).port;
    for (const [m, code] of [["badsig", "AUTH_FAILED"], ["nohello", "BAD_HELLO"]] as const) {
      mode = m;
      const ferr: WsTransportError[] = [];
      const f = client(fport, k, { reconnect: false }, ferr);
      await until(() => ferr.length > 0);
      expect(ferr[0].code).toBe(code);
      expect(f.connected).toBe(false);
      expect(f.stats().byCode).toEqual({ [code]: 1 });
    }
  });

  it("malformed, out-of-order and stalled handshakes are closed, and nothing goes up", async () => {
    const [sk, k] = await Promise.all([Identity.generate(), Identity.generate()]);
    const errors: WsTransportError[] = [];
    const s = await server(sk, { helloTimeout: 300 }, errors);
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    const cases: [string, (r: Raw) => Promise<void> | void, number][] = [
      ["auth of another version", (r) => { const f = authFrame(nonce, k.did); f[4] = 2; r.ws.send(f); }, CloseCode.protocol],
      ["auth too short", (r) => r.ws.send(encodeFrame("auth", new Uint8Array(20))), CloseCode.protocol],
      ["auth naming no did:key", (r) => r.ws.send(authFrame(nonce, "did:key:z6MkNotAKey")), CloseCode.authFailed],
      ["a challenge sent to the server", (r) => r.ws.send(encodeFrame("challenge", new Uint8Array(100))), CloseCode.protocol],
      ["two auth frames", async (r) => { r.ws.send(authFrame(nonce, k.did)); await challengeOf(r); r.ws.send(authFrame(nonce, k.did)); }, CloseCode.protocol],
      ["a proof of the wrong size", async (r) => { r.ws.send(authFrame(nonce, k.did)); await challengeOf(r); r.ws.send(encodeFrame("proof", new Uint8Array(63))); }, CloseCode.protocol],
      ["data before the proof", async (r) => { r.ws.send(authFrame(nonce, k.did)); await challengeOf(r); r.ws.send(encodeFrame("data", new Uint8Array(3))); }, CloseCode.protocol],
      ["auth, then silence", (r) => r.ws.send(authFrame(nonce, k.did)), CloseCode.policy],
    ];
    for (const [what, act, code] of cases) {
      const r = await raw(s.port!);
      await act(r);
      expect([what, await r.closed]).toEqual([what, code]);
    }
    expect(s.neighbours()).toEqual([]);
    expect(errors.every((e) => e.closed)).toBe(true);
    // An honest client still gets in afterwards.
    const c = client(s.port!, k);
    await until(() => c.connected);
  });

  it("needs an identity unless open; a client without one is refused by an authenticating server (4012)", async () => {
    expect(() => new WsServer({ id: "x", port: 0 })).toThrow(/identity/);
    const sk = await Identity.generate();
    const s = await server(sk);
    const cerr: WsTransportError[] = [];
    const c = client(s.port!, undefined, { id: "anon", reconnect: false }, cerr);
    await until(() => cerr.length > 0);
    expect(cerr[0]).toMatchObject({ code: "AUTH_REQUIRED" });
    expect(c.connected).toBe(false);
    expect(() => new WsClient({ url: "ws://x", WebSocket: NodeWebSocket as unknown as WebSocketConstructor } as WsClientOptions)).toThrow(/identity/);
  });
});
