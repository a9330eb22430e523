// Which keys may connect: "any" (any key that proves itself), a list of
// did:keys, or a predicate. A list is checked when it is made: a typo is an
// error at start, not a silent refusal later.
import { isDid } from "./did.js";
import { IdentityError } from "./errors.js";

export type AllowPolicy = "any" | readonly string[] | ((did: string) => boolean);

export class AllowList {
  readonly any: boolean;
  #dids: Set<string> | null;
  #fn: ((did: string) => boolean) | null;

  constructor(policy: AllowPolicy = "any") {
    this.any = policy === "any";
    this.#fn = typeof policy === "function" ? policy : null;
    this.#dids = Array.isArray(policy) ? new Set(policy) : null;
    if (!this.any && !this.#fn && !this.#dids) throw new IdentityError("BAD_ALLOW", `allow is "any", a list of did:keys or a function, got ${typeof policy}`);
    for (const d of this.#dids ?? []) if (!isDid(d)) throw new IdentityError("BAD_ALLOW", `not an Ed25519 did:key: ${JSON.stringify(d)}`);
  }

  admits(did: string): boolean {
    if (this.any) return true;
    if (this.#dids) return this.#dids.has(did);
    try { return this.#fn!(did) === true; } catch { return false; }
  }

  // The dids listed (empty for "any" or a predicate).
  list(): string[] { return [...(this.#dids ?? [])]; }

  // An allow file: one did:key a line; blank lines and `#` comments ignored.
  static parse(text: string): string[] {
    const out: string[] = [];
    text.split(/\r?\n/).forEach((line, i) => {
      const s = line.replace(/#.*/, "").trim();
      if (!s) return;
      if (!isDid(s)) throw new IdentityError("BAD_ALLOW", `line ${i + 1}: not an Ed25519 did:key: ${JSON.stringify(s.slice(0, 80))}`);
      out.push(s);
    });
    return out;
  }
}
