// Catch-up cost, range-based set reconciliation (host/replication/reconcile.ts,
// what the trustless mode reconciles envelope CIDs with) against today's
// digest exchange (wire.ts / replicator.ts: a per-variable hash, then the
// 8-byte hash of every join-irreducible part of the state, then the missing
// parts), for one replica that comes back to an up-to-date one.
//
// Digest: measured, not modelled. Two Runtimes hold the two states and two
// real Replicators run over the simulated network (one link, 10 ms each way,
// lossless) until the states are byte-identical and the link is quiet. Bytes
// are everything both sent (both directions: each sends its digest), split
// into metadata (digest, parts, acks) and payload (the delta with the missing
// parts); round trips are the virtual time from the first digest to equal
// states over 2 × latency.
// Range-based: two Reconcilers, the returning replica initiating, messages
// alternating until one side has nothing to say; every byte counted, round
// trips = messages / 2. Afterwards the up-to-date side pushes the envelopes
// the other lacks: that payload is the same for any way of finding them, so it
// is not counted here.
//
// (a) The ICDE'19 workloads (experiments/icde19.ts): 15 replicas × 100 events.
//     In trustless mode every event is one signed envelope, so the CID set has
//     1,500 ids (stand-ins: sha-256 of "<node>#<event>"; the cost depends only on
//     the set sizes and the difference). The returning replica has every
//     replica's first E events; the states for the digest are built from the
//     same events with the same types (GSet, GCounter, GMap of LWW registers).
// (b) A returning replica missing k of n ids (n = 10k, 100k; k = 0, 10, 1%,
//     50%), uniformly at random. Digest over a GSet of the same n 64-hex-char
//     elements. Range-based also with timestamps (ts = arrival order, the
//     missing ones the newest), the case Negentropy's ordering is made for.
// (c) Live, in trustless mode: two TrustHubs over the simulated network (one
//     link, 10 ms each way, lossless), the returning one holding a causal
//     prefix of the other's envelope log, caught up the way a node catches up
//     a neighbour that comes up: by a reconcile session (catchUp "reconcile",
//     the default) or by the per-author frontier exchange ("frontier"). Every
//     message sent by either side is counted by kind: metadata (reconcile or
//     frontier messages) and payload (envelopes); round trips = virtual time
//     from the link coming up to the returning node holding every envelope,
//     over 2 × latency. The envelopes are real (signed, one per event); the
//     receivers skip signature checks (verify: true), which changes CPU time,
//     not bytes or round trips. On the ICDE'19 workloads (15 authors) and on
//     a returning replica of n = 10k envelopes from 20 or 1,000 authors
//     (k = 0, 10, 1%, 50% missing, the newest in admission order: an honest
//     replica's log is always causally closed).
import { GCounter, GMap, GSet, LWWRegister, Replicator, Runtime } from "trellis";
import { Prng, SimNetwork } from "trellis/sim";
import { createHash } from "node:crypto";
import { Reconciler, type ReconcileItem } from "../dist/host/replication/reconcile.js";
import { Table, kb, table } from "./lib/harness.js";
import { Identity } from "trellis/identity";
import { TrustHub, type EnvelopeStore, type CatchUp } from "trellis/trust";

const ID = "events";
const LATENCY = 10, INTERVAL = 1000;

interface DigestCost { messages: number; meta: number; payload: number; rtt: number }
interface RangeCost { messages: number; bytes: number; rtt: number; ms: number; learned: number }

// Two replicas, full (a) and behind (b), caught up by the real Replicator.
function digestCatchUp(spec: unknown, a: Uint8Array, b: Uint8Array): DigestCost {
  const net = new SimNetwork({ seed: 1, latency: LATENCY, loss: 0, duplicate: 0, reorder: 0 });
  const ta = net.add("a"), tb = net.add("b");
  net.link("a", "b");
  const mk = (replica: string, t: typeof ta, state: Uint8Array, session: number) => {
    const rt = new Runtime({ replica });
    rt.declare(ID, spec as never);
    rt.bind(ID, state, "local");
    const rep = new Replicator(rt, t, { clock: t.clock, interval: INTERVAL, session, countEntries: false });
    return { rt, rep };
  };
  const A = mk("a", ta, a, 1), B = mk("b", tb, b, 2);
  // The states were bound before the replicators existed: nothing is buffered,
  // so the first round is a digest exchange, as for a replica that comes back.
  A.rep.start(); B.rep.start();
  const same = () => Buffer.from(A.rt.encode(ID)).equals(Buffer.from(B.rt.encode(ID)));
  net.run({ until: INTERVAL });
  const t0 = net.now;
  let t = t0, caught = same() ? t0 : -1;
  while (caught < 0) {
    t += 1;
    net.run({ until: t });
    if (same()) caught = t;
    if (t > t0 + 10 * INTERVAL) throw new Error("bench: the digest exchange did not catch up");
  }
  // Until a whole interval sends nothing (the acks and the other direction's digest land).
  for (;;) {
    const before = A.rep.stats().messages + B.rep.stats().messages;
    t += INTERVAL;
    net.run({ until: t });
    if (net.idle() && A.rep.stats().messages + B.rep.stats().messages === before) break;
  }
  const s = [A.rep.stats(), B.rep.stats()];
  const kind = (k: "digest" | "parts" | "delta" | "ack" | "state") => s.reduce((n, x) => n + x.byKind[k].bytes, 0);
  // The first round's digests (both ways) and their answers, not the later idle rounds' digests.
  const cost = { messages: s.reduce((n, x) => n + x.messages, 0), meta: kind("digest") + kind("parts") + kind("ack"), payload: kind("delta") + kind("state"), rtt: (caught - t0) / (2 * LATENCY) };
  for (const x of [A, B]) { x.rep.close(); x.rt.close(); }
  return cost;
}

function rangeCatchUp(full: ReconcileItem[], behind: ReconcileItem[], expect: number, timestamps = false): RangeCost {
  const s = performance.now();
  const a = new Reconciler(full, { timestamps }), b = new Reconciler(behind, { timestamps });
  let msg: Uint8Array | null = b.initiate(), turn = 0, messages = 0, bytes = 0;
  while (msg) {
    messages++; bytes += msg.length;
    msg = (turn++ % 2 === 0 ? a : b).reconcile(msg).reply;
  }
  const ms = performance.now() - s;
  const learned = a.have.length;
  if (learned !== expect || b.need.length !== expect) throw new Error(`bench: reconciliation found ${learned}/${b.need.length}, expected ${expect}`);
  return { messages, bytes, rtt: messages / 2, ms, learned };
}

const idOf = (s: string): Uint8Array => new Uint8Array(createHash("sha256").update(s).digest());

// ---- (a) the ICDE'19 workloads ---------------------------------------------

interface Workload { name: string; kind: "gset" | "gcounter" | "gmap"; percent?: number }
const WORKLOADS: Workload[] = [
  { name: "GSet", kind: "gset" }, { name: "GCounter", kind: "gcounter" },
  { name: "GMap 10%", kind: "gmap", percent: 10 }, { name: "GMap 100%", kind: "gmap", percent: 100 },
];

// Each node's own state after each of its events (only its own updates),
// from the same events as experiments/icde19.ts (15 nodes, 100 events,
// 1,000 GMap keys split among the nodes, a fresh seeded sample per event).
function icdeStates(w: Workload, nodes: number, events: number, cut: number): { spec: unknown; full: Uint8Array; behind: Uint8Array } {
  const spec = w.kind === "gset" ? GSet : w.kind === "gcounter" ? GCounter : GMap.of(LWWRegister);
  const rng = new Prng(2019, 7);
  const keysPer = Math.ceil(1000 / nodes);
  const full = new Runtime({ replica: "full" }), behind = new Runtime({ replica: "behind" });
  full.declare(ID, spec as never); behind.declare(ID, spec as never);
  for (let i = 0; i < nodes; i++) {
    const node = `n${String(i).padStart(2, "0")}`;
    const rt = new Runtime({ replica: node });
    rt.declare(ID, spec as never);
    const own = Array.from({ length: Math.max(0, Math.min(1000, (i + 1) * keysPer) - i * keysPer) }, (_, k) => i * keysPer + k);
    const perEvent = Math.ceil(((w.percent ?? 0) * own.length) / 100);
    for (let e = 0; e < events; e++) {
      if (e === cut) behind.bind(ID, rt.encode(ID));
      if (w.kind === "gset") rt.update(ID, { add: `${node}#${e}` });
      else if (w.kind === "gcounter") rt.update(ID, { increment: 1 });
      else {
        for (let k = own.length - 1; k > 0; k--) { const j = rng.int(k + 1); [own[k], own[j]] = [own[j], own[k]]; }
        rt.update(ID, own.slice(0, perEvent).map((key) => ({ update: [key, { set: [null, e + 1] }] })));
      }
    }
    if (cut >= events) behind.bind(ID, rt.encode(ID));
    full.bind(ID, rt.encode(ID));
    rt.close();
  }
  const out = { spec, full: full.encode(ID), behind: behind.encode(ID) };
  full.close(); behind.close();
  return out;
}

const row = (label: string[], n: number, k: number, d: DigestCost, r: RangeCost): string[] => [
  ...label, String(n), String(k),
  String(d.messages), kb(d.meta), kb(d.payload), d.rtt.toFixed(1),
  String(r.messages), kb(r.bytes), r.rtt.toFixed(1), (r.bytes / Math.max(1, d.meta)).toFixed(2),
];
const COLS = ["n ids", "k missing", "digest msgs", "digest metadata", "digest payload", "digest RT", "range msgs", "range bytes", "range RT", "range / digest metadata"];

export { digestCatchUp, rangeCatchUp };

// ---- (c) live trustless catch-up ----------------------------------------------

class LogStore implements EnvelopeStore {
  constructor(public log: Uint8Array[]) {}
  envelopes(): Uint8Array[] { return this.log; }
  putEnvelope(b: Uint8Array): Promise<void> { this.log.push(b); return Promise.resolve(); }
}

// Each author's chain of `events` envelopes, one per event (`write(rt, e)`
// makes event e's update), interleaved round-robin: a causal log order.
async function authorLogs(ids: Identity[], events: number, declare: (rt: Runtime) => void, write: (rt: Runtime, author: number, e: number) => void): Promise<Uint8Array[]> {
  const chains: Uint8Array[][] = [];
  for (let a = 0; a < ids.length; a++) {
    const store = new LogStore([]);
    const rt = new Runtime({ replica: ids[a].replicaId() });
    // Unsquashed chains: one envelope per event (squashes would shrink the sets).
    const hub = await TrustHub.open(rt, { identity: ids[a], store, squashEvery: 0 });
    declare(rt);
    for (let e = 0; e < events; e++) { write(rt, a, e); await hub.flushed(); }
    hub.close(); rt.close();
    if (store.log.length !== events) throw new Error(`bench: author ${a} signed ${store.log.length} envelopes for ${events} events`);
    chains.push(store.log);
  }
  const out: Uint8Array[] = [];
  for (let e = 0; e < events; e++) for (const c of chains) out.push(c[e]);
  return out;
}

interface LiveCost { meta: number; metaMsgs: number; payload: number; envelopes: number; rtt: number; sessions: number }

interface Live { rt: Runtime; hub: TrustHub }
async function openLive(key: Identity, log: Uint8Array[]): Promise<Live> {
  const rt = new Runtime({ replica: key.replicaId() });
  return { rt, hub: await TrustHub.open(rt, { identity: key, store: new LogStore(log.slice()), admit: { verify: () => Promise.resolve(true) } }) };
}

// Node a (`A`, opened once per log and reused: a new replicator each run)
// holds `full`, node b the first `have` envelopes of it; the link comes up
// with both listening; counted until b holds everything and the link is
// quiet. No round runs (interval 10 min of virtual time).
async function liveCatchUp(A: Live, full: Uint8Array[], have: number, catchUp: CatchUp, keys: Identity[]): Promise<LiveCost> {
  const net = new SimNetwork({ seed: 1, latency: LATENCY, loss: 0, duplicate: 0, reorder: 0 });
  net.topology("fullMesh", ["a", "b"]);
  net.partition([["a"], ["b"]]);
  const cost: LiveCost = { meta: 0, metaMsgs: 0, payload: 0, envelopes: 0, rtt: 0, sessions: 0 };
  const B = await openLive(keys[1], full.slice(0, have));
  const a0 = A.hub.stats();
  const reps = [];
  for (const [name, x] of [["a", A], ["b", B]] as const) {
    const t = net.transport(name);
    const send = t.send.bind(t);
    // Kind byte 1: envelopes (payload); 2 frontier, 5 reconcile (metadata).
    t.send = (to: string, m: Uint8Array) => {
      if (m[3] === 1) cost.payload += m.length; else { cost.meta += m.length; cost.metaMsgs++; }
      send(to, m);
    };
    reps.push(x.hub.attach(t, { interval: 600_000, clock: t.clock, catchUp }).start());
  }
  const t0 = net.now;
  net.heal();
  let caught = B.hub.ids().length === full.length ? t0 : -1;
  for (let quiet = 0; quiet < 10 * LATENCY;) {
    const before = cost.meta + cost.payload;
    net.run({ until: net.now + 1 });
    await A.hub.flushed(); await B.hub.flushed();
    if (caught < 0 && B.hub.ids().length === full.length) caught = net.now;
    quiet = net.idle() && cost.meta + cost.payload === before ? quiet + 1 : 0;
    if (net.now > t0 + 100_000) throw new Error(`bench: live ${catchUp} catch-up did not finish (${B.hub.ids().length} of ${full.length})`);
  }
  if (caught < 0) throw new Error(`bench: live ${catchUp} catch-up stopped at ${B.hub.ids().length} of ${full.length}`);
  cost.rtt = (caught - t0) / (2 * LATENCY);
  const a1 = A.hub.stats(), b1 = B.hub.stats();
  cost.envelopes = a1.envelopesSent - a0.envelopesSent + b1.envelopesSent;
  cost.sessions = a1.sessions - a0.sessions;
  if (b1.duplicates + a1.duplicates - a0.duplicates > 0) throw new Error("bench: an envelope was sent twice");
  if (cost.envelopes !== full.length - have) throw new Error(`bench: ${cost.envelopes} envelopes sent for ${full.length - have} missing`);
  for (const r of reps) r.close();
  B.hub.close(); B.rt.close();
  return cost;
}

const LIVE_COLS = ["n envelopes", "k missing", "frontier msgs", "frontier metadata", "frontier RT", "range msgs", "range metadata", "range RT", "range / frontier metadata", "payload (same both)"];
const liveRow = (label: string[], n: number, k: number, f: LiveCost, r: LiveCost): string[] => [
  ...label, String(n), String(k), String(f.metaMsgs), kb(f.meta), f.rtt.toFixed(1), String(r.metaMsgs), kb(r.meta), r.rtt.toFixed(1),
  (r.meta / Math.max(1, f.meta)).toFixed(2), kb(r.payload),
];

async function liveTables(o: { quick: boolean; log: (s: string) => void }): Promise<Table[]> {
  const keys = [await Identity.generate(), await Identity.generate()];
  const withA = async (log: Uint8Array[], f: (A: Live) => Promise<void>) => {
    const A = await openLive(keys[0], log);
    try { await f(A); } finally { A.hub.close(); A.rt.close(); }
  };
  const nodes = 15, events = o.quick ? 10 : 100;
  const tc = table("reconcile-live-icde19", `Live trustless catch-up on the ICDE'19 workloads (${nodes} authors × ${events} events = ${nodes * events} signed envelopes): range-based session vs the per-author frontier`,
    ["workload", "returning replica has", ...LIVE_COLS]);
  const authors = await Promise.all(Array.from({ length: nodes }, () => Identity.generate()));
  for (const w of WORKLOADS) {
    const spec = w.kind === "gset" ? GSet : w.kind === "gcounter" ? GCounter : GMap.of(LWWRegister);
    const keysPer = Math.ceil(1000 / nodes);
    const rng = new Prng(2019, 7);
    const log = await authorLogs(authors, events, (rt) => rt.declare(ID, spec as never), (rt, a, e) => {
      if (w.kind === "gset") rt.update(ID, { add: `n${a}#${e}` });
      else if (w.kind === "gcounter") rt.update(ID, { increment: 1 });
      else {
        const own = Array.from({ length: Math.max(0, Math.min(1000, (a + 1) * keysPer) - a * keysPer) }, (_, k) => a * keysPer + k);
        for (let k = own.length - 1; k > 0; k--) { const j = rng.int(k + 1); [own[k], own[j]] = [own[j], own[k]]; }
        rt.update(ID, own.slice(0, Math.ceil(((w.percent ?? 0) * own.length) / 100)).map((key) => ({ update: [key, { set: [null, e + 1] }] })));
      }
    });
    await withA(log, async (A) => {
      for (const cut of [events - Math.max(1, events / 10), events / 2]) {
        const have = cut * nodes;
        const f = await liveCatchUp(A, log, have, "frontier", keys), r = await liveCatchUp(A, log, have, "reconcile", keys);
        tc.rows.push(liveRow([w.name, `events < ${cut}`], log.length, log.length - have, f, r));
        o.log(`  live ${w.name}, ${cut} of ${events} events: frontier ${f.meta} B ${f.rtt} RT, range ${r.meta} B ${r.rtt} RT`);
      }
    });
  }
  tc.notes.push("Metadata = every frontier or reconcile message both sides sent; payload = the envelopes messages (the same either way: each missing envelope is sent once, checked). " +
    "The frontier costs about 70 bytes per author per side, whatever is missing; a session costs with the difference (the first message alone is 16 fingerprints). " +
    "Sessions order envelopes by (author sequence number, id), as host/trust/sync.ts does.");

  const td = table("reconcile-live-return", "Live trustless catch-up of a returning replica missing the newest k of n = 10k signed envelopes: range-based session vs the per-author frontier",
    ["authors", ...LIVE_COLS]);
  const n = 10_000;
  for (const count of [20, 1000]) {
    const ids = await Promise.all(Array.from({ length: count }, () => Identity.generate()));
    const log = await authorLogs(ids, n / count, (rt) => rt.declare(ID, GSet), (rt, a, e) => { rt.update(ID, { add: `${a}#${e}` }); });
    await withA(log, async (A) => {
      for (const k of [0, 10, n / 100, n / 2]) {
        const f = await liveCatchUp(A, log, n - k, "frontier", keys), r = await liveCatchUp(A, log, n - k, "reconcile", keys);
        td.rows.push(liveRow([String(count)], n, k, f, r));
        o.log(`  live ${count} authors, k ${k}: frontier ${f.meta} B ${f.rtt} RT, range ${r.meta} B ${r.rtt} RT`);
      }
    });
  }
  td.notes.push("Both nodes see the link come up and start at once (two crossing session openings: the lower number runs). " +
    "The newest k in admission order are missing, spread over the authors round-robin. Range RT includes the push of the envelopes after the session (half a round trip). " +
    "k = 0: RT 0, the returning node already holds everything; the bytes are what finding that out costs.");
  return [tc, td];
}

export async function reconcileBench(o: { quick: boolean; log: (s: string) => void }): Promise<Table[]> {
  const nodes = 15, events = o.quick ? 10 : 100;
  const ta = table("reconcile-icde19", `Catch-up on the ICDE'19 workloads (${nodes} replicas × ${events} events = ${nodes * events} envelopes): range-based over envelope CIDs vs the digest exchange over the state`,
    ["workload", "returning replica has", ...COLS]);
  for (const w of WORKLOADS) {
    for (const cut of [events - Math.max(1, events / 10), events / 2]) {
      const { spec, full, behind } = icdeStates(w, nodes, events, cut);
      const d = digestCatchUp(spec, full, behind);
      const all: Uint8Array[] = [], have: Uint8Array[] = [];
      for (let i = 0; i < nodes; i++) for (let e = 0; e < events; e++) {
        const id = idOf(`n${String(i).padStart(2, "0")}#${e}`);
        all.push(id);
        if (e < cut) have.push(id);
      }
      const r = rangeCatchUp(all, have, all.length - have.length);
      ta.rows.push(row([w.name, `events < ${cut}`], all.length, all.length - have.length, d, r));
      o.log(`  ${w.name}, returning with ${cut} of ${events} events: digest ${d.meta} B, range ${r.bytes} B`);
    }
  }
  ta.notes.push("Digest metadata = digest + parts + ack messages of both replicas; digest payload = the delta with the missing parts. " +
    "The parts message carries an 8-byte hash per join-irreducible part of the state, so its size follows the state's parts: " +
    `${nodes * events} elements for GSet, ${nodes} entries for GCounter (${nodes * events} increments fold into one entry per replica), at most 1,000 keys for GMap. ` +
    "Range-based runs over the ${nodes * events} envelope CIDs, which trustless mode keeps (an envelope is signed and cannot be folded), " +
    "so it is at a disadvantage wherever the state compacts many updates into few parts. Its payload (the missing envelopes) is not counted.");

  const tb = table("reconcile-return", "A returning replica missing k of n ids: range-based vs the digest exchange (digest over a GSet of the same n elements)",
    ["ids", ...COLS, "range ms (both sides, with building)"]);
  const sizes = o.quick ? [1000, 10_000] : [10_000, 100_000];
  for (const n of sizes) {
    const rng = new Prng(n, 3);
    const ids = Array.from({ length: n }, (_, i) => idOf(`item#${i}`));
    const hexes = ids.map((b) => Buffer.from(b).toString("hex"));
    for (const k of [...new Set([0, 10, n / 100, n / 2])]) {
      // Uniformly random missing ones (a partial Fisher-Yates).
      const order = Array.from({ length: n }, (_, i) => i);
      for (let i = 0; i < k; i++) { const j = i + rng.int(n - i); [order[i], order[j]] = [order[j], order[i]]; }
      const gone = new Set(order.slice(0, k));
      const kept = ids.filter((_, i) => !gone.has(i));
      const a = new Runtime({ replica: "a" }), b = new Runtime({ replica: "b" });
      a.declare(ID, GSet); b.declare(ID, GSet);
      a.update(ID, hexes.map((x) => ({ add: x })));
      b.update(ID, hexes.filter((_, i) => !gone.has(i)).map((x) => ({ add: x })));
      const d = digestCatchUp(GSet, a.encode(ID), b.encode(ID));
      a.close(); b.close();
      const r = rangeCatchUp(ids, kept, k);
      tb.rows.push(row(["plain"], n, k, d, r).concat(r.ms.toFixed(0)));
      // With timestamps: item i arrived at time i; the returning replica lacks the newest k.
      const timed = ids.map((id, i) => ({ id, ts: 1_700_000_000_000 + i }));
      const rt = rangeCatchUp(timed, timed.slice(0, n - k), k, true);
      tb.rows.push(["timestamped, newest missing", String(n), String(k), "", "", "", "", String(rt.messages), kb(rt.bytes), rt.rtt.toFixed(1), (rt.bytes / Math.max(1, d.meta)).toFixed(2), rt.ms.toFixed(0)]);
      o.log(`  n ${n}, k ${k}: digest ${d.meta} B ${d.rtt} RT, range ${r.bytes} B ${r.rtt} RT, timed ${rt.bytes} B ${rt.rtt} RT`);
    }
  }
  tb.notes.push("Plain: the missing ids are uniformly random. Timestamped: the digest exchange has no order to use, so only range-based is run (the digest columns of the plain row above apply). " +
    "Range-based limits are the defaults (16 buckets, lists of at most 16 ids, 16,384 ranges and 16,384 ids and 1 MiB per message). " +
    "Digest RT is measured on virtual time (first digest sent to equal states, over 2 × 10 ms); range RT = messages / 2.");
  return [ta, tb, ...await liveTables(o)];
}
