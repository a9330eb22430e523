// A WebSocket client Transport: its one neighbour is the server it connects
// to. Runs in browsers (native WebSocket) and in Node (pass `ws`'s WebSocket:
// Node 20 has no global one). No Node built-ins. Reconnects with capped
// exponential backoff and jitter; every (re)connect that completes the hello
// exchange fires onNeighbour(server, true), so the replication protocol starts
// a digest catch-up. Frame format, limits, errors: docs/ws.md.
import type { Transport } from "../replication/transport.js";
import {
  CloseCode, DEFAULT_MAX_FRAME, HEADER, WsErrorCode, WsStats, WsTransportError,
  countError, decodeFrame, encodeFrame, encodeHello, toBytes, zeroStats,
} from "./ws-frame.js";
import { encodeAuth, encodeProof, nonce, transcript, type PeerIdentity } from "./ws-auth.js";

export {
  CloseCode, DEFAULT_MAX_FRAME, FRAME_VERSION, FrameType, HEADER, MAX_ID_BYTES,
  WsTransportError, decodeFrame, encodeFrame, encodeHello,
} from "./ws-frame.js";
export type { Decoded, FrameTypeName, WsErrorCode, WsStats } from "./ws-frame.js";
export { transcript } from "./ws-auth.js";
export type { PeerIdentity } from "./ws-auth.js";

// The part of the WebSocket API used here: the browser's and `ws`'s both fit.
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
// Called as `new WebSocket(url, [], { maxPayload })`: browsers ignore the
// third argument, `ws` uses it to refuse oversized frames at the socket.
export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: { maxPayload?: number }) => WebSocketLike;

export interface ReconnectOptions {
  initial?: number; // ms before the first retry (default 250)
  max?: number;     // cap on the delay (default 30,000)
  factor?: number;  // growth per failed attempt (default 2)
  jitter?: number;  // 0..1: the delay is scaled by a uniform factor in [1 - jitter, 1] (default 0.5)
}

export interface WsClientOptions {
  url: string;                     // ws:// or wss://
  identity?: PeerIdentity;         // this node's key: it proves it to the server and checks the server's (its did is the peer id)
  server?: string | string[];      // with an identity: the server key(s) accepted (default: any key that proves itself)
  id?: string;                     // without an identity: the peer id (1..255 bytes of UTF-8) in a plain hello (open servers only)
  WebSocket?: WebSocketConstructor; // default globalThis.WebSocket
  maxFrame?: number;               // largest data body sent or accepted (default 16 MiB)
  reconnect?: ReconnectOptions | false; // false: never reconnect
  heartbeat?: number;              // ms between pings; a silent server is dropped after two (default 15,000; 0 off)
  helloTimeout?: number;           // ms for the server's hello after the socket opens (default 10,000)
  maxBuffered?: number;            // send() drops while the socket buffers more than this (default 4 × maxFrame)
  random?: () => number;           // jitter source (default Math.random)
  onError?: (e: WsTransportError) => void; // default: none (errors are still counted in stats())
}

const OPEN = 1;
const ignore = (): void => {};

export class WsClient implements Transport {
  readonly self: string;
  readonly url: string;
  readonly maxFrame: number;
  #Ctor: WebSocketConstructor;
  #hello: Uint8Array;
  #reconnect: Required<ReconnectOptions> | false;
  #heartbeat: number;
  #helloTimeout: number;
  #maxBuffered: number;
  #random: () => number;
  #onError: (e: WsTransportError) => void;
  #identity: PeerIdentity | undefined;
  #servers: Set<string> | null;
  // The handshake on the current socket: our nonce, and the server's key once its challenge verified.
  #auth: { nonceC: Uint8Array; did: string | null; busy: boolean } | null = null;

  #ws: WebSocketLike | null = null;
  #server: string | undefined;  // the server's id, once its hello arrived on the current socket
  #failures = 0;                // attempts since the last completed hello
  #timer: ReturnType<typeof setTimeout> | null = null;     // reconnect or hello timeout
  #beat: ReturnType<typeof setInterval> | null = null;
  #heard = false;               // a frame arrived since the last heartbeat tick
  #closed = false;
  #closing: Promise<void> | null = null;
  #stats = zeroStats();
  #msg = new Set<(from: string, m: Uint8Array) => void>();
  #nb = new Set<(peer: string, up: boolean) => void>();

  constructor(o: WsClientOptions) {
    this.#identity = o.identity;
    if (o.identity && o.id !== undefined && o.id !== o.identity.did) throw new TypeError("with an identity, the client's id is its did");
    const id = o.identity?.did ?? o.id;
    if (id === undefined) throw new TypeError("WsClient needs an `identity` (or an `id` for an open server)");
    this.#servers = o.server === undefined ? null : new Set(typeof o.server === "string" ? [o.server] : o.server);
    this.self = id;
    this.url = o.url;
    this.#hello = encodeHello(id);
    const Ctor = o.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ctor) throw new TypeError("no WebSocket constructor: pass options.WebSocket (in Node 20: `import { WebSocket } from \"ws\"`)");
    this.#Ctor = Ctor;
    this.maxFrame = o.maxFrame ?? DEFAULT_MAX_FRAME;
    if (!(this.maxFrame >= 0)) throw new RangeError("maxFrame must be >= 0");
    this.#reconnect = o.reconnect === false ? false : {
      initial: o.reconnect?.initial ?? 250,
      max: o.reconnect?.max ?? 30_000,
      factor: o.reconnect?.factor ?? 2,
      jitter: Math.min(1, Math.max(0, o.reconnect?.jitter ?? 0.5)),
    };
    this.#heartbeat = o.heartbeat ?? 15_000;
    this.#helloTimeout = o.helloTimeout ?? 10_000;
    this.#maxBuffered = o.maxBuffered ?? 4 * this.maxFrame;
    this.#random = o.random ?? Math.random;
    this.#onError = o.onError ?? (() => {});
    this.#connect();
  }

  // ---- Transport --------------------------------------------------------

  neighbours(): string[] { return this.#server !== undefined ? [this.#server] : []; }

  send(to: string, message: Uint8Array): void {
    const ws = this.#ws;
    if (this.#server === undefined || to !== this.#server || !ws || ws.readyState !== OPEN) { this.#stats.dropped++; return; }
    if (message.length > this.maxFrame) {
      this.#stats.dropped++;
      this.#error("TOO_LARGE", `not sent: a ${message.length}-byte message exceeds maxFrame ${this.maxFrame}`, false);
      return;
    }
    if (ws.bufferedAmount > this.#maxBuffered) { this.#stats.dropped++; return; }
    this.#write(ws, encodeFrame("data", message));
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

  // The server's id while connected (hello exchanged), else undefined.
  get server(): string | undefined { return this.#server; }
  get connected(): boolean { return this.#server !== undefined; }
  // Connection attempts that failed since the last completed hello.
  get failures(): number { return this.#failures; }
  stats(): WsStats { return structuredClone(this.#stats); }

  // Closes the connection (code 1000) and stops reconnecting. Resolves once the
  // socket has closed (or after a second).
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#clearTimers();
    const ws = this.#ws;
    this.#closing = new Promise<void>((resolve) => {
      if (!ws) return resolve();
      const t = setTimeout(resolve, 1000);
      ws.onclose = () => { clearTimeout(t); resolve(); };
      ws.onmessage = ws.onopen = null;
      ws.onerror = ignore; // ws reports closing a socket still connecting as an error
      try { ws.close(CloseCode.normal, "client closing"); } catch { clearTimeout(t); resolve(); }
    });
    this.#ws = null;
    this.#down();
    return this.#closing;
  }

  // ---- connection lifecycle ------------------------------------------------

  #connect(): void {
    this.#timer = null;
    if (this.#closed) return;
    let ws: WebSocketLike;
    try {
      ws = new this.#Ctor(this.url, [], { maxPayload: HEADER + this.maxFrame });
    } catch (e) {
      this.#error("SOCKET", `cannot open ${this.url}: ${String(e)}`, true, e);
      this.#failures++;
      this.#schedule();
      return;
    }
    this.#ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      if (this.#identity) {
        this.#auth = { nonceC: nonce(), did: null, busy: false };
        this.#write(ws, encodeAuth(this.#auth.nonceC, this.self));
      } else {
        this.#auth = null;
        this.#write(ws, this.#hello);
      }
      this.#timer = setTimeout(() => {
        this.#error("HELLO_TIMEOUT", `no hello from the server within ${this.#helloTimeout} ms`, true);
        this.#drop(ws, CloseCode.policy, "hello timeout");
      }, this.#helloTimeout);
    };
    ws.onmessage = (ev) => this.#frame(ws, ev.data);
    ws.onerror = (ev) => {
      const cause = (ev as { error?: { code?: string } }).error;
      if (cause?.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") this.#error("TOO_LARGE", `the server sent a frame above maxFrame ${this.maxFrame}; connection closed`, true, cause);
      else this.#error("SOCKET", `socket error on ${this.url}`, true, cause ?? ev);
    };
    ws.onclose = (ev) => {
      // The server's verdict on our handshake.
      if (ws === this.#ws && this.#server === undefined) {
        if (ev.code === CloseCode.notAllowed) this.#error("NOT_ALLOWED", `the server does not admit our key ${this.self}`, true);
        else if (ev.code === CloseCode.authFailed) this.#error("AUTH_FAILED", `the server refused our key proof: ${ev.reason}`, true);
        else if (ev.code === CloseCode.authRequired) this.#error("AUTH_REQUIRED", `the server refused the handshake: ${ev.reason}`, true);
      }
      this.#drop(ws);
    };
  }

  // The server's challenge: check its signature (and key), then prove ours.
  async #onChallenge(ws: WebSocketLike, nonceS: Uint8Array, sig: Uint8Array, did: string): Promise<void> {
    const a = this.#auth, me = this.#identity;
    if (!a || !me || a.did !== null || a.busy) return this.#bad(ws, "BAD_HELLO", "an unexpected challenge", false);
    if (this.#servers && !this.#servers.has(did)) {
      this.#error("NOT_ALLOWED", `the server's key ${did} is not one we accept`, true);
      return this.#drop(ws, CloseCode.notAllowed, "NOT_ALLOWED");
    }
    if (did === this.self) return this.#bad(ws, "BAD_HELLO", "the server claimed our own key", false);
    a.busy = true;
    const ok = await me.verify(did, transcript("server", a.nonceC, nonceS, did, this.self), sig).catch(() => false);
    if (ws !== this.#ws) return;
    if (!ok) {
      this.#error("AUTH_FAILED", `the server's signature for key ${did} does not verify`, true);
      return this.#drop(ws, CloseCode.authFailed, "AUTH_FAILED");
    }
    let proof: Uint8Array;
    try { proof = await me.sign(transcript("client", a.nonceC, nonceS, did, this.self)); } catch (e) {
      this.#error("SOCKET", `signing our proof failed: ${(e as Error)?.message}`, true, e);
      return this.#drop(ws, CloseCode.policy, "cannot sign");
    }
    if (ws !== this.#ws) return;
    a.did = did; a.busy = false;
    this.#write(ws, encodeProof(proof));
  }

  #frame(ws: WebSocketLike, data: unknown): void {
    if (ws !== this.#ws) return;
    const up = this.#server !== undefined;
    if (typeof data === "string") return this.#bad(ws, "TEXT_FRAME", "a text frame (binary frames only)", up);
    const bytes = toBytes(data);
    if (!bytes) return this.#bad(ws, "BAD_MAGIC", "an unreadable frame", up);
    const f = decodeFrame(bytes, this.maxFrame);
    if (f.type === "error") return this.#bad(ws, f.code, f.message, up);
    this.#heard = true;
    this.#stats.framesIn++; this.#stats.bytesIn += bytes.length;
    if (!up) {
      if (f.type === "challenge") return void this.#onChallenge(ws, f.nonce, f.sig, f.did);
      if (f.type !== "hello") return this.#bad(ws, "NO_HELLO", `a ${f.type} frame before the server's hello`, false);
      // With an identity, the hello only confirms the key the challenge proved.
      if (this.#identity && (this.#auth?.did == null || this.#auth.busy || f.id !== this.#auth.did)) return this.#bad(ws, "BAD_HELLO", "a hello before the server proved its key", false);
      if (f.id === this.self) return this.#bad(ws, "BAD_HELLO", `the server announced our own id ${JSON.stringify(f.id)}`, false);
      if (this.#timer) { clearTimeout(this.#timer); this.#timer = null; }
      this.#server = f.id;
      this.#failures = 0;
      this.#startHeartbeat(ws);
      this.#emitNeighbour(f.id, true);
      return;
    }
    switch (f.type) {
      case "data":
        for (const h of [...this.#msg]) {
          try { h(this.#server!, f.body); } catch (e) { this.#error("HANDLER", "an onMessage handler threw", false, e); }
        }
        return;
      case "ping": this.#write(ws, encodeFrame("pong")); return;
      case "pong": return;
      case "hello": return this.#bad(ws, "BAD_HELLO", "a second hello from the server", true);
      default: return this.#bad(ws, "BAD_HELLO", `a ${f.type} frame after the handshake`, true);
    }
  }

  // A refused frame: after the hello it is only dropped; before it, the
  // connection is closed (code 1002) and retried.
  #bad(ws: WebSocketLike, code: WsErrorCode, message: string, keep: boolean): void {
    this.#error(code, message + (keep ? "; frame dropped" : "; connection closed"), !keep);
    if (!keep) this.#drop(ws, CloseCode.protocol, code);
  }

  #startHeartbeat(ws: WebSocketLike): void {
    if (this.#heartbeat <= 0) return;
    this.#heard = true;
    this.#beat = setInterval(() => {
      if (!this.#heard) {
        this.#error("HEARTBEAT", `nothing from the server for ${this.#heartbeat} ms`, true);
        this.#drop(ws, CloseCode.policy, "heartbeat timeout");
        return;
      }
      this.#heard = false;
      this.#write(ws, encodeFrame("ping"));
    }, this.#heartbeat);
  }

  // Forgets `ws` at once (a dead socket's close event can take minutes),
  // reports the server down, and schedules a reconnect.
  #drop(ws: WebSocketLike, code?: number, reason?: string): void {
    if (ws !== this.#ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = ignore;
    if (code !== undefined) { try { ws.close(code, reason); } catch { /* already closing */ } }
    this.#ws = null;
    this.#clearTimers();
    const wasUp = this.#server !== undefined;
    this.#down();
    if (!wasUp) this.#failures++;
    else this.#failures = 1;
    this.#schedule();
  }

  #down(): void {
    const s = this.#server;
    if (s === undefined) return;
    this.#server = undefined;
    this.#emitNeighbour(s, false);
  }

  #schedule(): void {
    if (this.#closed || !this.#reconnect || this.#timer) return;
    this.#timer = setTimeout(() => this.#connect(), this.delay(this.#failures));
  }

  // The wait before retry number `n` (n ≥ 1): min(max, initial · factor^(n-1)),
  // scaled by a random factor in [1 - jitter, 1].
  delay(n: number): number {
    const r = this.#reconnect;
    if (!r) return Infinity;
    const base = Math.min(r.max, r.initial * Math.pow(r.factor, Math.max(0, n - 1)));
    return base * (1 - r.jitter * this.#random());
  }

  #clearTimers(): void {
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = null; }
    if (this.#beat) { clearInterval(this.#beat); this.#beat = null; }
  }

  #write(ws: WebSocketLike, frame: Uint8Array): void {
    try { ws.send(frame); } catch (e) { this.#stats.dropped++; this.#error("SOCKET", "send failed", false, e); return; }
    this.#stats.framesOut++; this.#stats.bytesOut += frame.length;
  }

  #emitNeighbour(peer: string, up: boolean): void {
    for (const h of [...this.#nb]) {
      try { h(peer, up); } catch (e) { this.#error("HANDLER", "an onNeighbour handler threw", false, e); }
    }
  }

  #error(code: WsErrorCode, message: string, closed: boolean, cause?: unknown): void {
    countError(this.#stats, code);
    const e = new WsTransportError(code, message, code === "HELLO_TIMEOUT" ? undefined : this.#server, closed, cause);
    try { this.#onError(e); } catch { /* an error handler that throws is ignored */ }
  }
}
