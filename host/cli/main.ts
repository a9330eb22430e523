// The `trellis` command (bin/trellis.mjs): `trellis serve` runs a node;
// declare / update / read / vars / state / bind / info talk to a running
// node's control API. docs/cli.md has the reference.
import { parseArgs } from "node:util";
import { readFile } from "node:fs/promises";
import type { TrellisNode } from "./node.js";
import { createLogger, LEVELS, type LogLevel } from "./log.js";
import { parseType } from "./typename.js";
import { loadPeers, PEERS } from "../peers.js";
import { clientToken, parseCors } from "./auth.js";
import { DEFAULT_LIMITS, type LimitOptions } from "../transport/limits.js";

export const EXIT = { OK: 0, REFUSED: 1, USAGE: 2, UNREACHABLE: 3, TIMEOUT: 4 } as const;

const HELP = `trellis — replicated lattice variables (CRDTs) on a node you run

Usage:
  trellis serve --data <dir> [--port 7070] [--host 127.0.0.1] [--id <name>]
                [--peer ws://host:port/sync | --peer /ip4/…/tcp/…/p2p/<id>]...
                [--listen /ip4/127.0.0.1/tcp/0]... [--network name] [--trusted] [--trustless] [--interval ms]
                [--allow <did:key>]... [--allow-file <file>] [--open]
                [--max-body bytes] [--snapshot-every n] [--log-level info]
                [--cors https://origin]... [--limit name=value]... [--max-frame bytes] [--no-auth]
                [--owner self | --owner <var|ns/*>=<did>]... [--proof <chain>]...   (with --trustless)
  trellis declare <id> <Type>                 e.g. AWSet, GMap<GCounter>, TopK(10), Pair<GCounter, AWSet>
  trellis update <id> <op-json> [<op-json>...]   e.g. '{"add":"x"}' '{"increment":2}' (all or nothing)
  trellis read <id> [--at-least n | --size n | --contains <json-array>] [--strict] [--timeout ms]
  trellis vars                                list variables
  trellis info                                the node's name, key (did), replica, peers
  trellis state <id>                          the variable's state bytes, on stdout
  trellis bind <id> [<file> | -]              join state bytes (from a file or stdin)
  trellis owner [--key owner.key | --data <dir>]          print (or make) the owner key's did
  trellis delegate --to <did> --can <cmd> --on <var|ns/*> [--expires 30d] [--from <chain>]   print a token
  trellis revoke <token-cid> [--proof <chain>]            print a revocation record (docs/security.md, Capabilities)

Client commands take --node <url> (default $TRELLIS_NODE or http://127.0.0.1:7070)
and the node's API token: --token <t>, else $TRELLIS_TOKEN, else read from
--data <dir> (or $TRELLIS_DATA)/api-token. serve makes the token at its first start.
An update returns only after the node has made it durable.
Values print as JSON: bytes as {"$bytes": base64}, maps as {"$map": [[k, v], ...]}.

Peers prove their key (did:key) when they connect. Any key is admitted unless
--allow / --allow-file list the admitted ones; --open also admits peers with no
key (the old unauthenticated protocol). --trustless makes every change a signed
envelope that each node checks before joining (all nodes of a cluster must use
it). With --owner, capabilities are checked too: --owner self makes this node
own every variable; --owner 'ns/*=did:key:…' names another owner; --proof
gives this node's own chains (as trellis delegate prints them).
docs/security.md has the details.

Exit codes: 0 ok, 1 refused by the node, 2 usage error, 3 node unreachable, 4 read timed out.
Docs: docs/cli.md`;

class Usage extends Error {}

// --owner self | --owner <var|ns/*>=<did> (repeated), --proof <chain> (as
// `trellis delegate` prints it, repeated): TrellisNode's owners and proof.
async function capabilityFlags(owner: string[] | undefined, proof: string[] | undefined, trustless: boolean): Promise<{ owners?: Record<string, string> | "self"; proof?: Uint8Array }> {
  if (!owner?.length) {
    if (proof?.length) throw new Usage("--proof needs --owner (who owns the variables it delegates)");
    return {};
  }
  if (!trustless) throw new Usage("--owner needs --trustless");
  let owners: Record<string, string> | "self";
  if (owner.length === 1 && owner[0] === "self") owners = "self";
  else {
    owners = {};
    for (const x of owner) {
      const m = /^([^=]+)=(did:key:z[1-9A-HJ-NP-Za-km-z]+)$/.exec(x);
      if (!m) throw new Usage(`--owner is "self" or <variable | namespace/* | *>=<did:key:…>, got ${JSON.stringify(x)}`);
      owners[m[1]] = m[2];
    }
  }
  if (!proof?.length) return { owners };
  const T = await loadPeers("trellis serve --proof", PEERS["trellis/trust"], () => import("../trust/index.js"));
  const chains = [];
  for (const p of proof) {
    if (!/^[A-Za-z0-9_-]+$/.test(p)) throw new Usage("--proof is a chain token (base64url), as trellis delegate prints it");
    try { chains.push(await T.decodeChain(new Uint8Array(Buffer.from(p, "base64url")))); } catch (e) { throw new Usage(`--proof: ${(e as Error).message}`); }
  }
  return { owners, proof: T.encodeProof(chains) };
}

type Out = { out: (s: string | Uint8Array) => void; err: (s: string) => void };
const stdio: Out = {
  out: (s) => { process.stdout.write(s); },
  err: (s) => { process.stderr.write(s); },
};

export async function main(argv: string[], io: Out = stdio): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === undefined || cmd === "--help" || cmd === "-h" || cmd === "help") { io.out(HELP + "\n"); return cmd === undefined ? EXIT.USAGE : EXIT.OK; }
    if (cmd === "--version" || cmd === "-v") { io.out(`${await version()}\n`); return EXIT.OK; }
    if (cmd === "serve") return await serve(rest, io);
    if (cmd === "owner" || cmd === "delegate" || cmd === "revoke") return await (await import("./caps.js")).capsCommand(cmd, rest, io);
    const client = CLIENT[cmd];
    if (!client) throw new Usage(`unknown command ${JSON.stringify(cmd)}`);
    return await client(rest, io);
  } catch (e) {
    if (e instanceof Usage || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      io.err(`trellis: ${(e as Error).message}\nRun 'trellis --help' for usage.\n`);
      return EXIT.USAGE;
    }
    io.err(`trellis: ${(e as Error).message ?? String(e)}\n`);
    return EXIT.REFUSED;
  }
}

async function version(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL("../../../package.json", import.meta.url), "utf8"));
  return pkg.version;
}

// ---- serve -----------------------------------------------------------------

function int(s: string | undefined, name: string, min = 0): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new Usage(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(s)}`);
  return n;
}

// --limit name=value, names as in docs/security.md (e.g. wsSendBudget=8388608).
function parseLimits(list: string[]): LimitOptions {
  const out: Record<string, number> = {};
  for (const s of list) {
    const m = /^([A-Za-z]+)=(\d+)$/.exec(s);
    if (!m || !(m[1] in DEFAULT_LIMITS) || !(Number(m[2]) > 0)) {
      throw new Usage(`--limit is name=positive-integer with name one of ${Object.keys(DEFAULT_LIMITS).join(", ")}; got ${JSON.stringify(s)}`);
    }
    out[m[1]] = Number(m[2]);
  }
  return out;
}

async function serve(args: string[], io: Out): Promise<number> {
  const { values: o, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: {
      port: { type: "string", short: "p" }, host: { type: "string" }, data: { type: "string", short: "d" },
      id: { type: "string" }, peer: { type: "string", multiple: true }, trusted: { type: "boolean" },
      listen: { type: "string", multiple: true }, network: { type: "string" },
      interval: { type: "string" }, "max-body": { type: "string" }, "snapshot-every": { type: "string" },
      "log-level": { type: "string" }, help: { type: "boolean", short: "h" },
      allow: { type: "string", multiple: true }, "allow-file": { type: "string" }, open: { type: "boolean" },
      cors: { type: "string", multiple: true }, "max-frame": { type: "string" }, limit: { type: "string", multiple: true }, "no-auth": { type: "boolean" },
      trustless: { type: "boolean" }, owner: { type: "string", multiple: true }, proof: { type: "string", multiple: true },
    },
  });
  if (o.help) { io.out(HELP + "\n"); return EXIT.OK; }
  if (positionals.length) throw new Usage(`serve takes no arguments, got ${positionals.join(" ")}`);
  if (!o.data) throw new Usage("serve needs --data <dir> (where the node keeps its variables)");
  const level = (o["log-level"] ?? process.env.TRELLIS_LOG_LEVEL ?? "info") as LogLevel;
  if (!LEVELS.includes(level)) throw new Usage(`--log-level is one of ${LEVELS.join(", ")}`);
  const port = int(o.port, "port") ?? 7070;
  if (port > 65535) throw new Usage("--port must be at most 65535");
  for (const p of o.peer ?? []) if (!/^wss?:\/\/[^/]+/.test(p) && !/^\/[a-z0-9]+\/./.test(p)) throw new Usage(`--peer is a ws:// URL such as ws://127.0.0.1:7071/sync or a libp2p multiaddr such as /ip4/127.0.0.1/tcp/4001/p2p/<peer-id>, got ${JSON.stringify(p)}`);
  for (const a of o.listen ?? []) if (!/^\/[a-z0-9]+\/./.test(a)) throw new Usage(`--listen is a multiaddr such as /ip4/0.0.0.0/tcp/4001, got ${JSON.stringify(a)}`);
  if (o.network !== undefined && !/^[\w.-]{1,64}$/.test(o.network)) throw new Usage(`--network is 1..64 letters, digits, '_', '-' or '.', got ${JSON.stringify(o.network)}`);
  const interval = int(o.interval, "interval", 1);
  const maxBody = int(o["max-body"], "max-body", 1);
  const snapshotEvery = int(o["snapshot-every"], "snapshot-every", 1);
  const allow = await allowList(o.allow, o["allow-file"]);
  let cors: string[];
  try { cors = parseCors(o.cors ?? []); } catch (e) { throw new Usage((e as Error).message); }
  const limitOpts = parseLimits(o.limit ?? []);
  const maxFrame = int(o["max-frame"], "max-frame", 1024);
  const caps = await capabilityFlags(o.owner, o.proof, !!o.trustless);

  const log = createLogger(level, (l) => io.err(l));
  // Loaded here so the client commands start fast.
  // The node's packages are optional peers of trellis: name them if missing.
  const [{ init }, { TrellisNode }] = await Promise.all([import("../index.node.js"),
    loadPeers("trellis serve", PEERS["trellis/node"], () => import("./node.js"))]);
  await init();
  let node: TrellisNode;
  try {
    node = await TrellisNode.start({
      data: o.data, port, host: o.host, id: o.id, peers: o.peer, listen: o.listen, network: o.network, trusted: o.trusted,
      interval, maxBody, snapshotEvery, log, allow, open: o.open, cors, limits: limitOpts, maxFrame, ...(o["no-auth"] ? { token: false as const } : {}),
      ...(o.trustless ? { trust: "trustless" as const } : {}),
      ...caps,
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause;
    const msg = cause?.code === "LEVEL_LOCKED"
      ? `the data directory ${o.data} is in use by another process`
      : (e as Error).message;
    log.error("failed to start", { err: e, reason: msg });
    return EXIT.REFUSED;
  }

  return await new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (++signals > 1) { log.warn("second signal: exiting without waiting", { signal: sig }); resolve(130); return; }
      log.info("shutting down", { signal: sig });
      node.close().then(() => resolve(EXIT.OK), (e) => { log.error("shutdown failed", { err: e }); resolve(EXIT.REFUSED); });
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("uncaughtException", (e) => {
      log.error("uncaught exception", { err: e, stack: e.stack });
      node.close().finally(() => resolve(EXIT.REFUSED));
    });
  });
}

// --allow did… and --allow-file: the admitted keys, or "any" if neither is given.
async function allowList(dids: string[] | undefined, file: string | undefined): Promise<"any" | string[]> {
  if (!dids?.length && file === undefined) return "any";
  const { isDid, AllowList } = await import("../identity/index.js");
  const out = [...(dids ?? [])];
  for (const d of out) if (!isDid(d)) throw new Usage(`--allow is an Ed25519 did:key (did:key:z6Mk…; see \`trellis info\`), got ${JSON.stringify(d)}`);
  if (file !== undefined) {
    let text: string;
    try { text = await readFile(file, "utf8"); } catch (e) { throw new Usage(`--allow-file ${file}: ${(e as Error).message}`); }
    try { out.push(...AllowList.parse(text)); } catch (e) { throw new Usage(`--allow-file ${file}: ${(e as Error).message}`); }
  }
  return out;
}

// ---- client commands ---------------------------------------------------------

const NODE_OPT = {
  node: { type: "string" as const, short: "n" as const },
  token: { type: "string" as const }, data: { type: "string" as const, short: "d" as const },
};

// The node to talk to and its token (see HELP).
interface Target { base: string; token: string | undefined }
async function target(o: { node?: string; token?: string; data?: string }): Promise<Target> {
  let token: string | undefined;
  try { token = await clientToken(o); } catch (e) { throw new Usage((e as Error).message); }
  return { base: nodeUrl(o), token };
}

function nodeUrl(o: { node?: string }): string {
  const u = o.node ?? process.env.TRELLIS_NODE ?? "http://127.0.0.1:7070";
  if (!/^https?:\/\//.test(u)) throw new Usage(`--node is an http:// URL, got ${JSON.stringify(u)}`);
  return u.replace(/\/+$/, "");
}

const varPath = (id: string): string => `/v/${encodeURIComponent(id)}`;

class Refused extends Error { constructor(readonly status: number, readonly code: string, message: string) { super(message); } }

async function call(t: Target, method: string, path: string, body?: unknown, raw?: Uint8Array): Promise<Response> {
  const base = t.base;
  let res: Response;
  try {
    res = await fetch(base + path, {
      method,
      headers: {
        ...(raw ? { "content-type": "application/octet-stream" } : body !== undefined ? { "content-type": "application/json" } : {}),
        ...(t.token ? { authorization: `Bearer ${t.token}` } : {}),
      },
      body: (raw as BodyInit | undefined) ?? (body !== undefined ? JSON.stringify(body) : undefined),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw Object.assign(new Error(`cannot reach the node at ${base}: ${cause?.code ?? cause?.message ?? (e as Error).message}`), { exit: EXIT.UNREACHABLE });
  }
  if (!res.ok) {
    let code = `HTTP_${res.status}`, message = res.statusText;
    try { const j = await res.json() as { error?: { code: string; message: string } }; if (j.error) ({ code, message } = j.error); } catch { /* not JSON */ }
    throw new Refused(res.status, code, message);
  }
  return res;
}

// Runs a client command: exit code from the outcome, errors on stderr.
function command(fn: (args: string[], io: Out) => Promise<void>): (args: string[], io: Out) => Promise<number> {
  return async (args, io) => {
    try {
      await fn(args, io);
      return EXIT.OK;
    } catch (e) {
      if (e instanceof Refused) {
        io.err(`trellis: ${e.code}: ${e.message}\n`);
        return e.status === 408 ? EXIT.TIMEOUT : EXIT.REFUSED;
      }
      const exit = (e as { exit?: number }).exit;
      if (exit !== undefined) { io.err(`trellis: ${(e as Error).message}\n`); return exit; }
      throw e;
    }
  };
}

// `example` is a valid argument of the same kind, shell-quoted, for the hint.
function parseJsonArg(s: string, what: string, example = `'{"add":"x"}'`): unknown {
  try { return JSON.parse(s); } catch (e) {
    throw new Usage(`${what} is not JSON (${(e as Error).message}): ${s}\n  quote it for the shell, e.g. ${example}`);
  }
}

const json = (io: Out, v: unknown): void => io.out(JSON.stringify(v) + "\n");

const CLIENT: Record<string, (args: string[], io: Out) => Promise<number>> = {
  declare: command(async (args, io) => {
    const { values: o, positionals: p } = parseArgs({ args, allowPositionals: true, options: NODE_OPT });
    if (p.length !== 2) throw new Usage("usage: trellis declare <id> <Type>");
    try { parseType(p[1]); } catch (e) { throw new Usage((e as Error).message); } // before any request
    const r = await (await call(await target(o), "PUT", varPath(p[0]), { type: p[1] })).json();
    json(io, r);
  }),
  update: command(async (args, io) => {
    const { values: o, positionals: p } = parseArgs({ args, allowPositionals: true, options: NODE_OPT });
    if (p.length < 2) throw new Usage("usage: trellis update <id> <op-json> [<op-json>...]");
    const ops = p.slice(1).map((s, i) => parseJsonArg(s, `op ${i + 1}`));
    const body = ops.length === 1 && Array.isArray(ops[0]) ? { ops: ops[0] } : ops.length === 1 ? { op: ops[0] } : { ops };
    json(io, await (await call(await target(o), "POST", varPath(p[0]), body)).json());
  }),
  read: command(async (args, io) => {
    const { values: o, positionals: p } = parseArgs({
      args, allowPositionals: true,
      options: { ...NODE_OPT, "at-least": { type: "string" }, size: { type: "string" }, contains: { type: "string" }, strict: { type: "boolean" }, timeout: { type: "string" }, full: { type: "boolean" } },
    });
    if (p.length !== 1) throw new Usage("usage: trellis read <id> [--at-least n | --size n | --contains json] [--strict] [--timeout ms]");
    const q = new URLSearchParams();
    const th = (["at-least", "size", "contains"] as const).filter((k) => o[k] !== undefined);
    if (th.length > 1) throw new Usage("give one of --at-least, --size, --contains");
    if (o["at-least"] !== undefined) q.set("atLeast", o["at-least"]);
    if (o.size !== undefined) q.set("size", o.size);
    if (o.contains !== undefined) {
      const example = `--contains '["x", 2]'`;
      if (!Array.isArray(parseJsonArg(o.contains, "--contains", example))) throw new Usage(`--contains takes a JSON array of the elements to wait for, e.g. ${example}; got ${o.contains}`);
      q.set("contains", o.contains);
    }
    if (o.strict) q.set("strict", "1");
    if (o.timeout !== undefined) { int(o.timeout, "timeout"); q.set("timeout", o.timeout); }
    const qs = q.toString();
    const r = await (await call(await target(o), "GET", varPath(p[0]) + (qs ? `?${qs}` : ""))).json() as { value: unknown };
    json(io, o.full ? r : r.value);
  }),
  vars: command(async (args, io) => {
    const { values: o } = parseArgs({ args, options: NODE_OPT });
    const r = await (await call(await target(o), "GET", "/v")).json() as { variables: { id: string; kind: string; type: string }[] };
    for (const v of r.variables) io.out(`${v.id}\t${v.type}\t${v.kind}\n`);
  }),
  info: command(async (args, io) => {
    const { values: o } = parseArgs({ args, options: NODE_OPT });
    json(io, await (await call(await target(o), "GET", "/")).json());
  }),
  state: command(async (args, io) => {
    const { values: o, positionals: p } = parseArgs({ args, allowPositionals: true, options: NODE_OPT });
    if (p.length !== 1) throw new Usage("usage: trellis state <id> > file");
    io.out(new Uint8Array(await (await call(await target(o), "GET", `${varPath(p[0])}/state`)).arrayBuffer()));
  }),
  bind: command(async (args, io) => {
    const { values: o, positionals: p } = parseArgs({ args, allowPositionals: true, options: NODE_OPT });
    if (p.length < 1 || p.length > 2) throw new Usage("usage: trellis bind <id> [<file> | -]");
    const bytes = p[1] === undefined || p[1] === "-" ? await readStdin() : new Uint8Array(await readFile(p[1]));
    json(io, await (await call(await target(o), "POST", `${varPath(p[0])}/bind`, undefined, bytes)).json());
  }),
};

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}
