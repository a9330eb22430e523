// libp2p peers are their keys: Noise proves the remote key on every
// connection, the peer id and the did:key name the same Ed25519 key, and an
// allow-list of did:keys gates connections once the key is proven.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { init } from "../dist/host/index.node.js";
import { Libp2pTransport, newPrivateKey, type Libp2pTransportError, type Libp2pTransportOptions } from "../dist/host/transport/libp2p.js";
import { didFromPublicKey } from "../dist/host/identity/index.js";
import { multiaddr } from "@multiformats/multiaddr";

beforeAll(async () => { await init(); });
const open: { close(): unknown }[] = [];
afterEach(async () => { for (const x of open.splice(0).reverse()) await x.close(); });

async function node(o: Libp2pTransportOptions = {}): Promise<{ t: Libp2pTransport; did: string; errors: Libp2pTransportError[] }> {
  const errors: Libp2pTransportError[] = [];
  const key = await newPrivateKey();
  const t = await Libp2pTransport.create({ privateKey: key, redialMin: 100, redialMax: 400, gossip: false, ...o, onError: (e) => errors.push(e) });
  open.push(t);
  return { t, did: didFromPublicKey(key.publicKey.raw), errors };
}

async function until(what: string, f: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("authenticated libp2p", () => {
  it("a peer id names its did:key", async () => {
    const a = await node();
    expect(a.t.didOf(a.t.self)).toBe(a.did);
    expect(a.t.didOf("nonsense")).toBeNull();
  });

  it("under an allow-list, a listed key becomes a neighbour and an unknown key is refused after Noise proves it", async () => {
    const ok = await node();
    const stranger = await node();
    const a = await node({ allow: [ok.did] });
    // Both sides must admit each other: ok allows any key (the default).
    ok.t.dial(a.t.multiaddrs()[0]);
    stranger.t.dial(a.t.multiaddrs()[0]);
    await until("the listed peer up", () => a.t.neighbours().includes(ok.t.self));
    await until("the stranger refused", () => a.t.stats().refused > 0);
    expect(a.errors.filter((e) => e.code === "NOT_ALLOWED").map((e) => e.peer)).toContain(stranger.t.self);
    expect(a.errors.find((e) => e.code === "NOT_ALLOWED")!.message).toContain(stranger.did);
    expect(a.t.neighbours()).toEqual([ok.t.self]);
    expect(a.t.connected()).not.toContain(stranger.t.self);
    // Nor does a dial out to a key off the list happen (peer exchange cannot add one).
    a.t.dial(stranger.t.multiaddrs()[0]);
    await until("a refused dial", () => a.t.stats().dialFailures > 0);
    expect(a.t.connected()).not.toContain(stranger.t.self);
  });

  it("a dialler that expects one key at an address where another answers gets no connection (no id can be claimed)", async () => {
    const a = await node();
    const b = await node();
    const c = await node();
    // c dials a's address claiming it is b: Noise proves a's key instead, and the dial fails.
    const addr = multiaddr(a.t.multiaddrs()[0]).decapsulateCode(421).encapsulate(`/p2p/${b.t.self}`);
    await expect(c.t.node.dial(addr, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
    expect(c.t.connected()).toEqual([]);
  });
});
