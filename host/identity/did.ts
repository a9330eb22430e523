// did:key for Ed25519 public keys (W3C CCG did:key method): "did:key:" then
// the multibase base58btc ('z') encoding of the multicodec varint 0xed
// (ed25519-pub, two bytes 0xed 0x01) followed by the 32-byte key. Every such
// id starts "did:key:z6Mk". Decoding refuses anything else with a typed error.
import { base58btc } from "multiformats/bases/base58";
import { IdentityError } from "./errors.js";

export const DID_PREFIX = "did:key:";
const ED25519_PUB = [0xed, 0x01]; // varint(0xed)
// "did:key:z" + base58 of 34 bytes is at most 47 characters; refuse longer
// strings before decoding them.
const MAX_DID = DID_PREFIX.length + 1 + 47;

export function didFromPublicKey(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) throw new IdentityError("BAD_KEY", `an Ed25519 public key is 32 bytes, got ${publicKey?.length}`);
  const b = new Uint8Array(34);
  b.set(ED25519_PUB); b.set(publicKey, 2);
  return DID_PREFIX + base58btc.encode(b);
}

export function publicKeyFromDid(did: string): Uint8Array {
  if (typeof did !== "string" || !did.startsWith(DID_PREFIX) || did.length > MAX_DID) throw new IdentityError("BAD_DID", `not an Ed25519 did:key: ${JSON.stringify(String(did).slice(0, 80))}`);
  let b: Uint8Array;
  try { b = base58btc.decode(did.slice(DID_PREFIX.length)); } catch (e) {
    throw new IdentityError("BAD_DID", `did:key is not base58btc: ${(e as Error).message}`);
  }
  if (b.length !== 34 || b[0] !== ED25519_PUB[0] || b[1] !== ED25519_PUB[1]) throw new IdentityError("BAD_DID", "did:key is not an Ed25519 key (multicodec 0xed, 32 bytes)");
  return b.slice(2);
}

export function isDid(s: unknown): boolean {
  try { publicKeyFromDid(s as string); return true; } catch { return false; }
}
