// The WASI builds: the reactor (dist/trellis-wasi.wasm) runs the same typed
// API as the Node build with byte-identical results; the command
// (dist/trellis-wasi-cmd.wasm) runs merge / delta / inspect under node:wasi in
// a child process, so exit codes and stdout bytes are the real ones.
import { describe, expect, it, beforeAll, afterAll } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import binaryen from "binaryen";
import {
  init, kernel, decodeState, AWSet, GCounter, PNCounter, MaxInt, EWFlag, IVar, LWWRegister, MVRegister,
  GSet, TwoPSet, ORSet, GMap, AWMap, Pair, TopK,
} from "../dist/host/index.node.js";
import { initWasi } from "../dist/host/wasi.js";
import type { TypeLike } from "../dist/host/crdt/spec.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = (f: string) => join(root, "dist", f);
const runner = join(root, "scripts", "wasi-run.mjs");

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), "trellis-wasi-")); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

function run(args: string[], input?: Uint8Array, cwd = dir) {
  const r = spawnSync(process.execPath, [runner, ...args], { cwd, input, maxBuffer: 64 << 20 });
  return { code: r.status, out: new Uint8Array(r.stdout), text: r.stdout.toString("utf8"), err: r.stderr.toString("utf8") };
}

// The same ops on whichever kernel is installed; returns every encoding made.
function scenario(): Uint8Array[] {
  const a = new AWSet("replicaA");
  a.add("x"); a.add(1); a.add([1, { k: true }]);
  const b = new AWSet("replicaB");
  b.add("y"); b.add("x");
  const c = a.clone();
  c.remove("x");
  b.merge(a.encode());
  b.merge(c);
  const g = new GCounter("replicaA");
  g.increment(5);
  const h = new GCounter("replicaB");
  h.increment(7);
  g.merge(h.encode());
  const d = b.delta(c);
  return [a.encode(), b.encode(), c.encode(), d.encode(), b.takeDelta(), g.encode(), new TextEncoder().encode(JSON.stringify([b.value, g.value]))];
}

describe("WASI reactor", () => {
  it("runs the typed API with byte-identical results to the Node build", async () => {
    await init();
    expect("_initialize" in kernel().exports).toBe(false);
    const node = scenario();
    await initWasi();
    expect("_initialize" in kernel().exports).toBe(true); // the WASI module is installed
    const wasi = scenario();
    expect(wasi.length).toBe(node.length);
    for (let i = 0; i < node.length; i++) expect(wasi[i], `encoding ${i}`).toEqual(node[i]);
    // bytes cross between builds
    const s = decodeState(node[1]) as AWSet;
    expect(s.encode()).toEqual(node[1]);
  });
});

// Hand-made modules, each using exactly one post-MVP feature: the positive
// controls that show the feature scan below can fail.
const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const VOID_TYPE = [0x01, 0x04, 0x01, 0x60, 0x00, 0x00]; // type () -> ()
const ONE_FUNC = [0x03, 0x02, 0x01, 0x00];
const ONE_MEMORY = [0x05, 0x03, 0x01, 0x00, 0x01];
function withBody(body: number[], extra: number[] = []): Uint8Array {
  const fn = [body.length, ...body];
  return new Uint8Array([...HEADER, ...VOID_TYPE, ...ONE_FUNC, ...extra, 0x0a, fn.length + 1, 0x01, ...fn]);
}
const CONTROLS: [string, Uint8Array][] = [
  ["SIMD (v128.const)", withBody([0x00, 0xfd, 0x0c, ...new Array(16).fill(0), 0x1a, 0x0b])],
  ["bulk memory (memory.copy)", withBody([0x00, 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0a, 0x00, 0x00, 0x0b], ONE_MEMORY)],
  ["bulk memory (data count section)", withBody([0x00, 0x0b], [...ONE_MEMORY, 0x0c, 0x01, 0x00])],
  ["bulk memory (passive data segment)", new Uint8Array([...withBody([0x00, 0x0b], ONE_MEMORY), 0x0b, 0x04, 0x01, 0x01, 0x01, 0x2a])],
  ["non-trapping float-to-int (i32.trunc_sat_f32_s)", withBody([0x00, 0x43, 0, 0, 0, 0, 0xfc, 0x00, 0x1a, 0x0b])],
  ["sign extension (i32.extend8_s)", withBody([0x00, 0x41, 0x00, 0xc0, 0x1a, 0x0b])],
  ["mutable global export", new Uint8Array([...HEADER, 0x06, 0x06, 0x01, 0x7f, 0x01, 0x41, 0x00, 0x0b, 0x07, 0x05, 0x01, 0x01, 0x67, 0x03, 0x00])],
];

function leb(b: Uint8Array, at: { p: number }): number {
  let v = 0, shift = 0, x: number;
  do { x = b[at.p++]; v += (x & 0x7f) * 2 ** shift; shift += 7; } while (x & 0x80);
  return v;
}

// What a module needs beyond the MVP (wasm 1.0), or [] if nothing.
// binaryen validates every instruction with only MVP features enabled
// (rejecting v128, memory.copy/fill, trunc_sat, extend8_s, mutable global
// imports and exports); a section walk adds the bulk-memory parts of the
// binary that are not instructions: a data count section (id 12) and
// passive data segments (flag 1).
function postMvp(bytes: Uint8Array): string[] {
  const found: string[] = [];
  const at = { p: 8 };
  while (at.p < bytes.length) {
    const id = bytes[at.p++];
    const size = leb(bytes, at);
    const end = at.p + size;
    if (id === 12) found.push("data count section");
    if (id > 12) found.push(`section ${id}`);
    if (id === 11) {
      const n = leb(bytes, at);
      for (let i = 0; i < n; i++) {
        const flags = leb(bytes, at);
        if (flags !== 0) { found.push(`data segment flags ${flags}`); break; }
        // offset := i32.const n end
        if (bytes[at.p++] !== 0x41) { found.push("data segment offset not an i32.const"); break; }
        leb(bytes, at);
        if (bytes[at.p++] !== 0x0b) { found.push("data segment offset not an i32.const"); break; }
        const len = leb(bytes, at);
        at.p += len;
      }
    }
    at.p = end;
  }
  const m = binaryen.readBinary(bytes);
  try {
    m.setFeatures(binaryen.Features.MVP);
    if (m.validate() !== 1) found.push("instructions or imports beyond the MVP");
  } finally {
    m.dispose();
  }
  return found;
}

describe("WASI modules for small runtimes", () => {
  for (const [name, bytes] of CONTROLS) {
    it(`the feature scan detects ${name} (positive control)`, () => {
      expect(WebAssembly.validate(bytes)).toBe(true);
      expect(postMvp(bytes)).not.toEqual([]);
    });
  }
  it("the feature scan accepts an MVP module (negative control)", () => {
    const mvp = withBody([0x00, 0x41, 0x00, 0x1a, 0x0b], ONE_MEMORY);
    expect(WebAssembly.validate(mvp)).toBe(true);
    expect(postMvp(mvp)).toEqual([]);
  });

  for (const name of ["trellis-wasi.wasm", "trellis-wasi-cmd.wasm"]) {
    it(`${name} imports only wasi_snapshot_preview1 and uses only MVP features`, () => {
      const bytes = readFileSync(dist(name));
      const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes));
      expect(imports.length).toBeGreaterThan(0);
      for (const i of imports) expect(`${i.module}.${i.name}:${i.kind}`).toMatch(/^wasi_snapshot_preview1\.[a-z_]+:function$/);
      // no SIMD, bulk memory, non-trapping float-to-int, sign extension or mutable-global exports
      expect(postMvp(bytes)).toEqual([]);
    });
  }

  it("the reactor exports _initialize and the kernel ABI, the command only _start", () => {
    const exp = (f: string) => WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(dist(f)))).map((e) => e.name).sort();
    const reactor = exp("trellis-wasi.wasm");
    expect(reactor).toContain("_initialize");
    expect(reactor).not.toContain("_start");
    for (const n of ["input", "output", "create", "decode", "joinBytes", "encode", "delta", "query", "memory"]) expect(reactor).toContain(n);
    expect(exp("trellis-wasi-cmd.wasm")).toEqual(["_start", "memory"]);
  });

  // The runtime's shadow stack (GC roots and spilled locals) is the 32 KiB
  // region below the initial value of its stack pointer, the only global
  // that starts at 32 KiB or more; each frame writes all of its slots on entry. Fill
  // the region with a pattern, run the deepest valid input through every
  // call, and find the lowest byte overwritten: the high-water mark.
  it("the deepest valid input fits the reactor's shadow stack (high-water mark, docs/abi.md)", async () => {
    const bytes = readFileSync(dist("trellis-wasi.wasm"));
    const m = binaryen.readBinary(bytes);
    const tops: number[] = [];
    try {
      for (let i = 0; i < m.getNumGlobals(); i++) {
        const g = binaryen.getGlobalInfo(m.getGlobalByIndex(i));
        const v = g.init ? binaryen.getExpressionInfo(g.init) as { value?: unknown } : {};
        // The stack pointer starts above its 32 KiB region; other mutable
        // globals with a start value (e.g. the input buffer's 4 KiB capacity) are smaller.
        if (g.mutable && typeof v.value === "number" && v.value >= 32768) tops.push(v.value);
      }
    } finally { m.dispose(); }
    expect(tops.length).toBe(1);
    const top = tops[0], size = 32768;
    // 15 AWMaps around an MVRegister: 16 specs, the deepest (MAX_DEPTH); keys
    // and the value are arrays nested 64 deep, the deepest user value.
    let deep: unknown = "leaf";
    for (let i = 0; i < 63; i++) deep = [deep];
    let spec: TypeLike = MVRegister;
    for (let i = 0; i < 15; i++) spec = AWMap.of(spec);
    const opAt = (v: unknown) => { // the op below the outermost map's update
      let op = MVRegister.ops.set(v as never);
      for (let i = 0; i < 14; i++) op = AWMap.ops.update(deep as never, op);
      return op;
    };
    await initWasi();
    const mem = () => new Uint8Array(kernel().exports.memory.buffer);
    mem().fill(0xa5, top - size, top);
    const a = new AWMap("a", (spec as { value: TypeLike }).value).update(deep as never, opAt(deep));
    const b = new AWMap("b", (spec as { value: TypeLike }).value).update(deep as never, opAt([deep]));
    const ab = decodeState(a.encode(), "c") as AWMap;
    ab.merge(b.encode());
    ab.update(deep as never, opAt(1));
    const d = ab.delta(a);
    const parts = ab.decompose();
    void ab.value; void d.encode();
    for (const x of [a, b, ab, d, ...parts]) x.dispose();
    const view = mem();
    let low = top - size;
    while (low < top && view[low] === 0xa5) low++;
    const used = top - low;
    console.log(`WASI reactor: deepest valid input uses ${used} bytes of the ${size}-byte shadow stack`);
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThan(size);
  });
});

describe("WASI command", () => {
  let a: Uint8Array, b: Uint8Array, g1: Uint8Array, g2: Uint8Array;
  let ab: Uint8Array, gDelta: Uint8Array, abDelta: Uint8Array;
  beforeAll(async () => {
    await init();
    const x = new AWSet("A"); x.add("x"); x.add(2.5); x.add(new Uint8Array([1, 2]));
    const y = new AWSet("B"); y.add("y"); y.add(-3);
    a = x.encode(); b = y.encode();
    const m = x.clone(); m.merge(y); ab = m.encode();
    abDelta = m.delta(x).encode();
    const p = new GCounter("A"); p.increment(3);
    const q = new GCounter("B"); q.increment(4);
    g2 = q.encode();
    q.merge(p); q.increment(1);
    g1 = q.encode();
    gDelta = q.delta(decodeState(g2) as GCounter).encode();
  });

  it("merge joins files and writes the canonical encoding", () => {
    const r = run(["merge", file("a.bin", a), file("b.bin", b)]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toEqual(ab);
  });

  it("merge reads relative paths against the working directory", () => {
    file("rel-a.bin", a); file("rel-b.bin", b);
    const r = run(["merge", "rel-b.bin", "./rel-a.bin"]);
    expect(r.code).toBe(0);
    expect(r.out).toEqual(ab);
  });

  it("merge reads stdin (several states back to back) when no file is named", () => {
    const r = run(["merge"], new Uint8Array([...a, ...b, ...a]));
    expect(r.code).toBe(0);
    expect(r.out).toEqual(ab);
  });

  it("merge writes a large output through a pipe in full", async () => {
    await init();
    // Built from many small replicas: one replica applying thousands of adds is
    // slow in the kernel today (each op's delta join walks the whole state).
    const s = new AWSet("A");
    for (let r = 0; r < 30; r++) {
      const part = new AWSet(`r${r}`);
      part.batch((t) => { for (let i = 0; i < 100; i++) t.add(`element-${r}-${i}-${"p".repeat(40)}`); });
      s.merge(part);
      part.dispose();
    }
    const big = s.encode();
    expect(big.length).toBeGreaterThan(128 << 10); // more than a pipe buffer holds
    const r = run(["merge", "-"], big);
    expect(r.code).toBe(0);
    expect(r.out).toEqual(big);
  });

  it("delta A B writes the part of A that inflates B (the kernel's delta)", async () => {
    const r = run(["delta", file("g1.bin", g1), file("g2.bin", g2)]);
    expect(r.code).toBe(0);
    expect(r.out).toEqual(gDelta);
    // delta(a, b) ⊔ b = a ⊔ b
    await init();
    const back = decodeState(g2) as GCounter;
    back.merge(r.out);
    expect(back.encode()).toEqual(g1);
    const s = run(["delta", file("ab.bin", ab), file("a.bin", a)]);
    expect(s.code).toBe(0);
    expect(s.out).toEqual(abDelta);
  });

  it("inspect prints type, sizes and the value in readable form", () => {
    const r = run(["inspect", file("ab.bin", ab), file("g1.bin", g1)]);
    expect(r.code).toBe(0);
    expect(r.text).toContain("type: AWSet");
    expect(r.text).toContain(`bytes: ${ab.length}`);
    expect(r.text).toContain("size: 5");
    expect(r.text).toContain('value: [-3, 2.5, "x", "y", b"0102"]');
    expect(r.text).toContain("type: GCounter");
    expect(r.text).toContain("value: 8");
    const s = run(["inspect"], g2);
    expect(s.code).toBe(0);
    expect(s.text).toContain("input: <stdin>");
    expect(s.text).toContain("value: 4");
  });

  it("inspect renders the value of every type, nested ones included", async () => {
    await init();
    const states: [string, { encode(): Uint8Array }, string][] = [];
    const add = (name: string, s: { encode(): Uint8Array }, value: string) => states.push([name, s, value]);

    const g = new GCounter("a"); g.increment(7);
    add("GCounter", g, "7");
    const pn = new PNCounter("a"); pn.increment(2); pn.decrement(9);
    add("PNCounter", pn, "-7");
    const mi = new MaxInt("a"); mi.set(42);
    add("MaxInt", mi, "42");
    add("EWFlag", new EWFlag("a").enable(), "true");
    add("EWFlag", new EWFlag("a").enable().disable(), "false");
    add("IVar", new IVar("a"), "unset");
    add("IVar", new IVar("a").set({ b: [1, null], a: "x" }), '{"a": "x", "b": [1, null]}');
    add("LWWRegister", new LWWRegister("rep\"1").set("hi\n", 1700), '"hi\\n" @1700 by "rep\\"1"');
    add("LWWRegister", new LWWRegister("a"), "unset");
    const mv = new MVRegister("a").set("a");
    mv.merge(new MVRegister("b").set("b"));
    add("MVRegister", mv, '["a", "b"]');
    // every kind of user value, in byte order of their encodings: their natural order
    const gs = new GSet("a");
    for (const v of [-3, 2.5, 1e300, 2 ** 53, NaN, -Infinity, "é\u0001\t", new Uint8Array([1, 255]), true, false, null, [], {}]) gs.add(v);
    add("GSet", gs, '[null, false, true, -Infinity, -3, 2.5, 9007199254740992, 1e+300, NaN, "é\\u0001\\t", b"01ff", [], {}]');
    add("TwoPSet", new TwoPSet("a").add("x").add("y").remove("x"), '["y"]');
    add("AWSet", new AWSet("a").add(1).add("z"), '[1, "z"]');
    add("ORSet", new ORSet("a").add("p").add("q").remove("q"), '["p"]');
    const gm = new GMap("a", AWSet).update("k", AWSet.ops.add(1)).update(2, AWSet.ops.add("w"));
    add("GMap<AWSet>", gm, '{2: ["w"], "k": [1]}');
    const am = new AWMap("a", GCounter);
    am.update("ana", GCounter.ops.increment(3)).update("ben", GCounter.ops.increment(5)).update("cy", GCounter.ops.increment(1)).remove("cy");
    add("AWMap<GCounter>", am, '{"ana": 3, "ben": 5}');
    const deep = new AWMap("a", GMap.of(Pair.of(PNCounter, LWWRegister)));
    deep.update("x", GMap.ops.update("y", Pair.ops.first(PNCounter.ops.decrement(4))));
    deep.update("x", GMap.ops.update("z", Pair.ops.second(LWWRegister.ops.set([true], 5))));
    add("AWMap<GMap<Pair<PNCounter, LWWRegister>>>", deep, '{"x": {"y": (-4, unset), "z": (0, [true] @5 by "a")}}');
    const pr = new Pair("a", GCounter, AWSet).updateFirst(GCounter.ops.increment(3)).updateSecond(AWSet.ops.add("s"));
    add("Pair<GCounter, AWSet>", pr, '(3, ["s"])');
    const tk = new TopK("a", 3).add("ana", 120).add("ben", 90).add("dee", 5).add("eve", 1);
    add("TopK(3)", tk, '[("ana", 120), ("ben", 90), ("dee", 5)]');
    // bounded output: 100 items per collection, 200 bytes per string
    const big = new GSet("a");
    big.batch((t) => { for (let i = 0; i < 130; i++) t.add(i); });
    const shown = big.value.slice(0, 100).join(", ");
    add("GSet", big, `[${shown}, … (30 more)]`);
    add("IVar", new IVar("a").set("é".repeat(150)), `"${"é".repeat(100)}"… (100 more bytes)`);

    const names = states.map(([, s], i) => file(`all-${i}.bin`, s.encode()));
    const r = run(["inspect", ...names]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const blocks = r.text.split("\n\n");
    expect(blocks.length).toBe(states.length);
    states.forEach(([type, , value], i) => {
      const lines = blocks[i].trim().split("\n");
      expect(lines, `state ${i}`).toContain(`type: ${type}`);
      expect(lines, `state ${i}`).toContain(`value: ${value}`);
      expect(lines.some((l) => l.startsWith("query (hex)"))).toBe(false);
    });
  });

  describe("bad input: a message on stderr and a non-zero exit, never a trap", () => {
    const noTrap = (err: string) => {
      expect(err).toMatch(/^trellis: /m);
      expect(err).not.toMatch(/RuntimeError|unreachable|abort:/);
    };
    it("truncated state", () => {
      const r = run(["inspect", file("t.bin", ab.slice(0, ab.length - 3))]);
      expect(r.code).toBe(1);
      // a count that the remaining bytes cannot hold is caught before truncation
      expect(r.err).toMatch(/state 1 at byte 0: (TRUNCATED|TOO_LARGE)/);
      noTrap(r.err);
    });
    it("not a trellis encoding, on stdin", () => {
      const r = run(["merge"], new TextEncoder().encode("hello world"));
      expect(r.code).toBe(1);
      expect(r.err).toContain("BAD_MAGIC");
      expect(r.out.length).toBe(0);
      noTrap(r.err);
    });
    it("random bytes after a valid header", () => {
      for (let seed = 1; seed <= 6; seed++) {
        const junk = new Uint8Array(64).map((_, i) => (seed * 7919 + i * 104729) % 251);
        const r = run(["merge", "-"], new Uint8Array([0x54, 0x52, 1, 10, ...junk]));
        expect(r.code, `seed ${seed}`).toBe(1);
        noTrap(r.err);
      }
    });
    it("empty stdin", () => {
      const r = run(["merge"], new Uint8Array());
      expect(r.code).toBe(1);
      expect(r.err).toContain("empty input");
    });
    it("states of different types", () => {
      const r = run(["merge", file("a.bin", a), file("g2.bin", g2)]);
      expect(r.code).toBe(1);
      expect(r.err).toContain("TYPE_MISMATCH");
      expect(r.out.length).toBe(0);
    });
    it("missing file", () => {
      const r = run(["merge", join(dir, "no-such.bin")]);
      expect(r.code).toBe(3);
      expect(r.err).toContain("no such file");
    });
    it("bad command lines", () => {
      expect(run([]).code).toBe(2);
      const r = run(["frobnicate"]);
      expect(r.code).toBe(2);
      expect(r.err).toContain("unknown command");
      expect(run(["delta", file("a.bin", a)]).code).toBe(2);
    });
  });
});
