// Helpers for the outsider and budget suites: a real TrellisNode on a free
// loopback port (in this process, so its accounting can be read), an honest
// replica that keeps converging with it, raw HTTP requests with full control
// of the headers, and raw WebSocket peers that speak the sync protocol.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request, type IncomingHttpHeaders } from "node:http";
import { WebSocket as RawWs } from "ws";
import { Runtime } from "../../dist/host/index.node.js";
import { Replicator } from "../../dist/host/replication/index.js";
import { TrellisNode, type TrellisNodeOptions } from "../../dist/host/cli/node.js";
import { createLogger } from "../../dist/host/cli/log.js";
import { NodeWebSocket, WsClient, encodeFrame, encodeHello, decodeFrame } from "../../dist/host/transport/ws-server.js";
import type { WebSocketConstructor } from "../../dist/host/transport/ws-server.js";
import { encodeMessage, decodeMessage, type Message } from "../../dist/host/replication/wire.js";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Test-only polling for a condition.
export async function until(cond: () => boolean | Promise<boolean>, ms = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export type Log = Record<string, any>;

export interface Started {
  node: TrellisNode;
  logs: Log[];
  data: string;
  url: string;
  ws: string;
  close: () => Promise<void>;
}

export async function startNode(o: Partial<TrellisNodeOptions> = {}, data = mkdtempSync(join(tmpdir(), "trellis-outsider-"))): Promise<Started> {
  const logs: Log[] = [];
  const log = createLogger("debug", (l) => logs.push(JSON.parse(l)));
  const node = await TrellisNode.start({ data, port: 0, interval: 100, log, ...o });
  const url = `http://127.0.0.1:${node.port}`;
  return {
    node, logs, data, url, ws: `ws://127.0.0.1:${node.port}/sync`,
    close: async () => { await node.close(); rmSync(data, { recursive: true, force: true }); },
  };
}

// A replica that plays fair: its own Runtime, a WsClient to the node, a Replicator.
export function honest(s: Started, id: string): { rt: Runtime; client: WsClient; rep: Replicator; close: () => Promise<void> } {
  const rt = new Runtime({ replica: `${id}.1` });
  const client = new WsClient({ url: s.ws, id, WebSocket: NodeWebSocket as unknown as WebSocketConstructor, reconnect: { initial: 50, max: 500 } });
  const rep = new Replicator(rt, client, { interval: 100 }).start();
  client.onNeighbour(() => rep.sync());
  return { rt, client, rep, close: async () => { rep.close(); await client.close(); rt.close(); } };
}

export interface Reply { status: number; headers: IncomingHttpHeaders; body: Buffer; json: any }

// One HTTP request with exactly these headers (fetch would add or forbid some).
export function http(url: string, method: string, path: string, o: { headers?: Record<string, string>; body?: string | Uint8Array } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, url);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: o.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        let json: any;
        try { json = JSON.parse(body.toString("utf8")); } catch { json = undefined; }
        resolve({ status: res.statusCode!, headers: res.headers, body, json });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}

export const bearer = (token: string | null) => ({ authorization: `Bearer ${token}` });

// A raw WebSocket peer speaking the frame and replication formats by hand.
export class RawPeer {
  readonly ws: RawWs;
  readonly messages: Message[] = [];
  closed: { code: number; reason: string } | null = null;
  refused: number | null = null; // HTTP status of a refused upgrade
  opened: Promise<boolean>;
  constructor(url: string, readonly id: string, o: { origin?: string; hello?: boolean } = {}) {
    this.ws = new RawWs(url, { origin: o.origin, perMessageDeflate: false });
    this.ws.on("message", (d: Buffer) => {
      const f = decodeFrame(new Uint8Array(d), 1 << 30);
      if (f.type === "data") { try { this.messages.push(decodeMessage(f.body)); } catch { /* not ours to judge */ } }
    });
    this.ws.on("close", (code, reason) => { this.closed = { code, reason: reason.toString() }; });
    this.opened = new Promise((resolve) => {
      this.ws.once("open", () => { if (o.hello !== false) this.ws.send(encodeHello(id)); resolve(true); });
      this.ws.once("unexpected-response", (_req, res) => { this.refused = res.statusCode ?? 0; resolve(false); });
      this.ws.once("error", () => resolve(false));
    });
  }
  send(m: Message): void { this.ws.send(encodeFrame("data", encodeMessage(m))); }
  frame(f: Uint8Array): void { this.ws.send(f); }
  // Stops reading: what the node sends piles up in its buffers.
  stopReading(): void { this.ws.pause(); }
  terminate(): void { this.ws.terminate(); }
}
