// What signed envelopes (issue 12, host/trust) cost, in one process:
//   sign: signEnvelope (canonical dag-cbor twice, one WebCrypto Ed25519
//     signature, the sha-256 CID) per envelope and per update, with 1, 10 and
//     100 updates (each a GCounter delta of its own variable) under one signature;
//   verify: decodeEnvelope + verifyEnvelope (decode, canonical check, CID, signature);
//   admit: the whole admission of a chain of envelopes into a TrustLedger
//     (the above, plus mint lists from the kernel and the frontier checks);
//   bytes: the envelope against the bare deltas it carries.
import { GCounter } from "trellis";
import { Identity } from "trellis/identity";
import { TrustLedger, admit, decodeEnvelope, signEnvelope, verifyEnvelope, type Envelope, type EnvelopeItem } from "../dist/host/trust/index.js";
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

export async function trustBench(o: { updates: number; log: (s: string) => void }): Promise<Table> {
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
