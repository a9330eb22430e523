// Capabilities wired into a trustless node (docs/security.md, "Capabilities
// in trustless nodes"): what a TrustHub asks of them, in one place.
//
//   const caps = new Capabilities({ owners: { "campaign/*": ownerDid } });
//   const gate = new ReadGate(caps);
//   const hub = await TrustHub.open(rt, {
//     identity, authorize: caps.authorize,           // admission
//     proof: myProof,                                // put in the `cap` of every envelope this node signs
//     signable: signableFor(caps, identity.did, myProof), // own changes it holds no right for stay local
//     readGate: gate,                                // read gating, with the proofs peers present
//   });
//   await followRevocations(hub.runtime, caps);      // the revocations GSet: at start and as it grows
//
// Read gating: a node sends an envelope to a peer only if the peer may read
// every variable it carries: the peer's did owns it, or a chain the peer
// presented (a `proof` message of the trust wire, sent by each node to each
// neighbour when it comes up) grants /trellis/read on it, valid now and not
// revoked. Chains are verified once (Capabilities memoises them by CID); what
// is kept per peer is bounded (maxPeers peers, a proof's limits each).
import type { Runtime } from "../dataflow/runtime.js";
import type { Kernel } from "../wasm/kernel.js";
import { kernel } from "../wasm/kernel.js";
import type { Capabilities } from "./caps.js";
import type { ProofSource } from "./authority.js";
import { TrustError } from "./errors.js";
import { commandsOf } from "./ops.js";
import { REVOCATIONS_VARIABLE, revocationElements } from "./revocation.js";
import { COMMANDS, DEFAULT_TOKEN_LIMITS, commandCovers, decodeProof, patternMatches, type Grant, type TokenLimits } from "./ucan.js";
import { GSet } from "../crdt/gset.js";
import { decodeState } from "../crdt/base.js";

export interface ReadGateOptions {
  unowned?: "deny" | "allow";  // a variable no owner covers: served to anyone ("allow") or no one (default "deny", as Capabilities)
  now?: () => number;          // ms (default Date.now)
  maxPeers?: number;           // peers whose presented grants are kept (default 4,096; the least recently presented go first)
  limits?: Partial<TokenLimits>;
}

export class ReadGate {
  readonly caps: Capabilities;
  readonly #unowned: "deny" | "allow";
  readonly #now: () => number;
  readonly #maxPeers: number;
  readonly #limits: TokenLimits;
  readonly #grants = new Map<string, Grant[]>(); // did → read grants it presented

  constructor(caps: Capabilities, o: ReadGateOptions = {}) {
    this.caps = caps;
    this.#unowned = o.unowned ?? "deny";
    this.#now = o.now ?? Date.now;
    this.#maxPeers = o.maxPeers ?? 4096;
    this.#limits = { ...DEFAULT_TOKEN_LIMITS, ...o.limits };
  }

  get peers(): number { return this.#grants.size; }

  // A proof a peer presented for `did` (the key it proved on connecting):
  // its chains are verified (memoised) and those granting `did` read are
  // kept, replacing what it presented before. Returns how many were kept.
  // Throws the TrustError of a bad proof (nothing kept then).
  async present(did: string, proof: Uint8Array): Promise<number> {
    const chains = await decodeProof(proof, this.#limits);
    const kept: Grant[] = [];
    for (const c of chains) {
      const g = await this.caps.verifyChain(c);
      if (g.aud === did && commandCovers(g.cmd, COMMANDS.READ)) kept.push(g);
    }
    this.#grants.delete(did);
    if (kept.length === 0) return 0;
    if (this.#grants.size >= this.#maxPeers) this.#grants.delete(this.#grants.keys().next().value!);
    this.#grants.set(did, kept);
    return kept.length;
  }

  forget(did: string): void { this.#grants.delete(did); }

  // Whether `did` (undefined: a peer with no proven key) may read `variable` now.
  canRead(did: string | undefined, variable: string): boolean {
    // Everyone must learn of revocations.
    if (variable === REVOCATIONS_VARIABLE) return true;
    const owner = this.caps.ownerOf(variable);
    if (owner === undefined) return this.#unowned === "allow";
    if (did === undefined) return false;
    if (owner === did) return true;
    const s = Math.floor(this.#now() / 1000);
    for (const g of this.#grants.get(did) ?? []) {
      if (g.sub !== owner || !g.pol.some((p) => patternMatches(p, variable))) continue;
      if ((g.exp !== null && s >= g.exp) || s < g.nbf) continue;
      if (this.#revoked(g)) continue;
      return true;
    }
    return false;
  }

  // Only an issuer at or above a revoked token may revoke it (as Capabilities does).
  #revoked(g: Grant): boolean {
    for (let i = 0; i < g.cids.length; i++) {
      const by = this.caps.revokedBy(g.cids[i]);
      if (by.length && g.issuers.slice(0, i + 1).some((d) => by.includes(d))) return true;
    }
    return false;
  }

  canServe(did: string | undefined, variables: Iterable<string>): boolean {
    for (const v of variables) if (!this.canRead(did, v)) return false;
    return true;
  }
}

// What a TrustHub's `signable` hook answers for one local delta-group:
// sign it, or keep it local (with the reason, or none for a bare
// declaration: the owner declares its variables, a bottom state needs no envelope).
export interface Signable { sign: boolean; why?: TrustError }

// The hook: a change is signed only if `did` may make it (owns the variable,
// or `proof` grants every command the delta needs), so a node never signs an
// envelope its peers refuse (one refused envelope would break its chain:
// every later one links to it). A change kept local stays in this node's
// runtime and is reported.
export function signableFor(caps: Capabilities, did: string, proof?: ProofSource, k?: Kernel): (variable: string, delta: Uint8Array) => Promise<Signable> {
  return async (variable, delta) => {
    if (variable === REVOCATIONS_VARIABLE || caps.ownerOf(variable) === did) return { sign: true };
    let need: string[];
    try { need = commandsOf(delta, k ?? kernel()); } catch (e) {
      return { sign: false, why: e instanceof TrustError ? e : new TrustError("BAD_DELTA", (e as Error)?.message ?? String(e), e) };
    }
    // Bottom (a declaration): nothing to sign.
    if (need.length === 1 && need[0] === COMMANDS.WRITE && isBottom(delta, k)) return { sign: false };
    const p = typeof proof === "function" ? await proof() : proof;
    for (const c of need) {
      const why = await caps.writeRefusal(did, variable, c, { proof: p });
      if (why) return { sign: false, why };
    }
    return { sign: true };
  };
}

// commandsOf validated it; a bottom state has no mints and no elements.
function isBottom(delta: Uint8Array, k?: Kernel): boolean {
  const s = decodeState(delta, undefined, k ?? kernel());
  try { return s.isBottom; } finally { s.dispose(); }
}

// Revocation records relayed apart from envelopes (a TrustHub's
// `revocations` option): what this node holds are the elements of its
// revocations GSet; a record a neighbour relays is verified on its own
// (self-certifying: Capabilities.addRevocation) and, if new here, added to
// the GSet by this node, so it is stored, signed into this node's own chain
// and honoured after a restart. A bad record is a TrustError (the rest of the
// message is still read).
export interface RevocationRelay { records(): Uint8Array[]; receive(records: Uint8Array[]): Promise<void> }

export function revocationRelay(rt: Runtime, caps: Capabilities): RevocationRelay {
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  // Asked every round for every neighbour: decoded again only after the set changed.
  let cache: Uint8Array[] | null = null;
  rt.onDelta((id) => { if (id === REVOCATIONS_VARIABLE) cache = null; });
  const records = (): Uint8Array[] => (cache ??= rt.has(REVOCATIONS_VARIABLE) ? revocationElements(rt.encode(REVOCATIONS_VARIABLE), rt.kernel) : []);
  return {
    records,
    async receive(recs) {
      const have = new Set(records().map(hex));
      let bad: unknown = null;
      for (const b of recs) {
        if (!(b instanceof Uint8Array) || have.has(hex(b))) continue;
        try { await caps.addRevocation(b); } catch (e) { bad ??= e; continue; }
        if (!rt.has(REVOCATIONS_VARIABLE)) rt.declare(REVOCATIONS_VARIABLE, GSet);
        rt.update(REVOCATIONS_VARIABLE, { add: b });
        have.add(hex(b));
      }
      if (bad) throw bad;
    },
  };
}

// Feeds the revocations GSet to `caps`: what the runtime holds now (at
// start, the state read back from the store: admission is not re-run then)
// and every change after. Declares the variable if missing. Returns a stop function.
export async function followRevocations(rt: Runtime, caps: Capabilities, onError?: (e: Error) => void): Promise<() => void> {
  if (!rt.has(REVOCATIONS_VARIABLE)) rt.declare(REVOCATIONS_VARIABLE, GSet);
  const feed = (bytes: Uint8Array): Promise<void> => caps.addRevocations(bytes).then(() => {}, (e) => onError?.(e as Error));
  await feed(rt.encode(REVOCATIONS_VARIABLE));
  return rt.onDelta((id, d) => { if (id === REVOCATIONS_VARIABLE) void feed(d); });
}
