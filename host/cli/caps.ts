// `trellis owner`, `trellis delegate`, `trellis revoke` (docs/cli.md,
// docs/security.md "Capabilities"): owner keys, delegation tokens and
// revocation records, made offline with a key file or a stopped node's key.
//
//   trellis owner [--key owner.key | --data <node dir>]
//   trellis delegate --to <did> --can <command> --on <variable|ns/*>... [--expires 30d|1h|never] [--from <chain>] [--key … | --data …]
//   trellis revoke <token-cid> [--proof <chain>] [--key … | --data …]
//
// A key file is JSON {"did", "seed"} (the 32-byte Ed25519 seed, base64url),
// written owner-only (0600) and never overwritten. Each chain `delegate`
// prints is also appended to `<key file>.issued` ("<cid> <chain>" lines), so
// `revoke` finds the chain of a token its key issued by the CID alone.
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { appendFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Identity } from "../identity/identity.js";
import { loadPeers, PEERS } from "../peers.js";

type Out = { out: (s: string | Uint8Array) => void; err: (s: string) => void };
const USAGE = 2, REFUSED = 1;
class Usage extends Error {}

export const DEFAULT_KEY = "owner.key";
const b64u = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");
function fromB64u(s: string, what: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Usage(`${what} is base64url`);
  return new Uint8Array(Buffer.from(s, "base64url"));
}

const SHORT: Record<string, string> = {
  read: "/trellis/read", write: "/trellis/write", admin: "/trellis/admin", increment: "/trellis/write/increment",
  decrement: "/trellis/write/decrement", add: "/trellis/write/add", remove: "/trellis/write/remove", set: "/trellis/write/set",
};

// "90s", "15m", "1h", "30d" or "never" → seconds (null: never).
export function parseDuration(s: string): number | null {
  if (s === "never") return null;
  const m = /^(\d{1,9})(s|m|h|d)$/.exec(s);
  if (!m) throw new Usage(`--expires takes a duration like 90s, 15m, 1h, 30d, or never; got ${JSON.stringify(s)}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "s" | "m" | "h" | "d"];
}

interface KeyOpts { key?: string; data?: string }
const keyPath = (o: KeyOpts): string => o.key ?? process.env.TRELLIS_OWNER_KEY ?? DEFAULT_KEY;

// The signing key: a stopped node's (--data), or the key file (made if `create`).
async function loadKey(o: KeyOpts, create: boolean, io: Out): Promise<{ identity: Identity; issued: string | null }> {
  const { Identity } = await import("../identity/identity.js");
  if (o.data !== undefined) {
    if (o.key !== undefined) throw new Usage("give --key or --data, not both");
    if (!existsSync(o.data)) throw new Usage(`--data ${o.data}: no such node directory`);
    const { openNodeStore } = await loadPeers("trellis owner --data", PEERS["trellis/storage/node"], () => import("../storage/node.js"));
    const { loadNodeIdentity } = await import("../identity/node.js");
    let store;
    try { store = await openNodeStore(o.data); } catch (e) {
      throw new Error(`cannot open the node's store at ${o.data} (${(e as Error).message}); a running node holds it: stop it, or ask it with \`trellis info\``);
    }
    try { return { identity: (await loadNodeIdentity(store.meta)).identity, issued: join(o.data, "issued-tokens") }; } finally { await store.close(); }
  }
  const path = keyPath(o);
  let text: string | undefined;
  try { text = await readFile(path, "utf8"); } catch (e) { if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e; }
  if (text === undefined) {
    if (!create) throw new Usage(`no owner key at ${path}: make one with \`trellis owner --key ${path}\``);
    const seed = globalThis.crypto.getRandomValues(new Uint8Array(32));
    const identity = await Identity.fromSeed(seed);
    // wx: never overwrite a key that appeared meanwhile.
    await writeFile(path, JSON.stringify({ did: identity.did, seed: b64u(seed) }) + "\n", { mode: 0o600, flag: "wx" });
    io.err(`created owner key ${path} (keep it private: whoever reads it is this owner)\n`);
    return { identity, issued: path + ".issued" };
  }
  let j: { did?: unknown; seed?: unknown };
  try { j = JSON.parse(text); } catch { throw new Error(`${path} is not an owner key file (JSON {"did", "seed"})`); }
  const seed = typeof j.seed === "string" ? fromB64u(j.seed, `${path}: seed`) : new Uint8Array(0);
  if (seed.length !== 32) throw new Error(`${path}: seed is 32 bytes, base64url`);
  const identity = await Identity.fromSeed(seed);
  if (j.did !== identity.did) throw new Error(`${path}: its did ${String(j.did).slice(0, 80)} is not its seed's (${identity.did})`);
  return { identity, issued: path + ".issued" };
}

const KEY_OPTS = { key: { type: "string" as const, short: "k" as const }, data: { type: "string" as const, short: "d" as const } };

async function owner(args: string[], io: Out): Promise<void> {
  const { values: o, positionals: p } = parseArgs({ args, allowPositionals: true, options: KEY_OPTS });
  if (p.length) throw new Usage("usage: trellis owner [--key <file> | --data <node dir>]");
  const { identity } = await loadKey(o, o.data === undefined, io);
  io.out(identity.did + "\n");
}

async function delegateCmd(args: string[], io: Out): Promise<void> {
  const { values: o, positionals: p } = parseArgs({
    args, allowPositionals: true,
    options: { ...KEY_OPTS, to: { type: "string" }, can: { type: "string" }, on: { type: "string", multiple: true }, expires: { type: "string" }, "not-before": { type: "string" }, from: { type: "string" } },
  });
  if (p.length || !o.to || !o.can || !o.on?.length) throw new Usage("usage: trellis delegate --to <did> --can <command> --on <variable|ns/*> [--on …] [--expires 30d] [--from <chain>]");
  const T = await trust();
  const { isDid } = await import("../identity/did.js");
  if (!isDid(o.to)) throw new Usage(`--to is an Ed25519 did:key (did:key:z6Mk…), got ${JSON.stringify(o.to)}`);
  const cmd = SHORT[o.can] ?? o.can;
  if (!T.validCommand(cmd)) throw new Usage(`--can is one of ${Object.keys(SHORT).join(", ")} or a command path like /trellis/write/increment, got ${JSON.stringify(o.can)}`);
  const now = Math.floor(Date.now() / 1000);
  const d = parseDuration(o.expires ?? "30d");
  let nbf: number | undefined;
  if (o["not-before"] !== undefined) {
    const t = /^\d+$/.test(o["not-before"]) ? Number(o["not-before"]) : Date.parse(o["not-before"]) / 1000;
    if (!Number.isFinite(t)) throw new Usage(`--not-before takes Unix seconds or an ISO date, got ${JSON.stringify(o["not-before"])}`);
    nbf = Math.floor(t);
  }
  const parent = o.from !== undefined ? await T.decodeChain(fromB64u(o.from, "--from")) : [];
  let exp = d === null ? null : now + d;
  // An onward grant lasts at most as long as its parent.
  const pexp = parent.length ? parent[parent.length - 1].exp : null;
  if (pexp !== null && (exp === null || exp > pexp)) exp = pexp;
  const { identity, issued } = await loadKey(o, false, io);
  const chain = await T.delegate(identity, { aud: o.to, cmd, pol: o.on, exp, nbf }, parent);
  const token = b64u(T.encodeChain(chain));
  const cid = chain[chain.length - 1].cid.toString();
  if (issued) await appendFile(issued, `${cid} ${token}\n`, { mode: 0o600 });
  io.out(token + "\n");
  io.err(`${cid}: ${cmd} on ${o.on.join(", ")} to ${o.to}, ${exp === null ? "no expiry" : `until ${new Date(exp * 1000).toISOString()}`}\n`);
}

async function revoke(args: string[], io: Out): Promise<void> {
  const { values: o, positionals: p } = parseArgs({ args, allowPositionals: true, options: { ...KEY_OPTS, proof: { type: "string" } } });
  if (p.length !== 1) throw new Usage("usage: trellis revoke <token-cid> [--proof <chain>]");
  const T = await trust();
  let cid: InstanceType<typeof T.CID>;
  try { cid = T.CID.parse(p[0]); } catch { throw new Usage(`not a token CID: ${JSON.stringify(p[0].slice(0, 80))}`); }
  const { identity, issued } = await loadKey(o, false, io);
  let chainText = o.proof;
  if (chainText === undefined && issued) {
    const lines = (await readFile(issued, "utf8").catch(() => "")).split("\n");
    chainText = lines.find((l) => l.startsWith(cid.toString() + " "))?.slice(cid.toString().length + 1);
  }
  if (chainText === undefined) throw new Usage(`${cid} is not among the tokens this key issued (${issued}): give its chain with --proof <chain>`);
  const chain = await T.decodeChain(fromB64u(chainText, "--proof"));
  const at = chain.findIndex((t) => t.cid.equals(cid));
  if (at < 0) throw new Usage(`${cid} is not a token of the chain given`);
  const rec = await T.signRevocation(identity, chain.slice(0, at + 1));
  io.out(b64u(rec.bytes) + "\n");
  const std = Buffer.from(rec.bytes).toString("base64");
  io.err(`revocation of ${cid} by ${identity.did}; replicate it with:\n  trellis update ${T.REVOCATIONS_VARIABLE} '{"add":{"$bytes":"${std}"}}'\n`);
}

// Tokens need the optional peer @ipld/dag-cbor: say so instead of a stack trace.
const trust = () => loadPeers("trellis delegate / revoke", PEERS["trellis/trust"], () => import("../trust/index.js"));

const COMMANDS: Record<string, (args: string[], io: Out) => Promise<void>> = { owner, delegate: delegateCmd, revoke };
export const CAP_COMMANDS = Object.keys(COMMANDS);

// Runs one of CAP_COMMANDS; returns the exit code (0, 1 refused, 2 usage).
export async function capsCommand(cmd: string, args: string[], io: Out): Promise<number> {
  try {
    await COMMANDS[cmd](args, io);
    return 0;
  } catch (e) {
    const usage = e instanceof Usage || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    io.err(`trellis: ${(e as Error).message ?? String(e)}\n${usage ? "Run 'trellis --help' for usage.\n" : ""}`);
    return usage ? USAGE : REFUSED;
  }
}
