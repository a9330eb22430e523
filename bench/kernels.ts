// Section 1: each kernel against its plain-TypeScript twin (the same algorithm
// over JS Maps, same binary format): join of two replicas, applying single-op
// deltas, encode and decode throughput.
import * as trellis from "trellis";
import type { Crdt } from "trellis";
import { bin } from "../test/model/common.js";
import { encodeValue } from "../host/crdt/value.js";
import { Budget, Case, Table, count, mark, mbps, measure, ms, once, ratio, table } from "./lib/harness.js";
import * as gc from "./twins/gcounter.js";
import * as gs from "./twins/gset.js";
import * as gm from "./twins/gmap-lww.js";
import * as aw from "./twins/awset.js";

interface Twin<S> {
  decode(b: Uint8Array): S;
  encode(s: S): Uint8Array;
  joinInto(a: S, b: S): boolean;
}

interface TypeBench<S> {
  name: string;
  available: boolean;
  twinFrom: string;
  sizes: number[];
  twin: Twin<S>;
  // Two replicas of n elements each, half of them shared.
  pair(n: number): [S, S];
  // The j-th single-op delta.
  delta(j: number): S;
  bottom(): S;
}

const el = (s: string) => bin(encodeValue(s));
const has = (name: string) => typeof (trellis as Record<string, unknown>)[name] === "function";
const kdecode = (bytes: Uint8Array): Crdt<unknown> => trellis.decodeState(bytes, "bench");

function types(quick: boolean): TypeBench<any>[] {
  const big = quick ? [1e3] : [1e4, 1e5, 1e6];
  const mid = quick ? [1e3] : [1e4, 1e5];
  return [
    {
      name: "GCounter", available: has("GCounter"), twinFrom: "test/model/gcounter.ts + bench/twins/gcounter.ts",
      sizes: big, twin: gc, bottom: () => new Map(),
      pair(n) {
        const a = new Map<string, number>(), b = new Map<string, number>();
        for (let i = 0; i < n; i++) a.set("r" + i, (i % 97) + 1);
        for (let i = n / 2; i < 1.5 * n; i++) b.set("r" + i, (i % 89) + 1);
        return [a, b];
      },
      delta: (j) => new Map([["r" + (j % 1000), Math.floor(j / 1000) + 1]]),
    },
    {
      name: "GSet", available: has("GSet"), twinFrom: "test/model/gset.ts + bench/twins/gset.ts",
      sizes: big, twin: gs, bottom: () => new Set(),
      pair(n) {
        const a = new Set<string>(), b = new Set<string>();
        for (let i = 0; i < n; i++) a.add(el("e" + i));
        for (let i = n / 2; i < 1.5 * n; i++) b.add(el("e" + i));
        return [a, b];
      },
      delta: (j) => new Set([el("d" + j)]),
    },
    {
      name: "AWSet", available: has("AWSet"), twinFrom: "bench/twins/awset.ts (the kernel's algorithm incl. its dot index; the model's encode is quadratic)",
      sizes: mid, twin: aw, bottom: aw.bottom, // 1e6: ~10 s per run on each side plus rebuilds; over the time budget
      pair(n) {
        const a = aw.bottom(), b = aw.bottom();
        for (let i = 0; i < n; i++) a.entries.set(el("e" + i), [{ r: "A", c: i + 1 }]);
        a.cc.vv.set("A", n);
        for (let i = n / 2, c = 1; i < 1.5 * n; i++, c++) b.entries.set(el("e" + i), [{ r: "B", c }]);
        b.cc.vv.set("B", n);
        return [a, b];
      },
      delta(j) {
        const d = aw.bottom();
        d.entries.set(el("d" + j), [{ r: "A", c: j + 1 }]);
        if (j === 0) d.cc.vv.set("A", 1); else d.cc.cloud.set("A", new Set([j + 1]));
        return d;
      },
    },
    {
      name: "GMap<LWWRegister>", available: has("GMap") && has("LWWRegister"), twinFrom: "test/model/gmap.ts + lwwregister.ts + bench/twins/gmap-lww.ts",
      sizes: mid, twin: gm, bottom: () => new Map(),
      pair(n) {
        const a: gm.State = new Map(), b: gm.State = new Map();
        for (let i = 0; i < n; i++) a.set(el("k" + i), { ts: 1000 + i, r: "A", v: el(String(i)) });
        for (let i = n / 2; i < 1.5 * n; i++) b.set(el("k" + i), { ts: 1000 + i + (i % 2), r: "B", v: el("b" + i) });
        return [a, b];
      },
      delta: (j) => new Map([[el("d" + j), { ts: 1000 + j, r: "A", v: el(String(j)) }]]),
    },
  ];
}

export interface KernelOptions { quick: boolean; deltas: number; capMs: number; log: (s: string) => void }

export async function kernelBenches(o: KernelOptions): Promise<Table> {
  const t = table("kernels", "Kernel vs plain-TS twin (median ms; speedup = twin / trellis)",
    ["type", "case", "n", "trellis", "twin", "speedup", "target: faster than twin"]);
  const row = (ty: string, cs: string, n: number | string, k: number, w: number, extra = "") => {
    t.rows.push([ty, cs, typeof n === "number" ? count(n) : n, ms(k) + extra, ms(w), ratio(w / k), mark(k < w)]);
  };
  const heavy: Budget = { iterations: 2, time: 0, warmup: 1 };
  const light: Budget = { iterations: o.quick ? 5 : 10, time: o.quick ? 0 : 200, warmup: 2 };
  const measured: string[] = [], missing: string[] = [];
  for (const ty of types(o.quick)) {
    if (!ty.available) { missing.push(ty.name); continue; }
    measured.push(ty.name);
    o.log(`  ${ty.name}`);
    // join two replicas, in place on both sides
    for (const n of ty.sizes) {
      const [sa, sb] = ty.pair(n);
      const A = ty.twin.encode(sa), B = ty.twin.encode(sb);
      const kb = kdecode(B);
      let ka: Crdt<unknown> | null = null;
      const tb = ty.twin.decode(B);
      let ta: unknown = null;
      const r = await measure([
        { name: "trellis", before: () => { ka?.dispose(); ka = kdecode(A); }, fn: () => ka!.merge(kb) },
        { name: "twin", before: () => { ta = ty.twin.decode(A); }, fn: () => ty.twin.joinInto(ta, tb) },
      ], n >= 1e6 ? heavy : n >= 1e5 ? { ...heavy, iterations: 3 } : light);
      // both sides must agree
      const same = Buffer.compare(Buffer.from(ka!.encode()), Buffer.from(ty.twin.encode(ta))) === 0;
      row(ty.name, "join two replicas" + (same ? "" : " (DIFFERENT RESULT)"), n, r.get("trellis")!, r.get("twin")!);
      ka!.dispose(); kb.dispose(); ta = null;
      // encode / decode at 1e5 (quick: the one size)
      if (n === (o.quick ? ty.sizes[0] : 1e5)) {
        const k = kdecode(A);
        const tw = ty.twin.decode(A);
        const e = await measure([
          { name: "trellis", fn: () => k.encode() },
          { name: "twin", fn: () => ty.twin.encode(tw) },
        ], light);
        row(ty.name, `encode (${(A.length / 1e6).toFixed(2)} MB), MB/s ${mbps(A.length, e.get("trellis")!)} vs ${mbps(A.length, e.get("twin")!)}`, n, e.get("trellis")!, e.get("twin")!);
        k.dispose();
        let kd: Crdt<unknown> | null = null;
        const d = await measure([
          { name: "trellis", fn: () => { kd = kdecode(A); }, after: () => kd?.dispose() },
          { name: "twin", fn: () => ty.twin.decode(A) },
        ], light);
        row(ty.name, `decode (${(A.length / 1e6).toFixed(2)} MB), MB/s ${mbps(A.length, d.get("trellis")!)} vs ${mbps(A.length, d.get("twin")!)}`, n, d.get("trellis")!, d.get("twin")!);
      }
    }
    // apply single-op deltas (bytes in, joined into one growing state)
    const bottom = ty.twin.encode(ty.bottom());
    const all: Uint8Array[] = [];
    for (let j = 0; j < o.deltas; j++) all.push(ty.twin.encode(ty.delta(j)));
    const runK = (k: number) => { const s = kdecode(bottom); for (let j = 0; j < k; j++) s.merge(all[j]); s.dispose(); };
    const runT = (k: number) => { const s = ty.twin.decode(bottom); for (let j = 0; j < k; j++) ty.twin.joinInto(s, ty.twin.decode(all[j])); };
    // Probe at two small counts; if either side would exceed the cap at the full
    // count (superlinear), measure at the largest count that fits and say so.
    let k = o.deltas;
    const p = Math.min(o.quick ? 1000 : 10000, o.deltas);
    if (p < o.deltas) {
      runK(p / 2); runT(p / 2); // warm up
      const t1 = Math.max(once(() => runK(p / 2)), once(() => runT(p / 2)), 0.01);
      const t2 = Math.max(once(() => runK(p)), once(() => runT(p)), 0.01);
      const expo = Math.min(2, Math.max(1, Math.log2(t2 / t1)));
      const predict = (c: number) => t2 * (c / p) ** expo;
      // GC pauses can make small probes look superlinear: only cut work whose
      // linear extrapolation is already a sizeable part of the cap.
      if (t2 * (k / p) > o.capMs / 10) while (k > p && predict(k) > o.capMs) k = Math.floor(k / 2);
      if (k < o.deltas) t.notes.push(`${ty.name}: applying deltas grows as n^${expo.toFixed(1)}; ${count(o.deltas)} deltas were predicted at ${(predict(o.deltas) / 1000).toFixed(0)} s, so ${k} were measured.`);
    }
    const r = await measure([
      { name: "trellis", fn: () => runK(k) },
      { name: "twin", fn: () => runT(k) },
    ], { iterations: 2, time: 0, warmup: 1 });
    row(ty.name, "apply single-op deltas (bytes → join)", k === o.deltas ? k : `${k} of ${count(o.deltas)}`, r.get("trellis")!, r.get("twin")!);
  }
  t.notes.unshift(`Types measured: ${measured.join(", ")}.` + (missing.length ? ` Not measured (class not exported yet): ${missing.join(", ")}.` : ""));
  t.notes.push("Twins: " + types(o.quick).filter((x) => x.available).map((x) => `${x.name} — ${x.twinFrom}`).join("; ") + ".");
  t.notes.push("join: replica A ⊔ replica B in place (A rebuilt untimed before each run), n elements each, half shared. Both results are compared byte for byte.");
  return t;
}
