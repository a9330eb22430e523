// The browser entry in a real browser (Debian's Chromium, driven by
// playwright-core): it loads the kernel from a URL and from bytes, with no
// Node built-ins anywhere in its import graph.
import { describe, expect, it, beforeAll, afterAll } from "vitest";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { importSpecifiers, launchChromium } from "./util/chromium.js";
import { serve } from "./util/static-server.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

describe("browser entry", () => {
  it("imports no Node built-ins and no bare packages", () => {
    const specs = importSpecifiers(join(root, "dist/host/index.browser.js"));
    expect(specs.length).toBeGreaterThan(3);
    expect(specs.filter((s) => !s.startsWith("."))).toEqual([]);
  });
});

describe("in Chromium", () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;

  beforeAll(async () => {
    server = await serve(root, { "/blank.html": "<!doctype html><title>trellis</title>" });
    browser = await launchChromium();
  });
  afterAll(async () => { await browser?.close(); await server?.close(); });

  it("loads the kernel from a URL and from bytes, and replicas converge", async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/blank.html`);
    // A string, not a function: the test runner would rewrite import() in a function.
    const result = await page.evaluate(`(async () => {
      const t = await import("/dist/host/index.browser.js");
      await t.init(); // default: trellis.wasm next to dist/
      const a = new t.AWSet("tab-a"), b = new t.AWSet("tab-b");
      a.add("x"); a.add("y"); b.add("y"); b.remove("y"); b.add("z");
      b.merge(a.takeDelta()); a.merge(b.encode());
      const viaUrl = { a: a.values(), same: a.equals(b) };
      // Now from bytes, as a page that fetched or embedded the module itself would.
      const bytes = new Uint8Array(await (await fetch("/dist/trellis.wasm")).arrayBuffer());
      await t.init(bytes);
      const c = new t.GCounter("tab-c");
      c.increment(41); c.increment();
      let error = "";
      try { c.merge(new Uint8Array([1, 2, 3])); } catch (e) { error = e.name + ":" + e.code; }
      return { ...viaUrl, counter: c.value, error };
    })()`);
    expect(result).toEqual({ a: ["x", "y", "z"], same: true, counter: 42, error: "TrellisError:BAD_MAGIC" });
    await page.close();
  });
});
