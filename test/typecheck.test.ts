// TypeScript users get the types they import: the packed tarball, installed
// into a user project (test/util/pack.ts), type-checks a small program under
// strict NodeNext settings with the published .d.ts files checked too
// (skipLibCheck off) and without @types/ws. The kernel's loader types name
// WebAssembly and BufferSource, which TypeScript declares in its DOM lib (not
// @types/node 20), so a Node project type-checks the .d.ts files with "DOM" in
// `lib`, or with skipLibCheck as @tsconfig/node20 sets it: both are checked.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installApp, pack, root } from "./util/pack.js";

let dir: string;
let app: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "trellis-types-"));
  app = join(dir, "app");
  // What a Node user adds: the adapters they use (ws, classic-level), memory-level for an in-memory store, and @types/node.
  installApp(pack(dir).tarball, app, ["@types/node", "ws", "classic-level", "memory-level", "abstract-level"]);
  const options = { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", types: ["node"], strict: true, noEmit: true };
  writeFileSync(join(app, "tsconfig.json"), JSON.stringify({
    compilerOptions: { ...options, lib: ["ES2022", "DOM"], skipLibCheck: false }, include: ["*.ts"],
  }));
  writeFileSync(join(app, "tsconfig.node20.json"), JSON.stringify({
    compilerOptions: { ...options, lib: ["ES2023"], skipLibCheck: true }, include: ["*.ts"],
  }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tsc(file: string, code: string, configs = ["tsconfig.json"]): { status: number | null; out: string }[] {
  writeFileSync(join(app, file), code);
  try {
    return configs.map((c) => {
      const r = spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(app, c)], { cwd: app, encoding: "utf8" });
      return { status: r.status, out: r.stdout + r.stderr };
    });
  } finally {
    rmSync(join(app, file));
  }
}

describe("the published types", () => {
  it("type-check a user program using init, the lattice types, Runtime, storage, ws and sim", () => {
    const results = tsc("main.ts", `
      import { init, AWSet, GCounter, Runtime, replicate, TrellisError, type ErrorCode } from "trellis";
      import { init as initLattice, MVRegister } from "trellis/lattice";
      import { Store, persist, onceRecord } from "trellis/storage";
      import { openNodeStore } from "trellis/storage/node";
      import { WsServer, WsClient, NodeWebSocket } from "trellis/ws";
      import { SimNetwork } from "trellis/sim";
      import { initWasi } from "trellis/wasi";
      import { MemoryLevel } from "memory-level";

      await init();
      await initLattice();
      const s: AWSet = new AWSet("a");
      s.add("x");
      const values: unknown[] = s.values();
      const c = new GCounter("a");
      c.increment(2);
      const n: number = c.value;
      const r = new MVRegister("a");

      const rt = new Runtime({ replica: "a" });
      rt.declare("s", AWSet);
      rt.update("s", { add: "y" });
      const reached: Promise<unknown> = rt.read("s", { contains: ["y"] });

      const net = new SimNetwork({ seed: 1 });
      net.topology("line", ["a", "b"]);
      replicate(rt, net.transport("a"), { clock: net.transport("a").clock, interval: 10 });

      const db = new MemoryLevel<Uint8Array, Uint8Array>({ keyEncoding: "view", valueEncoding: "view" });
      const store: Store = await Store.open(db);
      const p = await persist(rt, store);
      await p.flushed();
      const onDisk: (dir: string) => Promise<Store> = openNodeStore;

      const server: WsServer = await WsServer.listen({ id: "srv", port: 0 });
      const client = new WsClient({ url: "ws://127.0.0.1:" + server.port, id: "c", WebSocket: NodeWebSocket });
      try { s.merge(new Uint8Array([1])); } catch (e) { if (e instanceof TrellisError) { const code: ErrorCode = e.code; } }
      void [values, n, r, reached, onceRecord, onDisk, client, initWasi];
    `, ["tsconfig.json", "tsconfig.node20.json"]);
    expect(results).toEqual([{ status: 0, out: "" }, { status: 0, out: "" }]);
  });

  it("report a misuse, so the check above has teeth", () => {
    const [{ status, out }] = tsc("bad.ts", `
      import { init, GCounter } from "trellis";
      await init();
      const c = new GCounter("a");
      const s: string = c.value;
      void s;
    `);
    expect(status).not.toBe(0);
    expect(out).toMatch(/bad\.ts.*error TS2322/);
  });
});
