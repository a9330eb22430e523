// One error class for signed envelopes and their admission (docs/security.md,
// "Signed envelopes"), with a code a caller can count and log.
export type TrustErrorCode =
  | "TOO_LARGE"         // bytes or a field over its limit (checked before decoding)
  | "MALFORMED"         // not dag-cbor, or not the envelope's shape
  | "NON_CANONICAL"     // decodes, but is not the canonical encoding of what it holds
  | "BAD_VERSION"       // an envelope version this code does not read
  | "UNSIGNED"          // no signature, or an empty one
  | "BAD_SIGNATURE"     // a signature that does not verify under the author's key
  | "BAD_DELTA"         // an item's delta is not a valid trellis state
  | "BAD_DIGEST"        // a carried delta does not match the digest or length its signed header gives it
  | "BAD_SQUASH"        // a squash that does not agree with the envelopes it covers (evidence kept) or cannot stand for them
  | "LOG_FULL"          // the author's envelopes in this node's log are at the per-author cap (it must squash)
  | "BAD_SEQUENCE"      // not the author's next sequence number, or not linked to the author's previous envelope
  | "EQUIVOCATION"      // another envelope of the same author and sequence was admitted (evidence kept)
  | "FORGED_MINT"       // the delta mints a dot, token, counter entry or write of another key's replica
  | "DOT_REUSED"        // the delta mints a dot of the author's that its history already holds
  | "COUNTER_JUMP"      // a dot or counter entry advances further than one envelope may
  | "VALUE_TOO_LARGE"   // a MaxInt value or TopK score over the configured maximum
  | "FUTURE_TIMESTAMP"  // an LWW write stamped beyond the receiver's clock plus the allowed skew
  | "UNSEEN_CONTEXT"    // a causal context (or ORSet removal) covers dots the author's links never minted
  // Capabilities (caps.ts, revocation.ts; docs/security.md "Capabilities"):
  | "BAD_CAP"           // a delegation token, proof or revocation record that does not decode or whose signature does not verify
  | "UNAUTHORIZED_CAP"  // no proof grants the author the command this delta needs on this variable (or the variable has no owner)
  | "OVER_DELEGATED"    // a link of a chain grants more than its parent: a broader command, more variables or a later expiry
  | "EXPIRED"           // a token of the chain is past its expiry
  | "NOT_YET_VALID"     // a token of the chain is before its not-before time
  | "REVOKED"           // a token of the chain was revoked by its issuer or an issuer above it
  | "UNAUTHORIZED";     // the authorize hook (capabilities) refused the envelope

export class TrustError extends Error {
  override readonly name = "TrustError";
  constructor(readonly code: TrustErrorCode, message: string, override readonly cause?: unknown) {
    super(`${code}: ${message}`);
  }
}
