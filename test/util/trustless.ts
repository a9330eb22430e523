// The seeded replication schedules (test/util/replication.ts) in trustless
// mode: every replica has an Ed25519 identity, its replica id is
// `<did>.<incarnation>`, and a TrustHub with one EnvelopeReplicator replaces
// the Replicator. Signing and verifying are asynchronous, so the virtual
// clock advances in small steps and every hub's queue drains between them.
// A crashed replica keeps its "disk" (its envelope log and own sequence
// number), as a TrellisNode does; its memory and unsigned changes are lost.
import { AWSet, GCounter, Runtime } from "../../dist/host/index.node.js";
import type { Crdt } from "../../dist/host/index.node.js";
import { SimNetwork } from "../../dist/host/transport/sim.js";
import { Identity } from "../../dist/host/identity/index.js";
import { TrustHub, type EnvelopeReplicator, type EnvelopeStore, type TrustHubOptions } from "../../dist/host/trust/index.js";
import { VARS, INTERVAL, References, eq, type Schedule, type Outcome } from "./replication.js";

void AWSet; void GCounter;

export class MemoryEnvelopeStore implements EnvelopeStore {
  log: Uint8Array[] = [];
  seq = 0;
  envelopes(): Uint8Array[] { return this.log.slice(); }
  putEnvelope(b: Uint8Array): Promise<void> { this.log.push(b); return Promise.resolve(); }
  // A fuller copy or a squash in place of what it replaces (host/trust/sync.ts).
  replaceEnvelopes(drop: Uint8Array[], b: Uint8Array): Promise<void> {
    this.log = this.log.filter((x) => !drop.includes(x));
    this.log.push(b);
    return Promise.resolve();
  }
  ownSeq(): number { return this.seq; }
  setOwnSeq(s: number): Promise<void> { this.seq = Math.max(this.seq, s); return Promise.resolve(); }
}

interface Node { rt: Runtime; hub: TrustHub; rep: EnvelopeReplicator; up: boolean; inc: number }

const HORIZON = 1500;
const STEP = 5; // virtual ms between drains

// `extra`: more TrustHub options (e.g. squashEvery, to run the schedules
// with compaction); `catchUp`: the replicators' catch-up (sync.ts; default
// theirs, "auto").
export async function runTrustless(s: Schedule, ids: Identity[], extra: Partial<TrustHubOptions> & { catchUp?: "auto" | "reconcile" | "frontier" } = {}): Promise<Outcome & { rejected: number; squashed: number }> {
  const { catchUp, ...hubOptions } = extra;
  const net = new SimNetwork({ seed: s.seed, loss: 0.1, duplicate: 0.1, reorder: 0.1, latency: [1, 10] });
  const names = Array.from({ length: s.n }, (_, i) => `n${i}`);
  net.topology(s.topology, names, { degree: 3 });
  const errors: Error[] = [];
  const disks = names.map(() => new MemoryEnvelopeStore());
  const start = async (i: number, inc: number): Promise<Node> => {
    const rt = new Runtime({ replica: ids[i].replicaId() });
    if (inc === 0) for (const v of s.declared[i]) rt.declare(VARS[v].id, VARS[v].spec);
    const tr = net.transport(names[i]);
    const hub = await TrustHub.open(rt, {
      ...hubOptions, identity: ids[i], store: disks[i],
      // The schedules' LWW timestamps are virtual times, far below Date.now().
      onError: (e) => errors.push(e), onReject: (e) => errors.push(e),
    });
    const rep = hub.attach(tr, { interval: INTERVAL, clock: tr.clock, catchUp }).start();
    return { rt, hub, rep, up: true, inc };
  };
  const nodes: Node[] = [];
  for (let i = 0; i < s.n; i++) nodes.push(await start(i, 0));
  const refs = new References(s), refAll = refs.all, refSafe = refs.safe;
  const restarts: number[] = [];
  for (const e of s.events) {
    net.clock.setTimeout(() => {
      switch (e.kind) {
        case "update": {
          const nd = nodes[e.node];
          if (!nd.up) return;
          const v = VARS[e.v];
          nd.rt.declare(v.id, v.spec);
          const d = nd.rt.update(v.id, e.op);
          refs.record(e.node, e.t, v.id, d);
          return;
        }
        case "partition": net.partition(e.groups.map((g) => g.map((i) => names[i])).filter((g) => g.length > 0)); return;
        case "heal": net.heal(); return;
        case "crash": {
          const nd = nodes[e.node];
          nd.hub.close(); nd.rt.close(); nd.up = false;
          net.crash(names[e.node]);
          return;
        }
        case "restart": net.restart(names[e.node]); restarts.push(e.node); return;
      }
    }, e.t);
  }
  const drain = async () => {
    for (const nd of nodes) if (nd.up) await nd.hub.flushed();
    for (const i of restarts.splice(0)) nodes[i] = await start(i, nodes[i].inc + 1);
  };
  while (net.now < HORIZON) { net.run({ until: net.now + STEP }); await drain(); }
  const same = (): boolean => {
    const a = nodes[0].rt;
    for (const id of refAll.keys()) {
      if (!a.has(id)) return false;
      const x = a.encode(id);
      for (let i = 1; i < nodes.length; i++) if (!nodes[i].rt.has(id) || !eq(nodes[i].rt.encode(id), x)) return false;
      if (!s.crashes && !eq(x, refAll.get(id)!.encode())) return false;
    }
    return true;
  };
  const maxTime = HORIZON + 400 * INTERVAL;
  let converged = false;
  while (net.now < maxTime) {
    net.run({ until: net.now + STEP });
    await drain();
    if (same()) { converged = true; break; }
  }
  const sent = { messages: 0, bytes: 0, entries: 0 };
  let rejected = 0, squashed = 0;
  for (const nd of nodes) { const st = nd.hub.stats(); sent.messages += st.messages; sent.bytes += st.bytes; rejected += st.rejected; squashed += st.squashed; }
  const states = nodes.map((nd) => {
    const m = new Map<string, Uint8Array>();
    for (const v of VARS) if (nd.rt.has(v.id)) m.set(v.id, nd.rt.encode(v.id));
    return m;
  });
  const enc = (m: Map<string, Crdt<unknown>>) => new Map([...m].map(([k, v]) => [k, v.encode()]));
  const out = {
    seed: s.seed, config: "trustless", states, refAll: enc(refAll), refSafe: enc(refSafe), converged, convergedAt: net.now, quiet: false,
    errors: errors as never[], sent, rejected, squashed,
  };
  for (const nd of nodes) { nd.hub.close(); nd.rt.close(); }
  refs.dispose();
  return out;
}
