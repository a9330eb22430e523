// Ed25519 verification in batches on a worker thread, where Node offers one.
// A receiver checks many envelope signatures at once (one per envelope of a
// message, from every peer); WebCrypto spends ~45 µs of main-thread time per
// call before its thread pool runs it. Here the main thread only copies each
// (key, signature, data) into one buffer per event-loop turn and transfers
// it; the worker runs node:crypto's verify (the same OpenSSL Ed25519 as
// Node's WebCrypto, so the same signatures pass) and answers one byte each.
//
// Found with process.getBuiltinModule (Node ≥ 20.16), so nothing here is an
// import a browser bundler has to resolve: in a browser, Deno or an older
// Node, `batchVerifier()` is null and verification stays on WebCrypto.
// If the worker fails or exits, its unanswered checks are answered by the
// fallback (never taken as valid or invalid unchecked) and it is not
// restarted.

type WorkerLike = {
  postMessage(m: unknown, transfer?: ArrayBuffer[]): void;
  on(ev: string, f: (x: never) => void): void;
  ref(): void;
  unref(): void;
  terminate(): Promise<number>;
};
type Fallback = (pub: Uint8Array, data: Uint8Array, sig: Uint8Array) => Promise<boolean>;
type Req = { pub: Uint8Array; data: Uint8Array; sig: Uint8Array; resolve: (ok: boolean) => void };

// The worker's source (CommonJS, run with eval: no file to locate beside the bundle).
// Input: [u32 count] then per check [32 key][64 sig][u32 length][data]; output: one byte per check.
const SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createPublicKey, verify } = require("node:crypto");
const SPKI = Buffer.from("302a300506032b6570032100", "hex");
const keys = new Map();
parentPort.on("message", ({ id, buf }) => {
  const b = Buffer.from(buf), n = b.readUInt32LE(0), out = new Uint8Array(n);
  let p = 4;
  for (let i = 0; i < n; i++) {
    const pub = b.subarray(p, p + 32), sig = b.subarray(p + 32, p + 96), len = b.readUInt32LE(p + 96);
    const data = b.subarray(p + 100, p + 100 + len);
    p += 100 + len;
    try {
      const k = pub.toString("latin1");
      let key = keys.get(k);
      if (!key) {
        if (keys.size >= 256) keys.delete(keys.keys().next().value);
        key = createPublicKey({ key: Buffer.concat([SPKI, pub]), format: "der", type: "spki" });
        keys.set(k, key);
      }
      out[i] = verify(null, data, key, sig) ? 1 : 0;
    } catch { out[i] = 0; }
  }
  parentPort.postMessage({ id, out }, [out.buffer]);
});
`;

const MAX_BATCH_BYTES = 4 << 20; // one message to the worker: at most this much data (more goes in the next)

class BatchVerifier {
  #queue: Req[] = [];
  #queued = 0;
  #scheduled = false;
  #inflight = new Map<number, Req[]>();
  #next = 0;
  #dead = false;
  /** Messages sent to the worker and checks they carried (a bench's batching measure). */
  readonly stats = { batches: 0, checks: 0 };

  constructor(private readonly worker: WorkerLike, private readonly fallback: Fallback, private readonly later: (f: () => void) => void) {
    worker.unref();
    worker.on("message", (m: { id: number; out: Uint8Array }) => {
      const reqs = this.#inflight.get(m.id);
      if (!reqs) return;
      this.#inflight.delete(m.id);
      reqs.forEach((r, i) => r.resolve(m.out[i] === 1));
      if (this.#inflight.size === 0) worker.unref();
    });
    const fail = () => this.#fail();
    worker.on("error", fail);
    worker.on("exit", fail);
  }

  get dead(): boolean { return this.#dead; }

  verify(pub: Uint8Array, data: Uint8Array, sig: Uint8Array): Promise<boolean> {
    if (this.#dead) return this.fallback(pub, data, sig);
    return new Promise((resolve) => {
      this.#queue.push({ pub, data, sig, resolve });
      this.#queued += data.length;
      if (this.#queued >= MAX_BATCH_BYTES) this.#flush();
      else if (!this.#scheduled) { this.#scheduled = true; this.later(() => this.#flush()); }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const reqs = this.#queue;
    if (reqs.length === 0) return;
    this.#queue = []; this.#queued = 0;
    if (this.#dead) { this.#answerByFallback(reqs); return; }
    const id = this.#next++;
    this.#inflight.set(id, reqs);
    try {
      let size = 4;
      for (const r of reqs) size += 100 + r.data.length;
      const buf = new ArrayBuffer(size), bytes = new Uint8Array(buf), dv = new DataView(buf);
      dv.setUint32(0, reqs.length, true);
      let p = 4;
      for (const r of reqs) {
        bytes.set(r.pub, p); bytes.set(r.sig, p + 32); dv.setUint32(p + 96, r.data.length, true); bytes.set(r.data, p + 100);
        p += 100 + r.data.length;
      }
      this.stats.batches++; this.stats.checks += reqs.length;
      this.worker.ref(); // held open while checks are unanswered
      this.worker.postMessage({ id, buf }, [buf]);
    } catch { this.#fail(); }
  }

  #fail(): void {
    if (this.#dead) return;
    this.#dead = true;
    const pending = [...this.#inflight.values()].flat().concat(this.#queue);
    this.#inflight.clear(); this.#queue = []; this.#queued = 0;
    this.worker.terminate().catch(() => {});
    this.#answerByFallback(pending);
  }

  #answerByFallback(reqs: Req[]): void {
    for (const r of reqs) this.fallback(r.pub, r.data, r.sig).then(r.resolve, () => r.resolve(false));
  }

  /** @internal */ _kill(): Promise<number> { return this.worker.terminate(); }
}

type NodeProcess = { getBuiltinModule?: (id: string) => unknown; versions?: { node?: string } };
let made: BatchVerifier | null | undefined;
let enabled = true;

// The worker verifier for this process (made at first use), or null where
// there are no worker threads. `fallback` answers checks if the worker dies.
export function batchVerifier(fallback: Fallback): BatchVerifier | null {
  if (!enabled) return null;
  if (made !== undefined) return made && !made.dead ? made : null;
  made = null;
  const proc = (globalThis as { process?: NodeProcess }).process;
  const wt = proc?.versions?.node ? proc.getBuiltinModule?.("node:worker_threads") as { Worker: new (src: string, o: { eval: true }) => WorkerLike } | undefined : undefined;
  if (!wt?.Worker) return null;
  try { made = new BatchVerifier(new wt.Worker(SOURCE, { eval: true }), fallback, (f) => setImmediate(f)); } catch { made = null; }
  return made;
}

// Tests and benches: turn the worker off (verification falls back to
// WebCrypto) or on again; off also stops a worker already made.
/** @internal */ export async function _setVerifyWorker(on: boolean): Promise<void> {
  enabled = on;
  if (!on && made) { const m = made; made = undefined; await m._kill(); }
}
/** @internal */ export function _verifyWorker(): BatchVerifier | null | undefined { return made; }
