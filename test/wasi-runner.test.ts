// scripts/wasi-run.mjs on inputs of a few MB: Node 20's node:wasi crashed on
// about half of such runs (SIGSEGV or a V8 fatal error while Wasm memory grew)
// until the runner ran itself with --no-turbo-fast-api-calls. Several runs
// must all exit 0 with the same bytes as the Node build. A directory given as
// a file is named as one. Needs dist/ built.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { init, AWSet } from "../dist/host/index.node.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const runner = join(root, "scripts", "wasi-run.mjs");
let dir: string;
let a: Uint8Array, b: Uint8Array, joined: Uint8Array;

// 8 hex digits that look random: a deterministic mix of i.
function mix(i: number): string {
  let h = Math.imul(i + 1, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d); h ^= h >>> 12;
  return (h >>> 0).toString(16).padStart(8, "0");
}

function run(args: string[], input?: Uint8Array) {
  const r = spawnSync(process.execPath, [runner, ...args], { cwd: dir, input, maxBuffer: 64 << 20, timeout: 60_000 });
  return { code: r.status, signal: r.signal, out: new Uint8Array(r.stdout), err: r.stderr.toString("utf8") };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "trellis-wasirun-"));
  await init();
  // Two AWSets of ~3.5 MB each, half their elements shared.
  const x = new AWSet("replica-a"), y = new AWSet("replica-b");
  // Elements that start like random ids: v2 front-codes sorted keys, so
  // "element-<i>-padding" would shrink to a few bytes each.
  const el = (i: number) => `${mix(i)}${mix(i + 0x5bd1e995)}-element-${i}-padding`;
  x.batch((t) => { for (let i = 0; i < 120_000; i++) t.add(el(i)); });
  y.batch((t) => { for (let i = 60_000; i < 180_000; i++) t.add(el(i)); });
  a = x.encode(); b = y.encode();
  x.merge(b);
  joined = x.encode();
  x.dispose(); y.dispose();
  writeFileSync(join(dir, "a.bin"), a);
  writeFileSync(join(dir, "b.bin"), b);
}, 60_000);
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

describe("wasi-run.mjs", () => {
  it("merges multi-MB states from stdin, run after run, without crashing", () => {
    expect(a.length).toBeGreaterThan(3_000_000);
    const input = new Uint8Array(a.length + b.length);
    input.set(a); input.set(b, a.length);
    for (let i = 0; i < 6; i++) {
      const r = run(["merge"], input);
      expect({ run: i, code: r.code, signal: r.signal, err: r.err }).toEqual({ run: i, code: 0, signal: null, err: "" });
      expect(Buffer.from(r.out).equals(Buffer.from(joined)), `run ${i}: bytes equal the Node build's join`).toBe(true);
    }
  }, 180_000);

  it("merges, diffs and inspects the same states from files", () => {
    const m = run(["merge", "a.bin", "b.bin"]);
    expect(m.code).toBe(0);
    expect(Buffer.from(m.out).equals(Buffer.from(joined))).toBe(true);
    writeFileSync(join(dir, "j.bin"), joined);
    const d = run(["delta", "j.bin", "a.bin"]);
    expect(d.code).toBe(0);
    expect(d.out.length).toBeGreaterThan(0);
    const ins = run(["inspect", "j.bin"]);
    expect(ins.code).toBe(0);
    expect(new TextDecoder().decode(ins.out)).toMatch(/AWSet/);
  }, 120_000);

  it("reports a directory given as a file as a directory", () => {
    mkdirSync(join(dir, "sub"), { recursive: true });
    const r = run(["inspect", "sub"]);
    expect(r.code).toBe(3);
    expect(r.err).toContain("sub: is a directory");
    expect(r.err).not.toContain("preopened");
    expect(r.out.length).toBe(0);
    const m = run(["merge", "a.bin", dir]);
    expect(m.code).toBe(3);
    expect(m.err).toContain("is a directory");
    expect(m.out.length).toBe(0);
  });

  it("passes the module's exit status through", () => {
    expect(run([]).code).toBe(2);
    expect(run(["merge", "no-such.bin"]).code).toBe(3);
  });
});
