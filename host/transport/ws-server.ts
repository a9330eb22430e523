// A WebSocket server Transport on `ws` (Node only). Its neighbours are the
// connected clients, named by the id each announces in its hello frame.
// Frame format, limits, errors: docs/ws.md. The browser-safe client is in
// ws-client.ts and is re-exported here, so `trellis/ws` has both.
import type { IncomingMessage, Server as HttpServer } from "node:http";
import type { Server as HttpsServer } from "node:https";
import { WebSocketServer, WebSocket } from "ws";
import type { Transport } from "../replication/transport.js";
import type { WebSocketConstructor } from "./ws-client.js";
import {
  CloseCode, DEFAULT_MAX_FRAME, HEADER, WsErrorCode, WsStats, WsTransportError,
  countError, decodeFrame, encodeFrame, encodeHello, toBytes, zeroStats,
} from "./ws-frame.js";
import { encodeChallenge, nonce, transcript, type PeerIdentity } from "./ws-auth.js";
import { AllowList, type AllowPolicy } from "../identity/allow.js";
import { isDid } from "../identity/did.js";
import { WsConnLimits, maySend, type Limits } from "./limits.js";

export * from "./ws-client.js";
// `ws`'s client WebSocket, to pass as WsClientOptions.WebSocket in Node. Typed
// as the client's constructor so the published .d.ts needs no @types/ws.
export const NodeWebSocket: WebSocketConstructor = WebSocket as unknown as WebSocketConstructor;

export interface WsServerOptions {
  identity?: PeerIdentity;        // the server's key: clients prove theirs to it and it proves its own (its did is the peer id)
  allow?: AllowPolicy;            // the keys that may connect: "any" (default), a list of did:keys, or a predicate
  open?: boolean;                 // also accept unauthenticated hellos, as before identities (default false; needed without `identity`)
  id?: string;                    // the peer id without an identity (1..255 bytes of UTF-8); with one, its did
  port?: number;                  // listen on this port (0: a free one); ignored with `server`
  host?: string;                  // with `port` (default: all interfaces)
  server?: HttpServer | HttpsServer; // attach to an existing server instead (it is not closed by close())
  path?: string;                  // accept upgrades only on this path (default: any)
  maxFrame?: number;              // largest data body sent or accepted (default 16 MiB)
  heartbeat?: number;             // ms between WebSocket pings; a client missing one is dropped (default 30,000; 0 off)
  helloTimeout?: number;          // ms a new connection has to send its hello (default 10,000)
  maxBuffered?: number;           // send() to a client drops while its socket buffers more (default 4 × maxFrame)
  onError?: (e: WsTransportError) => void; // default: none (errors are still counted in stats())
  // Per-peer and total limits (limits.ts); without it, maxBuffered alone bounds sends.
  limits?: Limits;
  // Admits an upgrade request (e.g. its Origin: auth.ts originAllowed); a refused one gets 403.
  verifyOrigin?: (req: IncomingMessage) => boolean;
}

interface Conn {
  ws: WebSocket;
  id: string | undefined;        // set by its hello
  alive: boolean;                // answered the last ping
  timer: ReturnType<typeof setTimeout> | null; // hello timeout
  remote: string;
  auth: { nonceC: Uint8Array; nonceS: Uint8Array; did: string } | null; // a handshake under way
  busy: boolean;                 // signing or verifying: frames wait for it
  did: string | undefined;       // the proven key, once authenticated
  addr: string;                  // remote address (connections per address)
  limits: WsConnLimits | null;
}

export class WsServer implements Transport {
  readonly self: string;
  readonly maxFrame: number;
  // Resolves once listening (at once when attached to a given server).
  readonly ready: Promise<void>;
  #wss: WebSocketServer;
  #hello: Uint8Array;
  #heartbeat: number;
  #helloTimeout: number;
  #maxBuffered: number;
  #onError: (e: WsTransportError) => void;
  #identity: PeerIdentity | undefined;
  #allow: AllowList;
  #open: boolean;
  #limits: Limits | null;
  #conns = new Set<Conn>();
  #peers = new Map<string, Conn>();
  #beat: ReturnType<typeof setInterval> | null = null;
  #closing: Promise<void> | null = null;
  #stats = zeroStats();
  #msg = new Set<(from: string, m: Uint8Array) => void>();
  #nb = new Set<(peer: string, up: boolean) => void>();

  constructor(o: WsServerOptions) {
    this.#identity = o.identity;
    this.#allow = new AllowList(o.allow ?? "any");
    this.#open = o.open ?? false;
    if (!o.identity && !this.#open) throw new TypeError("WsServer needs an `identity` (clients authenticate to it), or `open: true` for unauthenticated peers");
    if (o.identity && o.id !== undefined && o.id !== o.identity.did) throw new TypeError("with an identity, the server's id is its did");
    const id = o.identity?.did ?? o.id;
    if (id === undefined) throw new TypeError("WsServer needs an `identity` or an `id`");
    this.self = id;
    this.#hello = encodeHello(id);
    this.maxFrame = o.maxFrame ?? DEFAULT_MAX_FRAME;
    if (!(this.maxFrame >= 0)) throw new RangeError("maxFrame must be >= 0");
    this.#heartbeat = o.heartbeat ?? 30_000;
    this.#helloTimeout = o.helloTimeout ?? 10_000;
    this.#maxBuffered = o.maxBuffered ?? 4 * this.maxFrame;
    this.#onError = o.onError ?? (() => {});
    if (!o.server && o.port === undefined) throw new TypeError("WsServer needs `port` or `server`");
    this.#limits = o.limits ?? null;
    const verifyOrigin = o.verifyOrigin;
    // Refused before the upgrade completes: nothing is allocated for them.
    const verifyClient = (info: { req: IncomingMessage }, cb: (ok: boolean, status?: number, message?: string) => void): void => {
      const remote = `${info.req.socket.remoteAddress}:${info.req.socket.remotePort}`;
      if (verifyOrigin && !verifyOrigin(info.req)) {
        this.#error("BAD_ORIGIN", `${remote}: upgrade from origin ${JSON.stringify(info.req.headers.origin)} refused (403)`, undefined, true);
        return cb(false, 403, "origin not allowed");
      }
      const l = this.#limits;
      if (l) {
        const addr = info.req.socket.remoteAddress ?? "";
        let same = 0;
        for (const c of this.#conns) if (c.addr === addr) same++;
        if (this.#conns.size >= l.wsConnections || same >= l.wsPerAddress) {
          this.#error("TOO_MANY_CONNECTIONS", `${remote}: upgrade refused (503): ${this.#conns.size} connections, ${same} from this address (at most ${l.wsConnections}, ${l.wsPerAddress})`, undefined, true);
          return cb(false, 503, "too many connections");
        }
      }
      cb(true);
    };
    const common = { path: o.path, maxPayload: HEADER + this.maxFrame, perMessageDeflate: false, clientTracking: false, verifyClient };
    this.#wss = o.server
      ? new WebSocketServer({ ...common, server: o.server })
      : new WebSocketServer({ ...common, port: o.port, host: o.host });
    this.ready = o.server
      ? Promise.resolve()
      : new Promise((resolve, reject) => {
          this.#wss.once("listening", () => resolve());
          this.#wss.once("error", reject);
        });
    this.#wss.on("error", (e) => this.#error("SOCKET", `server error: ${String(e)}`, undefined, false, e));
    this.#wss.on("connection", (ws, req) => this.#accept(ws, req));
    if (this.#heartbeat > 0) {
      this.#beat = setInterval(() => this.#tick(), this.#heartbeat);
      (this.#beat as { unref?: () => void }).unref?.();
    }
  }

  // new WsServer(o), once listening.
  static async listen(o: WsServerOptions): Promise<WsServer> {
    const s = new WsServer(o);
    await s.ready;
    return s;
  }

  // The port listened on (with `port`; with `server`, that server's).
  get port(): number | undefined {
    const a = this.#wss.address?.();
    return a && typeof a === "object" ? a.port : undefined;
  }

  // ---- Transport --------------------------------------------------------

  neighbours(): string[] { return [...this.#peers.keys()]; }

  send(to: string, message: Uint8Array): void {
    const c = this.#peers.get(to);
    if (!c || c.ws.readyState !== WebSocket.OPEN) { this.#stats.dropped++; return; }
    if (message.length > this.maxFrame) {
      this.#stats.dropped++;
      this.#error("TOO_LARGE", `not sent: a ${message.length}-byte message exceeds maxFrame ${this.maxFrame}`, to, false);
      return;
    }
    if (c.ws.bufferedAmount > this.#maxBuffered) { this.#stats.dropped++; return; }
    if (c.limits && !this.#maySend(c, HEADER + message.length)) return;
    this.#write(c, encodeFrame("data", message));
  }

  onMessage(handler: (from: string, message: Uint8Array) => void): () => void {
    this.#msg.add(handler);
    return () => { this.#msg.delete(handler); };
  }

  onNeighbour(handler: (peer: string, up: boolean) => void): () => void {
    this.#nb.add(handler);
    return () => { this.#nb.delete(handler); };
  }

  // ---- the rest -----------------------------------------------------------

  stats(): WsStats { return structuredClone(this.#stats); }

  // Bytes queued to all connections now, and to the fullest one.
  buffered(): { total: number; max: number } {
    let total = 0, max = 0;
    for (const c of this.#conns) { total += c.ws.bufferedAmount; max = Math.max(max, c.ws.bufferedAmount); }
    return { total, max };
  }

  // Backpressure with limits: a send that does not fit is dropped (anti-entropy
  // resends later); a peer that holds unread bytes through wsStalls such sends
  // in a row is cut off. One whose queue is empty is never blamed for others'.
  // Transport.canSend: with limits, whether a send to `peer` could go now; a
  // "no" counts as a refused send (so a peer that never drains is still cut).
  canSend(peer: string): boolean {
    const c = this.#peers.get(peer);
    if (!c || !c.limits) return true;
    return this.#maySend(c, 0);
  }

  #maySend(c: Conn, n: number): boolean {
    const l = this.#limits!;
    const mine = c.ws.bufferedAmount;
    if (maySend(l, mine, this.buffered().total, n)) { c.limits!.stalls = 0; return true; }
    this.#stats.dropped++;
    if (mine > 0 && ++c.limits!.stalls >= l.wsStalls) this.#overLimit(c, "SLOW_READER", `${mine} bytes unread through ${c.limits!.stalls} sends in a row (budget ${l.wsSendBudget})`);
    return false;
  }

  // A peer over a limit: a typed error (with its id or address) and closed with 4002.
  #overLimit(c: Conn, code: WsErrorCode, message: string): void {
    this.#error(code, `${c.id ?? c.remote}: ${message}; connection closed`, c.id, true);
    this.#drop(c, CloseCode.overBudget, code);
    // A peer that stops reading may not read the close either.
    setTimeout(() => c.ws.terminate(), 1000).unref?.();
  }

  // Closes a peer's connection because it is over a budget (e.g. sync work,
  // limits.ts MeteredTransport). Other peers are untouched.
  disconnectOver(peer: string, code: WsErrorCode, message: string): boolean {
    const c = this.#peers.get(peer);
    if (!c) return false;
    this.#overLimit(c, code, message);
    return true;
  }

  // Closes one client's connection (code 4001); it fires onNeighbour(peer,
  // false) now. The client will reconnect unless it was told not to.
  disconnect(peer: string, reason = "disconnected by the server"): boolean {
    const c = this.#peers.get(peer);
    if (!c) return false;
    this.#drop(c, CloseCode.kicked, reason);
    return true;
  }

  // Stops accepting, closes every connection (code 1001; terminated if not
  // closed within `grace` ms), then stops listening (an attached server is left
  // running). Every connected client gets onNeighbour(peer, false).
  close(grace = 1000): Promise<void> {
    if (this.#closing) return this.#closing;
    if (this.#beat) { clearInterval(this.#beat); this.#beat = null; }
    const conns = [...this.#conns];
    this.#closing = (async () => {
      await Promise.all(conns.map((c) => new Promise<void>((resolve) => {
        if (c.ws.readyState === WebSocket.CLOSED) return resolve();
        const t = setTimeout(() => { c.ws.terminate(); resolve(); }, grace);
        c.ws.once("close", () => { clearTimeout(t); resolve(); });
        this.#drop(c, CloseCode.goingAway, "server closing");
      })));
      await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    })();
    return this.#closing;
  }

  // ---- connections ----------------------------------------------------------

  #accept(ws: WebSocket, req: IncomingMessage): void {
    if (this.#closing) { ws.close(CloseCode.goingAway, "server closing"); return; }
    const c: Conn = {
      ws, id: undefined, alive: true, timer: null, remote: `${req.socket.remoteAddress}:${req.socket.remotePort}`, auth: null, busy: false, did: undefined,
      addr: req.socket.remoteAddress ?? "", limits: this.#limits ? new WsConnLimits(this.#limits) : null,
    };
    this.#conns.add(c);
    c.timer = setTimeout(() => {
      c.timer = null;
      this.#error("HELLO_TIMEOUT", `no hello from ${c.remote} within ${this.#helloTimeout} ms; connection closed`, undefined, true);
      this.#drop(c, CloseCode.policy, "hello timeout");
    }, this.#helloTimeout);
    ws.on("message", (data, isBinary) => this.#frame(c, data, isBinary));
    ws.on("pong", () => { c.alive = true; });
    ws.on("error", (e: Error & { code?: string }) => {
      if (e.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") this.#error("TOO_LARGE", `${c.id ?? c.remote} sent a frame above maxFrame ${this.maxFrame}; connection closed (1009)`, c.id, true, e);
      else this.#error("SOCKET", `socket error from ${c.id ?? c.remote}: ${e.message}`, c.id, true, e);
    });
    ws.on("close", () => this.#gone(c));
  }

  #frame(c: Conn, data: unknown, isBinary: boolean): void {
    if (!this.#conns.has(c)) return;
    const up = c.id !== undefined;
    if (!isBinary) return this.#bad(c, "TEXT_FRAME", "a text frame (binary frames only)", up);
    const bytes = toBytes(data);
    if (!bytes) return this.#bad(c, "BAD_MAGIC", "an unreadable frame", up);
    if (c.limits) {
      const over = c.limits.frame(bytes.length, this.#limits!);
      if (over) return this.#overLimit(c, "RATE_LIMITED", over.message);
    }
    const f = decodeFrame(bytes, this.maxFrame);
    if (f.type === "error") return this.#bad(c, f.code, f.message, up);
    this.#stats.framesIn++; this.#stats.bytesIn += bytes.length;
    c.alive = true;
    if (!up) {
      // One handshake step at a time: a frame during a signature check is a protocol error.
      if (c.busy) return this.#bad(c, "BAD_HELLO", `a ${f.type} frame during the handshake`, false);
      if (f.type === "auth") return void this.#onAuth(c, f.nonce, f.did);
      if (f.type === "proof") return void this.#onProof(c, f.sig);
      if (f.type !== "hello") return this.#bad(c, "NO_HELLO", `a ${f.type} frame before the hello`, false);
      if (!this.#open) return this.#refuse(c, "AUTH_REQUIRED", CloseCode.authRequired, "an unauthenticated hello; this server needs a key (auth frame)");
      if (c.auth) return this.#bad(c, "BAD_HELLO", "a plain hello during an authenticated handshake", false);
      // An unauthenticated peer cannot take a name that stands for a key.
      if (f.id.startsWith("did:")) return this.#refuse(c, "AUTH_FAILED", CloseCode.authFailed, `an unauthenticated hello claiming the key id ${JSON.stringify(f.id.slice(0, 80))}`);
      return this.#up(c, f.id);
    }
    switch (f.type) {
      case "data":
        for (const h of [...this.#msg]) {
          try { h(c.id!, f.body); } catch (e) { this.#error("HANDLER", "an onMessage handler threw", c.id, false, e); }
        }
        return;
      case "ping": this.#write(c, encodeFrame("pong")); return;
      case "pong": return;
      case "hello": return this.#bad(c, "BAD_HELLO", "a second hello", true);
      default: return this.#bad(c, "BAD_HELLO", `a ${f.type} frame after the handshake`, true);
    }
  }

  #up(c: Conn, id: string): void {
    if (id === this.self) return this.#bad(c, "BAD_HELLO", `a client announced the server's own id ${JSON.stringify(id)}`, false);
    if (c.timer) { clearTimeout(c.timer); c.timer = null; }
    const old = this.#peers.get(id);
    // Only the same key (or, on an open server, the same unauthenticated name) replaces a connection.
    if (old) this.#drop(old, CloseCode.replaced, "replaced by a newer connection with the same id");
    c.id = id;
    this.#peers.set(id, c);
    this.#write(c, this.#hello); // before anything the up handlers may send
    this.#emitNeighbour(id, true);
  }

  // The client names its key and a nonce: answer with ours, signed.
  async #onAuth(c: Conn, nonceC: Uint8Array, did: string): Promise<void> {
    const me = this.#identity;
    if (!me) return this.#refuse(c, "AUTH_REQUIRED", CloseCode.authRequired, "an auth frame, but this server has no identity");
    if (c.auth) return this.#bad(c, "BAD_HELLO", "a second auth frame", false);
    if (!isDid(did)) return this.#refuse(c, "AUTH_FAILED", CloseCode.authFailed, `not an Ed25519 did:key: ${JSON.stringify(did.slice(0, 80))}`);
    if (did === this.self) return this.#refuse(c, "AUTH_FAILED", CloseCode.authFailed, "a client claimed the server's own key");
    // Checked before any signing, so unlisted keys cost no CPU. The key is
    // not proven yet: the log says "claimed".
    if (!this.#allow.admits(did)) return this.#refuse(c, "NOT_ALLOWED", CloseCode.notAllowed, `key ${did} (claimed) is not on the allow-list`, did);
    const nonceS = nonce();
    c.auth = { nonceC, nonceS, did };
    c.busy = true;
    let sig: Uint8Array;
    try { sig = await me.sign(transcript("server", nonceC, nonceS, this.self, did)); } catch (e) {
      c.busy = false;
      this.#error("SOCKET", `signing the challenge for ${c.remote} failed: ${(e as Error)?.message}`, undefined, true, e);
      return this.#drop(c, CloseCode.policy, "server cannot sign");
    }
    c.busy = false;
    if (!this.#conns.has(c)) return;
    this.#write(c, encodeChallenge(nonceS, sig, this.self));
  }

  // The client's signature over the transcript: its key is proven, and so is
  // its id (the did); the connection is up.
  async #onProof(c: Conn, sig: Uint8Array): Promise<void> {
    const a = c.auth;
    if (!a || !this.#identity) return this.#bad(c, "NO_HELLO", "a proof before the auth frame", false);
    c.busy = true;
    const ok = await this.#identity.verify(a.did, transcript("client", a.nonceC, a.nonceS, this.self, a.did), sig).catch(() => false);
    c.busy = false;
    if (!this.#conns.has(c)) return;
    if (!ok) return this.#refuse(c, "AUTH_FAILED", CloseCode.authFailed, `a bad signature for key ${a.did} (impersonation or replay)`, a.did);
    c.did = a.did;
    c.auth = null;
    this.#up(c, a.did);
  }

  // Closes a connection that failed authentication, with its code, logged
  // with the key it claimed.
  #refuse(c: Conn, code: WsErrorCode, close: number, message: string, did?: string): void {
    this.#error(code, `${c.remote}: ${message}; connection closed (${close})`, did, true);
    this.#drop(c, close, code);
  }

  // A refused frame: after the hello it is only dropped; before it, the
  // connection is closed (code 1002).
  #bad(c: Conn, code: WsErrorCode, message: string, keep: boolean): void {
    this.#error(code, `${c.id ?? c.remote}: ${message}${keep ? "; frame dropped" : "; connection closed"}`, c.id, !keep);
    if (!keep) this.#drop(c, CloseCode.protocol, code);
  }

  #tick(): void {
    for (const c of this.#conns) {
      if (!c.alive) {
        this.#error("HEARTBEAT", `${c.id ?? c.remote} missed a heartbeat; connection terminated`, c.id, true);
        c.ws.terminate();
        this.#gone(c);
        continue;
      }
      c.alive = false;
      try { c.ws.ping(); } catch { /* closing */ }
    }
  }

  // Closes the socket and forgets the connection at once.
  #drop(c: Conn, code: number, reason: string): void {
    try { c.ws.close(code, reason); } catch { c.ws.terminate(); }
    this.#gone(c);
  }

  #gone(c: Conn): void {
    if (!this.#conns.delete(c)) return;
    if (c.timer) { clearTimeout(c.timer); c.timer = null; }
    if (c.id !== undefined && this.#peers.get(c.id) === c) {
      this.#peers.delete(c.id);
      this.#emitNeighbour(c.id, false);
    }
  }

  #write(c: Conn, frame: Uint8Array): void {
    c.ws.send(frame, { binary: true }, (e) => {
      if (e) this.#stats.dropped++; // the socket closed under it: best effort
    });
    this.#stats.framesOut++; this.#stats.bytesOut += frame.length;
  }

  #emitNeighbour(peer: string, up: boolean): void {
    for (const h of [...this.#nb]) {
      try { h(peer, up); } catch (e) { this.#error("HANDLER", "an onNeighbour handler threw", peer, false, e); }
    }
  }

  #error(code: WsErrorCode, message: string, peer: string | undefined, closed: boolean, cause?: unknown): void {
    countError(this.#stats, code);
    try { this.#onError(new WsTransportError(code, message, peer, closed, cause)); } catch { /* ignored */ }
  }
}
