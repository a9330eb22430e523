// Section 1: each kernel against plain TypeScript, same binary format: join of
// two replicas, applying single-op deltas, encode and decode throughput.
// Types with a same-algorithm twin (GSet, GCounter, PNCounter, TwoPSet,
// AWSet, GMap<LWWRegister>, EWFlag, MVRegister, ORSet, AWMap<GCounter>,
// Pair<GCounter, GSet>, MaxInt, IVar, LWWRegister, TopK) are compared with two
// TS versions side by side (issue 10, item 10): a twin of the kernel's
// algorithm over typed arrays (bench/twins/flat*.ts on bench/twins/layer.ts:
// what Wasm itself buys; test/twins.test.ts checks each byte for byte
// against its kernel) and idiomatic JS over Map/Set of strings (the
// older twins: what a JS programmer would write). A type given no flat twin
// would be measured against its older twin only (none is, today).
import * as trellis from "trellis";
import type { Crdt } from "trellis";
import { bin } from "../test/model/common.js";
import { encodeValue } from "../host/crdt/value.js";
import { asV1 } from "./lib/v1.js";
import { compactV1 } from "../test/model/compact.js";
import { Budget, Case, Table, count, mark, mbps, measure, ms, once, ratio, table } from "./lib/harness.js";
import * as gc from "./twins/gcounter.js";
import * as gs from "./twins/gset.js";
import * as gm from "./twins/gmap-lww.js";
import * as aw from "./twins/awset.js";
import * as pn from "./twins/pncounter.js";
import * as one from "./twins/single.js";
import * as dt from "./twins/dotted.js";
import * as tp from "./twins/twopset.js";
import * as ors from "./twins/orset.js";
import * as am from "./twins/awmap-gcounter.js";
import * as pr from "./twins/pair-gcounter-gset.js";
import { topk } from "./twins/topk.js";
import * as flat from "./twins/flat.js";
import { awsetFlat } from "./twins/flat-awset.js";
import { ewflagFlat, mvregisterFlat } from "./twins/flat-causalfun.js";
import { lwwmapFlat } from "./twins/flat-lwwmap.js";
import { orsetFlat } from "./twins/flat-orset.js";
import { awmapGCounterFlat } from "./twins/flat-awmap.js";
import { pairFlat } from "./twins/flat-pair.js";
import { ivarFlat, lwwregisterFlat, maxintFlat } from "./twins/flat-single.js";
import { topkFlat } from "./twins/flat-topk.js";

interface Twin<S> {
  decode(b: Uint8Array): S;
  encode(s: S): Uint8Array;
  joinInto(a: S, b: S): boolean;
  // The join streamed from canonical bytes, as the kernel's merge(bytes) (twins that have it).
  merge?(a: S, bytes: Uint8Array): boolean;
}

interface TypeBench<S> {
  name: string;
  available: boolean;
  twinFrom: string;
  sizes: number[];
  twin: Twin<S>;
  // Ported types: the same-algorithm typed-array twin (then `twin` is the idiomatic JS one).
  flat?: Twin<any>;
  // Two replicas of n elements each, half of them shared.
  pair?(n: number): [S, S];
  // Types whose state does not grow with n (single values, TopK's k best, a
  // register's few concurrent writes): n replica states, joined one after the
  // other into a replica that starts at bottom; n counts joins, not elements.
  seq?(n: number): S[];
  seqWhat?: string;
  seqHeavyFrom?: number; // n from which a join run gets the few-iteration budget (default 1e5)
  // The j-th single-op delta.
  delta(j: number): S;
  bottom(): S;
}

const el = (s: string) => bin(encodeValue(s));
const has = (name: string) => typeof (trellis as Record<string, unknown>)[name] === "function";
const kdecode = (bytes: Uint8Array): Crdt<unknown> => trellis.decodeState(bytes, "bench");
// The twins write the expanded layout (v1's, with v3's values); the kernel is
// fed the same states in v3, what peers send and storage holds
// (test/model/compact.ts, checked against the kernel's own compaction),
// converted outside the timed code.
const v2 = (v1: Uint8Array): Uint8Array => compactV1(v1);

function types(quick: boolean): TypeBench<any>[] {
  const big = quick ? [1e3] : [1e4, 1e5, 1e6];
  const mid = quick ? [1e3] : [1e4, 1e5];
  const tk = topk(100);
  const pad = (j: number) => String(j).padStart(8, "0");
  const dotted = (j: number) => ({ r: j % 2 ? "C" : "B", c: (j >> 1) + 1 }); // two writers taking turns
  const ccOf = (r: string, c: number): aw.Context => ({ vv: new Map([[r, c]]), cloud: new Map() });
  return [
    {
      name: "GCounter", available: has("GCounter"), twinFrom: "test/model/gcounter.ts + bench/twins/gcounter.ts",
      sizes: big, twin: gc, flat: flat.gcounter, bottom: () => new Map(),
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
      sizes: big, twin: gs, flat: flat.gset, bottom: () => new Set(),
      pair(n) {
        const a = new Set<string>(), b = new Set<string>();
        for (let i = 0; i < n; i++) a.add(el("e" + i));
        for (let i = n / 2; i < 1.5 * n; i++) b.add(el("e" + i));
        return [a, b];
      },
      delta: (j) => new Set([el("d" + j)]),
    },
    {
      name: "AWSet", available: has("AWSet"), twinFrom: "bench/twins/awset.ts (the kernel's join, incl. its dot index, over Maps of strings and dot objects; the model's encode is quadratic)",
      sizes: mid, twin: aw, flat: awsetFlat, bottom: aw.bottom, // 1e6: ~10 s per run on each side plus rebuilds; over the time budget
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
      sizes: mid, twin: gm, flat: lwwmapFlat, bottom: () => new Map(),
      pair(n) {
        const a: gm.State = new Map(), b: gm.State = new Map();
        for (let i = 0; i < n; i++) a.set(el("k" + i), { ts: 1000 + i, r: "A", v: el(String(i)) });
        for (let i = n / 2; i < 1.5 * n; i++) b.set(el("k" + i), { ts: 1000 + i + (i % 2), r: "B", v: el("b" + i) });
        return [a, b];
      },
      delta: (j) => new Map([[el("d" + j), { ts: 1000 + j, r: "A", v: el(String(j)) }]]),
    },
    {
      name: "PNCounter", available: has("PNCounter"), twinFrom: "test/model/pncounter.ts + bench/twins/pncounter.ts",
      sizes: mid, twin: pn, flat: flat.pncounter, bottom: pn.bottom,
      pair(n) {
        const a = pn.bottom(), b = pn.bottom();
        for (let i = 0; i < n; i++) { a.p.set("r" + i, (i % 97) + 1); if (i % 3 === 0) a.n.set("r" + i, (i % 13) + 1); }
        for (let i = n / 2; i < 1.5 * n; i++) { b.p.set("r" + i, (i % 89) + 1); if (i % 3 === 0) b.n.set("r" + i, (i % 11) + 1); }
        return [a, b];
      },
      delta: (j) => (j % 4 === 3
        ? { p: new Map(), n: new Map([["r" + (j % 1000), Math.floor(j / 1000) + 1]]) }
        : { p: new Map([["r" + (j % 1000), Math.floor(j / 1000) + 1]]), n: new Map() }),
    },
    {
      name: "MaxInt", available: has("MaxInt"), twinFrom: "test/model/maxint.ts + bench/twins/single.ts",
      sizes: mid, twin: one.maxint, flat: maxintFlat, bottom: one.maxint.bottom, seqWhat: "each a larger value",
      seq: (n) => Array.from({ length: n }, (_, j) => ({ v: j + 1 })),
      delta: (j) => ({ v: j + 1 }),
    },
    {
      name: "EWFlag", available: has("EWFlag"), twinFrom: "bench/twins/dotted.ts (the kernel's join over arrays of dot objects and the Map-based context; the model keeps dots as JSON strings and its context encoding is quadratic)",
      sizes: mid, twin: dt.ewflag, flat: ewflagFlat, bottom: dt.ewflag.bottom, seqWhat: "each the next enable of one of two replicas",
      seq: (n) => Array.from({ length: n }, (_, j) => { const d = dotted(j); return { dots: [d], cc: ccOf(d.r, d.c) }; }),
      delta: (j) => ({ dots: [{ r: "A", c: j + 1 }], cc: ccOf("A", j + 1) }),
    },
    {
      name: "IVar", available: has("IVar"), twinFrom: "test/model/ivar.ts + bench/twins/single.ts",
      sizes: mid, twin: one.ivar, flat: ivarFlat, bottom: one.ivar.bottom, seqWhat: "each a byte-greater value",
      seq: (n) => Array.from({ length: n }, (_, j) => ({ v: el("v" + pad(j)) })),
      delta: (j) => ({ v: el("v" + pad(j)) }),
    },
    {
      name: "LWWRegister", available: has("LWWRegister"), twinFrom: "test/model/lwwregister.ts + bench/twins/single.ts",
      sizes: mid, twin: one.lwwregister, flat: lwwregisterFlat, bottom: one.lwwregister.bottom, seqWhat: "each a later write",
      seq: (n) => Array.from({ length: n }, (_, j) => ({ v: { ts: 1000 + j, r: j % 2 ? "C" : "B", v: el(String(j)) } })),
      delta: (j) => ({ v: { ts: 1000 + j, r: "A", v: el(String(j)) } }),
    },
    {
      name: "MVRegister", available: has("MVRegister"), twinFrom: "bench/twins/dotted.ts (the kernel's join over arrays of dot objects and the Map-based context; the model keeps dots as JSON strings and its context encoding is quadratic)",
      sizes: mid, twin: dt.mvregister, flat: mvregisterFlat, bottom: dt.mvregister.bottom, seqWhat: "each the next write of one of two replicas",
      seq: (n) => Array.from({ length: n }, (_, j) => { const d = dotted(j); return { entries: [{ d, v: el("v" + j) }], cc: ccOf(d.r, d.c) }; }),
      delta: (j) => ({ entries: [{ d: { r: "A", c: j + 1 }, v: el("v" + j) }], cc: ccOf("A", j + 1) }),
    },
    {
      name: "TwoPSet", available: has("TwoPSet"), twinFrom: "test/model/twopset.ts + bench/twins/twopset.ts",
      sizes: mid, twin: tp, flat: flat.twopset, bottom: tp.bottom,
      pair(n) {
        const a = tp.bottom(), b = tp.bottom();
        for (let i = 0; i < n; i++) (i % 4 === 0 ? a.r : a.a).add(el("e" + i));
        for (let i = n / 2; i < 1.5 * n; i++) (i % 3 === 0 ? b.r : b.a).add(el("e" + i));
        return [a, b];
      },
      delta: (j) => (j % 4 === 3 ? { a: new Set<string>(), r: new Set([el("d" + (j - 1))]) } : { a: new Set([el("d" + j)]), r: new Set<string>() }),
    },
    {
      name: "ORSet", available: has("ORSet"), twinFrom: "bench/twins/orset.ts (the kernel's per-element token merge over a Map of strings to token objects; the model keys tokens by JSON strings and mints by scanning the set)",
      sizes: mid, twin: ors, flat: orsetFlat, bottom: ors.bottom,
      pair(n) {
        const a = ors.bottom(), b = ors.bottom();
        for (let i = 0; i < n; i++) a.set(el("e" + i), [{ r: "A", c: i + 1, rm: i % 5 === 0 }]);
        for (let i = n / 2, c = 1; i < 1.5 * n; i++, c++) b.set(el("e" + i), [{ r: "B", c, rm: i % 7 === 0 }]);
        return [a, b];
      },
      delta: (j) => new Map([[el("d" + (j % 4 === 3 ? j - 1 : j)), [{ r: "A", c: j % 4 === 3 ? j : j + 1, rm: j % 4 === 3 }]]]),
    },
    {
      name: "AWMap<GCounter>", available: has("AWMap") && has("GCounter"), twinFrom: "bench/twins/awmap-gcounter.ts (the AWSet twin for presence, the GCounter twin for values; the model's presence is the quadratic AWSet model)",
      sizes: mid, twin: am, flat: awmapGCounterFlat, bottom: am.bottom,
      pair(n) {
        const a = am.bottom(), b = am.bottom();
        for (let i = 0; i < n; i++) { const k = el("k" + i); a.presence.entries.set(k, [{ r: "A", c: i + 1 }]); a.values.set(k, new Map([["A", (i % 97) + 1]])); }
        a.presence.cc.vv.set("A", n);
        for (let i = n / 2, c = 1; i < 1.5 * n; i++, c++) { const k = el("k" + i); b.presence.entries.set(k, [{ r: "B", c }]); b.values.set(k, new Map([["B", (i % 89) + 1]])); }
        b.presence.cc.vv.set("B", n);
        return [a, b];
      },
      delta(j) {
        const d = am.bottom(), k = el("d" + j);
        d.presence.entries.set(k, [{ r: "A", c: j + 1 }]);
        if (j === 0) d.presence.cc.vv.set("A", 1); else d.presence.cc.cloud.set("A", new Set([j + 1]));
        d.values.set(k, new Map([["A", 1]]));
        return d;
      },
    },
    {
      name: "Pair<GCounter, GSet>", available: has("Pair") && has("GCounter") && has("GSet"), twinFrom: "test/model/pair.ts over the GCounter and GSet twins + bench/twins/pair-gcounter-gset.ts",
      sizes: mid, twin: pr, flat: pairFlat, bottom: pr.bottom,
      pair(n) {
        const a = pr.bottom(), b = pr.bottom();
        for (let i = 0; i < n; i++) { a[0].set("r" + i, (i % 97) + 1); a[1].add(el("e" + i)); }
        for (let i = n / 2; i < 1.5 * n; i++) { b[0].set("r" + i, (i % 89) + 1); b[1].add(el("e" + i)); }
        return [a, b];
      },
      delta: (j) => (j % 2 ? [new Map([["r" + (j % 1000), Math.floor(j / 1000) + 1]]), new Set<string>()] : [new Map(), new Set([el("d" + j)])]),
    },
    {
      name: "TopK(100)", available: has("TopK"), twinFrom: "bench/twins/topk.ts (the kernel's algorithm, truncating on every join; the model keeps every id and truncates on encode)",
      sizes: quick ? [1e3] : [1e3, 1e4], seqHeavyFrom: 1e4, // 1e5 joins of 16 entries: ~7 s per run on each side
      twin: tk, flat: topkFlat(100), bottom: tk.bottom, seqWhat: "each 16 entries from a pool of 1000 ids, scores rising",
      seq: (n) => Array.from({ length: n }, (_, j) => {
        const m = new Map<string, number>();
        for (let t = 0; t < 16; t++) m.set(el("id" + ((j * 16 + t * 61) % 1000)), j + ((t * 37) % 100));
        return { m };
      }),
      delta: (j) => ({ m: new Map([[el("id" + (j % 1000)), j]]) }),
    },
  ];
}

// types: measure only these (by name), e.g. to re-measure the types a change touched.
export interface KernelOptions { quick: boolean; deltas: number; capMs: number; log: (s: string) => void; types?: string[] }

export async function kernelBenches(o: KernelOptions): Promise<Table> {
  const t = table("kernels", "Kernel vs same-algorithm TS twin and vs idiomatic JS (median ms; ratios = TS time / trellis time)",
    ["type", "case", "n", "trellis", "twin (same algorithm)", "idiomatic JS", "vs twin", "vs idiomatic", "target"]);
  // f: the same-algorithm twin's time (ported types) — then w is idiomatic JS.
  // Ported types, n ≥ 10k: ≥ 1.5× the twin and ≥ 3× idiomatic JS; every row: ≥ 1×.
  // Types not yet ported: w is their older twin, and the target stays "faster than it".
  // f === null: a ported type measured without its twin (only idiomatic JS).
  const row = (ty: string, cs: string, n: number | string, k: number, w: number, f?: number | null) => {
    const big = typeof n === "number" ? n >= 1e4 : true;
    if (f === null) {
      t.rows.push([ty, cs, typeof n === "number" ? count(n) : n, ms(k), "—", ms(w), "—", ratio(w / k), mark(big ? w / k >= 3 : w >= k)]);
      return;
    }
    if (f === undefined) {
      t.rows.push([ty, cs, typeof n === "number" ? count(n) : n, ms(k), ms(w), "—", ratio(w / k), "—", mark(k < w)]);
      return;
    }
    const ok = big ? f / k >= 1.5 && w / k >= 3 : f >= k && w >= k;
    t.rows.push([ty, cs, typeof n === "number" ? count(n) : n, ms(k), ms(f), ms(w), ratio(f / k), ratio(w / k), mark(ok)]);
  };
  const heavy: Budget = { iterations: 2, time: 0, warmup: 1 };
  const light: Budget = { iterations: o.quick ? 5 : 10, time: o.quick ? 0 : 200, warmup: 2 };
  const measured: string[] = [], missing: string[] = [];
  const bytesRow = (ty: TypeBench<any>, what: string, n: number, bytes: number, k: number, w: number, f?: number) =>
    row(ty.name, `${what} (${(bytes / 1e6).toFixed(2)} MB), MB/s ${mbps(bytes, k)}` + (f !== undefined ? ` vs ${mbps(bytes, f)}` : "") + ` vs ${mbps(bytes, w)}`, n, k, w, f);
  // The three sides of a measurement (the flat twin only for ported types).
  const sides = (ty: TypeBench<any>, k: Case, w: Case, f: Case | null): Case[] => (ty.flat && f ? [k, f, w] : [k, w]);
  // The twins write format v1's layout; the kernel writes v2: compared in
  // v1 layout (v1Layout expands v2's table, timestamp base and front-coded
  // keys; the header's version byte is the only other difference).
  const same = (k: Crdt<unknown>, twinBytes: Uint8Array) => Buffer.compare(Buffer.from(asV1(k.encode())), Buffer.from(twinBytes)) === 0;
  // join two replicas, in place on both sides
  async function joinTwo(ty: TypeBench<any>) {
    for (const n of ty.sizes) {
      const [sa, sb] = ty.pair!(n);
      const A = ty.twin.encode(sa), B = ty.twin.encode(sb);
      const A2 = v2(A), kb = kdecode(v2(B));
      let ka: Crdt<unknown> | null = null;
      const tb = ty.twin.decode(B);
      let ta: unknown = null;
      const fl = ty.flat;
      const fb = fl ? fl.decode(B) : null;
      let fa: unknown = null;
      const r = await measure(sides(ty,
        { name: "trellis", before: () => { ka?.dispose(); ka = kdecode(A2); }, fn: () => ka!.merge(kb) },
        { name: "twin", before: () => { ta = ty.twin.decode(A); }, fn: () => ty.twin.joinInto(ta, tb) },
        fl ? { name: "flat", before: () => { fa = fl.decode(A); }, fn: () => fl.joinInto(fa, fb) } : null,
      ), n >= 1e6 ? heavy : n >= 1e5 ? { ...heavy, iterations: 3 } : light);
      // every side must agree
      const agree = same(ka!, ty.twin.encode(ta)) && (!fl || same(ka!, fl.encode(fa)));
      row(ty.name, "join two replicas" + (agree ? "" : " (DIFFERENT RESULT)"), n, r.get("trellis")!, r.get("twin")!, r.get("flat"));
      ka!.dispose(); kb.dispose(); ta = null; fa = null;
      // The roofline: copying both encodings, measured beside the join (issue 10: GSet
      // and GCounter joins at 1e6 within 10× of it).
      if (n === 1e6 && (ty.name === "GSet" || ty.name === "GCounter")) {
        const dst = new Uint8Array(A.length + B.length);
        const c = await measure([{ name: "copy", fn: () => { dst.set(A, 0); dst.set(B, A.length); } }], light);
        const k = r.get("trellis")!, m = c.get("copy")!;
        t.rows.push([ty.name, `memcpy roofline: copying both encodings (${((A.length + B.length) / 1e6).toFixed(1)} MB; copy time in the twin column); join = ${(k / m).toFixed(1)}× the copy, target ≤ 10×`,
          count(n), ms(k), ms(m), "—", ratio(m / k), "—", mark(k <= 10 * m)]);
      }
      // encode / decode at 1e5 (quick: the one size)
      if (n === (o.quick ? ty.sizes[0] : 1e5)) {
        const k = kdecode(A2);
        const tw = ty.twin.decode(A);
        const fw = fl ? fl.decode(A) : null;
        const e = await measure(sides(ty,
          { name: "trellis", fn: () => k.encode() },
          { name: "twin", fn: () => ty.twin.encode(tw) },
          fl ? { name: "flat", fn: () => fl.encode(fw) } : null,
        ), light);
        const mb = (x: string) => mbps(A.length, e.get(x)!);
        row(ty.name, `encode (${(A.length / 1e6).toFixed(2)} MB), MB/s ${mb("trellis")}` + (fl ? ` vs ${mb("flat")} vs ${mb("twin")}` : ` vs ${mb("twin")}`), n, e.get("trellis")!, e.get("twin")!, e.get("flat"));
        k.dispose();
        let kd: Crdt<unknown> | null = null;
        const d = await measure(sides(ty,
          { name: "trellis", fn: () => { kd = kdecode(A2); }, after: () => kd?.dispose() },
          { name: "twin", fn: () => ty.twin.decode(A) },
          fl ? { name: "flat", fn: () => fl.decode(A) } : null,
        ), light);
        const mbd = (x: string) => mbps(A.length, d.get(x)!);
        row(ty.name, `decode (${(A.length / 1e6).toFixed(2)} MB), MB/s ${mbd("trellis")}` + (fl ? ` vs ${mbd("flat")} vs ${mbd("twin")}` : ` vs ${mbd("twin")}`), n, d.get("trellis")!, d.get("twin")!, d.get("flat"));
      }
    }
  }
  // n joins of small replica states into one (types whose state does not grow with n)
  async function joinMany(ty: TypeBench<any>) {
    const fl = ty.flat;
    for (const n of ty.sizes) {
      const A = ty.twin.encode(ty.bottom());
      const Bs = ty.seq!(n).map((x) => ty.twin.encode(x));
      const A2 = v2(A), Bs2 = Bs.map(v2);
      const kbs = Bs2.map(kdecode);
      const tbs = Bs.map((x) => ty.twin.decode(x));
      const fbs = fl ? Bs.map((x) => fl.decode(x)) : [];
      let ka: Crdt<unknown> | null = null;
      let ta: unknown = null, fa: unknown = null;
      const r = await measure(sides(ty,
        { name: "trellis", before: () => { ka?.dispose(); ka = kdecode(A2); }, fn: () => { for (const kb of kbs) ka!.merge(kb); } },
        { name: "twin", before: () => { ta = ty.twin.decode(A); }, fn: () => { for (const tb of tbs) ty.twin.joinInto(ta, tb); } },
        fl ? { name: "flat", before: () => { fa = fl.decode(A); }, fn: () => { for (const fb of fbs) fl.joinInto(fa, fb); } } : null,
      ), n >= (ty.seqHeavyFrom ?? 1e5) ? { ...heavy, iterations: 3 } : light);
      const agree = same(ka!, ty.twin.encode(ta)) && (!fl || same(ka!, fl.encode(fa)));
      row(ty.name, `join n replicas into one, n = joins (${ty.seqWhat})` + (agree ? "" : " (DIFFERENT RESULT)"), n, r.get("trellis")!, r.get("twin")!, r.get("flat"));
      ka!.dispose(); ta = null; fa = null;
      if (n === (o.quick ? ty.sizes[0] : Math.min(1e5, ty.sizes[ty.sizes.length - 1]))) {
        const bytes = Bs.reduce((x, b) => x + b.length, 0);
        const e = await measure(sides(ty,
          { name: "trellis", fn: () => { for (const k of kbs) k.encode(); } },
          { name: "twin", fn: () => { for (const t of tbs) ty.twin.encode(t); } },
          fl ? { name: "flat", fn: () => { for (const f of fbs) fl.encode(f); } } : null,
        ), { ...light, iterations: 5, time: 0 });
        bytesRow(ty, "encode n states", n, bytes, e.get("trellis")!, e.get("twin")!, e.get("flat"));
        let kds: Crdt<unknown>[] = [];
        const d = await measure(sides(ty,
          { name: "trellis", fn: () => { kds = Bs2.map(kdecode); }, after: () => { for (const k of kds) k.dispose(); kds = []; } },
          { name: "twin", fn: () => Bs.map((x) => ty.twin.decode(x)) },
          fl ? { name: "flat", fn: () => Bs.map((x) => fl.decode(x)) } : null,
        ), { ...light, iterations: 5, time: 0 });
        bytesRow(ty, "decode n states", n, bytes, d.get("trellis")!, d.get("twin")!, d.get("flat"));
      }
      for (const k of kbs) k.dispose();
    }
  }
  for (const ty of types(o.quick)) {
    if (o.types && !o.types.includes(ty.name)) continue;
    if (!ty.available) { missing.push(ty.name); continue; }
    measured.push(ty.name);
    o.log(`  ${ty.name}`);
    if (ty.seq) await joinMany(ty); else await joinTwo(ty);
    // apply single-op deltas (bytes in, joined into one growing state)
    const bottom = ty.twin.encode(ty.bottom());
    const all: Uint8Array[] = [];
    for (let j = 0; j < o.deltas; j++) all.push(ty.twin.encode(ty.delta(j)));
    // Each run keeps its final state, so the three results can be compared
    // after timing (the kernel's is disposed by the next run, or at the end).
    let lastK: Crdt<unknown> | null = null, lastT: unknown = null, lastF: unknown = null;
    const bottom2 = v2(bottom), all2 = all.map(v2);
    const runK = (k: number) => { lastK?.dispose(); lastK = null; const s = kdecode(bottom2); for (let j = 0; j < k; j++) s.merge(all2[j]); lastK = s; };
    const runT = (k: number) => { const s = ty.twin.decode(bottom); for (let j = 0; j < k; j++) ty.twin.joinInto(s, ty.twin.decode(all[j])); lastT = s; };
    const fl = ty.flat;
    const runF = fl?.merge
      ? (k: number) => { const s = fl.decode(bottom); for (let j = 0; j < k; j++) fl.merge!(s, all[j]); lastF = s; }
      : (k: number) => { const s = fl!.decode(bottom); for (let j = 0; j < k; j++) fl!.joinInto(s, fl!.decode(all[j])); lastF = s; };
    // Probe at two small counts; if either side would exceed the cap at the full
    // count (superlinear), measure at the largest count that fits and say so.
    let k = o.deltas;
    const p = Math.min(o.quick ? 1000 : 10000, o.deltas);
    if (p < o.deltas) {
      runK(p / 2); runT(p / 2); // warm up
      if (fl) runF(p / 2);
      const t1 = Math.max(once(() => runK(p / 2)), once(() => runT(p / 2)), fl ? once(() => runF(p / 2)) : 0, 0.01);
      const t2 = Math.max(once(() => runK(p)), once(() => runT(p)), fl ? once(() => runF(p)) : 0, 0.01);
      const expo = Math.min(2, Math.max(1, Math.log2(t2 / t1)));
      const predict = (c: number) => t2 * (c / p) ** expo;
      // GC pauses can make small probes look superlinear: only cut work whose
      // linear extrapolation is already a sizeable part of the cap.
      if (t2 * (k / p) > o.capMs / 10) while (k > p && predict(k) > o.capMs) k = Math.floor(k / 2);
      if (k < o.deltas) t.notes.push(`${ty.name}: applying deltas grows as n^${expo.toFixed(1)}; ${count(o.deltas)} deltas were predicted at ${(predict(o.deltas) / 1000).toFixed(0)} s, so ${k} were measured.`);
    }
    const r = await measure(sides(ty,
      { name: "trellis", fn: () => runK(k) },
      { name: "twin", fn: () => runT(k) },
      fl ? { name: "flat", fn: () => runF(k) } : null,
    ), { iterations: 2, time: 0, warmup: 1 });
    const agreeD = lastK !== null && same(lastK, ty.twin.encode(lastT)) && (!fl || same(lastK, fl.encode(lastF)));
    (lastK as Crdt<unknown> | null)?.dispose();
    lastK = null; lastT = null; lastF = null;
    row(ty.name, "apply single-op deltas (bytes → join)" + (agreeD ? "" : " (DIFFERENT RESULT)"), k === o.deltas ? k : `${k} of ${count(o.deltas)}`, r.get("trellis")!, r.get("twin")!, ty.flat ? (r.get("flat") ?? null) : undefined);
  }
  t.notes.unshift(`Types measured: ${measured.join(", ")}.` + (missing.length ? ` Not measured (class not exported yet): ${missing.join(", ")}.` : ""));
  const all = types(o.quick).filter((x) => x.available);
  t.notes.push(`With a same-algorithm twin (the kernel's algorithm in plain TypeScript over typed arrays: what Wasm itself buys) and the idiomatic JS column (Map/Set of strings): ${all.filter((x) => x.flat).map((x) => x.name).join(", ")}. ` +
    "GSet, TwoPSet, GCounter, PNCounter: bench/twins/flat.ts (sets are sorted runs of length-prefixed bytes in a Uint8Array with Uint32Array offsets, merged with streak copies; counters are replica ids in a byte arena with Uint32Array offsets and counts in a Float64Array, kept in replica order so large joins are one merge, with a hash index built only for point updates). " +
    "AWSet, ORSet, GMap<LWWRegister>, EWFlag, MVRegister, AWMap<GCounter>, Pair<GCounter, GSet>: bench/twins/flat-awset.ts, flat-orset.ts, flat-lwwmap.ts, flat-causalfun.ts, flat-awmap.ts (the AWSet twin for presence, a GMap of GCounter twins for values, one state per key as the kernel), flat-pair.ts (the GCounter and GSet twins of flat.ts), on bench/twins/layer.ts (byte tables interned by open addressing over a hash of the bytes, dots as (replica index, counter) in typed arrays with a per-state replica table, the version vector by replica index and the dot cloud in an open-addressing dot map, canonical order kept incrementally or sorted on encode). " +
    "MaxInt, IVar, LWWRegister: bench/twins/flat-single.ts (values kept as bytes in a block the state owns, compared byte by byte). TopK(100): bench/twins/flat-topk.ts (a sorted run of entries by id over typed arrays and an id arena, joined one by one or merged then ranked once). " +
    "Every twin's decode, encode, join and 'grew' answer is checked byte for byte against its kernel on seeded random histories by test/twins.test.ts, and the join and apply-deltas rows here compare the three results too. " +
    "Applying deltas, the GSet, TwoPSet, GCounter, PNCounter, AWSet, ORSet, GMap<LWWRegister>, MaxInt, IVar, LWWRegister and TopK twins stream each delta's bytes into the state as their kernels' merge(bytes) does; the EWFlag, MVRegister, AWMap and Pair twins decode the delta, then join, as their kernels do. The twins do not count the room a join takes before starting (the kernel does, so that running out of memory changes nothing). " +
    "Target for these, n ≥ 10k: ≥ 1.5× the twin and ≥ 3× idiomatic JS; smaller n: ≥ 1× both.");
  const idiomaticOnly = all.filter((x) => !x.flat).map((x) => x.name);
  t.notes.push("Inputs are the twins' encodings, written in format v1's layout (replica ids inline, whole timestamps and keys) with format v3's order-preserving values, and fed to the kernel compacted to v3 (a replica table, a timestamp base, front-coded keys: docs/format.md), converted outside the timed code. So the encode rows time the kernel's v3 writer (an extra compaction pass) against the twins' expanded-layout writers, and results are compared in that layout.");
  if (idiomaticOnly.length) t.notes.push(`Without a same-algorithm twin yet (idiomatic JS only): ${idiomaticOnly.join(", ")}. Their kernels are on the linear-memory data layer too (issue 10; a GMap of values other than LWWRegister still holds one state object per key, docs/abi.md), but their "twin" column is their older twin over Maps (about what idiomatic JS would write), so their target stays "faster than it".`);
  t.notes.push("Idiomatic JS / older twins: " + all.map((x) => `${x.name} — ${x.twinFrom}`).join("; ") + ".");
  t.notes.push("join: replica A ⊔ replica B in place (A rebuilt untimed before each run), n elements each, half shared. Both results are compared byte for byte.");
  t.notes.push("For MaxInt, EWFlag, IVar, LWWRegister, MVRegister and TopK(100) the state does not grow with n (one value; a register's few concurrent writes, whose join both sides scan quadratically; the k best): there n counts joins of n small replica states into one replica that starts at bottom, and encode/decode cover those n states; the joined results are compared byte for byte.");
  return t;
}
