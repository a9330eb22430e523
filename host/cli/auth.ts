// Who may use a node's HTTP surface (docs/security.md):
// - the control API needs the node's bearer token (`authorization: Bearer …`),
//   made at the first start and kept in <data>/api-token, owner-only (0600);
// - a browser request (it carries Origin) is served only to the node's own
//   origin or one listed in `cors`; only listed origins get CORS headers;
// - a state-changing request must say application/json or
//   application/octet-stream, never a type a cross-site form or a no-preflight
//   fetch can send (text/plain, form types).
// The WebSocket /sync upgrade applies the same Origin rule (originAllowed).
import { randomBytes, createHash, timingSafeEqual } from "node:crypto";
import { open, readFile, stat, chmod } from "node:fs/promises";
import { join } from "node:path";
import { isIP } from "node:net";
import type { IncomingMessage } from "node:http";

export const TOKEN_FILE = "api-token";
const TOKEN_RE = /^[A-Za-z0-9_-]{16,256}$/;

export class AuthError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
}

// The node's token: read from <dir>/api-token, or made there (0600) if absent.
// created: true when it was made now (the caller prints it, once).
export async function loadOrCreateToken(dir: string): Promise<{ token: string; file: string; created: boolean; fixedMode: boolean }> {
  const file = join(dir, TOKEN_FILE);
  try {
    const fh = await open(file, "wx", 0o600); // fails if it exists: never overwrite a token
    // The prefix keeps a token from starting with "-" (1 in 64 base64url
    // strings do), which a command line would read as an option.
    const token = "trellis_" + randomBytes(32).toString("base64url");
    try { await fh.writeFile(token + "\n"); await fh.sync(); } finally { await fh.close(); }
    return { token, file, created: true, fixedMode: false };
  } catch (e) {
    if ((e as { code?: string }).code !== "EEXIST") throw e;
  }
  const token = (await readFile(file, "utf8")).trim();
  if (!TOKEN_RE.test(token)) throw new TypeError(`${file} does not hold a token (16..256 characters of A-Z a-z 0-9 _ -); delete it to make a new one`);
  // Others must not read it: tighten a file someone loosened.
  let fixedMode = false;
  if (process.platform !== "win32" && ((await stat(file)).mode & 0o077) !== 0) { await chmod(file, 0o600); fixedMode = true; }
  return { token, file, created: false, fixedMode };
}

// The token a CLI client sends: --token, else $TRELLIS_TOKEN, else <data>/api-token.
export async function clientToken(o: { token?: string; data?: string }, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (o.token) return o.token;
  if (env.TRELLIS_TOKEN) return env.TRELLIS_TOKEN;
  const dir = o.data ?? env.TRELLIS_DATA;
  if (!dir) return undefined;
  try { return (await readFile(join(dir, TOKEN_FILE), "utf8")).trim(); } catch (e) {
    throw new TypeError(`cannot read the node's token from ${join(dir, TOKEN_FILE)}: ${(e as Error).message}`);
  }
}

export interface HttpPolicy {
  token: string | null;  // null: no credential needed (opt-in, e.g. a closed test network)
  cors: string[];        // origins (scheme://host[:port]) allowed besides the node's own
}

// Compared by hash so the time taken says nothing about the token.
export function tokenMatches(given: string, token: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(token).digest();
  return timingSafeEqual(a, b);
}

export function checkToken(p: HttpPolicy, req: IncomingMessage): void {
  if (p.token === null) return;
  const h = req.headers.authorization;
  if (typeof h !== "string" || !h.startsWith("Bearer ")) {
    throw new AuthError(401, "UNAUTHORIZED", "this node needs its API token: `authorization: Bearer <token>` (the CLI reads it from --token, $TRELLIS_TOKEN or --data <dir>)");
  }
  if (!tokenMatches(h.slice(7).trim(), p.token)) throw new AuthError(401, "UNAUTHORIZED", "wrong API token");
}

// Host names a DNS-rebinding page cannot take over: IP literals and localhost.
// A page served from any other name that resolves here is cross-origin
// unless listed in `cors`.
function fixedHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "");
  return isIP(h) !== 0 || h === "localhost";
}

// Origin rule shared by HTTP and the WebSocket upgrade. No Origin: not a
// browser page (CLI, curl, another node), so allowed here (the token or the
// peer handshake decides).
export function originAllowed(p: Pick<HttpPolicy, "cors">, req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (p.cors.includes(origin)) return true;
  let u: URL;
  try { u = new URL(origin); } catch { return false; }
  const host = req.headers.host;
  return (u.protocol === "http:" || u.protocol === "https:") && host !== undefined && u.host === host && fixedHost(u.hostname);
}

const BODY_TYPES = ["application/json", "application/octet-stream"];

// A state-changing request names a type no simple cross-site request can.
export function checkContentType(req: IncomingMessage, want: "json" | "binary"): void {
  const t = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  const ok = want === "json" ? t === "application/json" : BODY_TYPES.includes(t);
  if (!ok) {
    throw new AuthError(415, "UNSUPPORTED_MEDIA_TYPE",
      `content-type must be ${want === "json" ? "application/json" : "application/octet-stream"}, got ${JSON.stringify(t || "(none)")}`);
  }
}

// Validates --cors values: exact origins, no paths, no wildcards.
export function parseCors(list: string[]): string[] {
  return list.map((o) => {
    let u: URL;
    try { u = new URL(o); } catch { throw new TypeError(`--cors is an origin such as https://app.example.com, got ${JSON.stringify(o)}`); }
    if ((u.protocol !== "http:" && u.protocol !== "https:") || u.origin !== o.replace(/\/$/, "")) {
      throw new TypeError(`--cors is an origin (scheme://host[:port], no path), got ${JSON.stringify(o)}`);
    }
    return u.origin;
  });
}
