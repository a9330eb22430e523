// Section 2: trellis against Yjs, Automerge and Loro on work all four can do.
// Each workload runs on all libraries side by side in one tinybench run.
import * as Y from "yjs";
import * as AM from "@automerge/automerge";
import { LoroDoc } from "loro-crdt";
import * as trellis from "trellis";
import { GCounter } from "trellis";
import { Budget, Case, Table, count, kb, mark, measure, ms, ratio, table } from "./lib/harness.js";

type Lib = "trellis" | "Yjs" | "Automerge" | "Loro";
const LIBS: Lib[] = ["trellis", "Yjs", "Automerge", "Loro"];
const T = trellis as unknown as Record<string, any>;
const hasGMap = typeof T.GMap === "function" && typeof T.LWWRegister === "function";

// trellis's map: GMap<LWWRegister> (or, before it existed, AWSet of [key, value]).
function tmap(replica: string): any { return hasGMap ? new T.GMap(replica, T.LWWRegister) : new T.AWSet(replica); }
function tset(m: any, k: string, v: string | number): void {
  if (hasGMap) m.update(k, T.LWWRegister.ops.set(v)); else m.add([k, v]);
}
const tdecode = (b: Uint8Array, replica: string): any => trellis.decodeState(b, replica);
void tdecode;

interface Result { time: Map<Lib, number>; size: Map<Lib, number>; converged?: Map<Lib, boolean> }

export interface CrdtOptions { quick: boolean; n: number; capMs: number; log: (s: string) => void }

export async function crdtBenches(o: CrdtOptions): Promise<Table[]> {
  const n = o.n;
  const keys = Array.from({ length: n }, (_, i) => "k" + i);
  const heavy: Budget = { iterations: 2, time: 0, warmup: 1 };
  const slow: Budget = { iterations: 2, time: 0, warmup: 1 };
  const results: [string, string, Result, boolean][] = []; // id, label, result, has speed target

  // Runs one workload: each lib's `make` builds its doc inside the timed fn; `size` reads it after.
  // A library too slow to run the full n within the cap runs at a smaller n
  // (probed once at n/50); its time is then scaled linearly to n, a lower
  // bound when it grows faster than linearly, and marked "≥".
  const scaled = new Map<string, number>(); // `${id}/${lib}` -> the n it ran at
  function fit(id: string, l: Lib, run: (k: number) => number): number {
    const p = Math.max(10, Math.floor(n / (o.quick ? 20 : 100)));
    run(p); // warm up
    // Probes 4× apart, so noise barely moves the growth exponent.
    const t1 = Math.max(run(p), 0.05), t2 = Math.max(run(4 * p), 0.2);
    const expo = Math.min(2, Math.max(1, Math.log(t2 / t1) / Math.log(4)));
    let k = n;
    // GC pauses can make a small probe look quadratic: scale only work whose
    // linear extrapolation is already a sizeable part of the cap.
    if (t2 * (n / (4 * p)) > o.capMs / 2) {
      for (const c of [n, n / 2, n / 5, n / 10, n / 20, n / 25]) { k = Math.floor(c); if (t2 * (c / (4 * p)) ** expo <= o.capMs) break; }
    }
    if (k < n) scaled.set(`${id}/${l}`, k);
    return k;
  }
  const cell = (id: string, l: Lib, t: number) => { const k = scaled.get(`${id}/${l}`); return k === undefined ? ms(t) : `≥${ms(t)} (ran ${count(k)}, ×${Math.round(n / k)})`; };

  async function writes(id: string, label: string, target: boolean, b: Budget,
    make: Record<Lib, (k: number) => unknown>, size: Record<Lib, (doc: any) => number>) {
    o.log(`  ${label}`);
    const last = new Map<Lib, unknown>();
    const ks = new Map<Lib, number>(LIBS.map((l) => [l, fit(id, l, (k) => { const t = performance.now(); const d: any = make[l](k); const e = performance.now() - t; d?.dispose?.(); return e; })]));
    const time = await measure(LIBS.map((l) => ({ name: l, fn: () => { last.set(l, make[l](ks.get(l)!)); } })), b);
    for (const l of LIBS) time.set(l, time.get(l)! * n / ks.get(l)!);
    const sz = new Map<Lib, number>(LIBS.map((l) => [l, ks.get(l) === n ? size[l](last.get(l)) : NaN]));
    results.push([id, label, { time: time as Map<Lib, number>, size: sz }, target]);
    const tl = last.get("trellis") as { dispose?: () => void };
    tl?.dispose?.();
  }

  const mapSize: Record<Lib, (d: any) => number> = {
    trellis: (m) => m.encode().length,
    Yjs: (d) => Y.encodeStateAsUpdate(d).length,
    Automerge: (d) => AM.save(d).length,
    Loro: (d) => d.export({ mode: "snapshot" }).length,
  };

  // (a) n map writes in one transaction
  await writes("map-batch", `${count(n)} map writes, one transaction`, true, heavy, {
    trellis: (n) => { const m = tmap("A"); m.batch((s: any) => { for (let i = 0; i < n; i++) tset(s, keys[i], i); }); return m; },
    Yjs: (n) => { const d = new Y.Doc(); const m = d.getMap("m"); d.transact(() => { for (let i = 0; i < n; i++) m.set(keys[i], i); }); return d; },
    Automerge: (n) => AM.change(AM.init<Record<string, number>>(), (d) => { for (let i = 0; i < n; i++) d[keys[i]] = i; }),
    Loro: (n) => { const d = new LoroDoc(); const m = d.getMap("m"); for (let i = 0; i < n; i++) m.set(keys[i], i); d.commit(); return d; },
  }, mapSize);

  // (b) n map writes, one transaction each
  await writes("map-each", `${count(n)} map writes, one transaction each`, true, slow, {
    trellis: (n) => { const m = tmap("A"); for (let i = 0; i < n; i++) tset(m, keys[i], i); return m; },
    Yjs: (n) => { const d = new Y.Doc(); const m = d.getMap("m"); for (let i = 0; i < n; i++) m.set(keys[i], i); return d; },
    Automerge: (n) => { let d = AM.init<Record<string, number>>(); for (let i = 0; i < n; i++) d = AM.change(d, (x) => { x[keys[i]] = i; }); return d; },
    Loro: (n) => { const d = new LoroDoc(); const m = d.getMap("m"); for (let i = 0; i < n; i++) { m.set(keys[i], i); d.commit(); } return d; },
  }, mapSize);

  // (c) concurrent sets of the same n keys on two replicas, then each merges the other's update
  {
    o.log(`  concurrent map, merge`);
    const id = "map-concurrent";
    const label = `${count(n)} keys set concurrently on 2 replicas, merge both ways`;
    const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
    interface Conc { save(k: number): [Uint8Array, Uint8Array]; load(a: Uint8Array, b: Uint8Array): { a: any; b: any };
      merge(s: { a: any; b: any }, A: Uint8Array, B: Uint8Array): void; converged(s: { a: any; b: any }): boolean; size(s: { a: any; b: any }): number; free?(s: { a: any; b: any }): void }
    const impl: Record<Lib, Conc> = {
      trellis: {
        save(k) {
          const a = tmap("A"); a.batch((s: any) => { for (let i = 0; i < k; i++) tset(s, keys[i], "a" + i); });
          const b = tmap("B"); b.batch((s: any) => { for (let i = 0; i < k; i++) tset(s, keys[i], "b" + i); });
          const r: [Uint8Array, Uint8Array] = [a.encode(), b.encode()]; a.dispose(); b.dispose(); return r;
        },
        load: (A, B) => ({ a: tdecode(A, "A"), b: tdecode(B, "B") }),
        merge: (s, A, B) => { s.a.merge(B); s.b.merge(A); },
        converged: (s) => Buffer.compare(Buffer.from(s.a.encode()), Buffer.from(s.b.encode())) === 0,
        size: (s) => s.a.encode().length,
        free: (s) => { s.a.dispose(); s.b.dispose(); },
      },
      Yjs: {
        save(k) {
          const a = new Y.Doc(), b = new Y.Doc();
          a.transact(() => { const m = a.getMap("m"); for (let i = 0; i < k; i++) m.set(keys[i], "a" + i); });
          b.transact(() => { const m = b.getMap("m"); for (let i = 0; i < k; i++) m.set(keys[i], "b" + i); });
          return [Y.encodeStateAsUpdate(a), Y.encodeStateAsUpdate(b)];
        },
        load: (A, B) => { const a = new Y.Doc(), b = new Y.Doc(); Y.applyUpdate(a, A); Y.applyUpdate(b, B); return { a, b }; },
        merge: (s, A, B) => { Y.applyUpdate(s.a, B); Y.applyUpdate(s.b, A); },
        converged: (s) => same(s.a.getMap("m").toJSON(), s.b.getMap("m").toJSON()),
        size: (s) => Y.encodeStateAsUpdate(s.a).length,
      },
      Automerge: {
        save(k) {
          const a = AM.change(AM.init<Record<string, string>>(), (d) => { for (let i = 0; i < k; i++) d[keys[i]] = "a" + i; });
          const b = AM.change(AM.init<Record<string, string>>(), (d) => { for (let i = 0; i < k; i++) d[keys[i]] = "b" + i; });
          return [AM.save(a), AM.save(b)];
        },
        load: (A, B) => ({ a: AM.load(A), b: AM.load(B) }),
        merge: (s, A, B) => { s.a = AM.loadIncremental(s.a, B); s.b = AM.loadIncremental(s.b, A); },
        converged: (s) => same(AM.toJS(s.a), AM.toJS(s.b)),
        size: (s) => AM.save(s.a).length,
      },
      Loro: {
        save(k) {
          const a = new LoroDoc(), b = new LoroDoc();
          { const m = a.getMap("m"); for (let i = 0; i < k; i++) m.set(keys[i], "a" + i); a.commit(); }
          { const m = b.getMap("m"); for (let i = 0; i < k; i++) m.set(keys[i], "b" + i); b.commit(); }
          return [a.export({ mode: "update" }), b.export({ mode: "update" })];
        },
        load: (A, B) => { const a = new LoroDoc(), b = new LoroDoc(); a.import(A); b.import(B); return { a, b }; },
        merge: (s, A, B) => { s.a.import(B); s.b.import(A); },
        converged: (s) => same(s.a.toJSON(), s.b.toJSON()),
        size: (s) => s.a.export({ mode: "snapshot" }).length,
      },
    };
    const ks = new Map<Lib, number>(LIBS.map((l) => [l, fit(id, l, (k) => {
      const t = performance.now(); const [A, B] = impl[l].save(k); const s = impl[l].load(A, B); impl[l].merge(s, A, B);
      const e = performance.now() - t; impl[l].free?.(s); return e;
    })]));
    const saved = new Map(LIBS.map((l) => [l, impl[l].save(ks.get(l)!)]));
    const st = new Map<Lib, { a: any; b: any }>();
    const time = await measure(LIBS.map((l) => ({
      name: l,
      before: () => { const old = st.get(l); if (old) impl[l].free?.(old); st.set(l, impl[l].load(...saved.get(l)!)); },
      fn: () => impl[l].merge(st.get(l)!, ...saved.get(l)!),
    })), heavy);
    for (const l of LIBS) time.set(l, time.get(l)! * n / ks.get(l)!);
    const converged = new Map(LIBS.map((l) => [l, impl[l].converged(st.get(l)!)]));
    const size = new Map(LIBS.map((l) => [l, ks.get(l) === n ? impl[l].size(st.get(l)!) : NaN]));
    for (const l of LIBS) impl[l].free?.(st.get(l)!);
    results.push([id, label, { time: time as Map<Lib, number>, size, converged }, true]);
  }

  // (d) n counter increments, one transaction, then one transaction each
  const counterSize: Record<Lib, (d: any) => number> = {
    trellis: (c) => c.encode().length,
    Yjs: (d) => Y.encodeStateAsUpdate(d).length,
    Automerge: (d) => AM.save(d).length,
    Loro: (d) => d.export({ mode: "snapshot" }).length,
  };
  const yinc = (d: Y.Doc, m: Y.Map<number>, me: string) => m.set(me, (m.get(me) ?? 0) + 1);
  await writes("counter-batch", `${count(n)} counter increments, one transaction`, false, heavy, {
    trellis: (n) => { const c = new GCounter("A"); c.batch((s) => { for (let i = 0; i < n; i++) s.increment(1); }); return c; },
    Yjs: (n) => { const d = new Y.Doc(); const m = d.getMap<number>("c"); const me = String(d.clientID); d.transact(() => { for (let i = 0; i < n; i++) yinc(d, m, me); }); return d; },
    Automerge: (n) => AM.change(AM.change(AM.init<{ c: AM.Counter }>(), (d) => { d.c = new AM.Counter(); }), (d) => { for (let i = 0; i < n; i++) d.c.increment(1); }),
    Loro: (n) => { const d = new LoroDoc(); const c = d.getCounter("c"); for (let i = 0; i < n; i++) c.increment(1); d.commit(); return d; },
  }, counterSize);
  await writes("counter-each", `${count(n)} counter increments, one transaction each`, false, slow, {
    trellis: (n) => { const c = new GCounter("A"); for (let i = 0; i < n; i++) c.increment(1); return c; },
    Yjs: (n) => { const d = new Y.Doc(); const m = d.getMap<number>("c"); const me = String(d.clientID); for (let i = 0; i < n; i++) yinc(d, m, me); return d; },
    Automerge: (n) => { let d = AM.change(AM.init<{ c: AM.Counter }>(), (x) => { x.c = new AM.Counter(); }); for (let i = 0; i < n; i++) d = AM.change(d, (x) => { x.c.increment(1); }); return d; },
    Loro: (n) => { const d = new LoroDoc(); const c = d.getCounter("c"); for (let i = 0; i < n; i++) { c.increment(1); d.commit(); } return d; },
  }, counterSize);

  // Tables
  const speed = table("crdts-time", "trellis vs Yjs, Automerge, Loro: time (median ms; ratio = fastest other / trellis)",
    ["workload", ...LIBS, "ratio", "target: ≥5× faster than fastest other"]);
  const sizes = table("crdts-size", "Encoded size after each workload (bytes; trellis encode, Yjs encodeStateAsUpdate, Automerge save, Loro snapshot)",
    ["workload", ...LIBS, "target: ≤ smallest other"]);
  for (const [id, label, r, target] of results) {
    const tt = r.time.get("trellis")!;
    const best = Math.min(...LIBS.slice(1).map((l) => r.time.get(l)!));
    const conv = r.converged ? " (converged: " + LIBS.map((l) => `${l} ${r.converged!.get(l) ? "yes" : "NO"}`).join(", ") + ")" : "";
    speed.rows.push([label + conv, ...LIBS.map((l) => cell(id, l, r.time.get(l)!)), ratio(best / tt), target ? mark(tt * 5 <= best) : "— (no target)"]);
    const ts = r.size.get("trellis")!;
    const smallest = Math.min(...LIBS.slice(1).map((l) => r.size.get(l)!).filter((x) => !Number.isNaN(x)));
    sizes.rows.push([label, ...LIBS.map((l) => (Number.isNaN(r.size.get(l)) ? `(ran ${count(scaled.get(`${id}/${l}`)!)})` : String(r.size.get(l)))),
      Number.isNaN(ts) ? "— (trellis ran a smaller n)" : mark(ts <= smallest)]);
  }
  speed.notes.push(hasGMap
    ? "trellis map = GMap<LWWRegister>, writes are `map.update(key, LWWRegister.ops.set(value))`; a transaction is one `batch()`."
    : "STAND-IN: GMap was not available, so trellis map = AWSet of [key, value] pairs.");
  speed.notes.push("Yjs has no counter type: a Y.Map entry per replica (keyed by clientID) holds its count and each increment overwrites it, the usual Yjs idiom (crdt-benchmarks has no counter workload). Automerge uses Counter, Loro LoroCounter, trellis GCounter.");
  speed.notes.push("Concurrent map: replicas A and B each set all keys (different values) and are saved; each run loads fresh replicas (untimed), then times A applying B's full update plus B applying A's (trellis encode/merge, Yjs encodeStateAsUpdate/applyUpdate, Automerge save/loadIncremental, Loro export update/import) and checks both sides converge.");
  return [speed, sizes];
}
