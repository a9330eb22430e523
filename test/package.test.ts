// What users install is what is tested: pack the package, install the tarball
// into an empty project, and use it through its `exports` map from plain Node,
// as `trellis` and as `trellis/wasi`.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// The npm installed beside node. A bare "npm", or npm_execpath under nested
// npm scripts, can be node_modules/.bin/npm: an npm 6 that as-pect's
// dependencies bring in, too old for `pack --pack-destination`.
function npm(args: string[], cwd: string): string {
  const beside = join(dirname(process.execPath), process.platform === "win32" ? "npm.cmd" : "npm");
  if (existsSync(beside)) return execFileSync(beside, args, { cwd, encoding: "utf8" });
  return execFileSync(process.execPath, [process.env.npm_execpath!, ...args], { cwd, encoding: "utf8" });
}

describe("the packed package", () => {
  it("installs from its tarball and works as trellis and trellis/wasi", () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-pack-"));
    try {
      // --ignore-scripts: dist/ is already built (npm test builds first); running
      // prepare here would rebuild it under the other test files.
      const out = npm(["pack", "--ignore-scripts", "--json", "--pack-destination", dir], root);
      const [{ filename, files }] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
      const paths = files.map((f) => f.path);
      for (const need of ["dist/trellis.wasm", "dist/trellis-wasi.wasm", "dist/host/index.node.js", "dist/host/index.browser.js", "dist/host/index.d.ts", "dist/host/wasi.js", "docs/format.md"]) {
        expect(paths).toContain(need);
      }
      expect(paths.filter((p) => /^(test|assembly|bench|host)\//.test(p) || p.endsWith(".wat"))).toEqual([]);

      const app = join(dir, "app");
      execFileSync("mkdir", ["-p", app]);
      writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", type: "module", private: true }));
      npm(["install", "--offline", "--ignore-scripts", "--no-audit", "--no-fund", join(dir, filename)], app);
      writeFileSync(join(app, "main.mjs"), `
        import { init, AWSet, GCounter } from "trellis";
        import * as wasi from "trellis/wasi";
        await init();
        const a = new AWSet("a"); a.add("x"); a.add("y");
        const bytes = a.encode();
        await wasi.initWasi();
        const b = wasi.AWSet.decode(bytes, "b"); b.remove("x");
        const c = new wasi.GCounter("c"); c.increment(3);
        const before = a.values();           // a still lives in the Node kernel
        const grew = a.merge(b);             // across kernels: through bytes
        // The dataflow runtime and replication (core), and the subpath adapters.
        const { Runtime, replicate } = await import("trellis");
        const { SimNetwork } = await import("trellis/sim");
        const net = new SimNetwork({ seed: 1 });
        net.topology("line", ["p", "q"]);
        const [p, q] = ["p", "q"].map((id) => { const rt = new Runtime({ replica: id }); rt.declare("s", AWSet);
          replicate(rt, net.transport(id), { clock: net.transport(id).clock, interval: 10 }); return rt; });
        p.update("s", { add: "z" });
        net.run({ until: 500 });
        const adapters = [typeof (await import("trellis/storage")).Store, typeof (await import("trellis/storage/node")).openNodeStore,
          typeof (await import("trellis/ws")).WsServer, typeof (await import("trellis/ws/client")).WsClient];
        console.log(JSON.stringify({ node: before, wasi: b.values(), count: c.value, same: wasi.AWSet === AWSet,
          grew, merged: a.values(), leq: b.leq(a) && a.leq(b), replicated: q.query("s"), adapters }));
      `);
      const printed = execFileSync(process.execPath, ["main.mjs"], { cwd: app, encoding: "utf8" }).trim();
      // One package instance: trellis/wasi re-exports the same classes; each state
      // stays on the kernel it was made on, and states on two kernels merge.
      expect(JSON.parse(printed)).toEqual({ node: ["x", "y"], wasi: ["y"], count: 3, same: true, grew: true, merged: ["y"], leq: true,
        replicated: ["z"], adapters: ["function", "function", "function", "function"] });
      // The runtime dependencies are the adapters' (storage, WebSocket); each one declared is installed.
      const deps = Object.keys((JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies);
      const installed = readdirSync(join(app, "node_modules"));
      for (const d of deps) expect(installed).toContain(d.split("/")[0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
