// The capability verifier (docs/security.md, "Capabilities"): whether an
// envelope's author may do what its deltas do, on the variables they name.
//
//   const caps = new Capabilities({ owners: { "campaign/*": ownerDid } });
//   await caps.check(envelope, { now: Date.now() });
//     // resolves (undefined) when every item is authorised;
//     // rejects with a TrustError: UNAUTHORIZED_CAP, OVER_DELEGATED, EXPIRED,
//     // NOT_YET_VALID, REVOKED, BAD_CAP, TOO_LARGE or BAD_DELTA. Nothing changes
//     // on a rejection, except that valid revocation records it carried are kept.
//   caps.authorize(envelope)  // the same, on the clock given as `now` in the options:
//                             // the shape of admit()'s / the TrustHub's `authorize` hook
//   await caps.canRead(did, variable, { proof?, now? }) // → boolean, for read gating
//   await caps.canWrite(did, variable, command, { proof?, now? }) // → boolean: gates a node's own side effects
//   await caps.addRevocation(recordBytes) / caps.addRevocations(gsetState)
//
// For each item: the variable's owner (configured per id or namespace) may do
// anything; anyone else needs, in the envelope's `cap`, a chain from that
// owner to the author granting every command the delta needs (ops.ts reads
// them from the delta's bytes) on that variable, valid now and not revoked.
// Items of REVOCATIONS_VARIABLE need no capability: every element must be a
// valid revocation record, which is itself the proof of the right to revoke.
// A chain's signatures and structure are checked once and memoised by its
// tokens' CIDs (bounded, least recently used first out); time and revocation
// are checked at every use.
import type { Kernel } from "../wasm/kernel.js";
import { kernel } from "../wasm/kernel.js";
import { cidOf, type Envelope } from "./envelope.js";
import { TrustError } from "./errors.js";
import { commandsOf } from "./ops.js";
import { REVOCATIONS_VARIABLE, revocationElements, verifyRevocation } from "./revocation.js";
import {
  COMMANDS, DEFAULT_TOKEN_LIMITS, chainGrant, commandCovers, decodeProof, patternMatches, validCommand, verifyToken,
  type Grant, type Token, type TokenLimits,
} from "./ucan.js";

type Verify = (did: string, data: Uint8Array, sig: Uint8Array) => Promise<boolean>;

export interface CapabilityOptions {
  // Owners by variable id or namespace: { "campaign/*": did, "scores": did, "*": did }.
  // An exact id wins over a namespace, a longer namespace over a shorter one.
  // Every node of a cluster needs the same owners to agree on what is admitted.
  owners: Record<string, string>;
  unowned?: "deny" | "allow";      // a variable no owner covers (default "deny": UNAUTHORIZED_CAP)
  cacheSize?: number;              // memoised chains (default 1,024)
  maxRevocations?: number;         // revoked CIDs kept (default 100,000; more is TOO_LARGE)
  maxRecordsPerItem?: number;      // revocation records one envelope item may carry (default 256; more is TOO_LARGE)
  limits?: Partial<TokenLimits>;
  verify?: Verify;                 // default: identity's verifySignature
  kernel?: Kernel;
  now?: () => number;              // the clock `authorize` and a check without `now` use, ms (default Date.now)
}

export interface CheckOptions { now?: number } // the receiver's clock, ms (default Date.now())

export class Capabilities {
  readonly #owners: [string, string][];  // [pattern, did], most specific first
  readonly #ownerDids: Set<string>;
  readonly #unowned: "deny" | "allow";
  readonly #cacheSize: number;
  readonly #maxRevocations: number;
  readonly #maxRecordsPerItem: number;
  readonly #records = new Set<string>();             // CIDs of the valid records added: not verified twice
  readonly #limits: TokenLimits;
  readonly #verify: Verify | undefined;
  readonly #kernel: Kernel | undefined;
  readonly #now: () => number;
  readonly #memo = new Map<string, Grant>();      // chain key (CIDs, root first) → grant
  readonly #revoked = new Map<string, Set<string>>(); // token CID → dids that revoked it
  readonly stats = { hits: 0, misses: 0 };

  constructor(o: CapabilityOptions) {
    const rank = (p: string) => (p === "*" ? 0 : p.endsWith("/*") ? p.length : Number.MAX_SAFE_INTEGER);
    this.#owners = Object.entries(o.owners ?? {}).sort((a, b) => rank(b[0]) - rank(a[0]));
    this.#ownerDids = new Set(this.#owners.map(([, d]) => d));
    this.#unowned = o.unowned ?? "deny";
    this.#cacheSize = o.cacheSize ?? 1024;
    this.#maxRevocations = o.maxRevocations ?? 100_000;
    this.#maxRecordsPerItem = o.maxRecordsPerItem ?? 256;
    this.#limits = { ...DEFAULT_TOKEN_LIMITS, ...o.limits };
    this.#verify = o.verify;
    this.#kernel = o.kernel;
    this.#now = o.now ?? Date.now;
  }

  // check() as a hook: `admit(ledger, bytes, { authorize: caps.authorize })`.
  readonly authorize = (env: Pick<Envelope, "author" | "items" | "cap">): Promise<void> => this.check(env);

  // The did owning `variable`, or undefined.
  ownerOf(variable: string): string | undefined {
    return this.#owners.find(([p]) => patternMatches(p, variable))?.[1];
  }

  get cached(): number { return this.#memo.size; }
  get revocations(): number { return this.#revoked.size; }
  // Who revoked the token `cid` (empty: nobody).
  revokedBy(cid: { toString(): string } | string): string[] { return [...(this.#revoked.get(String(cid)) ?? [])]; }

  // Verifies one chain's signatures and narrowing, memoised by its CIDs.
  async verifyChain(chain: Token[]): Promise<Grant> {
    const key = chain.map((t) => t.cid.toString()).join(" ");
    const hit = this.#memo.get(key);
    if (hit) {
      this.#memo.delete(key); this.#memo.set(key, hit); // most recently used last
      this.stats.hits++;
      return hit;
    }
    this.stats.misses++;
    const g = chainGrant(chain, this.#limits);
    const ok = await Promise.all(chain.map((t) => verifyToken(t, this.#verify)));
    const bad = ok.indexOf(false);
    if (bad >= 0) throw new TrustError("BAD_CAP", `token ${bad} of a chain (${chain[bad].cid}) is not signed by its issuer ${chain[bad].iss}`);
    if (this.#cacheSize > 0) {
      if (this.#memo.size >= this.#cacheSize) this.#memo.delete(this.#memo.keys().next().value!);
      this.#memo.set(key, g);
    }
    return g;
  }

  // Why a verified grant cannot be used now (null: it can).
  #unusable(g: Grant, nowMs: number): TrustError | null {
    const s = Math.floor(nowMs / 1000);
    if (g.exp !== null && s >= g.exp) return new TrustError("EXPIRED", `a chain to ${g.aud} expired at ${g.exp} (now ${s})`);
    if (s < g.nbf) return new TrustError("NOT_YET_VALID", `a chain to ${g.aud} is valid from ${g.nbf} (now ${s})`);
    for (let i = 0; i < g.cids.length; i++) {
      const by = this.#revoked.get(g.cids[i]);
      // Only an issuer at or above the token may revoke it.
      if (by && g.issuers.slice(0, i + 1).some((d) => by.has(d))) return new TrustError("REVOKED", `token ${g.cids[i]} of a chain to ${g.aud} is revoked`);
    }
    return null;
  }

  async #grants(cap: Uint8Array | Token[][]): Promise<Grant[]> {
    const chains = cap instanceof Uint8Array ? await decodeProof(cap, this.#limits) : cap;
    if (chains.length > this.#limits.maxChains) throw new TrustError("TOO_LARGE", `a proof of ${chains.length} chains, at most ${this.#limits.maxChains}`);
    const out: Grant[] = [];
    for (const c of chains) out.push(await this.verifyChain(c));
    return out;
  }

  // Whether `grants` give `did` every command of `need` on `variable` now;
  // throws the most telling refusal otherwise.
  #authorise(grants: Grant[], did: string, owner: string, variable: string, need: string[], nowMs: number): void {
    let why: TrustError | null = null;
    for (const g of grants) {
      if (g.sub !== owner || g.aud !== did || !g.pol.some((p) => patternMatches(p, variable))) continue;
      if (!need.every((c) => commandCovers(g.cmd, c))) continue;
      const e = this.#unusable(g, nowMs);
      if (!e) return;
      why ??= e;
    }
    throw why ?? new TrustError("UNAUTHORIZED_CAP", `${did} holds no capability for ${need.join(" + ")} on ${JSON.stringify(variable)} from its owner ${owner}`);
  }

  async check(env: Pick<Envelope, "author" | "items" | "cap">, o: CheckOptions = {}): Promise<void> {
    const now = o.now ?? this.#now();
    const k = this.#kernel ?? kernel();
    let grants: Grant[] | null = null;
    for (const it of env.items) {
      if (it.variable === REVOCATIONS_VARIABLE) {
        const records = revocationElements(it.delta, k);
        if (records.length > this.#maxRecordsPerItem) throw new TrustError("TOO_LARGE", `${records.length} revocation records in one item, at most ${this.#maxRecordsPerItem}`);
        for (const b of records) await this.addRevocation(b);
        continue;
      }
      const owner = this.ownerOf(it.variable);
      if (owner === undefined) {
        if (this.#unowned === "allow") continue;
        throw new TrustError("UNAUTHORIZED_CAP", `${JSON.stringify(it.variable)} has no owner`);
      }
      if (owner === env.author) continue;
      let need: string[];
      try { need = commandsOf(it.delta, k); } catch (e) {
        throw e instanceof TrustError ? e : new TrustError("BAD_DELTA", `${JSON.stringify(it.variable)}: ${(e as Error)?.message ?? String(e)}`, e);
      }
      grants ??= await this.#grants(env.cap);
      this.#authorise(grants, env.author, owner, it.variable, need, now);
    }
  }

  // Read gating: whether `did` may be served `variable` (its owner, or a
  // holder of /trellis/read, given in `proof` or among the memoised chains).
  // Never throws: a bad proof is false.
  async canRead(did: string, variable: string, o: { proof?: Uint8Array | Token[][]; now?: number } = {}): Promise<boolean> {
    const owner = this.ownerOf(variable);
    if (owner === undefined) return this.#unowned === "allow";
    if (owner === did) return true;
    let grants: Grant[];
    try { grants = o.proof ? await this.#grants(o.proof) : [...this.#memo.values()]; } catch { return false; }
    try { this.#authorise(grants, did, owner, variable, [COMMANDS.READ], o.now ?? this.#now()); return true; } catch { return false; }
  }

  // Whether `did` holds `command` (e.g. COMMANDS.REMOVE) on `variable` now:
  // it owns the variable, or a chain in `proof` (or, without one, among the
  // memoised chains, as for canRead) grants it, valid now and unrevoked. Any
  // command path may be asked; canRead is the read case. Never throws on a
  // bad proof (false); an argument that is not a command path is a TypeError.
  // This is what gates a node's own side effects (enforceOnce, authority.ts).
  async canWrite(did: string, variable: string, command: string, o: { proof?: Uint8Array | Token[][]; now?: number } = {}): Promise<boolean> {
    return (await this.writeRefusal(did, variable, command, o)) === null;
  }

  // canWrite's reason: null when `did` holds `command` on `variable`, else the
  // TrustError a delta doing it would get (UNAUTHORIZED_CAP, EXPIRED,
  // NOT_YET_VALID, REVOKED, or BAD_CAP / OVER_DELEGATED / TOO_LARGE for a bad proof).
  async writeRefusal(did: string, variable: string, command: string, o: { proof?: Uint8Array | Token[][]; now?: number } = {}): Promise<TrustError | null> {
    if (!validCommand(command)) throw new TypeError(`not a command path: ${JSON.stringify(String(command).slice(0, 60))}`);
    if (typeof did !== "string" || typeof variable !== "string") throw new TypeError("canWrite(did, variable, command): did and variable are strings");
    const owner = this.ownerOf(variable);
    if (owner === undefined) return this.#unowned === "allow" ? null : new TrustError("UNAUTHORIZED_CAP", `${JSON.stringify(variable)} has no owner`);
    if (owner === did) return null;
    try {
      const grants = o.proof ? await this.#grants(o.proof) : [...this.#memo.values()];
      this.#authorise(grants, did, owner, variable, [command], o.now ?? this.#now());
      return null;
    } catch (e) {
      return e instanceof TrustError ? e : new TrustError("BAD_CAP", (e as Error)?.message ?? String(e), e);
    }
  }

  // Adds one revocation record (its bytes): true if it revoked something new.
  // Its chain must start at a configured owner. Memoised chains holding the
  // revoked token are dropped. Throws BAD_CAP or TOO_LARGE.
  async addRevocation(bytes: Uint8Array): Promise<boolean> {
    if (bytes instanceof Uint8Array && this.#records.has((await cidOf(bytes)).toString())) return false;
    const r = await verifyRevocation(bytes, { limits: this.#limits, verify: this.#verify });
    if (!this.#ownerDids.has(r.prf[0].sub)) throw new TrustError("BAD_CAP", `a revocation in the namespace of ${r.prf[0].sub}, which owns no configured variable`);
    const cid = r.rev.toString();
    let by = this.#revoked.get(cid);
    if (!by && this.#revoked.size >= this.#maxRevocations) throw new TrustError("TOO_LARGE", `${this.#maxRevocations} revoked tokens already kept`);
    // Known valid records are not verified again (bounded: past the bound they are, at a signature's cost).
    if (this.#records.size < 4 * this.#maxRevocations) this.#records.add(r.cid.toString());
    if (by?.has(r.iss)) return false;
    if (!by) this.#revoked.set(cid, (by = new Set()));
    by.add(r.iss);
    for (const [key, g] of this.#memo) if (g.cids.includes(cid)) this.#memo.delete(key);
    return true;
  }

  // Adds every record of a revocations GSet state or delta; returns how many were new.
  async addRevocations(state: Uint8Array): Promise<number> {
    let n = 0;
    for (const b of revocationElements(state, this.#kernel ?? kernel())) if (await this.addRevocation(b)) n++;
    return n;
  }
}
