// One error class for identities, keys and handshakes, with a code.
export type IdentityErrorCode =
  | "BAD_DID"        // not an Ed25519 did:key
  | "BAD_KEY"        // a key of the wrong size or kind
  | "BAD_SIGNATURE"  // a signature that does not verify
  | "NOT_ALLOWED"    // a valid key that the allow-list does not admit
  | "BAD_ALLOW"      // an allow-list entry or file that does not parse
  | "STORE";         // a key could not be loaded or saved

export class IdentityError extends Error {
  override readonly name = "IdentityError";
  constructor(readonly code: IdentityErrorCode, message: string, override readonly cause?: unknown) {
    super(`${code}: ${message}`);
  }
}
