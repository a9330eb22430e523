// Identities (docs/security.md): Ed25519 keys named by did:key, signatures,
// allow-lists. Browser-safe; node.ts (the store-kept node key) and browser.ts
// (IndexedDB) are the per-platform loaders.
export { Identity, verifySignature, replicaId, didOfReplica } from "./identity.js";
export type { PeerIdentity, GenerateOptions } from "./identity.js";
export { didFromPublicKey, publicKeyFromDid, isDid, DID_PREFIX } from "./did.js";
export { AllowList } from "./allow.js";
export type { AllowPolicy } from "./allow.js";
export { IdentityError } from "./errors.js";
export type { IdentityErrorCode } from "./errors.js";
export { webCryptoEd25519 } from "./ed25519.js";
export type { Backend } from "./ed25519.js";
