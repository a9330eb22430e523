// Framing and errors shared by the WebSocket server (ws-server.ts, Node) and
// client (ws-client.ts, browsers and Node). No Node built-ins here.
// Byte-level format, limits and the error rules: docs/ws.md.

// Every WebSocket message is one binary frame:
//   'T' 'W' version:u8 type:u8 body
// type 1 hello: body = the sender's peer id, 1..255 bytes of UTF-8
// type 2 data:  body = one opaque replication message (0..maxFrame bytes)
// type 3 ping:  empty body; the server answers with a pong (client heartbeat)
// type 4 pong:  empty body
// types 5-7: the authenticated handshake (ws-auth.ts, docs/ws.md):
// type 5 auth:      client → server, version:u8 (1) nonce:32 did (UTF-8, 1..255 bytes)
// type 6 challenge: server → client, nonce:32 signature:64 did (UTF-8, 1..255 bytes)
// type 7 proof:     client → server, signature:64
export const FRAME_VERSION = 1;
export const HEADER = 4;
export const MAGIC0 = 0x54; // 'T'
export const MAGIC1 = 0x57; // 'W'
export const MAX_ID_BYTES = 255;
export const DEFAULT_MAX_FRAME = 16 * 1024 * 1024;

export const FrameType = { hello: 1, data: 2, ping: 3, pong: 4, auth: 5, challenge: 6, proof: 7 } as const;
export type FrameTypeName = keyof typeof FrameType;

export type WsErrorCode =
  | "TEXT_FRAME"     // a text (not binary) WebSocket message
  | "BAD_MAGIC"      // shorter than the header or not starting with "TW"
  | "BAD_VERSION"    // a frame version other than 1
  | "UNKNOWN_TYPE"   // a frame type other than 1-4
  | "TOO_LARGE"      // a body above maxFrame (received, refused by the socket, or given to send)
  | "NO_HELLO"       // data/ping/pong before the hello
  | "BAD_HELLO"      // an id that is empty, not UTF-8, too long, our own, or a second hello
  | "HELLO_TIMEOUT"  // no hello within helloTimeout
  | "HEARTBEAT"      // the peer stopped answering heartbeats
  | "SOCKET"         // the socket failed (cause: the underlying error)
  | "HANDLER"        // an onMessage/onNeighbour handler threw (cause: what it threw)
  | "AUTH_REQUIRED"  // a plain hello to a server that is not open, or an auth to one without an identity
  | "AUTH_FAILED"    // a handshake signature (or did) that does not verify: an impersonation or a replay
  | "NOT_ALLOWED"   // a proven key the allow-list does not admit
  // Limits (limits.ts, docs/security.md): the peer is disconnected (4002)
  | "RATE_LIMITED"   // over its frames/s or bytes/s
  | "SLOW_READER"    // it left sends unread past its budget
  | "TOO_MANY_CONNECTIONS" // the upgrade was refused (503): the node or the address is full
  | "BAD_ORIGIN"     // the upgrade came from a browser page on another origin (403)
  | "OVER_BUDGET";   // its sync messages cost more work than its budget

export class WsTransportError extends Error {
  override readonly name = "WsTransportError";
  constructor(
    readonly code: WsErrorCode,
    message: string,
    // The peer's id when known (after its hello), else undefined.
    readonly peer?: string,
    // true when the connection was closed because of it, false when only the frame was dropped.
    readonly closed = false,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

export interface WsStats {
  framesIn: number; bytesIn: number;   // frames accepted (any type) and their bytes
  framesOut: number; bytesOut: number; // frames written to sockets
  dropped: number;                     // send() calls that wrote nothing (no such neighbour, too large, backpressure)
  errors: number;                      // errors reported to onError
  byCode: Partial<Record<WsErrorCode, number>>;
}

export const zeroStats = (): WsStats => ({ framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, dropped: 0, errors: 0, byCode: {} });

export function countError(s: WsStats, code: WsErrorCode): void {
  s.errors++;
  s.byCode[code] = (s.byCode[code] ?? 0) + 1;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

export function encodeFrame(type: FrameTypeName, body: Uint8Array = EMPTY): Uint8Array {
  const f = new Uint8Array(HEADER + body.length);
  f[0] = MAGIC0; f[1] = MAGIC1; f[2] = FRAME_VERSION; f[3] = FrameType[type];
  f.set(body, HEADER);
  return f;
}

export function encodeHello(id: string): Uint8Array {
  const b = utf8.encode(id);
  if (b.length === 0 || b.length > MAX_ID_BYTES) throw new RangeError(`a peer id is 1..${MAX_ID_BYTES} bytes of UTF-8, got ${b.length}`);
  return encodeFrame("hello", b);
}

export type Decoded =
  | { type: "hello"; id: string }
  | { type: "data"; body: Uint8Array }
  | { type: "ping" }
  | { type: "pong" }
  | { type: "auth"; nonce: Uint8Array; did: string }
  | { type: "challenge"; nonce: Uint8Array; sig: Uint8Array; did: string }
  | { type: "proof"; sig: Uint8Array }
  | { type: "error"; code: WsErrorCode; message: string };

const EMPTY = new Uint8Array(0);
const TYPES: (FrameTypeName | undefined)[] = [undefined, "hello", "data", "ping", "pong", "auth", "challenge", "proof"];
export const NONCE_BYTES = 32;
export const SIG_BYTES = 64;
export const AUTH_VERSION = 1;

function readDid(b: Uint8Array): string | null {
  if (b.length === 0 || b.length > MAX_ID_BYTES) return null;
  try { return utf8Strict.decode(b); } catch { return null; }
}

// Validates one received WebSocket message. Never throws; the data body is a
// view into `frame` (no copy).
export function decodeFrame(frame: Uint8Array, maxFrame: number): Decoded {
  if (frame.length < HEADER || frame[0] !== MAGIC0 || frame[1] !== MAGIC1) return err("BAD_MAGIC", "not a trellis frame (no TW header)");
  if (frame[2] !== FRAME_VERSION) return err("BAD_VERSION", `frame version ${frame[2]}, expected ${FRAME_VERSION}`);
  const type = TYPES[frame[3]];
  if (!type) return err("UNKNOWN_TYPE", `unknown frame type ${frame[3]}`);
  const body = frame.subarray(HEADER);
  switch (type) {
    case "data":
      if (body.length > maxFrame) return err("TOO_LARGE", `data body of ${body.length} bytes exceeds maxFrame ${maxFrame}`);
      return { type, body };
    case "hello": {
      if (body.length === 0 || body.length > MAX_ID_BYTES) return err("BAD_HELLO", `hello id of ${body.length} bytes (1..${MAX_ID_BYTES})`);
      let id: string;
      try { id = utf8Strict.decode(body); } catch { return err("BAD_HELLO", "hello id is not UTF-8"); }
      return { type, id };
    }
    case "auth": {
      if (body.length < 1 + NONCE_BYTES + 1 || body[0] !== AUTH_VERSION) return err("BAD_HELLO", `an auth frame of ${body.length} bytes, version ${body[0]} (expected ${AUTH_VERSION})`);
      const did = readDid(body.subarray(1 + NONCE_BYTES));
      if (did === null) return err("BAD_HELLO", "an auth frame whose id is not 1..255 bytes of UTF-8");
      return { type, nonce: body.slice(1, 1 + NONCE_BYTES), did };
    }
    case "challenge": {
      const did = readDid(body.subarray(NONCE_BYTES + SIG_BYTES));
      if (did === null) return err("BAD_HELLO", "a challenge frame that is too short or whose id is not 1..255 bytes of UTF-8");
      return { type, nonce: body.slice(0, NONCE_BYTES), sig: body.slice(NONCE_BYTES, NONCE_BYTES + SIG_BYTES), did };
    }
    case "proof":
      if (body.length !== SIG_BYTES) return err("BAD_HELLO", `a proof frame of ${body.length} bytes (${SIG_BYTES})`);
      return { type, sig: body.slice() };
    default:
      if (body.length !== 0) return err("UNKNOWN_TYPE", `${type} frame with a ${body.length}-byte body`);
      return { type };
  }
}

function err(code: WsErrorCode, message: string): Decoded { return { type: "error", code, message }; }

// WebSocket close codes used (1000-1015 from RFC 6455, 4000+ application).
export const CloseCode = {
  normal: 1000,       // close() on the client
  goingAway: 1001,    // close() on the server
  protocol: 1002,     // a bad frame before the hello
  policy: 1008,       // hello timeout, heartbeat timeout
  tooBig: 1009,       // a frame above maxPayload (sent by ws itself)
  replaced: 4000,     // another connection announced the same peer id
  kicked: 4001,       // server.disconnect(peer)
  overBudget: 4002,   // over a rate, send or work budget (limits.ts)
  authFailed: 4010,   // a handshake signature that does not verify (impersonation, replay, a bad did)
  notAllowed: 4011,   // a key the allow-list does not admit
  authRequired: 4012, // an unauthenticated hello to a server that is not open
} as const;

// Node's Buffer, ArrayBuffer, or an array of chunks (ws fragments) → a plain
// Uint8Array (a view, not a copy, of a Buffer).
export function toBytes(data: unknown): Uint8Array | null {
  if (data instanceof Uint8Array) return data.constructor === Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.length);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (Array.isArray(data)) {
    let n = 0;
    for (const c of data) n += (c as Uint8Array).length;
    const out = new Uint8Array(n);
    let o = 0;
    for (const c of data) { out.set(c as Uint8Array, o); o += (c as Uint8Array).length; }
    return out;
  }
  return null;
}
