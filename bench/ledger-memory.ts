// The trust ledger's memory per admitted envelope (issue 12, "No single peer
// may cost unbounded memory"): admits N envelopes from A authors into one
// TrustLedger, each author's envelope linking to its previous one and to the
// heads of up to 3 other authors (so every clock spans every author), each
// carrying a GCounter increment and an AWSet add of the author's own replica;
// with --squash S, every author also signs a squash of each run of S of its
// envelopes, admitted after the run (a peer that held the run).
// Reports retained bytes per envelope: heapUsed + arrayBuffers after a full
// gc, minus the same before the ledger existed (what the bench keeps, the
// envelopes' CIDs aside, is dropped before measuring).
// Usage: node --expose-gc --import tsx bench/ledger-memory.ts [N] [A] [--squash S] [--json]
// Signatures are not what is measured: envelopes are signed with a dummy
// signer and admitted with a verify that accepts (admission checks everything else).
import { init } from "../dist/host/index.node.js";
import { Identity } from "../dist/host/identity/index.js";
import { TrustLedger, admit, signEnvelope, type CID, type Envelope, type EnvelopeItem } from "../dist/host/trust/index.js";
import { awset, gcounter } from "../test/util/forge.js";

const args = process.argv.slice(2);
const flag = (name: string) => { const i = args.indexOf(name); return i < 0 ? undefined : args.splice(i, 2)[1]; };
const squashEvery = Number(flag("--squash") ?? 0);
const json = args.includes("--json");
const [N = 20000, A = 10] = args.filter((a) => !a.startsWith("--")).map(Number);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");

function retained(): number {
  gc!(); gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

await init();
const ids = await Promise.all(Array.from({ length: A }, () => Identity.generate()));
// One replica per author (replicaId() draws a new incarnation at each call).
const reps = ids.map((id) => id.replicaId());
const signer = (i: number) => ({ did: ids[i].did, sign: async () => new Uint8Array(64) });
const verify = async () => true;
const accept = { verify, now: () => Date.now() };

const base = retained();
const ledger = new TrustLedger();
const heads: (CID | undefined)[] = new Array(A);
const seqs = new Array<number>(A).fill(0);
const counts = new Array<number>(A).fill(0);
// Per author, the run since its last squash: envelopes, and the other authors' heads they linked to.
const runs: { envs: Envelope[]; links: Map<string, CID> }[] = Array.from({ length: A }, () => ({ envs: [], links: new Map() }));
let admitted = 0, squashes = 0;

// Links in canonical order, without CID.toString (which caches a string per
// CID object, and these objects are the ones the ledger holds).
const key = (c: CID) => String.fromCharCode(...c.bytes);
const sorted = (links: Iterable<CID>): CID[] => {
  const by = new Map<string, CID>();
  for (const c of links) by.set(key(c), c);
  return [...by].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((x) => x[1]);
};

const items = (i: number, n: number, from = n): EnvelopeItem[] => {
  const rep = reps[i];
  const adds: [string, [string, number][]][] = [];
  for (let c = from; c <= n; c++) adds.push([`x${c}`, [[rep, c]]]);
  return [
    { variable: "g", delta: gcounter([[rep, n]]) },
    { variable: "s", delta: awset([[rep, n]], [], adds) },
  ];
};

for (let k = 0; k < N; k++) {
  const i = k % A;
  const links: CID[] = [];
  if (heads[i]) links.push(heads[i]!);
  for (let j = 1; j <= 3 && j < A; j++) { const h = heads[(i + j * 7) % A]; if (h && !links.includes(h)) links.push(h); }
  const n = ++counts[i];
  const e = await signEnvelope(signer(i), { author: ids[i].did, seq: ++seqs[i], links: sorted(links), items: items(i, n) });
  const r = await admit(ledger, e, accept);
  if (r.status !== "admitted") throw new Error(`envelope ${k}: ${r.status} ${r.status === "rejected" ? r.error.message : ""}`);
  admitted++;
  heads[i] = e.cid;
  if (squashEvery > 0) {
    const run = runs[i];
    run.envs.push(e);
    for (const l of links.slice(run.envs.length === 1 ? 0 : 1)) run.links.set(key(l), l);
    if (run.envs.length === squashEvery) {
      const first = run.envs[0], last = run.envs[run.envs.length - 1];
      const s = await signEnvelope(signer(i), {
        author: ids[i].did, seq: last.seq, from: first.seq, covers: run.envs.map((x) => x.cid),
        links: sorted(run.links.values()), items: items(i, n, n - squashEvery + 1),
      });
      const rs = await admit(ledger, s, accept);
      if (rs.status !== "admitted") throw new Error(`squash at ${k}: ${rs.status} ${rs.status === "rejected" ? rs.error.message : ""}`);
      squashes++;
      runs[i] = { envs: [], links: new Map() };
    }
  }
}
runs.length = 0;
const used = retained() - base;
const out = { envelopes: N, authors: A, squashEvery, squashes, entries: ledger.size, bytes: used, bytesPerEnvelope: Math.round(used / N) };
if (json) console.log(JSON.stringify(out));
else console.log(`${N} envelopes, ${A} authors${squashEvery ? `, a squash every ${squashEvery} (${squashes})` : ""}: ${ledger.size} ledger entries, ${(used / 2 ** 20).toFixed(1)} MiB, ${out.bytesPerEnvelope} bytes per envelope`);
if (process.env.SNAP) (await import("node:v8")).writeHeapSnapshot(process.env.SNAP);
// Keeps the ledger alive until measured.
if (ledger.admitted !== admitted + squashes) throw new Error("ledger count");
