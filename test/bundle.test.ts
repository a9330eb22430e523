// A bundled browser app, as a user builds one: the packed tarball installed
// into a project (test/util/pack.ts), bundled with esbuild, run in Chromium.
// Each variant is a line of docs/bundlers.md; the failures must say what was
// tried and what to do.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import type { Browser } from "playwright-core";
import { launchChromium } from "./util/chromium.js";
import { serve } from "./util/static-server.js";
import { installApp, pack } from "./util/pack.js";

let dir: string;
let app: string;
let browser: Browser;
let server: Awaited<ReturnType<typeof serve>>;

// The app: loads the kernel (how is the variant's), then uses the lattice API.
const use = `
  const a = new AWSet("tab-a"), b = new AWSet("tab-b");
  a.add("x"); b.add("y");
  a.merge(b.takeDelta());
  return { values: a.values() };`;
const report = `.then((r) => { window.result = r; }, (e) => { window.result = { error: e.name + ":" + (e.code ?? "") + ":" + e.message }; })`;

async function bundle(name: string, code: string, format: "esm" | "iife", loader: Record<string, "file"> = {}): Promise<void> {
  const out = join(app, "public", name);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(app, `${name}.js`), code);
  await build({
    absWorkingDir: app, entryPoints: [join(app, `${name}.js`)], bundle: true, format, platform: "browser", target: "es2022",
    outfile: join(out, "app.js"), loader, logLevel: "silent",
  });
  writeFileSync(join(out, "index.html"), `<!doctype html><script ${format === "esm" ? 'type="module" ' : ""}src="app.js"></script>`);
}

async function run(name: string): Promise<Record<string, unknown>> {
  const page = await browser.newPage();
  try {
    await page.goto(`${server.url}/${name}/index.html`);
    await page.waitForFunction("window.result !== undefined", undefined, { timeout: 30_000 });
    return await page.evaluate("window.result") as Record<string, unknown>;
  } finally {
    await page.close();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "trellis-bundle-"));
  app = join(dir, "app");
  installApp(pack(dir).tarball, app, ["browser-level", "events"]); // events: for browser-level (docs/storage.md)
  const wasm = join(app, "node_modules", "trellis", "dist", "trellis.wasm");
  const esm = (init: string, head = "") => `${head}\nimport { init, AWSet } from "trellis";\n(async () => { ${init};${use} })()${report};`;
  // esbuild, default init(): the kernel copied next to the bundle (one line in the build script).
  await bundle("esm-copied", esm("await init()"), "esm");
  copyFileSync(wasm, join(app, "public", "esm-copied", "trellis.wasm"));
  // esbuild with the file loader: the kernel imported as a URL.
  await bundle("esm-loader", esm("await init(wasmUrl)", 'import wasmUrl from "trellis/trellis.wasm";'), "esm", { ".wasm": "file" });
  // esbuild, default init(), kernel not copied: a 404 that names the URL.
  await bundle("esm-missing", esm("await init()"), "esm");
  // IIFE: no import.meta.url. From <script src>, the default is beside the script; inline, there is no
  // default and the error says what to pass, and the explicit URL works.
  const iife = `import { init, AWSet } from "trellis";
    (async () => {
      let first = "";
      try { await init(); } catch (e) { first = e.name + ":" + e.code + ":" + e.message; }
      if (first) await init("trellis.wasm");${use.replace("return {", "return { first,")} })()${report};`;
  await bundle("iife", iife, "iife");
  copyFileSync(wasm, join(app, "public", "iife", "trellis.wasm"));
  await bundle("iife-inline", iife, "iife");
  copyFileSync(wasm, join(app, "public", "iife-inline", "trellis.wasm"));
  const inlined = readFileSync(join(app, "public", "iife-inline", "app.js"), "utf8").replace(/<\/script/gi, "<\\/script");
  writeFileSync(join(app, "public", "iife-inline", "index.html"), `<!doctype html><script>${inlined}</script>`);
  // trellis/storage/browser: a tab's state in IndexedDB survives closing and reopening the store.
  await bundle("storage", `import { init, AWSet, Runtime } from "trellis";
    import { openBrowserStore, persist } from "trellis/storage/browser";
    const open = async () => {
      const store = await openBrowserStore("bundle-test");
      const rt = new Runtime({ replica: "tab." + crypto.randomUUID() });
      return { store, rt, p: await persist(rt, store) };
    };
    (async () => {
      await init();
      let { store, rt, p } = await open();
      rt.declare("cart", AWSet);
      rt.update("cart", { add: "tea" });
      await p.flushed(); p.stop(); await store.close();
      ({ store, rt, p } = await open());
      return { values: rt.query("cart") };
    })()${report};`, "esm");
  copyFileSync(wasm, join(app, "public", "storage", "trellis.wasm"));
  server = await serve(join(app, "public"));
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("an esbuild bundle in Chromium", () => {
  it("keeps a tab's variables in IndexedDB through trellis/storage/browser", async () => {
    expect(await run("storage")).toEqual({ values: ["tea"] });
  });

  it("loads the kernel by default from trellis.wasm beside the bundle", async () => {
    expect(await run("esm-copied")).toEqual({ values: ["x", "y"] });
  });

  it("loads the kernel from the URL the file loader gives for trellis/trellis.wasm", async () => {
    expect(await run("esm-loader")).toEqual({ values: ["x", "y"] });
  });

  it("names the URL it tried when the kernel is not there", async () => {
    const { error } = await run("esm-missing");
    expect(error).toMatch(/^TrellisError:NOT_FOUND:.*fetching the kernel from http:\/\/127\.0\.0\.1:\d+\/esm-missing\/trellis\.wasm failed: HTTP 404/);
  });

  it("as an IIFE from <script src>, loads the kernel beside the script", async () => {
    expect(await run("iife")).toEqual({ first: "", values: ["x", "y"] });
  });

  it("as an inline IIFE, says to pass the URL instead of failing with Invalid URL, and works when given it", async () => {
    const r = await run("iife-inline");
    expect(r.values).toEqual(["x", "y"]);
    expect(r.first).toMatch(/^TrellisError:NOT_FOUND:.*no import\.meta\.url.*init\("\/trellis\.wasm"\)/);
  });
});
