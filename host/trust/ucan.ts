// Delegation tokens after UCAN 1.0 (docs/security.md, "Capabilities"): the
// subset trellis needs, on canonical dag-cbor and the identity module's
// Ed25519 did:keys. A token says: `iss` lets `aud` run `cmd` (and every
// sub-command) on the variables `pol` names, in the namespace owned by `sub`,
// from `nbf` until `exp`. A chain runs from the owner (root: iss = sub) to the
// author, each link issued by the previous link's audience and granting no
// more than it (a sub-command, a subset of variables, an expiry no later).
//
// Why not a UCAN library: iso-ucan (the one UCAN 1.0 implementation on npm)
// is pre-1.0 and brings zod, iso-kv and iso-web into a browser bundle;
// @ucanto/* and @ucans/* implement the older 0.x (JWT) specs. What trellis
// needs is a few hundred lines over what it already ships (dag-cbor, CIDs,
// Ed25519), with its own hostile-input limits.
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { publicKeyFromDid } from "../identity/did.js";
import { verifySignature, type PeerIdentity } from "../identity/identity.js";
import { equalBytes, utf8 } from "../crdt/bytes.js";
import { cidOf } from "./envelope.js";
import { TrustError } from "./errors.js";

export const TOKEN_VERSION = 1;
// Signed bytes = this prefix ‖ the canonical bytes without `sig`: a token's
// signature never verifies as an envelope's or a handshake's, nor theirs as a token's.
export const TOKEN_PREFIX = utf8("trellis-ucan/1\0");

// The commands (UCAN `cmd`): a path; a command covers itself and every
// command below it. "/trellis" and "/trellis/admin" cover every trellis command.
export const COMMANDS = Object.freeze({
  ALL: "/trellis",
  ADMIN: "/trellis/admin",
  READ: "/trellis/read",
  WRITE: "/trellis/write",
  INCREMENT: "/trellis/write/increment", // raise one's own GCounter / PNCounter entries
  DECREMENT: "/trellis/write/decrement", // PNCounter decrements
  ADD: "/trellis/write/add",             // new set elements, map keys, TopK entries
  REMOVE: "/trellis/write/remove",       // cover dots with no element (AWSet/AWMap removes), ORSet and TwoPSet removes
  SET: "/trellis/write/set",             // registers (LWW, MV), EWFlag, IVar, MaxInt
});

export interface TokenLimits {
  maxToken: number;    // bytes of one token (default 2 KiB)
  maxDepth: number;    // tokens in one chain (default 8)
  maxChains: number;   // chains in one proof (default 16)
  maxPatterns: number; // variable patterns in one policy (default 16)
  maxVariable: number; // UTF-8 bytes of one pattern (default 256)
  maxProof: number;    // bytes of a whole proof (default 16 KiB, an envelope's maxCap)
}
export const DEFAULT_TOKEN_LIMITS: Readonly<TokenLimits> = Object.freeze({ maxToken: 2048, maxDepth: 8, maxChains: 16, maxPatterns: 16, maxVariable: 256, maxProof: 16 << 10 });
const limitsOf = (l?: Partial<TokenLimits>): TokenLimits => ({ ...DEFAULT_TOKEN_LIMITS, ...l });

export interface TokenFields {
  iss: string;            // the signer's did:key
  aud: string;            // who receives the right
  sub: string;            // the owner of the namespace (the chain's root issuer)
  cmd: string;            // e.g. "/trellis/write/increment"
  pol: string[];          // variables: an exact id, "prefix/*" (every id starting "prefix/") or "*"
  exp: number | null;     // expiry, Unix seconds (exclusive); null: none
  nbf?: number;           // not before, Unix seconds
  nonce: Uint8Array;      // 8 to 32 random bytes: two grants of the same right have two CIDs
}
export interface Token extends TokenFields {
  sig: Uint8Array;
  bytes: Uint8Array;      // canonical dag-cbor: what chains carry
  cid: CID;               // CIDv1 dag-cbor sha-256 of `bytes`
  signed: Uint8Array;     // TOKEN_PREFIX ‖ the canonical bytes without `sig`
}

const CMD = /^\/(?:[a-z0-9_-]+(?:\/[a-z0-9_-]+)*)?$/;
export function validCommand(c: unknown): c is string { return typeof c === "string" && c.length <= 128 && CMD.test(c); }

// Whether `parent` covers `child`: equal, or `child` below it.
export function commandCovers(parent: string, child: string): boolean {
  if (parent === "/") return true;
  if (parent === COMMANDS.ALL || parent === COMMANDS.ADMIN) return child === COMMANDS.ALL || child.startsWith(COMMANDS.ALL + "/");
  return child === parent || child.startsWith(parent + "/");
}

// Variable patterns: "*" is every variable; "ns/*" every id that starts "ns/"; anything else one id.
export function patternMatches(p: string, variable: string): boolean {
  if (p === "*") return true;
  if (p.endsWith("/*")) return variable.startsWith(p.slice(0, -1));
  return variable === p;
}
// Whether every variable `child` names is one `parent` names.
export function patternCovers(parent: string, child: string): boolean {
  if (parent === "*") return true;
  if (child === "*") return false;
  if (parent.endsWith("/*")) return child.startsWith(parent.slice(0, -1));
  return child === parent;
}

function checkFields(t: TokenFields, l: TokenLimits): void {
  for (const k of ["iss", "aud", "sub"] as const) {
    if (typeof t[k] !== "string") throw new TrustError("BAD_CAP", `${k} is not a string`);
    try { publicKeyFromDid(t[k]); } catch (e) { throw new TrustError("BAD_CAP", `${k}: ${(e as Error).message}`, e); }
  }
  if (!validCommand(t.cmd)) throw new TrustError("BAD_CAP", `cmd is not a command path: ${JSON.stringify(String(t.cmd).slice(0, 60))}`);
  if (!Array.isArray(t.pol) || t.pol.length === 0 || t.pol.length > l.maxPatterns) throw new TrustError("BAD_CAP", `pol is a list of 1 to ${l.maxPatterns} variable patterns`);
  for (const p of t.pol) {
    if (typeof p !== "string" || p.length === 0 || utf8(p).length > l.maxVariable) throw new TrustError("BAD_CAP", `a pattern is a string of 1 to ${l.maxVariable} bytes`);
  }
  const time = (x: unknown) => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
  if (t.exp !== null && !time(t.exp)) throw new TrustError("BAD_CAP", "exp is Unix seconds or null");
  if (t.nbf !== undefined && !time(t.nbf)) throw new TrustError("BAD_CAP", "nbf is Unix seconds");
  if (!(t.nonce instanceof Uint8Array) || t.nonce.length < 8 || t.nonce.length > 32) throw new TrustError("BAD_CAP", "nonce is 8 to 32 bytes");
}

function node(t: TokenFields, sig?: Uint8Array): Record<string, unknown> {
  const n: Record<string, unknown> = { v: TOKEN_VERSION, iss: t.iss, aud: t.aud, sub: t.sub, cmd: t.cmd, pol: [...t.pol], exp: t.exp, nonce: t.nonce };
  if (t.nbf !== undefined) n.nbf = t.nbf;
  if (sig) n.sig = sig;
  return n;
}
const prefixed = (prefix: Uint8Array, b: Uint8Array): Uint8Array => { const o = new Uint8Array(prefix.length + b.length); o.set(prefix); o.set(b, prefix.length); return o; };

export async function signToken(identity: PeerIdentity, t: Omit<TokenFields, "iss" | "nonce"> & { nonce?: Uint8Array }, limits?: Partial<TokenLimits>): Promise<Token> {
  const f: TokenFields = { ...t, iss: identity.did, nonce: t.nonce ?? globalThis.crypto.getRandomValues(new Uint8Array(12)) };
  const l = limitsOf(limits);
  checkFields(f, l);
  const signed = prefixed(TOKEN_PREFIX, dagCbor.encode(node(f)));
  const sig = await identity.sign(signed);
  const bytes = dagCbor.encode(node(f, sig));
  if (bytes.length > l.maxToken) throw new TrustError("TOO_LARGE", `token of ${bytes.length} bytes, at most ${l.maxToken}`);
  return { ...f, pol: [...f.pol], sig, bytes, cid: await cidOf(bytes), signed };
}

const KEYS = new Set(["v", "iss", "aud", "sub", "cmd", "pol", "exp", "nbf", "nonce", "sig"]);

// Decodes a hostile token: shape, limits and canonical form. The signature is
// checked by verifyToken (or a chain check).
export async function decodeToken(bytes: Uint8Array, limits?: Partial<TokenLimits>): Promise<Token> {
  const l = limitsOf(limits);
  if (!(bytes instanceof Uint8Array)) throw new TrustError("BAD_CAP", "a token is bytes");
  if (bytes.length > l.maxToken) throw new TrustError("TOO_LARGE", `token of ${bytes.length} bytes, at most ${l.maxToken}`);
  let n: unknown;
  try { n = dagCbor.decode(bytes); } catch (e) { throw new TrustError("BAD_CAP", `token is not dag-cbor: ${(e as Error)?.message}`.slice(0, 200), e); }
  if (typeof n !== "object" || n === null || Array.isArray(n) || n instanceof Uint8Array || CID.asCID(n)) throw new TrustError("BAD_CAP", "a token is a map");
  const m = n as Record<string, unknown>;
  if (m.v !== TOKEN_VERSION) throw new TrustError("BAD_CAP", `token version ${String(m.v).slice(0, 20)}, this reads ${TOKEN_VERSION}`);
  for (const k of Object.keys(m)) if (!KEYS.has(k)) throw new TrustError("BAD_CAP", `unknown token field ${JSON.stringify(k.slice(0, 40))}`);
  if (!("exp" in m)) throw new TrustError("BAD_CAP", "missing field exp");
  if (!(m.sig instanceof Uint8Array) || m.sig.length !== 64) throw new TrustError("BAD_CAP", "sig is not 64 bytes");
  const f: TokenFields = { iss: m.iss as string, aud: m.aud as string, sub: m.sub as string, cmd: m.cmd as string, pol: m.pol as string[], exp: m.exp as number | null, nonce: m.nonce as Uint8Array };
  if ("nbf" in m) f.nbf = m.nbf as number;
  checkFields(f, l);
  if (!equalBytes(dagCbor.encode(node(f, m.sig)), bytes)) throw new TrustError("BAD_CAP", "the token is not in canonical form");
  return { ...f, sig: m.sig, bytes, cid: await cidOf(bytes), signed: prefixed(TOKEN_PREFIX, dagCbor.encode(node(f))) };
}

export function verifyToken(t: Token, verify: (did: string, data: Uint8Array, sig: Uint8Array) => Promise<boolean> = verifySignature): Promise<boolean> {
  return verify(t.iss, t.signed, t.sig).catch(() => false);
}

// What a valid chain grants: its leaf's command and variables, to its leaf's
// audience, within the intersection of its links' validity windows.
export interface Grant {
  sub: string;
  aud: string;
  cmd: string;
  pol: string[];
  nbf: number;            // the latest nbf of the chain (0: none)
  exp: number | null;     // the earliest exp of the chain
  cids: string[];         // root first
  issuers: string[];      // issuers, root first (issuers[i] signed cids[i])
}

// The structure of a chain (root first): continuity and narrowing. Throws
// BAD_CAP or OVER_DELEGATED; signatures are checked by verifyChain.
export function chainGrant(chain: Token[], l?: Partial<TokenLimits>): Grant {
  const lim = limitsOf(l);
  if (chain.length === 0) throw new TrustError("BAD_CAP", "an empty chain");
  if (chain.length > lim.maxDepth) throw new TrustError("TOO_LARGE", `a chain of ${chain.length} tokens, at most ${lim.maxDepth}`);
  const root = chain[0];
  if (root.iss !== root.sub) throw new TrustError("BAD_CAP", `the chain's first token is issued by ${root.iss}, not by its subject ${root.sub}`);
  let nbf = root.nbf ?? 0, exp = root.exp;
  for (let i = 1; i < chain.length; i++) {
    const p = chain[i - 1], c = chain[i];
    if (c.sub !== root.sub) throw new TrustError("BAD_CAP", `token ${i} names subject ${c.sub}, the chain's is ${root.sub}`);
    if (c.iss !== p.aud) throw new TrustError("BAD_CAP", `token ${i} is issued by ${c.iss}, but token ${i - 1} delegates to ${p.aud}`);
    if (!commandCovers(p.cmd, c.cmd)) throw new TrustError("OVER_DELEGATED", `token ${i} grants ${c.cmd}, beyond its parent's ${p.cmd}`);
    for (const q of c.pol) if (!p.pol.some((pp) => patternCovers(pp, q))) throw new TrustError("OVER_DELEGATED", `token ${i} names ${JSON.stringify(q)}, beyond its parent's ${JSON.stringify(p.pol)}`);
    if (p.exp !== null && (c.exp === null || c.exp > p.exp)) throw new TrustError("OVER_DELEGATED", `token ${i} expires at ${c.exp ?? "never"}, after its parent (${p.exp})`);
    nbf = Math.max(nbf, c.nbf ?? 0);
    if (c.exp !== null) exp = exp === null ? c.exp : Math.min(exp, c.exp);
  }
  const leaf = chain[chain.length - 1];
  return { sub: root.sub, aud: leaf.aud, cmd: leaf.cmd, pol: [...leaf.pol], nbf, exp, cids: chain.map((t) => t.cid.toString()), issuers: chain.map((t) => t.iss) };
}

// Signs a delegation: from the owner (no parent: `sub` is the signer) or
// onward from `parent` (a chain ending with a token to the signer), which the
// new token must narrow. Returns the new chain, root first.
export async function delegate(
  identity: PeerIdentity,
  grant: { aud: string; cmd: string; pol: string[]; exp?: number | null; nbf?: number; nonce?: Uint8Array },
  parent: Token[] = [],
  limits?: Partial<TokenLimits>,
): Promise<Token[]> {
  const sub = parent.length ? parent[0].sub : identity.did;
  if (parent.length && parent[parent.length - 1].aud !== identity.did) throw new TrustError("BAD_CAP", `the parent chain delegates to ${parent[parent.length - 1].aud}, not to the signer ${identity.did}`);
  const exp = grant.exp === undefined ? (parent.length ? parent[parent.length - 1].exp : null) : grant.exp;
  const t = await signToken(identity, { aud: grant.aud, sub, cmd: grant.cmd, pol: grant.pol, exp, nbf: grant.nbf, nonce: grant.nonce }, limits);
  const chain = [...parent, t];
  chainGrant(chain, limits); // refuse to make an over-delegation
  return chain;
}

// A chain travels as a dag-cbor list of token bytes, root first; a proof (an
// envelope's `cap`) as a list of chains.
export function encodeChain(chain: Token[]): Uint8Array { return dagCbor.encode(chain.map((t) => t.bytes)); }
export function encodeProof(chains: Token[][]): Uint8Array { return dagCbor.encode(chains.map((c) => c.map((t) => t.bytes))); }

function listOfBytes(x: unknown, max: number, what: string): Uint8Array[] {
  if (!Array.isArray(x)) throw new TrustError("BAD_CAP", `${what} is not a list`);
  if (x.length === 0 || x.length > max) throw new TrustError(x.length > max ? "TOO_LARGE" : "BAD_CAP", `${what} holds ${x.length} entries, 1 to ${max}`);
  for (const b of x) if (!(b instanceof Uint8Array)) throw new TrustError("BAD_CAP", `${what} holds something that is not bytes`);
  return x as Uint8Array[];
}
function cbor(bytes: Uint8Array, what: string): unknown {
  if (!(bytes instanceof Uint8Array)) throw new TrustError("BAD_CAP", `${what} is bytes`);
  try { return dagCbor.decode(bytes); } catch (e) { throw new TrustError("BAD_CAP", `${what} is not dag-cbor: ${(e as Error)?.message}`.slice(0, 200), e); }
}

export async function decodeChain(bytes: Uint8Array, limits?: Partial<TokenLimits>): Promise<Token[]> {
  const l = limitsOf(limits);
  if (bytes instanceof Uint8Array && bytes.length > l.maxToken * l.maxDepth + 16) throw new TrustError("TOO_LARGE", `a chain of ${bytes.length} bytes`);
  const list = listOfBytes(cbor(bytes, "a chain"), l.maxDepth, "a chain");
  return Promise.all(list.map((b) => decodeToken(b, l)));
}

// Decodes an envelope's `cap`: an empty one is no chains.
export async function decodeProof(bytes: Uint8Array, limits?: Partial<TokenLimits>): Promise<Token[][]> {
  if (bytes instanceof Uint8Array && bytes.length === 0) return [];
  const l = limitsOf(limits);
  if (bytes instanceof Uint8Array && bytes.length > l.maxProof) throw new TrustError("TOO_LARGE", `a proof of ${bytes.length} bytes, at most ${l.maxProof}`);
  const chains = cbor(bytes, "a proof");
  if (!Array.isArray(chains)) throw new TrustError("BAD_CAP", "a proof is a list of chains");
  if (chains.length > l.maxChains) throw new TrustError("TOO_LARGE", `a proof of ${chains.length} chains, at most ${l.maxChains}`);
  return Promise.all(chains.map((c) => Promise.all(listOfBytes(c, l.maxDepth, "a chain").map((b) => decodeToken(b, l)))));
}
