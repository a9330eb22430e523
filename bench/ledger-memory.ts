// The trust ledger's memory per admitted envelope (issue 12, "No single peer
// may cost unbounded memory"): admits N envelopes from A authors into one
// TrustLedger, each author's envelope linking to its previous one and to the
// heads of up to 3 other authors (so every clock spans every author), each
// carrying a GCounter increment and an AWSet add of the author's own replica;
// with --squash S, every author also signs a squash of each run of S of its
// envelopes, admitted after the run by a peer that held the run, which then
// holds the squash in place of the run and collapses it in its ledger, as
// TrustHub does (TrustLedger.collapse). A squash links, per other author,
// the latest envelope its run linked (the others are in that one's past),
// and may name up to 256 links (more than an envelope's default 64).
// Reports the bytes the ledger retains, per envelope: heapUsed +
// arrayBuffers after a full gc, minus the same once the ledger is dropped
// (everything else the bench made is dropped before both).
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
const envelopeLimits = { maxLinks: 256 };
const accept = { verify, now: () => Date.now(), envelopeLimits };

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

// Admits n envelopes (and their squashes) into a new ledger.
async function build(count: number): Promise<{ ledger: TrustLedger | undefined; squashes: number; squashed: number; entries: number }> {
  const ledger = new TrustLedger();
  const heads: (CID | undefined)[] = new Array(A);
  const headSeq = new Array<number>(A).fill(0);
  const seqs = new Array<number>(A).fill(0);
  const counts = new Array<number>(A).fill(0);
  // Per author, the run since its last squash: envelopes, and per other author the latest head they linked to.
  let runs: { envs: Envelope[]; links: Map<number, [number, CID]> }[] = Array.from({ length: A }, () => ({ envs: [], links: new Map() }));
  let squashes = 0, squashed = 0;
  for (let k = 0; k < count; k++) {
    const i = k % A;
    const links: CID[] = [];
    const others: number[] = [];
    if (heads[i]) links.push(heads[i]!);
    for (let j = 1; j <= 3 && j < A; j++) { const o = (i + j * 7) % A, h = heads[o]; if (h && !links.includes(h)) { links.push(h); others.push(o); } }
    const n = ++counts[i];
    const e = await signEnvelope(signer(i), { author: ids[i].did, seq: ++seqs[i], links: sorted(links), items: items(i, n) });
    const r = await admit(ledger, e, accept);
    if (r.status !== "admitted") throw new Error(`envelope ${k}: ${r.status} ${r.status === "rejected" ? r.error.message : ""}`);
    heads[i] = e.cid; headSeq[i] = e.seq;
    if (squashEvery > 0) {
      const run = runs[i];
      run.envs.push(e);
      // The author's own envelope before the run, then the others' latest heads.
      if (run.envs.length === 1 && e.seq > 1) run.links.set(i, [e.seq - 1, links[0]]);
      for (const o of others) { const x = run.links.get(o); if (!x || x[0] < headSeq[o]) run.links.set(o, [headSeq[o], heads[o]!]); }
      if (run.envs.length === squashEvery) {
        const first = run.envs[0], last = run.envs[run.envs.length - 1];
        const s = await signEnvelope(signer(i), {
          author: ids[i].did, seq: last.seq, from: first.seq, covers: run.envs.map((x) => x.cid),
          links: sorted([...run.links.values()].map((x) => x[1])), items: items(i, n, n - squashEvery + 1),
        }, envelopeLimits);
        const rs = await admit(ledger, s, accept);
        if (rs.status !== "admitted") throw new Error(`squash at ${k}: ${rs.status} ${rs.status === "rejected" ? rs.error.message : ""}`);
        if (!ledger.collapse(s)) throw new Error(`squash at ${k} not collapsed`);
        squashes++; squashed += squashEvery;
        runs[i] = { envs: [], links: new Map() };
      }
    }
  }
  runs = [];
  if (ledger.admitted !== count + squashes) throw new Error("ledger count");
  return { ledger, squashes, squashed, entries: ledger.size };
}

// What the ledger retains: after a full gc with the ledger, minus the same
// once it is dropped (what grows once per process, such as compiled code,
// the kernel's memory or the CID key cache's table, is in both).
// (Nothing here reads run.ledger: a frame can keep a value it read.)
function dropped(run: { ledger: TrustLedger | undefined }): number {
  const withLedger = retained();
  run.ledger = undefined;
  return withLedger - retained();
}
const run = await build(N);
const { squashes, squashed, entries } = run;
const used = dropped(run);
const live = N - squashed;
const out = { envelopes: N, authors: A, squashEvery, squashes, squashed, entries, bytes: used, bytesPerEnvelope: Math.round(used / N) };
if (json) console.log(JSON.stringify(out));
else console.log(`${N} envelopes, ${A} authors${squashEvery ? `, a squash every ${squashEvery} (${squashes}; ${squashed} envelopes squashed, ${live} live)` : ""}: ${entries} ledger entries, ${(used / 2 ** 20).toFixed(1)} MiB, ${out.bytesPerEnvelope} bytes per envelope`);
