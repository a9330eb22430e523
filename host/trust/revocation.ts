// Revocation records (docs/security.md, "Capabilities"): an issuer in a
// delegation chain revokes a token of that chain at or below its own. A
// record carries the chain from the owner down to the revoked token, so any
// node can check it on its own, in any order: the record is signed by `iss`,
// `iss` signed one of the chain's tokens, the chain starts at its subject
// (the owner) and ends with the revoked token. Records replicate as the
// elements of a GSet variable (REVOCATIONS_VARIABLE): grow-only, so a
// revocation, once seen, holds on every node.
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { publicKeyFromDid } from "../identity/did.js";
import { verifySignature, type PeerIdentity } from "../identity/identity.js";
import { ByteReader, equalBytes, utf8 } from "../crdt/bytes.js";
import { current, v1Layout } from "../crdt/layout.js";
import { decodeValue } from "../crdt/value.js";
import { Tag } from "../crdt/spec.js";
import { mintsOf } from "../replication/mint.js";
import type { Kernel } from "../wasm/kernel.js";
import { kernel } from "../wasm/kernel.js";
import { cidOf } from "./envelope.js";
import { decodeToken, verifyToken, DEFAULT_TOKEN_LIMITS, type Token, type TokenLimits } from "./ucan.js";
import { TrustError } from "./errors.js";

export const REVOCATION_VERSION = 1;
export const REVOCATION_PREFIX = utf8("trellis-revoke/1\0");
// The GSet variable whose elements are revocation records' bytes.
export const REVOCATIONS_VARIABLE = "trellis/revocations";

export interface Revocation {
  iss: string;        // who revokes: an issuer of one of prf's tokens
  rev: CID;           // the revoked token: prf's last
  prf: Token[];       // the chain from the owner to the revoked token, root first
  sig: Uint8Array;
  bytes: Uint8Array;  // canonical dag-cbor: the GSet element
  cid: CID;
  signed: Uint8Array;
}

type Verify = (did: string, data: Uint8Array, sig: Uint8Array) => Promise<boolean>;

function node(iss: string, prf: Token[], sig?: Uint8Array): Record<string, unknown> {
  const n: Record<string, unknown> = { v: REVOCATION_VERSION, iss, rev: prf[prf.length - 1].cid, prf: prf.map((t) => t.bytes) };
  if (sig) n.sig = sig;
  return n;
}
const prefixed = (b: Uint8Array): Uint8Array => { const o = new Uint8Array(REVOCATION_PREFIX.length + b.length); o.set(REVOCATION_PREFIX); o.set(b, REVOCATION_PREFIX.length); return o; };

// The chain's links (not its narrowing: an over-broad token may be revoked too).
function checkChain(iss: string, prf: Token[]): void {
  const root = prf[0];
  if (root.iss !== root.sub) throw new TrustError("BAD_CAP", "a revocation's chain does not start at its subject");
  for (let i = 1; i < prf.length; i++) {
    if (prf[i].sub !== root.sub || prf[i].iss !== prf[i - 1].aud) throw new TrustError("BAD_CAP", `a revocation's chain breaks at token ${i}`);
  }
  if (!prf.some((t) => t.iss === iss)) throw new TrustError("BAD_CAP", `${iss} issued no token of the chain it revokes from`);
}

// Signs a revocation of `chain`'s last token, as `identity` (an issuer of one of its tokens).
export async function signRevocation(identity: PeerIdentity, chain: Token[]): Promise<Revocation> {
  if (chain.length === 0) throw new TrustError("BAD_CAP", "nothing to revoke");
  checkChain(identity.did, chain);
  const signed = prefixed(dagCbor.encode(node(identity.did, chain)));
  const sig = await identity.sign(signed);
  const bytes = dagCbor.encode(node(identity.did, chain, sig));
  return { iss: identity.did, rev: chain[chain.length - 1].cid, prf: chain, sig, bytes, cid: await cidOf(bytes), signed };
}

const KEYS = ["iss", "prf", "rev", "sig", "v"];

// Decodes and checks a hostile record: shape, canonical form, the chain's
// links, and every signature (the record's and its tokens'). Throws BAD_CAP or TOO_LARGE.
export async function verifyRevocation(bytes: Uint8Array, o: { limits?: Partial<TokenLimits>; verify?: Verify } = {}): Promise<Revocation> {
  const l = { ...DEFAULT_TOKEN_LIMITS, ...o.limits };
  if (!(bytes instanceof Uint8Array)) throw new TrustError("BAD_CAP", "a revocation is bytes");
  if (bytes.length > l.maxToken * (l.maxDepth + 1)) throw new TrustError("TOO_LARGE", `a revocation of ${bytes.length} bytes`);
  let n: unknown;
  try { n = dagCbor.decode(bytes); } catch (e) { throw new TrustError("BAD_CAP", `a revocation is not dag-cbor: ${(e as Error)?.message}`.slice(0, 200), e); }
  if (typeof n !== "object" || n === null || Array.isArray(n) || n instanceof Uint8Array || CID.asCID(n)) throw new TrustError("BAD_CAP", "a revocation is a map");
  const m = n as Record<string, unknown>;
  if (m.v !== REVOCATION_VERSION) throw new TrustError("BAD_CAP", `revocation version ${String(m.v).slice(0, 20)}, this reads ${REVOCATION_VERSION}`);
  const keys = Object.keys(m).sort();
  if (keys.length !== KEYS.length || keys.some((k, i) => k !== KEYS[i])) throw new TrustError("BAD_CAP", `a revocation has the fields ${KEYS.join(", ")}`);
  if (typeof m.iss !== "string") throw new TrustError("BAD_CAP", "iss is not a string");
  try { publicKeyFromDid(m.iss); } catch (e) { throw new TrustError("BAD_CAP", `iss: ${(e as Error).message}`, e); }
  if (!(m.sig instanceof Uint8Array) || m.sig.length !== 64) throw new TrustError("BAD_CAP", "sig is not 64 bytes");
  if (!Array.isArray(m.prf) || m.prf.length === 0 || m.prf.length > l.maxDepth) throw new TrustError("BAD_CAP", `prf is a chain of 1 to ${l.maxDepth} tokens`);
  const prf = await Promise.all((m.prf as unknown[]).map((b) => decodeToken(b as Uint8Array, l)));
  const rev = CID.asCID(m.rev);
  if (!rev || !rev.equals(prf[prf.length - 1].cid)) throw new TrustError("BAD_CAP", "rev is not the CID of the chain's last token");
  checkChain(m.iss, prf);
  if (!equalBytes(dagCbor.encode(node(m.iss, prf, m.sig)), bytes)) throw new TrustError("BAD_CAP", "the revocation is not in canonical form");
  const signed = prefixed(dagCbor.encode(node(m.iss, prf)));
  const verify = o.verify ?? verifySignature;
  const ok = await Promise.all([verify(m.iss, signed, m.sig).catch(() => false), ...prf.map((t) => verifyToken(t, verify))]);
  if (ok.some((x) => !x)) throw new TrustError("BAD_CAP", "a signature of the revocation or of its chain does not verify");
  return { iss: m.iss, rev, prf, sig: m.sig, bytes, cid: await cidOf(bytes), signed };
}

// The elements of a GSet state or delta (the revocations variable's), as
// bytes; anything else (another type, an element that is not bytes) is BAD_CAP.
export function revocationElements(state: Uint8Array, k: Kernel = kernel()): Uint8Array[] {
  try { mintsOf(state, k); } catch (e) { throw new TrustError("BAD_DELTA", `${REVOCATIONS_VARIABLE}: ${(e as Error)?.message ?? String(e)}`, e); }
  const r = new ByteReader(v1Layout(current(state, k))); // validated by mintsOf; values in version 3
  r.raw(3);
  if (r.u8() !== Tag.GSet) throw new TrustError("BAD_CAP", `${REVOCATIONS_VARIABLE} is a GSet`);
  const out: Uint8Array[] = [];
  for (let n = r.varint(); n > 0; n--) {
    let v: unknown;
    try { v = decodeValue(r.bytes()); } catch (e) { throw new TrustError("BAD_CAP", `an element of ${REVOCATIONS_VARIABLE} does not decode`, e); }
    if (!(v instanceof Uint8Array)) throw new TrustError("BAD_CAP", `an element of ${REVOCATIONS_VARIABLE} is not bytes`);
    out.push(v);
  }
  return out;
}
