// One trellis node: a Runtime whose replicated variables are kept on disk
// (persist + a Store in a directory) and replicated over WebSocket — a server
// that peers connect to (attached to the node's http server on `path`) and a
// client to each configured peer, one Replicator per transport — plus the
// control API (./api.ts) on the same http server. With `listen` (or a
// multiaddr among `peers`) the node also joins a libp2p mesh
// (../transport/libp2p.ts: sync streams + gossip, its own Replicator), with
// an identity key kept in the store. `trellis serve` is this class;
// docs/cli.md and docs/p2p.md describe the whole.
import { createServer, type Server } from "node:http";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { Runtime, Replicator, gossipDeltas, TrellisError, specName, type OpLike, type TypeLike, type TypeSpec } from "../index.js";
import type { Threshold } from "../dataflow/threshold.js";
import type { WriteAuthority, EnforceRefusal } from "../dataflow/runtime.js";
import { toSpec } from "../crdt/spec.js";
import { openNodeStore, persist, onceRecord, specBytes, type Persisted, type Store } from "../storage/node.js";
import { WsServer, WsClient, NodeWebSocket, type WebSocketConstructor } from "../transport/ws-server.js";
import type { Transport } from "../replication/transport.js";
import type { Libp2pTransport } from "../transport/libp2p.js";
import { parseType } from "./typename.js";
import { loadNodeIdentity } from "../identity/node.js";
import type { Identity } from "../identity/identity.js";
import type { AllowPolicy } from "../identity/allow.js";
import { createLogger, errorFields, type Logger } from "./log.js";
import { loadPeers, PEERS } from "../peers.js";
import { handle, type ApiState } from "./api.js";
import { missingTop, removeCreated } from "./datadir.js";
import { loadOrCreateToken, originAllowed, parseCors, type HttpPolicy } from "./auth.js";
import type { TrustHub, EnvelopeReplicator, TrustHubOptions } from "../trust/sync.js";
import type { Capabilities } from "../trust/caps.js";
import type { Envelope } from "../trust/envelope.js";
import { HttpLimits, MeteredTransport, TokenBucket, limits as makeLimits, type LimitError, type LimitOptions, type Limits } from "../transport/limits.js";

export interface TrellisNodeOptions {
  data: string;             // the store's directory (created if missing)
  port?: number;            // http + WebSocket port (default 7070; 0: a free one)
  host?: string;            // interface to listen on (default 127.0.0.1)
  id?: string;              // this node's name, for people and logs (default: kept in the store, else random); on the network it is its did:key
  allow?: AllowPolicy;      // keys that may connect over WebSocket and libp2p: "any" (default: any key that proves itself) or a list of did:keys
  open?: boolean;           // also accept unauthenticated WebSocket peers, as before identities (default false)
  peers?: string[];         // ws:// URLs of other nodes' sync endpoints, or libp2p multiaddrs ("/ip4/…/tcp/…/p2p/…") to bootstrap from
  listen?: string[];        // libp2p multiaddrs to listen on (e.g. /ip4/0.0.0.0/tcp/4001); libp2p runs if this or a multiaddr peer is given
  network?: string;         // libp2p gossip topic trellis/<network> (default "default")
  trusted?: boolean;        // the node that runs enforceOnce actions
  path?: string;            // the WebSocket sync path (default "/sync")
  interval?: number;        // ms between replication rounds (default 1000)
  maxBody?: number;         // largest control-API request body in bytes (default 1 MiB)
  maxReadTimeout?: number;  // longest threshold-read wait allowed in ms (default 600,000)
  snapshotEvery?: number;   // persist: snapshot a variable after this many deltas (default 64)
  log?: Logger;
  static?: string;          // a folder to serve under /app/ (the browser app)
  // The control API's bearer token: default, made at the first start in
  // <data>/api-token (0600); a string: this one; false: none (open to anyone
  // who can reach the port). docs/security.md.
  token?: string | false;
  cors?: string[];          // browser origins allowed besides the node's own (default none)
  limits?: LimitOptions;    // per-peer and total budgets (transport/limits.ts; defaults for a small machine)
  maxFrame?: number;        // largest sync message sent or accepted, WebSocket and libp2p (default 16 MiB); refused before it is buffered
  // "trusted" (default): plain delta-state anti-entropy, for closed clusters.
  // "trustless": every change travels as a signed envelope that every node
  // admits before joining (docs/security.md, "Trustless replication"); no
  // gossip fast path (libp2p replicates over its sync streams, eagerly).
  trust?: "trusted" | "trustless";
  // Trustless mode: the capability check (docs/security.md); default: any
  // authenticated identity may write (the mint checks still apply).
  authorize?: (envelope: Envelope) => Promise<void> | void;
  admit?: TrustHubOptions["admit"]; // trustless mode: mint limits, clock skew, envelope limits
  // Trustless mode, capabilities (docs/security.md, "Capabilities in trustless
  // nodes"): the owner of each variable or namespace ({ "campaign/*": did,
  // "*": did }), or "self" (this node owns every variable: { "*": its did }).
  // With owners, envelopes are admitted only with a capability (unless
  // `authorize` is given, which replaces the check), this node signs only
  // what it may write (its `proof` goes in each envelope's cap), revocations
  // are followed, and variables are served only to peers holding read on
  // them. Without owners (the default), any authenticated identity may write
  // and every peer is served everything.
  owners?: Record<string, string> | "self";
  // This node's capability proof (encodeProof bytes: chains from the owners
  // to this node's did), or a function giving the current one.
  proof?: Uint8Array | (() => Uint8Array | undefined | Promise<Uint8Array | undefined>);
  unowned?: "deny" | "allow"; // a variable no owner covers (default "deny")
}

// Meta records (Store.meta) the node keeps.
export const META_NODE_ID = "trellis:node-id";
export const META_LIBP2P_KEY = "trellis:libp2p-key"; // protobuf Ed25519 private key: the node's identity (did:key) and libp2p peer id
export const META_TRUST_SEQ = "trellis:trust-seq";   // trustless mode: the highest sequence number this node has signed (decimal)

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export class TrellisNode {
  readonly id: string;
  // The node's key (kept in its store): its did:key is its peer id on every
  // transport, and the replica id is `<did>.<incarnation>`.
  readonly identity: Identity;
  readonly replica: string;
  readonly runtime: Runtime;
  readonly store: Store;
  readonly log: Logger;
  readonly path: string;
  readonly server: Server;
  readonly wsServer: WsServer;
  readonly clients: WsClient[] = [];
  readonly replicators: (Replicator | EnvelopeReplicator)[] = [];
  readonly trust: "trusted" | "trustless";
  trustHub: TrustHub | null = null;  // trustless mode: the ledger, the signing chain, the envelope log
  caps: Capabilities | null = null;  // trustless mode with owners: the verifier (revocations followed)
  readonly recovered: string[];
  readonly token: string | null;   // the API token (null: none required)
  readonly limits: Limits;
  readonly httpLimits: HttpLimits;
  readonly meters: MeteredTransport[] = []; // sync-work budgets, one per transport
  libp2p: Libp2pTransport | null = null;
  #persisted: Persisted;
  #api: ApiState;
  #closing: Promise<void> | null = null;
  #syncQueued = false;

  // Opens the store, recovers, then listens. Everything opened so far is
  // closed again if a later step fails (e.g. the port is taken).
  static async start(o: TrellisNodeOptions): Promise<TrellisNode> {
    const log = o.log ?? createLogger("info");
    if (typeof o.data !== "string" || o.data === "") throw new TypeError("a node needs a data directory");
    const created = missingTop(o.data);
    const store = await openNodeStore(o.data).catch(async (e) => { await removeCreated(o.data, created, false); throw e; });
    let rt: Runtime | undefined;
    let persisted: Persisted | undefined;
    try {
      // The node id is durable; the replica id (dots, counter entries) is new
      // at every start. A change can reach peers before it is durable (it is
      // shipped at once, acknowledged after the flush), so a node killed in
      // between comes back without it while peers have it: reusing the replica
      // id would reissue its dot, and the peers' copy would then erase the
      // new, acknowledged update. A fresh incarnation never collides.
      const storedId = store.meta.get(META_NODE_ID);
      const id = o.id ?? (storedId ? fromUtf8.decode(storedId) : `node-${randomBytes(4).toString("hex")}`);
      checkPeerId(id);
      if (!storedId || fromUtf8.decode(storedId) !== id) await store.meta.put(META_NODE_ID, utf8.encode(id));
      const fresh = !storedId;
      const { identity, privateKey } = await loadNodeIdentity(store.meta);
      const replica = identity.replicaId();
      // Trustless with owners: enforceOnce actions run only where this
      // node's key holds the writes they declare (trust/authority.ts); the
      // verifier is made below, once the trust peers are loaded.
      let authority: WriteAuthority | undefined;
      const gated = o.trust === "trustless" && o.owners !== undefined;
      rt = new Runtime({
        replica, trusted: o.trusted ?? false, once: onceRecord(store),
        onError: (e) => log.error("runtime error", { err: e }),
        ...(gated ? {
          authority: { mayWrite: (v: string, c: string) => authority ? authority.mayWrite(v, c) : Promise.reject(new Error("capabilities are not loaded yet")) },
          onRefused: (r: EnforceRefusal) => log.warn("enforceOnce refused: this node lacks the capability", { var: r.id, message: r.message }),
        } : {}),
      });
      // Persistence is attached before anything can change the runtime.
      persisted = await persist(rt, store, { snapshotEvery: o.snapshotEvery });
      let token: string | null = null;
      if (o.token === undefined) {
        const t = await loadOrCreateToken(o.data);
        token = t.token;
        // Printed once, when made; afterwards it is only in the file.
        if (t.created) log.info("api token created", { file: t.file, token: t.token });
        if (t.fixedMode) log.warn("api token file was readable by others; made owner-only", { file: t.file });
      } else if (o.token !== false) {
        if (typeof o.token !== "string" || !/^[A-Za-z0-9_-]{16,256}$/.test(o.token)) throw new TypeError("token is 16..256 characters of A-Z a-z 0-9 _ -");
        token = o.token;
      }
      if (o.trust !== undefined && o.trust !== "trusted" && o.trust !== "trustless") throw new TypeError(`trust is "trusted" or "trustless", got ${String(o.trust)}`);
      // Trustless: the ledger is rebuilt from the envelope log before any
      // transport (or the API) can deliver or make a change.
      let hub: TrustHub | null = null;
      let caps: Capabilities | null = null;
      if (o.owners !== undefined && o.trust !== "trustless") throw new TypeError("owners (capabilities) need trust: \"trustless\"");
      if (o.trust === "trustless") {
        const { TrustHub } = await loadPeers("trellis serve --trustless", PEERS["trellis/trust"], () => import("../trust/sync.js"));
        const st = store;
        const capOpts = o.owners !== undefined ? await capabilityOptions(o, identity.did, rt, log) : null;
        caps = capOpts?.caps ?? null;
        if (capOpts) authority = capOpts.authority(identity, o.proof);
        hub = await TrustHub.open(rt, {
          identity, authorize: o.authorize ?? capOpts?.caps.authorize, admit: o.admit,
          proof: o.proof, signable: capOpts?.signable, readGate: capOpts?.readGate, revocations: capOpts?.revocations,
          store: {
            envelopes: () => st.envelopes(),
            putEnvelope: (b) => st.appendEnvelope(b),
            replaceEnvelopes: (drop, b) => st.replaceEnvelopes(drop, b),
            ownSeq: () => Number(fromUtf8.decode(st.meta.get(META_TRUST_SEQ) ?? new Uint8Array())) || 0,
            setOwnSeq: (n) => st.meta.put(META_TRUST_SEQ, utf8.encode(String(n))),
          },
          onReject: (e, peer, evidence) => {
            if (evidence) log.warn("equivocation", { peer, author: evidence.author, seq: evidence.seq, admitted: String(evidence.admitted), conflicting: String(evidence.conflicting) });
            else log.warn("envelope rejected", { peer, code: e.code, err: e });
          },
          onError: (e, peer) => log.warn("trustless replication error", { peer, err: e }),
        });
        // Revocations joined back from the envelope log (admission is not re-run then).
        await capOpts?.refeed();
        const s0 = hub.stats();
        log.info("trust ledger rebuilt", { envelopes: s0.restored, skipped: s0.restoreSkipped, authors: hub.ledger.heads().length });
      }
      const node = new TrellisNode(o, log, id, identity, privateKey, replica, rt, store, persisted, token, hub);
      node.caps = caps;
      log.info("recovered", { data: o.data, id, did: identity.did, replica, freshStore: fresh, variables: persisted.recovered.length });
      await node.#listen(o.port ?? 7070, o.host ?? "127.0.0.1");
      const p2p = (o.peers ?? []).filter((p) => p.startsWith("/"));
      if ((o.listen?.length ?? 0) > 0 || p2p.length > 0) {
        await node.#startLibp2p(o.listen?.length ? o.listen : [`/ip4/${o.host ?? "127.0.0.1"}/tcp/0`], p2p, o.network);
      }
      for (const url of o.peers ?? []) if (!url.startsWith("/")) node.connect(url);
      return node;
    } catch (e) {
      // The API listens before libp2p starts: if a variable was declared in
      // between, an update may have been acknowledged, so the store stays.
      const untouched = (rt?.variables().length ?? 0) === 0;
      persisted?.stop();
      rt?.close();
      await store.close().catch(() => {});
      if (untouched) await removeCreated(o.data, created, true);
      throw e;
    }
  }

  private constructor(o: TrellisNodeOptions, log: Logger, id: string, identity: Identity, privateKey: Uint8Array, replica: string, rt: Runtime, store: Store, persisted: Persisted, token: string | null, hub: TrustHub | null) {
    this.log = log;
    this.trust = hub ? "trustless" : "trusted";
    this.trustHub = hub;
    this.id = id;
    this.identity = identity;
    this.#privateKey = privateKey;
    this.#allow = o.allow ?? "any";
    this.replica = replica;
    this.runtime = rt;
    this.store = store;
    this.#persisted = persisted;
    this.recovered = persisted.recovered;
    this.path = o.path ?? "/sync";
    this.#interval = o.interval ?? 1000;
    this.#maxFrame = o.maxFrame;
    this.token = token;
    this.limits = makeLimits(o.limits);
    const policy: HttpPolicy = { token, cors: parseCors(o.cors ?? []) };
    this.httpLimits = new HttpLimits(this.limits, (e, remote) => log.warn("http client over a limit", { remote, code: e.code, err: e }));
    this.#api = {
      node: this, log, maxBody: o.maxBody ?? 1 << 20, maxReadTimeout: o.maxReadTimeout ?? 600_000,
      reads: new Set(), inflight: new Set(), static: o.static, policy, limits: this.httpLimits,
    };
    this.server = createServer((req, res) => handle(this.#api, req, res));
    this.httpLimits.attach(this.server);
    this.server.on("clientError", (err, socket) => {
      log.debug("http client error", { err });
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"); else socket.destroy();
    });
    this.wsServer = new WsServer({
      identity, allow: this.#allow, open: o.open ?? false, server: this.server, path: this.path, limits: this.limits, maxFrame: o.maxFrame,
      verifyOrigin: (req) => originAllowed(policy, req),
      onError: (e) => log.warn("ws error", { transport: "server", peer: e.peer, code: e.code, err: e }),
    });
    this.#replicate(this.wsServer, "server", true, (peer, e) => this.wsServer.disconnectOver(peer, "OVER_BUDGET", e.message));
    // Ship changes at once (rounds still run every interval to catch up).
    rt.onDelta(() => this.#queueSync());
    rt.onDeclare(() => this.#queueSync());
  }

  #interval: number;
  #privateKey: Uint8Array; // libp2p protobuf bytes of the node key
  #allow: AllowPolicy;
  #maxFrame: number | undefined;

  // eager: a round right after every change (else only every interval, and
  // when a neighbour comes up).
  // Each peer's messages are charged the sync work they cause; one over its
  // budget is refused and, where the transport can, disconnected (`kick`).
  #replicate(t: Transport, name: string, eager = true, kick?: (peer: string, e: LimitError) => void): void {
    const metered = new MeteredTransport(t, {
      work: this.runtime.kernel, rate: this.limits.syncWorkRate, burst: this.limits.syncWorkBurst, max: this.limits.peerBuckets,
      total: this.#workTotal ??= new TokenBucket(this.limits.syncWorkTotalRate, this.limits.syncWorkTotalBurst),
      onBusy: (e) => this.log.warn("sync work over the node's total budget", { transport: name, peer: e.peer, code: e.code, err: e }),
      onOver: (peer, e) => {
        this.log.warn("peer over its sync budget", { transport: name, peer, code: e.code, err: e });
        kick?.(peer, e);
      },
    });
    this.meters.push(metered);
    if (this.trustHub) {
      // One hub (one ledger, one signing chain) for every transport.
      // libp2p names peers by peer id: read gating needs their did.
      const didOf = (t as Partial<Libp2pTransport>).didOf?.bind(t);
      const r = this.trustHub.attach(metered, { interval: this.#interval, didOf }).start();
      this.replicators.push(r);
      // The hub pushes every envelope as it is signed or admitted: a round
      // (a frontier to every peer) is needed only every interval and when a
      // peer comes up, not after every change.
      this.#lazy.add(r);
      void eager;
      t.onNeighbour((peer, up) => {
        this.log.info(up ? "peer up" : "peer down", { transport: name, peer });
        if (up) this.#queueSync(true);
      });
      return;
    }
    const rep = new Replicator(this.runtime, metered, {
      interval: this.#interval,
      // Counting parts sent costs a decomposition per state: a cheap delta
      // with a large causal context would make every round expensive.
      countEntries: false,
      onError: (e) => this.log.warn("replication error", { transport: name, peer: e.peer, code: e.code, err: e }),
    }).start();
    this.replicators.push(rep);
    if (!eager) this.#lazy.add(rep);
    t.onNeighbour((peer, up) => {
      this.log.info(up ? "peer up" : "peer down", { transport: name, peer });
      if (up) this.#queueSync(true);
    });
  }

  #lazy = new Set<Replicator | EnvelopeReplicator>();
  #workTotal: TokenBucket | undefined; // shared by every transport's meter
  #syncAll = false;

  #queueSync(all = false): void {
    if (all) this.#syncAll = true;
    if (this.#syncQueued || this.#closing) return;
    this.#syncQueued = true;
    setImmediate(() => {
      this.#syncQueued = false;
      const everyone = this.#syncAll;
      this.#syncAll = false;
      if (this.#closing) return;
      for (const r of this.replicators) {
        if (!everyone && this.#lazy.has(r)) continue;
        try { r.sync(); } catch (e) { this.log.warn("replication round failed", { err: e }); }
      }
    });
  }

  async #listen(port: number, host: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const fail = (e: Error): void => reject(e);
      this.server.once("error", fail);
      this.server.listen(port, host, () => { this.server.off("error", fail); resolve(); });
    }).catch(async (e) => { await this.#shutdown(); throw e; });
    this.server.on("error", (e) => this.log.error("http server error", { err: e }));
    this.log.info("listening", { host, port: this.port, sync: `ws://${host.includes(":") ? `[${host}]` : host}:${this.port}${this.path}` });
  }

  // Joins the libp2p mesh: identity from the store (made once), sync streams
  // with their own Replicator, gossip of local deltas.
  async #startLibp2p(listen: string[], bootstrap: string[], network?: string): Promise<void> {
    const { Libp2pTransport } =
      await loadPeers("trellis serve --listen", PEERS["trellis/libp2p"], () => import("../transport/libp2p.js"));
    const t = await Libp2pTransport.create({
      privateKey: this.#privateKey, allow: this.#allow, listen, bootstrap, network, limits: this.limits, maxFrame: this.#maxFrame,
      onError: (e) => {
        // A --peer multiaddr that cannot be dialled warns once (until it connects).
        const addr = e.code === "DIAL" && e.peer ? bootstrap.find((a) => a.endsWith(`/p2p/${e.peer}`)) : undefined;
        if (addr && this.#warnUnreachable(e.peer!)) {
          this.log.warn("cannot reach peer", { peer: e.peer, addr, code: e.code, cause: causeOf(e) });
          return;
        }
        (e.code === "DIAL" || e.code === "STREAM" ? this.log.debug : this.log.warn)("libp2p error", { code: e.code, peer: e.peer, err: e });
      },
    }).catch(async (e) => { await this.#shutdown(); throw e; });
    this.libp2p = t;
    t.onNeighbour((peer, up) => { if (up) this.#unreachable.delete(peer); });
    // Gossip is the fast path: this Replicator runs its rounds (anti-entropy,
    // the guarantee) but is not also run after every change.
    // Trustless: no gossip (its messages are not envelopes), so the sync
    // streams carry every change at once.
    this.#replicate(t, "libp2p", this.trustHub !== null, (peer, e) => t.hangUp(peer, "OVER_BUDGET", e.message));
    if (!this.trustHub) this.#stopGossip = gossipDeltas(this.runtime, t, {
      onError: (e) => this.log.warn("gossip error", { peer: e.peer, code: e.code, err: e }),
    });
    this.log.info("libp2p listening", { peerId: t.self, addrs: t.multiaddrs(), topic: t.topic });
  }

  #stopGossip: (() => void) | null = null;

  // Peers (ws URLs, libp2p peer ids) already warned about as unreachable.
  #unreachable = new Set<string>();
  #warnUnreachable(key: string): boolean {
    if (this.#unreachable.has(key)) return false;
    this.#unreachable.add(key);
    return true;
  }

  get port(): number { return (this.server.address() as AddressInfo | null)?.port ?? 0; }
  get closing(): boolean { return this.#closing !== null; }

  // Connects to another node's sync endpoint (reconnecting with backoff).
  // A multiaddr ("/ip4/…") is dialled over libp2p (kept connected) and gives null.
  connect(url: string): WsClient | null {
    if (url.startsWith("/")) {
      if (!this.libp2p) throw new TypeError("a multiaddr peer needs libp2p: start the node with `listen` or a multiaddr among `peers`");
      this.libp2p.dial(url);
      return null;
    }
    if (!/^wss?:\/\//.test(url)) throw new TypeError(`a peer is a ws:// or wss:// URL, got ${JSON.stringify(url)}`);
    const c: WsClient = new WsClient({
      url, identity: this.identity, WebSocket: NodeWebSocket as unknown as WebSocketConstructor,
      // An allow-list holds both ways: a server whose key is not listed is not synced with.
      server: Array.isArray(this.#allow) ? this.#allow : undefined,
      onError: (e) => {
        // A peer that cannot be reached is worth one warning with its cause
        // (until it connects); the retries every backoff stay at debug.
        if (!c.connected && this.#warnUnreachable(url)) this.log.warn("cannot reach peer", { peer: url, code: e.code, cause: causeOf(e) });
        else this.log.debug("ws error", { transport: url, peer: e.peer, err: e });
      },
    });
    c.onNeighbour((_, up) => { if (up) this.#unreachable.delete(url); });
    this.clients.push(c);
    this.#replicate(c, url);
    return c;
  }

  // Peers connected now, by transport.
  peers(): { server: string[]; clients: { url: string; peer: string | null; connected: boolean }[]; libp2p?: { peerId: string; addrs: string[]; neighbours: string[] } } {
    return {
      server: this.wsServer.neighbours(),
      clients: this.clients.map((c) => ({ url: c.url, peer: c.server ?? null, connected: c.connected })),
      ...(this.libp2p ? { libp2p: { peerId: this.libp2p.self, addrs: this.libp2p.multiaddrs(), neighbours: this.libp2p.neighbours() } } : {}),
    };
  }

  // ---- the operations of the control API --------------------------------

  // Declares a replicated variable (type by name or spec) and waits until the
  // declaration is durable. Resolves true if it is new, false if it existed
  // with this type (TYPE_MISMATCH / PRECONDITION otherwise, changing nothing).
  async declare(id: string, type: string | TypeLike): Promise<boolean> {
    this.#open();
    const spec = typeof type === "string" ? parseType(type) : toSpec(type);
    const existed = this.runtime.has(id);
    this.runtime.declare(id, spec);
    await this.store.declare(id, specBytes(spec), "replicated");
    if (!existed) this.log.info("declared", { var: id, type: specName(spec) });
    return !existed;
  }

  // Applies ops atomically; resolves once the change is durable (flushed
  // to the store), which is when it may be acknowledged.
  async update(id: string, op: OpLike | OpLike[]): Promise<void> {
    this.#open();
    this.runtime.update(id, op);
    await this.#persisted.flushed();
    // Trustless: acknowledged once its envelope is signed and stored too.
    await this.trustHub?.flushed();
  }

  // Joins a state or delta-group; resolves (with the new part, or null) once durable.
  async bind(id: string, bytes: Uint8Array): Promise<Uint8Array | null> {
    this.#open();
    const d = this.runtime.bind(id, bytes, "remote");
    await this.#persisted.flushed();
    await this.trustHub?.flushed();
    return d;
  }

  query(id: string): unknown { this.#open(); return this.runtime.query(id); }

  info(id: string): { id: string; kind: string; type: string | null } {
    this.#open();
    const spec: TypeSpec | undefined = this.runtime.spec(id);
    return { id, kind: this.runtime.kind(id), type: spec ? specName(spec) : null };
  }

  // Resolves with the value once the threshold is met. Rejects with
  // TrellisError TIMEOUT after `timeout` ms, or the signal's reason.
  read(id: string, threshold: Threshold, o: { strict?: boolean; timeout?: number; signal?: AbortSignal } = {}): Promise<unknown> {
    this.#open();
    const ctl = new AbortController();
    const onAbort = (): void => ctl.abort(o.signal!.reason);
    if (o.signal?.aborted) ctl.abort(o.signal.reason); else o.signal?.addEventListener("abort", onAbort, { once: true });
    const timer = o.timeout !== undefined
      ? setTimeout(() => ctl.abort(new TrellisError("TIMEOUT", `read of ${JSON.stringify(id)} timed out after ${o.timeout} ms`)), o.timeout)
      : undefined;
    return this.runtime.read(id, threshold, { strict: o.strict, signal: ctl.signal }).finally(() => {
      clearTimeout(timer);
      o.signal?.removeEventListener("abort", onAbort);
    });
  }

  #open(): void {
    if (this.#closing) throw Object.assign(new Error("the node is shutting down"), { code: "SHUTTING_DOWN" });
  }

  // ---- shutdown -----------------------------------------------------------

  // Graceful: stop accepting requests and connections, let acknowledged-to-be
  // updates finish, end long-polls (503), close replication and sockets, wait
  // until every write is durable, close the store. Idempotent.
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const t0 = Date.now();
    this.#closing ??= Promise.resolve(); // refuse new operations from here on
    if (this.server.listening) this.server.close();
    this.server.closeIdleConnections();
    for (const r of this.#api.reads) r.abort(Object.assign(new Error("the node is shutting down"), { code: "SHUTTING_DOWN" }));
    // Requests under way (an update waiting for its flush) finish first; a
    // client that sends its body too slowly is not waited for past 5 s.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.#api.inflight]),
      new Promise((r) => { timer = setTimeout(r, 5000); }),
    ]);
    clearTimeout(timer);
    for (const r of this.replicators) r.close();
    // Envelopes being signed or admitted finish (and are stored) before the store closes.
    await this.trustHub?.flushed().catch(() => {});
    this.trustHub?.close();
    for (const m of this.meters) m.close();
    this.#stopGossip?.();
    await Promise.allSettled([...this.clients.map((c) => c.close()), this.wsServer.close(500), ...(this.libp2p ? [this.libp2p.close()] : [])]);
    let flushError: unknown = null;
    try { await this.#persisted.flushed(); } catch (e) { flushError = e; this.log.error("final flush failed", { err: e }); }
    this.#persisted.stop();
    await this.store.close().catch((e) => { flushError ??= e; this.log.error("closing the store failed", { err: e }); });
    this.runtime.close();
    this.server.closeAllConnections();
    this.log.info("closed", { ms: Date.now() - t0, flushed: flushError === null });
    if (flushError) throw flushError;
  }
}

// Trustless mode with owners: the verifier, the own-change filter and the
// read gate (trust/gate.ts), revocations followed from the stored state on.
async function capabilityOptions(o: TrellisNodeOptions, did: string, rt: Runtime, log: Logger) {
  const owners = o.owners === "self" ? { "*": did } : o.owners;
  if (owners === null || typeof owners !== "object" || Array.isArray(owners)) throw new TypeError("owners is \"self\" or { variable or \"namespace/*\": did }");
  for (const [k, v] of Object.entries(owners)) {
    if (typeof v !== "string" || !v.startsWith("did:key:")) throw new TypeError(`the owner of ${JSON.stringify(k)} is a did:key, got ${JSON.stringify(String(v).slice(0, 60))}`);
  }
  if (o.proof !== undefined && !(o.proof instanceof Uint8Array) && typeof o.proof !== "function") throw new TypeError("proof is encodeProof() bytes or a function giving them");
  const [{ Capabilities }, { ReadGate, signableFor, followRevocations, revocationRelay }, { REVOCATIONS_VARIABLE }] =
    await Promise.all([import("../trust/caps.js"), import("../trust/gate.js"), import("../trust/revocation.js")]);
  const caps = new Capabilities({ owners, unowned: o.unowned });
  await followRevocations(rt, caps, (e) => log.warn("revocation not applied", { err: e }));
  const refeed = () => caps.addRevocations(rt.encode(REVOCATIONS_VARIABLE)).catch((e) => log.warn("revocation not applied", { err: e }));
  const { authorityFor } = await import("../trust/authority.js");
  return { caps, refeed, authority: (id: { did: string }, proof: TrellisNodeOptions["proof"]) => authorityFor(caps, id, proof), revocations: revocationRelay(rt, caps), signable: signableFor(caps, did, o.proof, rt.kernel), readGate: new ReadGate(caps, { unowned: o.unowned }) };
}

// The underlying reason of a transport error (ECONNREFUSED, ENOTFOUND, …).
function causeOf(e: Error): string {
  const c = e.cause as { message?: unknown; code?: unknown } | undefined;
  return typeof c?.message === "string" && c.message ? c.message : typeof c?.code === "string" ? c.code : e.message;
}

function checkPeerId(id: string): void {
  const n = utf8.encode(id).length;
  if (n < 1 || n > 255) throw new RangeError(`a node id is 1..255 bytes of UTF-8, got ${n}`);
}

export { TrellisError, errorFields };
