// A Transport on js-libp2p 3 (Node): TCP and WebSocket connections, Noise
// encryption, yamux streams, identify, and gossipsub 17.
//
// - Anti-entropy (the Replicator's messages: deltas, acks, digests) runs over
//   a direct stream protocol, /trellis/sync/1.0.0: each node opens one
//   outbound stream to every connected peer that speaks it and only writes on
//   it; the peer only reads. Frames are length-prefixed. A neighbour is a peer
//   whose stream we can write to.
// - Gossip is the fast path: the transport offers publish/subscribe of opaque
//   bytes on the topic `trellis/<network>` (PubSub); what to publish and what
//   arriving bytes do is the replication layer's (gossipDeltas in
//   host/replication/gossip.ts), while the Replicator's anti-entropy still
//   guarantees convergence (gossipsub gives a late joiner none of the history).
// - Identity: the node's Ed25519 key is its libp2p key; Noise proves every
//   peer's key on every connection (docs/security.md), and an allow-list of
//   did:keys gates connections after that proof (`allow`).
// - Discovery: a bootstrap list (dialled and re-dialled forever, with capped
//   backoff), and peer exchange over the sync protocol (each node tells its
//   neighbours who its neighbours are, so a mesh forms from one bootstrap
//   address), up to `maxPeers` sync neighbours. Lost peers are re-dialled.
// - Many nodes on one host: gossipsub's IP colocation penalty is off and the
//   per-host inbound connection rate limit is raised (`sameHost`).
// docs/p2p.md has the frame format, the options and how to run a mesh.
import "./libp2p-polyfill.js";
import { createLibp2p, type Libp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { webSockets } from "@libp2p/websockets";
import { noise } from "@libp2p/noise";
import { yamux } from "@libp2p/yamux";
import { identify, type Identify } from "@libp2p/identify";
import { gossipsub, StrictNoSign, StrictSign, TopicValidatorResult, type GossipSub } from "@libp2p/gossipsub";
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf, publicKeyFromRaw } from "@libp2p/crypto/keys";
import { peerIdFromPublicKey, peerIdFromString } from "@libp2p/peer-id";
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import type { Connection, PeerId, PrivateKey, Stream } from "@libp2p/interface";
import type { PubSub, Transport } from "../replication/transport.js";
import { ByteReader, ByteWriter, fromUtf8, utf8 } from "../crdt/bytes.js";
import { AllowList, type AllowPolicy } from "../identity/allow.js";
import { didFromPublicKey, publicKeyFromDid } from "../identity/did.js";
import { WsConnLimits, type Limits } from "./limits.js";

export const SYNC_PROTOCOL = "/trellis/sync/1.0.0";
export const DEFAULT_MAX_FRAME = 16 * 1024 * 1024;
export const topicFor = (network: string): string => `trellis/${network}`;

// Sync stream frames: length:varint body, body = kind:u8 payload.
//   kind 1 hello  := version:u8 (1) count (addr:bytes)*          the sender's dialable multiaddrs
//   kind 2 data   := one Replicator message (opaque here)
//   kind 3 peers  := count (peer:bytes count (addr:bytes)*)*       the sender's sync neighbours
export const FrameKind = { hello: 1, data: 2, peers: 3 } as const;
const HELLO_VERSION = 1;
const MAX_ADDRS = 32;        // per peer, in a hello or a peers frame
const MAX_PEERS_LISTED = 256; // in a peers frame

export type Libp2pErrorCode =
  | "BAD_FRAME"   // a sync frame that does not parse (length over maxFrame, unknown kind, malformed hello/peers): the stream is reset
  | "TOO_LARGE"   // send() of a message over maxFrame: not sent
  | "BAD_GOSSIP"  // a gossip message that fails validation: rejected (not delivered, not forwarded; gossipsub scores its sender down)
  | "DIAL"        // a dial failed (it is retried with backoff)
  | "STREAM"      // a sync stream could not be opened or failed
  | "PUBLISH"     // a gossip publish failed (anti-entropy still ships the change)
  | "HANDLER"     // an onMessage / onNeighbour / onGossip handler threw
  | "NOT_ALLOWED" // a connection from or to a key the allow-list does not admit (or not an Ed25519 key): closed
  | "RATE_LIMITED" // a peer over its sync-frame rate (limits.ts): its connection is closed
  | "OVER_BUDGET"; // a peer over its sync-work budget (hangUp by the node): its connection is closed

export class Libp2pTransportError extends Error {
  override readonly name = "Libp2pTransportError";
  constructor(readonly code: Libp2pErrorCode, message: string, readonly peer?: string, override readonly cause?: unknown) {
    super(message);
  }
}

export interface Libp2pTransportOptions {
  privateKey?: PrivateKey | Uint8Array; // the identity (an Ed25519 key, or its protobuf bytes from exportKey); default: a new one
  allow?: AllowPolicy;       // the keys (did:keys) that may connect, proven by Noise: "any" (default) or a list or predicate
  listen?: string[];         // multiaddrs to listen on (default ["/ip4/127.0.0.1/tcp/0"]); add ".../tcp/N/ws" for WebSocket
  announce?: string[];       // multiaddrs to tell peers instead of the listen ones (a public address behind NAT)
  bootstrap?: string[];      // multiaddrs to dial at start and re-dial whenever lost, forever (with /p2p/<id> or without)
  network?: string;          // the gossip topic is trellis/<network> (default "default")
  maxPeers?: number;         // dial peers learned by peer exchange while fewer sync neighbours than this (default 8)
  redialMin?: number;        // ms before the first re-dial of a lost peer (default 250), doubling up to
  redialMax?: number;        // this (default 10,000), with ±25 % jitter
  forgetAfter?: number;      // stop re-dialling a learned (not bootstrap) peer after this many ms of failures (default 600,000)
  dialTimeout?: number;      // ms (default 5,000)
  maxFrame?: number;         // largest message sent or accepted (default 16 MiB)
  maxBuffered?: number;      // send() drops while a neighbour's stream has this many bytes queued (default 4 MiB)
  gossip?: boolean;          // run gossipsub (default true)
  signGossip?: boolean;      // sign gossip messages with the node's key and require signatures (default false; see docs/p2p.md)
  sameHost?: boolean;        // many nodes on one IP: no gossipsub IP colocation penalty, no per-host inbound rate limit (default true)
  pingInterval?: number;     // ms between connection pings; a connection whose ping fails is closed (default 10,000)
  onError?: (e: Libp2pTransportError) => void; // default: none (errors are counted in stats())
  limits?: Limits;           // per-peer sync-frame rates (wsFrameRate/Burst, wsByteRate/Burst); default none
}

export interface Libp2pStats {
  framesIn: number; bytesIn: number;    // sync frames received
  framesOut: number; bytesOut: number;  // sync frames written
  dropped: number;                      // send() calls that wrote nothing (no such neighbour, too large, backpressure)
  gossipOut: number; gossipIn: number; gossipRejected: number;
  dials: number; dialFailures: number;
  refused: number;                      // connections the allow-list refused
  errors: number;
  byCode: Partial<Record<Libp2pErrorCode, number>>;
}

const zeroStats = (): Libp2pStats => ({
  framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, dropped: 0,
  gossipOut: 0, gossipIn: 0, gossipRejected: 0, dials: 0, dialFailures: 0, refused: 0, errors: 0, byCode: {},
});

// ---- identity ---------------------------------------------------------------

export const newPrivateKey = (): Promise<PrivateKey> => generateKeyPair("Ed25519");
export const exportKey = (key: PrivateKey): Uint8Array => privateKeyToProtobuf(key);
export const importKey = (bytes: Uint8Array): PrivateKey => privateKeyFromProtobuf(bytes);

// ---- framing ------------------------------------------------------------------

function frame(kind: number, payload: Uint8Array): Uint8Array {
  const w = new ByteWriter(payload.length + 8);
  w.varint(payload.length + 1);
  w.raw(Uint8Array.of(kind));
  w.raw(payload);
  return w.finish();
}

function encodeAddrs(w: ByteWriter, addrs: string[]): void {
  w.varint(addrs.length);
  for (const a of addrs) w.bytes(utf8(a));
}

function readAddrs(r: ByteReader): string[] {
  const n = r.varint();
  if (n > MAX_ADDRS) throw new Error(`${n} addresses (at most ${MAX_ADDRS})`);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = fromUtf8(r.bytes());
    multiaddr(a); // throws if not a multiaddr
    out.push(a);
  }
  return out;
}

// Splits a byte stream into frame bodies; throws on a bad length. The length
// is checked before any body is kept, and a partial frame is kept as a list of
// chunks joined once complete, so a large frame costs one copy, not one per chunk.
class FrameReader {
  #chunks: Uint8Array[] = [];
  #have = 0;
  #need = -1; // bytes of the frame being collected (prefix + body), -1 unknown
  constructor(readonly max: number) {}
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (chunk.length === 0) return out;
    this.#chunks.push(chunk);
    this.#have += chunk.length;
    for (;;) {
      if (this.#need < 0) {
        const head = this.#head();
        if (head === null) return out;
        this.#need = head;
      }
      if (this.#have < this.#need) return out;
      const buf = this.#chunks.length === 1 ? this.#chunks[0] : concat(this.#chunks);
      const n = this.#need;
      const len = this.#prefix(buf);
      out.push(buf.subarray(n - len, n));
      const rest = buf.subarray(n);
      this.#chunks = rest.length ? [rest] : [];
      this.#have = rest.length;
      this.#need = -1;
    }
  }
  // prefix + body length of the next frame, or null if its varint is incomplete.
  #head(): number | null {
    let len = 0, shift = 0, i = 0;
    for (const c of this.#chunks) {
      for (let j = 0; j < c.length; j++) {
        const b = c[j]; i++;
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) {
          if (len === 0) throw new Error("empty frame");
          if (len > this.max + 1) throw new Error(`a ${len - 1}-byte frame exceeds maxFrame ${this.max}`);
          return i + len;
        }
        if (shift > 35) throw new Error("frame length varint too long");
      }
    }
    return null;
  }
  #prefix(buf: Uint8Array): number {
    let len = 0, shift = 0;
    for (let i = 0; ; i++) { len += (buf[i] & 0x7f) * 2 ** shift; shift += 7; if ((buf[i] & 0x80) === 0) return len; }
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const c = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { c.set(p, o); o += p.length; }
  return c;
}

const toBytes = (d: Uint8Array | { subarray(): Uint8Array }): Uint8Array => d instanceof Uint8Array ? d : d.subarray();

// ---- the transport ----------------------------------------------------------

interface Out { stream: Stream; peer: string }

// A peer to keep connected: a bootstrap address, or a peer learned from a
// hello or a peers frame.
interface Want {
  key: string;             // the bootstrap address, or the peer id
  peer: string | undefined; // its peer id once known
  addrs: string[];
  bootstrap: boolean;
  attempt: number;
  failingSince: number;    // 0: not failing
  timer: ReturnType<typeof setTimeout> | null;
  dialing: boolean;
}

type Services = { identify: Identify; pubsub?: GossipSub };

export class Libp2pTransport implements Transport, PubSub {
  readonly self: string;
  readonly node: Libp2p<Services>;
  readonly topic: string;
  readonly maxFrame: number;
  #o: Required<Omit<Libp2pTransportOptions, "privateKey" | "listen" | "announce" | "bootstrap" | "onError" | "signGossip" | "allow" | "limits">> & { limits?: Limits };
  #onError: (e: Libp2pTransportError) => void;
  #out = new Map<string, Out>();
  #opening = new Set<string>();
  #addrs = new Map<string, string[]>(); // peer → the addresses its hello announced
  #wants = new Map<string, Want>();
  #msg = new Set<(from: string, m: Uint8Array) => void>();
  #nb = new Set<(peer: string, up: boolean) => void>();
  #gossip = new Set<(from: string, m: Uint8Array) => void>();
  #validator: ((data: Uint8Array) => void) | null = null;
  #stats = zeroStats();
  #maint: ReturnType<typeof setInterval> | null = null;
  #peersTimer: ReturnType<typeof setTimeout> | null = null;
  #closing: Promise<void> | null = null;
  #delivering = 0;

  // Creates, starts and connects a node.
  static async create(o: Libp2pTransportOptions = {}): Promise<Libp2pTransport> {
    const key = o.privateKey instanceof Uint8Array ? importKey(o.privateKey) : o.privateKey ?? await newPrivateKey();
    const sameHost = o.sameHost ?? true;
    const gossip = o.gossip ?? true;
    const services: Record<string, unknown> = { identify: identify() };
    if (gossip) {
      services.pubsub = gossipsub({
        allowPublishToZeroTopicPeers: true, // a lone node still works; anti-entropy catches others up
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        globalSignaturePolicy: o.signGossip ? StrictSign : StrictNoSign,
        scoreParams: sameHost ? { IPColocationFactorWeight: 0 } : {},
        maxInboundDataLength: o.maxFrame ?? DEFAULT_MAX_FRAME,
      });
    }
    const allow = new AllowList(o.allow ?? "any");
    let t: Libp2pTransport | undefined;
    // After Noise, the remote peer id is proven: gate on its key. Every
    // trellis peer is named by an Ed25519 did:key, so other key types are refused.
    const gate = (dir: string) => (peer: PeerId): boolean => {
      const did = didOfPeer(peer);
      if (did && allow.admits(did)) return false;
      t?.refused(peer.toString(), did, dir);
      return true;
    };
    const node = await createLibp2p({
      start: false,
      privateKey: key,
      connectionGater: {
        denyDialPeer: (peer) => { const did = didOfPeer(peer); return !(did && allow.admits(did)); },
        denyInboundEncryptedConnection: gate("inbound"),
        denyOutboundEncryptedConnection: gate("outbound"),
      },
      addresses: { listen: o.listen ?? ["/ip4/127.0.0.1/tcp/0"], announce: o.announce ?? [] },
      transports: [tcp(), webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: sameHost
        ? { inboundConnectionThreshold: 10_000, maxIncomingPendingConnections: 256, dialTimeout: o.dialTimeout ?? 5000 }
        : { dialTimeout: o.dialTimeout ?? 5000 },
      connectionMonitor: { pingInterval: o.pingInterval ?? 10_000 },
      services: services as never,
    }) as unknown as Libp2p<Services>;
    t = new Libp2pTransport(node, o);
    try {
      await t.#start(o.bootstrap ?? []);
    } catch (e) {
      try { await node.stop(); } catch { /* already failing */ }
      throw e;
    }
    return t;
  }

  private constructor(node: Libp2p<Services>, o: Libp2pTransportOptions) {
    this.node = node;
    this.self = node.peerId.toString();
    this.maxFrame = o.maxFrame ?? DEFAULT_MAX_FRAME;
    this.topic = topicFor(o.network ?? "default");
    this.#onError = o.onError ?? (() => {});
    this.#o = {
      network: o.network ?? "default",
      maxPeers: o.maxPeers ?? 8,
      redialMin: o.redialMin ?? 250,
      redialMax: o.redialMax ?? 10_000,
      forgetAfter: o.forgetAfter ?? 600_000,
      dialTimeout: o.dialTimeout ?? 5000,
      maxFrame: this.maxFrame,
      maxBuffered: o.maxBuffered ?? 4 * 1024 * 1024,
      gossip: o.gossip ?? true,
      sameHost: o.sameHost ?? true,
      pingInterval: o.pingInterval ?? 10_000,
      limits: o.limits,
    };
    if (!(this.#o.maxPeers >= 1)) throw new RangeError("maxPeers must be >= 1");
  }

  async #start(bootstrap: string[]): Promise<void> {
    const node = this.node;
    await node.handle(SYNC_PROTOCOL, (stream, conn) => this.#inbound(stream, conn), { maxInboundStreams: 8, maxOutboundStreams: 8 });
    await node.register(SYNC_PROTOCOL, {
      onConnect: (peerId) => { void this.#openOut(peerId.toString()); },
      onDisconnect: (peerId) => this.#lost(peerId.toString()),
    });
    await node.start();
    const pubsub = node.services.pubsub;
    if (pubsub) {
      pubsub.topicValidators.set(this.topic, (peer, msg) => {
        if (!this.#validator) return TopicValidatorResult.Accept;
        try { this.#validator(msg.data); return TopicValidatorResult.Accept; } catch (e) {
          this.#stats.gossipRejected++;
          const from = msg.type === "signed" ? msg.from.toString() : peer.toString();
          this.#error("BAD_GOSSIP", `gossip from ${from} refused: ${(e as Error)?.message ?? String(e)}`, from, e);
          return TopicValidatorResult.Reject;
        }
      });
      pubsub.addEventListener("message", (ev) => {
        const m = ev.detail;
        if (m.topic !== this.topic || this.#closing) return;
        this.#stats.gossipIn++;
        const from = m.type === "signed" ? m.from.toString() : "";
        this.#delivering++;
        try {
          for (const h of [...this.#gossip]) {
            try { h(from, m.data); } catch (e) { this.#error("HANDLER", "an onGossip handler threw", from, e); }
          }
        } finally { this.#delivering--; }
      });
      pubsub.subscribe(this.topic);
    }
    for (const a of bootstrap) this.dial(a);
    this.#maint = setInterval(() => this.#maintain(), 2000);
    (this.#maint as { unref?: () => void }).unref?.();
  }

  // ---- Transport ----------------------------------------------------------

  neighbours(): string[] { return [...this.#out.keys()]; }

  send(to: string, message: Uint8Array): void {
    const o = this.#out.get(to);
    if (!o) { this.#stats.dropped++; return; }
    if (message.length > this.maxFrame) {
      this.#stats.dropped++;
      this.#error("TOO_LARGE", `not sent: a ${message.length}-byte message exceeds maxFrame ${this.maxFrame}`, to);
      return;
    }
    // Best effort: a neighbour that does not read (stopped, overloaded) gets
    // nothing more until its queue drains; the Replicator resends what is unacked.
    if (o.stream.writeBufferLength > this.#o.maxBuffered) { this.#stats.dropped++; return; }
    this.#write(o, frame(FrameKind.data, message));
  }

  // Transport.canSend: false while the neighbour's stream holds more than
  // maxBuffered, so the replicator skips it instead of building what it lacks.
  canSend(peer: string): boolean {
    const o = this.#out.get(peer);
    return !o || o.stream.writeBufferLength <= this.#o.maxBuffered;
  }

  onMessage(handler: (from: string, message: Uint8Array) => void): () => void {
    this.#msg.add(handler);
    return () => { this.#msg.delete(handler); };
  }

  onNeighbour(handler: (peer: string, up: boolean) => void): () => void {
    this.#nb.add(handler);
    return () => { this.#nb.delete(handler); };
  }

  // ---- gossip -------------------------------------------------------------

  // Publishes on the topic (best effort; never throws). False if not sent.
  publish(data: Uint8Array): boolean {
    const pubsub = this.node.services.pubsub;
    if (!pubsub || this.#closing) return false;
    if (data.length > this.maxFrame) { this.#error("TOO_LARGE", `not published: ${data.length} bytes exceed maxFrame ${this.maxFrame}`); return false; }
    this.#stats.gossipOut++;
    const failed = (e: unknown): void => {
      if (!this.#closing) this.#error("PUBLISH", `gossip publish failed: ${(e as Error)?.message ?? String(e)}`, undefined, e);
    };
    try { Promise.resolve(pubsub.publish(this.topic, data)).catch(failed); } catch (e) { failed(e); return false; }
    return true;
  }

  // handler(origin peer id, data) for every valid gossip message on the topic.
  onGossip(handler: (from: string, data: Uint8Array) => void): () => void {
    this.#gossip.add(handler);
    return () => { this.#gossip.delete(handler); };
  }

  // Runs on every gossip message before delivery; throwing rejects it (it is
  // neither delivered nor forwarded, and reported as BAD_GOSSIP).
  setGossipValidator(fn: ((data: Uint8Array) => void) | null): void { this.#validator = fn; }

  // ---- the rest -------------------------------------------------------------

  // The did:key a peer id names (its Ed25519 key), or null.
  didOf(peer: string): string | null {
    try { return didOfPeer(peerIdFromString(peer)); } catch { return null; }
  }

  // Reported by the connection gater (not for callers).
  refused(peer: string, did: string | null, dir: string): void {
    this.#stats.refused++;
    this.#error("NOT_ALLOWED", `${dir} connection ${did ? `from key ${did}` : `from ${peer} (not an Ed25519 key)`} refused by the allow-list`, peer);
  }

  // True while a message that came over this transport (a sync frame or a
  // gossip message) is being handed to handlers: what changes then came from
  // the mesh, and gossipDeltas does not publish it again.
  get delivering(): boolean { return this.#delivering > 0; }

  // This node's addresses, each ending in /p2p/<its peer id>.
  multiaddrs(): string[] { return this.node.getMultiaddrs().map(String); }

  // Peers this node has a libp2p connection to (a superset of neighbours()).
  connected(): string[] { return [...new Set(this.node.getConnections().map((c) => c.remotePeer.toString()))]; }

  stats(): Libp2pStats { return structuredClone(this.#stats); }

  // Dials an address now and keeps it connected (re-dialled whenever lost),
  // like a bootstrap address.
  dial(addr: string): void {
    if (this.#closing) return;
    const ma = multiaddr(addr); // throws on a bad address
    const peer = ma.getComponents().filter((c) => c.name === "p2p").pop()?.value;
    if (peer === this.self) return;
    let w = this.#wants.get(addr);
    if (!w) this.#wants.set(addr, (w = { key: addr, peer, addrs: [addr], bootstrap: true, attempt: 0, failingSince: 0, timer: null, dialing: false }));
    void this.#dialWant(w);
  }

  // Closes every connection and stops the node. Neighbours go down first.
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#maint) clearInterval(this.#maint);
      if (this.#peersTimer) clearTimeout(this.#peersTimer);
      for (const w of this.#wants.values()) if (w.timer) clearTimeout(w.timer);
      for (const peer of [...this.#out.keys()]) this.#down(peer);
      await this.node.stop();
    })();
    return this.#closing;
  }

  // ---- sync streams ---------------------------------------------------------

  async #openOut(peer: string): Promise<void> {
    if (this.#closing || this.#out.has(peer) || this.#opening.has(peer)) return;
    this.#opening.add(peer);
    let stream: Stream;
    try {
      stream = await this.node.dialProtocol(peerIdFromString(peer), SYNC_PROTOCOL, { signal: AbortSignal.timeout(this.#o.dialTimeout) });
    } catch (e) {
      this.#opening.delete(peer);
      if (!this.#closing) this.#error("STREAM", `cannot open a sync stream to ${peer}: ${(e as Error)?.message ?? String(e)}`, peer, e);
      return; // the maintenance tick tries again while connected
    }
    this.#opening.delete(peer);
    if (this.#closing) { stream.abort(new Error("closing")); return; }
    const o: Out = { stream, peer };
    this.#out.set(peer, o);
    stream.addEventListener("close", () => { if (this.#out.get(peer) === o) this.#down(peer); });
    // The peer never writes on this stream; whatever comes is dropped.
    stream.addEventListener("message", () => {});
    const w = new ByteWriter(256);
    w.raw(Uint8Array.of(HELLO_VERSION));
    encodeAddrs(w, this.#myAddrs());
    this.#write(o, frame(FrameKind.hello, w.finish()));
    this.#write(o, frame(FrameKind.peers, this.#peersPayload()));
    this.#emitNeighbour(peer, true);
    this.#peersChanged();
  }

  #inbound(stream: Stream, conn: Connection): void {
    const peer = conn.remotePeer.toString();
    const reader = new FrameReader(this.maxFrame);
    stream.addEventListener("message", (ev) => {
      if (this.#overRate(peer, ev.data.byteLength)) { stream.abort(new Error("rate limited")); return; }
      let bodies: Uint8Array[];
      try { bodies = reader.push(toBytes(ev.data)); } catch (e) {
        this.#error("BAD_FRAME", `${peer}: ${(e as Error).message}; stream reset`, peer, e);
        stream.abort(e as Error);
        return;
      }
      for (const b of bodies) {
        this.#stats.framesIn++; this.#stats.bytesIn += b.length;
        try { this.#frame(peer, b); } catch (e) {
          this.#error("BAD_FRAME", `${peer}: ${(e as Error).message}; stream reset`, peer, e);
          stream.abort(e as Error);
          return;
        }
      }
    });
    // A sync stream from a peer we have none to yet (its identify raced ours).
    if (!this.#out.has(peer)) void this.#openOut(peer);
  }

  // Per-peer rates on sync-stream bytes (limits.ts): a peer over them is hung
  // up on. Counted per chunk, before any frame is kept.
  #rates = new Map<string, WsConnLimits>();
  #overRate(peer: string, n: number): boolean {
    const l = this.#o.limits;
    if (!l) return false;
    let r = this.#rates.get(peer);
    if (!r) this.#rates.set(peer, (r = new WsConnLimits(l)));
    const over = r.bytes.take(n) ? null : `over ${l.wsByteRate} bytes/s (burst ${l.wsByteBurst})`;
    if (!over) return false;
    this.hangUp(peer, "RATE_LIMITED", `${peer}: ${over}; connection closed`);
    return true;
  }

  // Closes every connection to a peer over a budget, with a typed error. It
  // may dial again; what it owes is remembered by the caller's budgets.
  hangUp(peer: string, code: "RATE_LIMITED" | "OVER_BUDGET", message: string): void {
    this.#error(code, message, peer);
    this.#rates.delete(peer);
    let id;
    try { id = peerIdFromString(peer); } catch { return; }
    this.node.hangUp(id).catch(() => {});
  }

  #frame(peer: string, b: Uint8Array): void {
    const kind = b[0];
    const r = new ByteReader(b.subarray(1));
    switch (kind) {
      case FrameKind.data: {
        const m = b.subarray(1);
        this.#delivering++;
        try {
          for (const h of [...this.#msg]) {
            try { h(peer, m); } catch (e) { this.#error("HANDLER", "an onMessage handler threw", peer, e); }
          }
        } finally { this.#delivering--; }
        return;
      }
      case FrameKind.hello: {
        const v = r.raw(1)[0];
        if (v !== HELLO_VERSION) throw new Error(`hello version ${v}, expected ${HELLO_VERSION}`);
        const addrs = readAddrs(r);
        end(r);
        this.#addrs.set(peer, addrs);
        this.#learn(peer, addrs);
        this.#peersChanged();
        return;
      }
      case FrameKind.peers: {
        const n = r.varint();
        if (n > MAX_PEERS_LISTED) throw new Error(`${n} peers listed (at most ${MAX_PEERS_LISTED})`);
        const list: [string, string[]][] = [];
        for (let i = 0; i < n; i++) {
          const id = fromUtf8(r.bytes());
          peerIdFromString(id); // throws if not a peer id
          list.push([id, readAddrs(r)]);
        }
        end(r);
        for (const [id, addrs] of list) if (id !== this.self && addrs.length > 0) this.#learn(id, addrs);
        return;
      }
      default: throw new Error(`unknown frame kind ${kind}`);
    }
  }

  #write(o: Out, f: Uint8Array): void {
    try {
      o.stream.send(f);
      this.#stats.framesOut++; this.#stats.bytesOut += f.length;
    } catch {
      this.#stats.dropped++; // closed under us: its close event takes it down
    }
  }

  #down(peer: string): void {
    const o = this.#out.get(peer);
    if (!o) return;
    this.#out.delete(peer);
    if (o.stream.status === "open") o.stream.abort(new Error("neighbour dropped"));
    this.#emitNeighbour(peer, false);
    this.#peersChanged();
    this.#lost(peer);
  }

  // ---- peers: discovery and re-dialling -------------------------------------

  #myAddrs(): string[] { return this.multiaddrs().slice(0, MAX_ADDRS); }

  #peersPayload(): Uint8Array {
    const w = new ByteWriter(256);
    const list = [...this.#out.keys()].filter((p) => this.#addrs.has(p)).slice(0, MAX_PEERS_LISTED);
    w.varint(list.length);
    for (const p of list) { w.bytes(utf8(p)); encodeAddrs(w, this.#addrs.get(p)!); }
    return w.finish();
  }

  // Tells every neighbour who our neighbours are (coalesced).
  #peersChanged(): void {
    if (this.#peersTimer || this.#closing) return;
    this.#peersTimer = setTimeout(() => {
      this.#peersTimer = null;
      const f = frame(FrameKind.peers, this.#peersPayload());
      for (const o of this.#out.values()) this.#write(o, f);
    }, 100);
    (this.#peersTimer as { unref?: () => void }).unref?.();
  }

  // A peer and its addresses: keep it connected while we have room.
  #learn(peer: string, addrs: string[]): void {
    if (peer === this.self) return;
    let w = this.#wants.get(peer);
    if (!w) {
      // A bootstrap entry for it already keeps it connected.
      for (const b of this.#wants.values()) if (b.peer === peer) { b.addrs = [...new Set([...b.addrs, ...addrs])]; return; }
      this.#wants.set(peer, (w = { key: peer, peer, addrs, bootstrap: false, attempt: 0, failingSince: 0, timer: null, dialing: false }));
    } else {
      w.addrs = addrs;
    }
    if (!this.#isConnected(peer) && this.#out.size < this.#o.maxPeers) this.#schedule(w, 0);
  }

  #lost(peer: string): void {
    if (this.#closing || this.#isConnected(peer)) return;
    for (const w of this.#wants.values()) if (w.peer === peer) { w.attempt = 0; this.#schedule(w, this.#o.redialMin); }
  }

  #isConnected(peer: string): boolean {
    try { return this.node.getConnections(peerIdFromString(peer)).length > 0; } catch { return false; }
  }

  #schedule(w: Want, delay: number): void {
    if (w.timer || w.dialing || this.#closing) return;
    w.timer = setTimeout(() => { w.timer = null; void this.#dialWant(w); }, delay);
    (w.timer as { unref?: () => void }).unref?.();
  }

  async #dialWant(w: Want): Promise<void> {
    if (this.#closing || w.dialing) return;
    if (w.peer && this.#isConnected(w.peer)) { w.attempt = 0; w.failingSince = 0; return; }
    if (!w.bootstrap && this.#out.size >= this.#o.maxPeers) return; // enough neighbours; maintenance looks again
    w.dialing = true;
    this.#stats.dials++;
    try {
      const addrs = w.addrs.map((a) => multiaddr(a));
      const conn = await this.node.dial(addrs.length === 1 ? addrs[0] : addrs as Multiaddr[], { signal: AbortSignal.timeout(this.#o.dialTimeout) });
      w.peer = conn.remotePeer.toString();
      w.attempt = 0; w.failingSince = 0;
    } catch (e) {
      this.#stats.dialFailures++;
      const now = Date.now();
      if (!w.failingSince) w.failingSince = now;
      this.#error("DIAL", `dial ${w.key} failed (attempt ${w.attempt + 1}): ${(e as Error)?.message ?? String(e)}`, w.peer, e);
      if (!w.bootstrap && now - w.failingSince > this.#o.forgetAfter) { this.#wants.delete(w.key); return; }
      const delay = Math.min(this.#o.redialMax, this.#o.redialMin * 2 ** w.attempt++);
      w.dialing = false;
      this.#schedule(w, delay * (0.75 + Math.random() / 2));
      return;
    } finally {
      w.dialing = false;
    }
  }

  // Every 2 s: re-dial wanted peers that are down (bootstrap always, others
  // while there is room), and open sync streams that failed to open.
  #maintain(): void {
    if (this.#closing) return;
    for (const w of this.#wants.values()) {
      if (w.timer || w.dialing) continue;
      if (w.peer && this.#isConnected(w.peer)) continue;
      if (!w.bootstrap && this.#out.size >= this.#o.maxPeers) continue;
      this.#schedule(w, 0);
    }
    for (const c of this.node.getConnections()) {
      const peer = c.remotePeer.toString();
      if (!this.#out.has(peer) && !this.#opening.has(peer) && this.#speaksSync(peer)) void this.#openOut(peer);
    }
  }

  #speaksSync(peer: string): boolean {
    return this.#addrs.has(peer) || [...this.#wants.values()].some((w) => w.peer === peer);
  }

  // ---- helpers ----------------------------------------------------------------

  #emitNeighbour(peer: string, up: boolean): void {
    for (const h of [...this.#nb]) {
      try { h(peer, up); } catch (e) { this.#error("HANDLER", "an onNeighbour handler threw", peer, e); }
    }
  }

  #error(code: Libp2pErrorCode, message: string, peer?: string, cause?: unknown): void {
    this.#stats.errors++;
    this.#stats.byCode[code] = (this.#stats.byCode[code] ?? 0) + 1;
    try { this.#onError(new Libp2pTransportError(code, message, peer, cause)); } catch { /* ignored */ }
  }
}

// The did:key of a libp2p peer id (Ed25519 peer ids embed their key), or null.
export function didOfPeerId(peer: string): string | null {
  try { return didOfPeer(peerIdFromString(peer)); } catch { return null; }
}

// The libp2p peer id that names the same Ed25519 key as `did`.
export function peerIdOfDid(did: string): string {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKeyFromDid(did))).toString();
}

function didOfPeer(peer: PeerId): string | null {
  const pub = peer.publicKey;
  return pub?.type === "Ed25519" ? didFromPublicKey(pub.raw) : null;
}

function end(r: ByteReader): void {
  if (r.pos !== r.buf.length) throw new Error(`${r.buf.length - r.pos} trailing bytes`);
}

// The gossip fast path (what is published, what arriving bytes do) is the
// replication layer's: gossipDeltas in host/replication/gossip.ts.

export type { PeerId, PrivateKey };
