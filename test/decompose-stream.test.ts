// Streaming decomposition (assembly/parts.ts, docs/abi.md "Decomposition"):
// the kernel walks a state's bytes and never builds an array of parts, so
// replication has no cap on honest states: part counts, digests and digest
// answers work on states of a million parts (ten million with TRELLIS_BIG=1),
// and a 70,000-element set reaches a connected peer and a late joiner.
import { beforeAll, describe, expect, it } from "vitest";
import {
  AWSet, AWMap, GCounter, GMap, GSet, MVRegister, ORSet, Pair, PNCounter, Runtime, TopK, TwoPSet,
  TrellisError, decodeState, init, kernel,
} from "../dist/host/index.node.js";
import type { Crdt } from "../dist/host/index.node.js";
import { Replicator, hash64 } from "../dist/host/replication/index.js";
import type { ReplicatorOptions } from "../dist/host/replication/index.js";
import { countParts, joinMissing, partHashes, partsOf } from "../dist/host/replication/lattice.js";
import { SimNetwork } from "../dist/host/transport/sim.js";
import { Kernel } from "../dist/host/wasm/kernel.js";
import type { KernelExports } from "../dist/host/wasm/kernel.js";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

beforeAll(async () => { await init(); });

const MiB = 1 << 20;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const varint = (v: number) => { const o: number[] = []; while (v >= 0x80) { o.push((v & 0x7f) | 0x80); v = Math.floor(v / 128); } o.push(v); return o; };

// A few states of every shape the walker handles: flat, causal (store and
// context-only dots, version vector and cloud), nested, products.
function samples(): Crdt<unknown>[] {
  const aw = new AWSet("a").add("x").add(1).add("y");
  const aw2 = new AWSet("b").add("x").add("z");
  aw.merge(aw2); aw.remove("y");
  const cloud = new AWSet("c"); cloud.merge(aw); // (b, 1..2) vv; add a gap below
  const far = new AWSet("b"); far.merge(aw2); far.add("w"); far.remove("w"); far.add("v");
  const gapped = aw.clone(); gapped.merge(decodeState(far.delta(aw2).encode()) as AWSet);
  const mv = new MVRegister("a").set("p"); mv.merge(new MVRegister("b").set("q"));
  const or = new ORSet("a").add("p").add("q").remove("q");
  const gm = new GMap("a", AWSet).update("k", AWSet.ops.add(1)).update(2, AWSet.ops.add("w")).update("e", AWSet.ops.remove(9));
  const am = new AWMap("a", GCounter).update("ana", GCounter.ops.increment(3)).update("ben", GCounter.ops.increment(5)).remove("ben");
  const pr = new Pair("a", GCounter, AWSet).updateFirst(GCounter.ops.increment(3)).updateSecond(AWSet.ops.add("s"));
  const pn = new PNCounter("a"); pn.increment(2); pn.decrement(9);
  const tk = new TopK("a", 3).add("ana", 120).add("ben", 90);
  const tp = new TwoPSet("a").add("x").add("y").remove("x");
  const gs = new GSet("a").add(1).add("two");
  return [aw, cloud, gapped, mv, or, gm, am, pr, pn, tk, tp, gs, new AWSet("a"), new GMap("a", GCounter)];
}

describe("streaming decomposition calls agree with decompose()", () => {
  it("count, ranges, hashes and joinMissing, on every shape", () => {
    for (const s of samples()) {
      const bytes = s.encode();
      const parts = s.decompose().map((p) => { const b = p.encode(); p.dispose(); return b; });
      const name = `${JSON.stringify(s.spec)} ${hex(bytes)}`;
      expect(countParts(bytes), name).toBe(parts.length);
      expect(partsOf(bytes, kernel(), 2).map(hex), name).toEqual(parts.map(hex));
      // the kernel's hash64 is wire.ts's
      expect(partHashes(bytes).map(hex), name).toEqual(parts.map((p) => hex(hash64(p))));
      // joinMissing: the join of the parts not listed
      const have = parts.filter((_, i) => i % 2 === 0).map(hash64);
      const m = joinMissing(bytes, have);
      const lacking = parts.filter((_, i) => i % 2 === 1);
      expect(m.count, name).toBe(lacking.length);
      if (lacking.length === 0) expect(m.bytes).toBeNull();
      else {
        const j = decodeState(lacking[0]);
        for (const p of lacking.slice(1)) j.merge(p);
        expect(hex(m.bytes!), name).toBe(hex(j.encode()));
        j.dispose();
      }
      expect(joinMissing(bytes, parts.map(hash64)).count).toBe(0);
      s.dispose();
    }
  });

  it("ranges past the end are empty; a bad range is a typed error", () => {
    const s = new GSet("a").add(1).add(2).add(3);
    const h = (s as unknown as { h: number }).h;
    expect(kernel().decomposeRange(h, 3, 10)).toEqual(new Uint8Array([0]));
    expect(kernel().decomposeRange(h, 2 ** 40, 10)).toEqual(new Uint8Array([0]));
    expect(kernel().decomposeRange(h, 1, 0)).toEqual(new Uint8Array([0]));
    expect(() => kernel().decomposeRange(h, -1, 1)).toThrow(TrellisError);
    expect(() => kernel().joinMissing(h, new Uint8Array(7))).toThrow(TrellisError);
    s.dispose();
  });
});

// 'T' 'R' 1, AWSet; context: vv {"r": n}, empty cloud; elements e0..e(k-1)
// holding dots (r, 1..k): an honest state (n adds, of which all but the
// first k were removed again).
function bigAWSet(n: number, k: number): Uint8Array {
  const items: number[][] = [];
  for (let i = 0; i < k; i++) {
    const name = new TextEncoder().encode(`e${i}`);
    const value = [5, ...varint(name.length), ...name]; // a string user value
    items.push([...varint(value.length), ...value, 1, 1, 0x72, ...varint(i + 1)]); // one dot (r, i+1)
  }
  items.sort((x, y) => { for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i]; return x.length - y.length; });
  return Uint8Array.from([0x54, 0x52, 1, 10, 1, 1, 0x72, ...varint(n), 0, ...varint(k), ...items.flat()]);
}

describe("states of a million parts", () => {
  const sizes = process.env.TRELLIS_BIG === "1" ? [1_000_000, 10_000_000] : [1_000_000];
  for (const n of sizes) {
    it(`AWSet naming ${n} dots: count, hashes, a range at the end, and the digest answer`, () => {
      const bytes = bigAWSet(n, 3);
      expect(countParts(bytes)).toBe(n);
      const hashes = partHashes(bytes);
      expect(hashes.length).toBe(n);
      // the last parts by range: context dots (r, n-1) and (r, n)
      const last = partsOf(bytes, kernel(), 1 << 20).slice(-2);
      expect(last.length).toBe(2);
      // the digest answer for a peer missing the last three parts
      const m = joinMissing(bytes, hashes.slice(0, n - 3));
      expect(m.count).toBe(3);
      const got = decodeState(m.bytes!);
      // parts n-3 .. n-1 are context dots (r, n-2 .. n): their join covers them and holds no element
      expect(got.isBottom).toBe(false);
      expect((got as AWSet).value).toEqual([]);
      got.dispose();
      // delta against a replica that has seen 10 dots fewer
      const a = decodeState(bytes), b = decodeState(bigAWSet(n - 10, 3));
      const d = a.delta(b);
      expect(countParts(d.encode())).toBeLessThanOrEqual(n);
      b.merge(d);
      expect(b.equals(a)).toBe(true);
      for (const x of [a, b, d]) x.dispose();
      // the array API keeps its limit, with a typed error
      const s = decodeState(bytes);
      expect(() => s.decompose()).toThrow(expect.objectContaining({ code: "TOO_LARGE" }));
      s.dispose();
    }, 120_000);
  }

  for (const n of sizes) {
    it(`GSet of ${n} elements: count, digest answer, and delta against a peer missing 10`, () => {
      // elements "k00000000".. (same length, so byte order is numeric order),
      // written straight into one buffer: a JS array of 10^8 bytes would not fit
      const enc = new TextEncoder();
      const build = (skip: (i: number) => boolean) => {
        let count = 0;
        for (let i = 0; i < n; i++) if (!skip(i)) count++;
        const head = [0x54, 0x52, 1, 8, ...varint(count)];
        const out = new Uint8Array(head.length + count * 12);
        out.set(head);
        let p = head.length;
        for (let i = 0; i < n; i++) {
          if (skip(i)) continue;
          out[p++] = 11; out[p++] = 5; out[p++] = 9;
          enc.encodeInto(`k${String(i).padStart(8, "0")}`, out.subarray(p, p + 9));
          p += 9;
        }
        return out;
      };
      const full = build(() => false);
      const missing = (i: number) => i % (n / 10) === 7;
      const peer = build(missing);
      expect(countParts(full)).toBe(n);
      // the digest answer: the peer sends its part hashes, we join what it lacks
      const m = joinMissing(full, partHashes(peer));
      expect(m.count).toBe(10);
      const got = decodeState(m.bytes!) as GSet;
      expect(got.value.length).toBe(10);
      got.dispose();
      // delta(full, peer): exactly the 10 elements
      const a = decodeState(full), b = decodeState(peer);
      const d = a.delta(b);
      expect((d as GSet).value.length).toBe(10);
      b.merge(d);
      expect(b.equals(a)).toBe(true);
      for (const x of [a, b, d]) x.dispose();
    }, 300_000);
  }

  it("a context naming 2^40 dots is refused fast (TOO_LARGE), never walked", () => {
    const bytes = bigAWSet(2 ** 40, 0);
    expect(countParts(bytes)).toBe(2 ** 40); // counted arithmetically
    expect(() => partHashes(bytes)).toThrow(expect.objectContaining({ code: "TOO_LARGE" }));
    expect(() => joinMissing(bytes, [])).toThrow(expect.objectContaining({ code: "TOO_LARGE" }));
    // a range costs what it asks for
    const s = decodeState(bytes);
    const r = kernel().decomposeRange((s as unknown as { h: number }).h, 0, 3);
    expect(r[0]).toBe(3);
    s.dispose();
  });
});

describe("memory", () => {
  // On a kernel of its own, so no earlier test's memory hides growth.
  it("100,000 decompose calls on a small AWSet leave kernel memory bounded", async () => {
    const wasm = readFileSync(fileURLToPath(new URL("../dist/trellis.wasm", import.meta.url)));
    // The release kernel imports its memory (env.memory; docs/abi.md, "Memory").
    const memory = new WebAssembly.Memory({ initial: 16 });
    const k = new Kernel((await WebAssembly.instantiate(wasm, { env: { memory } })).instance.exports as unknown as KernelExports);
    const s = new AWSet("a").add("x").add(1).add([2, "y"]);
    s.remove(1);
    const bytes = s.encode();
    s.dispose();
    const h = k.call("decode", Uint8Array.from([0, ...bytes]));
    const parts = k.bytes("decompose", h);
    expect(parts[0]).toBe(3); // two store dots, and the removed add's dot
    const before = k.memoryBytes();
    for (let i = 0; i < 100_000; i++) k.bytes("decompose", h);
    for (let i = 0; i < 20_000; i++) { k.partCount(h); k.bytes("partHashes", h); k.decomposeRange(h, 1, 2); }
    const after = k.memoryBytes();
    console.log(`100k decompose calls: kernel memory ${(before / MiB).toFixed(2)} → ${(after / MiB).toFixed(2)} MiB`);
    expect(after).toBeLessThan(before + 4 * MiB);
  });
});

// ---- replication of a set beyond the old 65,536-part limit ---------------------

interface Cluster { net: SimNetwork; rts: Map<string, Runtime>; reps: Map<string, Replicator> }

function join(c: Cluster, id: string, o: ReplicatorOptions): Runtime {
  const tr = c.net.transport(id);
  const rt = new Runtime({ replica: id });
  c.rts.set(id, rt);
  c.reps.set(id, new Replicator(rt, tr, { interval: 50, clock: tr.clock, session: c.rts.size * 1000 + id.length, ...o }).start());
  return rt;
}

function settle(c: Cluster, done: () => boolean, max = 60_000): void {
  const start = c.net.now;
  while (c.net.now - start < max) {
    c.net.run({ until: c.net.now + 100 });
    if (done()) return;
  }
  throw new Error("did not converge");
}

describe("a 70,000-element GSet replicates", () => {
  it("to a peer connected throughout and to a late joiner (digest catch-up)", () => {
    const N = 70_000;
    const net = new SimNetwork({ seed: 3, latency: [1, 5] });
    const c: Cluster = { net, rts: new Map(), reps: new Map() };
    for (const id of ["a", "b"]) net.add(id);
    const errors: unknown[] = [];
    for (const id of ["a", "b"]) join(c, id, { onError: (e) => errors.push(e) });
    net.link("a", "b");
    const a = c.rts.get("a")!, b = c.rts.get("b")!;
    a.declare("set", GSet);
    for (let i = 0; i < N; i += 5000) a.update("set", Array.from({ length: 5000 }, (_, j) => ({ add: `item-${i + j}` })));
    expect(countParts(a.encode("set"))).toBe(N);
    const same = (rt: Runtime) => rt.has("set") && hex(rt.encode("set")) === hex(a.encode("set"));
    settle(c, () => same(b));
    expect((b.query("set") as unknown[]).length).toBe(N);
    // a late joiner linked to b only: auto-declared, caught up by digest
    net.add("late");
    const late = join(c, "late", { onError: (e) => errors.push(e) });
    net.link("late", "b");
    settle(c, () => same(late));
    expect((late.query("set") as unknown[]).length).toBe(N);
    // one more add still flows to both
    a.update("set", { add: "one-more" });
    settle(c, () => same(b) && same(late));
    expect(errors).toEqual([]);
    for (const r of c.reps.values()) r.close();
    for (const r of c.rts.values()) r.close();
  }, 300_000);
});
