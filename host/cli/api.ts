// The control API of a node: JSON over HTTP on the node's http server
// (docs/cli.md, "HTTP API"). Every error is `{ "error": { "code", "message" } }`
// with a status from `statusOf`; a refused request changes nothing.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TrellisNode } from "./node.js";
import type { Logger } from "./log.js";
import type { Threshold } from "../dataflow/threshold.js";
import { fromJson, toJson } from "./json.js";
import { AuthError, checkContentType, checkToken, originAllowed, type HttpPolicy } from "./auth.js";
import type { HttpLimits } from "../transport/limits.js";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";

export interface ApiState {
  node: TrellisNode;
  log: Logger;
  maxBody: number;
  maxReadTimeout: number;
  reads: Set<AbortController>;     // long-polls under way (ended at shutdown)
  inflight: Set<Promise<unknown>>; // requests under way (awaited at shutdown)
  static?: string;                  // a folder served under /app/ (the browser app)
  policy: HttpPolicy;               // token, allowed origins (./auth.ts)
  limits?: HttpLimits;              // per-connection rate and response budgets (../transport/limits.ts)
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm", ".map": "application/json", ".svg": "image/svg+xml",
};

// GET /app/<file> from the static folder; nothing outside it is reachable.
async function serveStatic(dir: string, pathname: string, res: ServerResponse): Promise<void> {
  const rel = normalize(decodeURIComponent(pathname.slice("/app/".length)) || "index.html");
  if (rel.startsWith("..") || rel.includes("\0")) throw new HttpError(404, "NO_ROUTE", "no such file");
  let body: Buffer;
  try { body = await readFile(join(dir, rel)); } catch { throw new HttpError(404, "NO_ROUTE", `no such file: ${pathname}`); }
  if (!respond(res, body.length)) return;
  res.writeHead(200, { "content-type": TYPES[extname(rel)] ?? "application/octet-stream", "content-length": body.length, "cache-control": "no-cache" });
  res.end(body);
}

export const DEFAULT_READ_TIMEOUT = 30_000;

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
}

// Decoder and argument errors are the caller's (400); a missing variable is
// 404; a conflict with what the node holds is 409; the rest is ours (500).
const CLIENT_CODES = new Set([
  "TRUNCATED", "BAD_MAGIC", "BAD_VERSION", "BAD_TAG", "NONCANONICAL", "TOO_LARGE", "TOO_DEEP",
  "INVALID", "TRAILING", "BAD_VALUE", "UNSUPPORTED",
]);

export function statusOf(e: unknown): { status: number; code: string; message: string } {
  if (e instanceof HttpError || e instanceof AuthError) return { status: e.status, code: e.code, message: e.message };
  const err = e as { code?: unknown; message?: unknown; name?: unknown };
  const message = typeof err?.message === "string" ? err.message.replace(/^[A-Z_]+: /, "") : String(e);
  const code = typeof err?.code === "string" ? err.code : undefined;
  if (e instanceof TypeError || e instanceof RangeError || e instanceof SyntaxError) return { status: 400, code: code ?? "BAD_REQUEST", message };
  if (code === "NOT_FOUND") return { status: 404, code, message };
  if (code === "TYPE_MISMATCH" || code === "PRECONDITION" || code === "USER_FUNCTION") return { status: 409, code, message };
  if (code === "TIMEOUT") return { status: 408, code, message };
  if (code === "SHUTTING_DOWN" || code === "DISPOSED") return { status: 503, code: "SHUTTING_DOWN", message };
  if (code !== undefined && (CLIENT_CODES.has(code) || code.startsWith("BAD_"))) return { status: 400, code, message };
  return { status: 500, code: code ?? "INTERNAL", message };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body) + "\n";
  const bytes = Buffer.from(text);
  if (!respond(res, bytes.length)) return;
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": bytes.length, "cache-control": "no-store" });
  res.end(bytes);
}

// The response budget (limits.ts): false when the connection was cut off
// (a client that does not read its responses) or the node is over its total.
const budgets = new WeakMap<ServerResponse, HttpLimits>();
function respond(res: ServerResponse, n: number): boolean {
  const l = budgets.get(res);
  return l ? l.response(res, n) : true;
}

// The body, at most `max` bytes (413 beyond, without reading the rest).
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (declared > max) return Promise.reject(new HttpError(413, "TOO_LARGE", `request body of ${declared} bytes is over the limit of ${max}`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on("data", (c: Buffer) => {
      n += c.length;
      if (n > max) { req.removeAllListeners("data"); req.pause(); reject(new HttpError(413, "TOO_LARGE", `request body is over the limit of ${max} bytes`)); return; }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

async function readJson(req: IncomingMessage, max: number): Promise<Record<string, unknown>> {
  const body = await readBody(req, max);
  let v: unknown;
  try { v = JSON.parse(body.toString("utf8")); } catch (e) {
    throw new HttpError(400, "BAD_JSON", `the body is not JSON: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new HttpError(400, "BAD_JSON", "the body is a JSON object");
  return v as Record<string, unknown>;
}

// `/v/<id>` and `/v/<id>/<action>`; the id is one percent-encoded segment.
function route(pathname: string): { kind: "root" | "vars" | "var" | "none"; id?: string; action?: string } {
  if (pathname === "/" || pathname === "") return { kind: "root" };
  if (pathname === "/v" || pathname === "/v/") return { kind: "vars" };
  const parts = pathname.split("/");
  if (parts[1] !== "v" || parts.length < 3 || parts.length > 4 || parts[2] === "") return { kind: "none" };
  let id: string;
  try { id = decodeURIComponent(parts[2]); } catch { throw new HttpError(400, "BAD_REQUEST", "the variable id is not valid percent-encoding"); }
  return { kind: "var", id, action: parts[3] };
}

export function handle(api: ApiState, req: IncomingMessage, res: ServerResponse): void {
  const t0 = Date.now();
  if (api.limits) {
    budgets.set(res, api.limits);
    // Over its request rate or with too many requests queued: 429 and closed.
    const refused = api.limits.request(req, res);
    if (refused) {
      res.setHeader("connection", "close");
      send(res, refused.status, { error: { code: refused.code, message: refused.message } });
      return;
    }
  }
  // One request at a time per connection (limits.ts: turn).
  const turn = api.limits ? api.limits.turn(req, res) : Promise.resolve(true);
  const p = turn.then((go) => (go ? dispatch(api, req, res) : undefined)).catch((e) => {
    const { status, code, message } = statusOf(e);
    if (status >= 500 && code !== "SHUTTING_DOWN") api.log.error("request failed", { method: req.method, url: req.url, err: e });
    if (status === 413 || status === 401 || status === 403 || status === 415) res.setHeader("connection", "close");
    send(res, status, { error: { code, message } });
  }).finally(() => {
    api.inflight.delete(p);
    api.log.debug("request", { method: req.method, url: req.url, status: res.statusCode, ms: Date.now() - t0 });
  });
  api.inflight.add(p);
}

async function dispatch(api: ApiState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const node = api.node;
  if (node.closing) throw new HttpError(503, "SHUTTING_DOWN", "the node is shutting down");
  const url = new URL(req.url ?? "/", "http://x");
  const method = req.method ?? "GET";
  // A browser page from another origin is refused unless listed (--cors);
  // listed origins get CORS headers, and their preflights an answer.
  if (!originAllowed(api.policy, req)) throw new HttpError(403, "BAD_ORIGIN", `requests from ${JSON.stringify(req.headers.origin)} are not allowed (see --cors)`);
  const origin = req.headers.origin;
  if (origin !== undefined && api.policy.cors.includes(origin)) {
    res.setHeader("access-control-allow-origin", origin);
    res.setHeader("vary", "origin");
  }
  if (method === "OPTIONS") {
    if (origin === undefined || !api.policy.cors.includes(origin)) throw new HttpError(403, "BAD_ORIGIN", "CORS is not enabled for this origin (see --cors)");
    res.writeHead(204, {
      "access-control-allow-methods": "GET, PUT, POST", "access-control-allow-headers": "authorization, content-type",
      "access-control-max-age": "600",
    });
    res.end();
    return;
  }
  // Health needs no credential and says nothing about the data.
  if (url.pathname === "/health") {
    if (method !== "GET" && method !== "HEAD") { res.setHeader("allow", "GET, HEAD"); throw new HttpError(405, "METHOD_NOT_ALLOWED", `${method} is not allowed here (GET, HEAD)`); }
    return send(res, 200, { ok: true });
  }
  if (api.static && (method === "GET" || method === "HEAD")) {
    if (url.pathname === "/app") { res.writeHead(301, { location: "/app/" }); res.end(); return; }
    if (url.pathname.startsWith("/app/")) return serveStatic(api.static, url.pathname, res);
    if (url.pathname === "/" && (req.headers.accept ?? "").includes("text/html")) { res.writeHead(302, { location: "/app/" }); res.end(); return; }
  }
  checkToken(api.policy, req);
  const r = route(url.pathname);
  const allow = (...m: string[]): void => {
    if (!m.includes(method)) { res.setHeader("allow", m.join(", ")); throw new HttpError(405, "METHOD_NOT_ALLOWED", `${method} is not allowed here (${m.join(", ")})`); }
  };

  if (r.kind === "none") throw new HttpError(404, "NO_ROUTE", `no such endpoint: ${url.pathname} (see docs/cli.md)`);
  if (r.kind === "root") {
    allow("GET");
    return send(res, 200, { id: node.id, did: node.identity.did, replica: node.replica, port: node.port, sync: node.path, peers: node.peers(), variables: node.runtime.variables().length, trust: node.trust, ...(node.trustHub ? { trustStats: node.trustHub.stats() } : {}) });
  }
  if (r.kind === "vars") {
    allow("GET");
    const vars = node.runtime.variables().map((v) => node.info(v.id));
    return send(res, 200, { variables: vars });
  }

  const id = r.id!;
  if (r.action === undefined) {
    allow("GET", "PUT", "POST");
    if (method === "PUT") {
      checkContentType(req, "json");
      const body = await readJson(req, api.maxBody);
      if (typeof body.type !== "string") throw new HttpError(400, "BAD_REQUEST", 'declare with {"type": "<type name>"}, e.g. {"type": "AWSet"}');
      const created = await node.declare(id, body.type);
      return send(res, created ? 201 : 200, { ...node.info(id), created });
    }
    if (method === "POST") {
      checkContentType(req, "json");
      const body = await readJson(req, api.maxBody);
      const keys = Object.keys(body);
      let ops: unknown;
      if (keys.length === 1 && keys[0] === "op") ops = body.op;
      else if (keys.length === 1 && keys[0] === "ops") {
        if (!Array.isArray(body.ops)) throw new HttpError(400, "BAD_REQUEST", '"ops" is an array of ops');
        ops = body.ops;
      } else ops = body; // a bare descriptor: {"add": "x"}
      const decoded = fromJson(ops);
      await node.update(id, decoded as never);
      return send(res, 200, { ok: true, durable: true });
    }
    return getValue(api, id, url.searchParams, res);
  }
  if (r.action === "state") {
    allow("GET");
    node.info(id);
    const bytes = node.runtime.encode(id);
    if (!respond(res, bytes.length)) return;
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length, "cache-control": "no-store" });
    res.end(bytes);
    return;
  }
  if (r.action === "bind") {
    allow("POST");
    node.info(id); // 404 before reading the body
    checkContentType(req, "binary");
    const bytes = new Uint8Array(await readBody(req, api.maxBody));
    const d = await node.bind(id, bytes);
    return send(res, 200, { ok: true, changed: d !== null, durable: true });
  }
  throw new HttpError(404, "NO_ROUTE", `no such endpoint: ${url.pathname}`);
}

function parseThreshold(q: URLSearchParams): Threshold | undefined {
  const given = ["atLeast", "size", "contains"].filter((k) => q.has(k));
  if (given.length > 1) throw new HttpError(400, "BAD_REQUEST", `one threshold at a time, got ${given.join(" and ")}`);
  const num = (k: string): number => {
    const s = q.get(k)!;
    const n = Number(s);
    if (s.trim() === "" || !Number.isFinite(n)) throw new HttpError(400, "BAD_REQUEST", `${k} must be a number, got ${JSON.stringify(s)}`);
    return n;
  };
  if (q.has("atLeast")) return { atLeast: num("atLeast") };
  if (q.has("size")) return { size: num("size") };
  if (q.has("contains")) {
    let xs: unknown;
    try { xs = fromJson(JSON.parse(q.get("contains")!)); } catch (e) {
      throw new HttpError(400, "BAD_REQUEST", `contains must be a JSON array of values: ${(e as Error).message}`);
    }
    if (!Array.isArray(xs)) throw new HttpError(400, "BAD_REQUEST", "contains must be a JSON array of values");
    return { contains: xs };
  }
  return undefined;
}

async function getValue(api: ApiState, id: string, q: URLSearchParams, res: ServerResponse): Promise<void> {
  const node = api.node;
  const info = node.info(id); // 404 first
  const threshold = parseThreshold(q);
  if (!threshold) return send(res, 200, { ...info, value: toJson(node.query(id)) });
  let timeout = DEFAULT_READ_TIMEOUT;
  if (q.has("timeout")) {
    timeout = Number(q.get("timeout"));
    if (!Number.isInteger(timeout) || timeout < 0 || timeout > api.maxReadTimeout) {
      throw new HttpError(400, "BAD_REQUEST", `timeout is an integer number of ms in 0..${api.maxReadTimeout}`);
    }
  }
  const strict = q.get("strict") === "1" || q.get("strict") === "true";
  // The read is cancelled when the client goes away.
  const ctl = new AbortController();
  const gone = (): void => { if (!res.writableFinished) ctl.abort(Object.assign(new Error("client went away"), { code: "CLIENT_GONE" })); };
  res.on("close", gone);
  api.reads.add(ctl);
  try {
    const value = await node.read(id, threshold, { strict, timeout, signal: ctl.signal });
    send(res, 200, { ...info, value: toJson(value) });
  } catch (e) {
    if ((e as { code?: string }).code === "CLIENT_GONE") { api.log.debug("read cancelled: client went away", { var: id }); return; }
    throw e;
  } finally {
    api.reads.delete(ctl);
    res.off("close", gone);
  }
}
