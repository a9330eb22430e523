// Signed envelopes and their admission (docs/security.md, "Signed envelopes"):
// the trustless mode's foundation. Import from "trellis/trust"; it needs the
// optional peer @ipld/dag-cbor.
export { signEnvelope, decodeEnvelope, verifyEnvelope, cidOf, sortLinks, ENVELOPE_VERSION, SIGNING_PREFIX, DEFAULT_LIMITS, CID } from "./envelope.js";
export type { Envelope, UnsignedEnvelope, EnvelopeItem, EnvelopeLimits } from "./envelope.js";
export { admit, TrustLedger, DEFAULT_MINT_LIMITS } from "./admit.js";
export type { AdmitOptions, AdmitResult, MintLimits, Equivocation } from "./admit.js";
export { TrustError } from "./errors.js";
export type { TrustErrorCode } from "./errors.js";
export { TrustHub, EnvelopeReplicator, replicateTrustless } from "./sync.js";
export type { TrustHubOptions, TrustStats, EnvelopeStore } from "./sync.js";
export { encodeTrustMessage, decodeTrustMessage, TWIRE_VERSION } from "./wire.js";
export type { TrustMessage, FrontierEntry } from "./wire.js";
