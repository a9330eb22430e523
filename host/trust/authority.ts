// The dataflow in trustless mode (docs/dataflow.md, docs/security.md
// "Dataflow in trustless mode"): a Runtime's `authority` hook made from
// capabilities, so an enforceOnce action runs only on a node whose key holds
// the capability for every write it declares.
//
//   const rt = new Runtime({ authority: authorityFor(caps, identity, proof) });
//   rt.enforceOnce("impressions/ad1", { atLeast: 100 }, removeAd,
//     { writes: [{ variable: "campaign/ads", command: COMMANDS.REMOVE }] });
//
// The dataflow layer sits below trust and never imports it: this file is
// the glue. The check runs when the threshold is met, on the clock given
// (default: the verifier's), so a grant revoked or expired by then refuses.
// A refusal throws the verifier's TrustError, which the runtime reports as
// the reason (onRefused); a grant returns true.
import type { Capabilities } from "./caps.js";
import type { Token } from "./ucan.js";
import type { WriteAuthority } from "../dataflow/runtime.js";

// This node's proof: a cap-encoded list of chains (encodeProof), the chains
// themselves, or a function giving the current one (a node that receives a
// new delegation while running).
export type ProofSource = Uint8Array | Token[][] | (() => Uint8Array | Token[][] | undefined | Promise<Uint8Array | Token[][] | undefined>);

export interface AuthorityOptions {
  now?: () => number; // ms; default: the verifier's clock
}

export function authorityFor(caps: Capabilities, identity: { did: string } | string, proof?: ProofSource, o: AuthorityOptions = {}): WriteAuthority {
  const did = typeof identity === "string" ? identity : identity?.did;
  if (typeof did !== "string" || !did.startsWith("did:")) throw new TypeError("authorityFor needs an identity (or its did)");
  if (proof !== undefined && !(proof instanceof Uint8Array) && !Array.isArray(proof) && typeof proof !== "function") {
    throw new TypeError("a proof is encodeProof() bytes, a list of chains, or a function giving one");
  }
  return {
    async mayWrite(variable: string, command: string): Promise<boolean> {
      const p = typeof proof === "function" ? await proof() : proof;
      const e = await caps.writeRefusal(did, variable, command, { proof: p, now: o.now?.() });
      if (e) throw e;
      return true;
    },
  };
}
