// Signed envelopes and their admission (docs/security.md, "Signed envelopes"):
// the trustless mode's foundation. Import from "trellis/trust"; it needs the
// optional peer @ipld/dag-cbor.
export { signEnvelope, decodeEnvelope, verifyEnvelope, redactEnvelope, envelopeCid, itemDigest, cidOf, sortLinks, ENVELOPE_VERSION, SIGNING_PREFIX, SALT_BYTES, DEFAULT_LIMITS, CID } from "./envelope.js";
export type { Envelope, UnsignedEnvelope, EnvelopeItem, ItemHeader, EnvelopeLimits } from "./envelope.js";
export { admit, TrustLedger, DEFAULT_MINT_LIMITS } from "./admit.js";
export type { AdmitOptions, AdmitResult, MintLimits, Equivocation } from "./admit.js";
export { TrustError } from "./errors.js";
export type { TrustErrorCode } from "./errors.js";
// Capabilities after UCAN 1.0 (docs/security.md, "Capabilities").
export {
  COMMANDS, TOKEN_VERSION, TOKEN_PREFIX, DEFAULT_TOKEN_LIMITS, signToken, decodeToken, verifyToken, delegate, chainGrant,
  encodeChain, encodeProof, decodeChain, decodeProof, commandCovers, patternMatches, patternCovers, validCommand,
} from "./ucan.js";
export type { Token, TokenFields, TokenLimits, Grant } from "./ucan.js";
export { commandsOf } from "./ops.js";
export { Capabilities } from "./caps.js";
export type { CapabilityOptions, CheckOptions } from "./caps.js";
export { signRevocation, verifyRevocation, revocationElements, REVOCATIONS_VARIABLE, REVOCATION_PREFIX, REVOCATION_VERSION } from "./revocation.js";
export type { Revocation } from "./revocation.js";
// The dataflow in trustless mode: a Runtime's authority hook from capabilities.
export { authorityFor } from "./authority.js";
export type { ProofSource, AuthorityOptions } from "./authority.js";
export { TrustHub, EnvelopeReplicator, replicateTrustless } from "./sync.js";
export { splitDelta } from "./split.js";
export type { SplitBounds } from "./split.js";
export type { TrustHubOptions, TrustStats, EnvelopeStore, CatchUp } from "./sync.js";
export { encodeTrustMessage, decodeTrustMessage, TWIRE_VERSION } from "./wire.js";
export type { TrustMessage, FrontierEntry } from "./wire.js";
// Capabilities wired into trustless nodes: read gating, own-change filter, revocations followed.
export { ReadGate, signableFor, followRevocations, revocationRelay } from "./gate.js";
export type { ReadGateOptions, Signable, RevocationRelay } from "./gate.js";
