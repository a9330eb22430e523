// Where the time goes in the trustless-vs-trusted WebSocket row (bench/trust.ts,
// issue 12): runs one throughput case under the V8 profiler (main thread only:
// WebCrypto's Ed25519 runs on libuv's thread pool and shows here as idle time
// the main thread spends waiting for it), sums self time by category and by
// function, and prints the hubs' counters.
// Usage: npx tsx bench/profile-trust.ts [trustless|trusted] [clients] [updates]
import { Session } from "node:inspector/promises";
import { writeFileSync } from "node:fs";
import { init } from "trellis";
import { wsThroughput } from "./trust.js";
import { _verifyWorker } from "../dist/host/identity/verify-worker.js";

const [mode = "trustless", clients = "10", updates = "10000"] = process.argv.slice(2);
await init();
await wsThroughput(mode as "trusted" | "trustless", Number(clients), 1000); // warm up (JIT, first connections)
const session = new Session();
session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.setSamplingInterval", { interval: 200 });
await session.post("Profiler.start");
const thr = await wsThroughput(mode as "trusted" | "trustless", Number(clients), Number(updates), (server, cs) => {
  const s = server.hub?.stats();
  if (s) console.log("server hub:", JSON.stringify({ signed: s.signed, admitted: s.admitted, duplicates: s.duplicates, pendingDropped: s.pendingDropped, messages: s.messages, envelopesSent: s.envelopesSent, received: s.received }));
  console.log("server ws:", JSON.stringify(server.transport?.stats()));
  const c = cs[0].hub?.stats();
  if (c) console.log("client 0 hub:", JSON.stringify({ signed: c.signed, admitted: c.admitted, duplicates: c.duplicates, pendingDropped: c.pendingDropped, messages: c.messages, envelopesSent: c.envelopesSent, received: c.received }));
});
const { profile } = await session.post("Profiler.stop");
if (process.env.PROFILE_OUT) writeFileSync(process.env.PROFILE_OUT, JSON.stringify(profile));
console.log(`${mode}, ${clients} clients, ${updates} updates: ${Math.round(thr)} updates/s`);
const vw = _verifyWorker();
if (vw) console.log("verify worker (warm-up included):", JSON.stringify(vw.stats));

function category(name: string, url: string): string {
  if (url.startsWith("wasm")) return "kernel (Wasm)";
  if (name === "(garbage collector)") return "V8 GC";
  if (name === "(idle)") return "idle (waiting: timers, sockets, WebCrypto threads)";
  if (name === "(program)") return "(program: V8/native outside JS)";
  if (/cborg|dag-cbor/.test(url)) return "dag-cbor encode/decode";
  if (/multiformats/.test(url)) return "multiformats (CID, base32, sha-256)";
  if (/internal\/crypto|webcrypto/.test(url) || /^(sign|verify|digest|importKey)$/.test(name) && url.startsWith("node:")) return "WebCrypto (main-thread part)";
  if (/\/node_modules\/ws\//.test(url) || /host\/transport/.test(url)) return "WebSocket transport";
  if (/host\/trust\/admit/.test(url)) return "admission (admit.ts)";
  if (/host\/trust\/envelope/.test(url)) return "envelope (envelope.ts)";
  if (/host\/trust\/sync/.test(url)) return "hub/replicator (sync.ts)";
  if (/host\/trust\/wire/.test(url)) return "trust wire (wire.ts)";
  if (/host\/replication\/mint/.test(url)) return "mint lists (mint.ts)";
  if (/host\/identity/.test(url)) return "identity (sign/verify wrappers)";
  if (/host\/(crdt|wasm)/.test(url)) return "lattice API + Wasm boundary";
  if (/host\/(dataflow|replication)/.test(url)) return "runtime/replication";
  if (url.startsWith("node:") || url === "") return "node internals (streams, net, timers, promises)";
  return "other: " + url.split("/").slice(-2).join("/");
}

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const cat = new Map<string, number>(), fn = new Map<string, number>();
profile.samples!.forEach((id, i) => {
  const n = byId.get(id)!, us = profile.timeDeltas![i] ?? 0;
  const k = category(n.callFrame.functionName, n.callFrame.url);
  cat.set(k, (cat.get(k) ?? 0) + us);
  const f = (n.callFrame.functionName || "(anonymous)") + " " + n.callFrame.url.split("/").slice(-1)[0] + ":" + n.callFrame.lineNumber;
  fn.set(f, (fn.get(f) ?? 0) + us);
});
const tot = [...cat.values()].reduce((a, b) => a + b, 0);
console.log(`total ${(tot / 1000).toFixed(0)} ms sampled`);
for (const [k, v] of [...cat].sort((a, b) => b[1] - a[1])) console.log(`  ${(v / 1000).toFixed(0).padStart(6)} ms ${(100 * v / tot).toFixed(1).padStart(5)}%  ${k}`);
console.log("top functions (self time):");
for (const [k, v] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${(v / 1000).toFixed(0).padStart(6)} ms ${(100 * v / tot).toFixed(1).padStart(5)}%  ${k}`);
process.exit(0);
