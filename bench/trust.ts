// What signed envelopes (issue 12, host/trust) cost, in one process:
//   sign: signEnvelope (canonical dag-cbor twice, one WebCrypto Ed25519
//     signature, the sha-256 CID) per envelope and per update, with 1, 10 and
//     100 updates (each a GCounter delta of its own variable) under one signature;
//   verify: decodeEnvelope + verifyEnvelope (decode, canonical check, CID, signature);
//   admit: the whole admission of a chain of envelopes into a TrustLedger
//     (the above, plus mint lists from the kernel and the frontier checks);
//   bytes: the envelope against the bare deltas it carries.
import { GCounter, Runtime, Replicator } from "trellis";
import { Identity } from "trellis/identity";
import { WsServer, WsClient, NodeWebSocket } from "trellis/ws";
import { TrustHub, TrustLedger, admit, decodeEnvelope, signEnvelope, verifyEnvelope, type Envelope, type EnvelopeItem } from "../dist/host/trust/index.js";
import { Table, table } from "./lib/harness.js";

const us = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

// One author's rounds: `rounds` envelopes of `batch` updates each, chained by seq and links.
async function makeRounds(id: Identity, batch: number, rounds: number): Promise<{ items: EnvelopeItem[][]; deltaBytes: number }> {
  const replica = id.replicaId();
  const counters = Array.from({ length: batch }, () => new GCounter(replica));
  const items: EnvelopeItem[][] = [];
  let deltaBytes = 0;
  for (let r = 0; r < rounds; r++) {
    const its = counters.map((c, i) => { c.increment(1); return { variable: `c${String(i).padStart(3, "0")}`, delta: c.takeDelta() }; });
    for (const it of its) deltaBytes += it.delta.length;
    items.push(its);
  }
  counters.forEach((c) => c.dispose());
  return { items, deltaBytes };
}

async function signAll(id: Identity, items: EnvelopeItem[][]): Promise<Envelope[]> {
  const out: Envelope[] = [];
  for (const its of items) {
    const prev = out.at(-1);
    out.push(await signEnvelope(id, { author: id.did, seq: out.length + 1, links: prev ? [prev.cid] : [], items: its }));
  }
  return out;
}

const best = async (reps: number, f: () => Promise<number>): Promise<number> => {
  let b = Infinity;
  for (let i = 0; i < reps; i++) b = Math.min(b, await f());
  return b;
};

export async function trustBench(o: { updates: number; log: (s: string) => void }): Promise<Table[]> {
  return [await envelopeCosts(o), await trustlessVsTrusted({ updates: o.updates * 5, log: o.log })];
}

async function envelopeCosts(o: { updates: number; log: (s: string) => void }): Promise<Table> {
  const id = await Identity.generate(); // WebCrypto Ed25519 where the platform has it
  const t = table("trust", `Signed envelopes: cost per update (µs) and bytes (${o.updates} updates per case, ${id.backend} Ed25519, best of 3)`,
    ["updates per envelope", "sign µs/envelope", "sign µs/update", "decode+verify µs/update", "admit µs/update", "delta B/update", "envelope B/update", "overhead B/update"]);
  for (const batch of [1, 10, 100]) {
    const rounds = Math.max(1, Math.floor(o.updates / batch));
    const { items, deltaBytes } = await makeRounds(id, batch, rounds);
    const n = rounds * batch;
    let envs: Envelope[] = [];
    const sign = await best(3, async () => {
      const s = performance.now();
      envs = await signAll(id, items);
      return performance.now() - s;
    });
    const verify = await best(3, async () => {
      const s = performance.now();
      for (const e of envs) if (!(await verifyEnvelope(await decodeEnvelope(e.bytes)))) throw new Error("bench: an envelope did not verify");
      return performance.now() - s;
    });
    const admitMs = await best(3, async () => {
      const l = new TrustLedger();
      const s = performance.now();
      for (const e of envs) {
        const r = await admit(l, e.bytes);
        if (r.status !== "admitted") throw new Error(`bench: ${r.status === "rejected" ? r.error.message : r.status}`);
      }
      return performance.now() - s;
    });
    const envBytes = envs.reduce((a, e) => a + e.bytes.length, 0);
    t.rows.push([String(batch), us((sign * 1000) / rounds), us((sign * 1000) / n), us((verify * 1000) / n), us((admitMs * 1000) / n),
      (deltaBytes / n).toFixed(0), (envBytes / n).toFixed(0), ((envBytes - deltaBytes) / n).toFixed(0)]);
    o.log(`  batch ${batch}: ${rounds} envelopes`);
  }
  t.notes.push("Each update is one GCounter increment's delta (replica id `<did:key>.<12 hex>`, ~70 bytes), one variable per update. " +
    "Overhead per envelope is the author did (56 bytes), the 64-byte signature, the link to the previous envelope (36 bytes), field names and the items' variable ids; a batch shares all but the ids.");
  return t;
}

// ---- trustless vs trusted updates/s over WebSocket --------------------------
// One server and n clients on loopback, every peer a Runtime with an
// authenticated identity over the real transport (WsServer, WsClient). Trusted:
// a Replicator per peer, shipping each change at once (as TrellisNode does).
// Trustless: a TrustHub per peer (signs each turn's changes as one envelope,
// admits every received one, forwards it). Every client increments its own
// GCounter entry as fast as it can, yielding every 50 updates; updates/s is
// until the server has all of them and every client has converged.

interface Side { rt: Runtime; hub?: TrustHub; transport?: WsServer | WsClient; close(): Promise<void> | void }

async function wsSetup(mode: "trusted" | "trustless", clients: number): Promise<{ server: Side; clients: Side[] }> {
  const ids = await Promise.all(Array.from({ length: clients + 1 }, () => Identity.generate()));
  const ws = await WsServer.listen({ identity: ids[0], port: 0, path: "/sync" });
  const hubs = new Map<Runtime, TrustHub>();
  const attach = async (rt: Runtime, t: WsServer | WsClient, id: Identity): Promise<() => void> => {
    if (mode === "trustless") {
      const hub = await TrustHub.open(rt, { identity: id });
      hubs.set(rt, hub);
      hub.attach(t, { interval: 1000 }).start();
      return () => hub.close();
    }
    const rep = new Replicator(rt, t, { interval: 1000, countEntries: false }).start();
    let queued = false, closed = false;
    rt.onDelta(() => { if (!queued) { queued = true; setImmediate(() => { queued = false; if (!closed) rep.sync(); }); } });
    return () => { closed = true; rep.close(); };
  };
  const srt = new Runtime({ replica: ids[0].replicaId() }).declare("views", GCounter);
  const offS = await attach(srt, ws, ids[0]);
  const server: Side = { rt: srt, hub: hubs.get(srt), transport: ws, close: async () => { offS(); await ws.close(0); srt.close(); } };
  const url = `ws://127.0.0.1:${ws.port}/sync`;
  const out: Side[] = [];
  for (let i = 1; i <= clients; i++) {
    const rt = new Runtime({ replica: ids[i].replicaId() }).declare("views", GCounter);
    const t = new WsClient({ url, identity: ids[i], WebSocket: NodeWebSocket });
    const off = await attach(rt, t, ids[i]);
    out.push({ rt, hub: hubs.get(rt), transport: t, close: async () => { off(); await t.close(); rt.close(); } });
  }
  while (ws.neighbours().length < clients) await new Promise((r) => setTimeout(r, 10));
  return { server, clients: out };
}

// Also run alone by bench/profile-trust.ts (`report` gets the peers before they close).
export async function wsThroughput(mode: "trusted" | "trustless", n: number, updates: number, report?: (server: Side, clients: Side[]) => void): Promise<number> {
  const { server, clients } = await wsSetup(mode, n);
  try {
    const per = Math.max(1, Math.floor(updates / n));
    const total = per * n;
    const start = performance.now();
    const all = [server, ...clients].map((s, i) => s.rt.read("views", { atLeast: total }).then((x) => { if (process.env.TRACE) console.log(`peer ${i} done at ${(performance.now() - start).toFixed(0)} ms`); return x; }));
    await Promise.all(clients.map(async (c) => {
      for (let i = 0; i < per; i++) {
        c.rt.update("views", { increment: 1 });
        if (i % 50 === 49) await new Promise((r) => setImmediate(r));
      }
    }));
    if (process.env.TRACE) console.log(`updates made at ${(performance.now() - start).toFixed(0)} ms`);
    await Promise.race([Promise.all(all), new Promise((_, rej) => setTimeout(() => rej(new Error(`bench: ${mode} with ${n} clients did not converge in 120 s`)), 120_000).unref())]);
    const thr = total / ((performance.now() - start) / 1000);
    report?.(server, clients);
    return thr;
  } finally {
    for (const c of clients) await c.close();
    await server.close();
  }
}

async function trustlessVsTrusted(o: { updates: number; log: (s: string) => void }): Promise<Table> {
  const t = table("trust-ws", `Trustless vs trusted replication over WebSocket on loopback: updates/s (${o.updates} updates per case, best of 2, run alternately)`,
    ["clients", "trusted updates/s", "trustless updates/s", "trustless / trusted"]);
  for (const n of [1, 10]) {
    let best = { trusted: 0, trustless: 0 };
    for (let r = 0; r < 2; r++) {
      for (const mode of ["trusted", "trustless"] as const) best[mode] = Math.max(best[mode], await wsThroughput(mode, n, o.updates));
    }
    t.rows.push([String(n), Math.round(best.trusted).toLocaleString("en"), Math.round(best.trustless).toLocaleString("en"), (best.trustless / best.trusted).toFixed(2)]);
    o.log(`  ${n} clients: trusted ${Math.round(best.trusted)}, trustless ${Math.round(best.trustless)} updates/s`);
    best = { trusted: 0, trustless: 0 };
  }
  t.notes.push("Every peer has an Ed25519 identity and authenticates its connection in both modes; the only difference is the replication protocol. Issue 12's target: trustless at least 50% of trusted.");
  t.notes.push("Trustless signs each turn's changes (here up to 50 increments) as one envelope, so a signature covers a batch; the server admits each envelope (decode, canonical check, CID, signature, mint checks), joins it and forwards it to the other clients, who admit it again.");
  return t;
}
