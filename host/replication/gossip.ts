// The gossip fast path, for any transport that offers publish/subscribe of
// opaque bytes (PubSub; libp2p's gossipsub today). The replication layer
// decides what to publish and applies what arrives, with the same admission
// checks as anti-entropy (admission.ts): the transport only moves bytes.
import type { Runtime } from "../dataflow/runtime.js";
import type { PubSub } from "./transport.js";
import { checkState, joinStates, headerSpec } from "./lattice.js";
import { admitEntries } from "./admission.js";
import { ReplicationError, decodeMessage, encodeMessage, sortById, type Entry } from "./wire.js";

export interface GossipOptions {
  autoDeclare?: boolean; // declare variables a message has and this runtime lacks (default true, as the Replicator)
  onError?: (e: ReplicationError) => void;
}

// Every change to a replicated variable that did not come over this pubsub
// (local updates, and changes that came from elsewhere, e.g. over WebSocket)
// is published (the delta-groups of one turn joined per variable, as one
// message), as is every new declaration (its bottom state), and every valid
// message from others is joined in with `runtime.bind(id, delta, "remote")`,
// so the runtime's other hooks (storage, Replicators) see it like any remote
// change. A gossip message is a replication `state` message
// (docs/replication.md, kind 3, session 0) whose entries are delta-groups. A
// message that fails admission is refused before delivery (the transport
// neither delivers nor forwards it) and changes nothing. Returns a function
// that stops it.
export function gossipDeltas(runtime: Runtime, pubsub: PubSub, o: GossipOptions = {}): () => void {
  const autoDeclare = o.autoDeclare ?? true;
  const report = (e: ReplicationError): void => { try { o.onError?.(e); } catch { /* ignored */ } };
  let pending = new Map<string, Uint8Array[]>();
  let queued = false;
  let stopped = false;
  const flush = (): void => {
    queued = false;
    const p = pending;
    pending = new Map();
    if (stopped || p.size === 0) return;
    let entries: Entry[];
    try { entries = sortById([...p].map(([id, ds]) => ({ id, bytes: joinStates(ds, runtime.kernel) }))); } catch (e) {
      report(new ReplicationError("APPLY_FAILED", `gossip: ${(e as Error).message}`, undefined, e));
      return;
    }
    pubsub.publish(encodeMessage({ kind: "state", session: 0, entries }));
  };
  const queue = (id: string, d: Uint8Array): void => {
    let l = pending.get(id);
    if (!l) pending.set(id, (l = []));
    l.push(d);
    if (!queued) { queued = true; setTimeout(flush, 0); }
  };
  const offDelta = runtime.onDelta((id, d) => {
    if (stopped || pubsub.delivering || runtime.kind(id) !== "replicated") return;
    queue(id, d);
  });
  // A declaration travels as the variable's bottom state (as the Replicator
  // ships it): others declare it from the header.
  const offDeclare = runtime.onDeclare((id, _spec, kind) => {
    if (stopped || pubsub.delivering || kind !== "replicated") return;
    queue(id, runtime.encode(id));
  });
  // Before delivery, what is wrong anywhere (bytes that do not decode) is
  // refused, so it is not relayed and its sender is scored down; whether a
  // state fits the variables declared *here* is checked at delivery.
  pubsub.setGossipValidator((data) => {
    const m = decodeMessage(data);
    if (m.kind !== "state") throw new ReplicationError("MALFORMED", `a gossip message is a state message, got ${m.kind}`);
    for (const e of m.entries) {
      try { checkState(e.bytes, runtime.kernel); } catch (err) { throw new ReplicationError("BAD_STATE", `${JSON.stringify(e.id)}: ${(err as Error).message}`, undefined, err); }
    }
  });
  const offGossip = pubsub.onGossip((from, data) => {
    if (stopped) return;
    let m;
    try {
      m = decodeMessage(data);
      if (m.kind !== "state") return;
      // Every entry must fit before any is joined: a bad message changes nothing.
      admitEntries(runtime, m.entries);
    } catch (e) {
      report(e instanceof ReplicationError ? new ReplicationError(e.code, e.message.replace(/^\w+: /, ""), from || undefined, e.cause) : new ReplicationError("MALFORMED", String(e), from));
      return;
    }
    for (const e of m.entries) {
      try {
        if (!runtime.has(e.id)) {
          if (!autoDeclare) continue;
          runtime.declare(e.id, headerSpec(e.bytes));
        }
        runtime.bind(e.id, e.bytes, "remote");
      } catch (err) {
        report(new ReplicationError("APPLY_FAILED", `${JSON.stringify(e.id)}: ${(err as Error)?.message ?? String(err)}`, from, err));
      }
    }
  });
  return () => {
    stopped = true;
    offDelta();
    offDeclare();
    offGossip();
    pubsub.setGossipValidator(null);
  };
}
