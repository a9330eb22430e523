// The WebSocket client in a real browser (Debian's Chromium, driven by
// playwright-core) with its native WebSocket, against the Node server:
// hello, messages both ways, and a reconnect after a server-side drop. Also:
// the client's import graph has no Node built-ins and no bare packages.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { importSpecifiers, launchChromium } from "./util/chromium.js";
import { serve } from "./util/static-server.js";
import { WsServer } from "../dist/host/transport/ws-server.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

describe("ws client import graph", () => {
  it("imports no Node built-ins and no bare packages", () => {
    const specs = importSpecifiers(join(root, "dist/host/transport/ws-client.js"));
    expect(specs.length).toBeGreaterThan(0);
    expect(specs.filter((s) => !s.startsWith("."))).toEqual([]);
  });
});

describe("ws client in Chromium", () => {
  let browser: Browser;
  let files: Awaited<ReturnType<typeof serve>>;

  beforeAll(async () => {
    files = await serve(root, { "/blank.html": "<!doctype html><title>trellis ws</title>" });
    browser = await launchChromium();
  });
  afterAll(async () => { await browser?.close(); await files?.close(); });

  it("connects with the native WebSocket, exchanges messages and reconnects after a drop", async () => {
    const s = await WsServer.listen({ id: "hub", open: true, port: 0, host: "127.0.0.1", path: "/sync" });
    try {
      const got: [string, number[]][] = [];
      const nbs: [string, boolean][] = [];
      s.onMessage((from, m) => { got.push([from, [...m]]); s.send(from, m.map((x) => x + 1)); });
      s.onNeighbour((p, up) => nbs.push([p, up]));
      const page = await browser.newPage();
      await page.goto(`${files.url}/blank.html`);
      // A string, not a function: the test runner would rewrite import() in a function.
      await page.evaluate(`(async () => {
        const { WsClient } = await import("/dist/host/transport/ws-client.js");
        const log = window.log = { msgs: [], nbs: [] };
        const c = window.client = new WsClient({ url: "ws://127.0.0.1:${s.port}/sync", id: "tab", reconnect: { initial: 20, max: 200 } });
        c.onMessage((from, m) => log.msgs.push([from, [...m]]));
        c.onNeighbour((p, up) => { log.nbs.push([p, up]); if (up) c.send(p, new Uint8Array([log.nbs.length, 10])); });
      })()`);
      await page.waitForFunction(`window.log.msgs.length === 1`);
      expect(got).toEqual([["tab", [1, 10]]]);
      expect(await page.evaluate(`window.log`)).toEqual({ msgs: [["hub", [2, 11]]], nbs: [["hub", true]] });

      s.disconnect("tab");
      await page.waitForFunction(`window.log.msgs.length === 2`);
      expect(await page.evaluate(`window.log`)).toEqual({
        msgs: [["hub", [2, 11]], ["hub", [4, 11]]],
        nbs: [["hub", true], ["hub", false], ["hub", true]],
      });
      expect(nbs).toEqual([["tab", true], ["tab", false], ["tab", true]]);
      await page.evaluate(`window.client.close()`);
      await page.close();
    } finally {
      await s.close();
    }
  });
});
