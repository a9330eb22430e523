// A node's identity, kept in its store: the Ed25519 key that is also its
// libp2p key (one key, so its libp2p peer id and its did:key name the same
// public key). Made at first start, loaded afterwards.
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf, publicKeyFromRaw } from "@libp2p/crypto/keys";
import { peerIdFromPublicKey, peerIdFromString } from "@libp2p/peer-id";
import type { PrivateKey } from "@libp2p/interface";
import { Identity } from "./identity.js";
import { didFromPublicKey, publicKeyFromDid } from "./did.js";
import { IdentityError } from "./errors.js";

export const META_KEY = "trellis:libp2p-key"; // protobuf private key (the name predates identities)

export interface MetaLike {
  get(key: string): Uint8Array | undefined;
  put(key: string, value: Uint8Array): Promise<void>;
}

export interface NodeIdentity { identity: Identity; privateKey: PrivateKey }

export async function loadNodeIdentity(meta: MetaLike): Promise<NodeIdentity> {
  let bytes = meta.get(META_KEY);
  let privateKey: PrivateKey;
  if (bytes) {
    try { privateKey = privateKeyFromProtobuf(bytes); } catch (e) { throw new IdentityError("STORE", `the stored key does not parse: ${(e as Error).message}`, e); }
  } else {
    privateKey = await generateKeyPair("Ed25519");
    bytes = privateKeyToProtobuf(privateKey);
    await meta.put(META_KEY, bytes);
  }
  if (privateKey.type !== "Ed25519") throw new IdentityError("BAD_KEY", `the stored key is ${privateKey.type}, not Ed25519`);
  const identity = await Identity.fromSeed(privateKey.raw.subarray(0, 32));
  return { identity, privateKey };
}

// The did:key of a libp2p peer id (Ed25519 peer ids embed their key), or null.
export function didOfPeerId(peer: string): string | null {
  try {
    const pub = peerIdFromString(peer).publicKey;
    return pub?.type === "Ed25519" ? didFromPublicKey(pub.raw) : null;
  } catch { return null; }
}

export function peerIdOfDid(did: string): string {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKeyFromDid(did))).toString();
}
