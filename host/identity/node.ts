// A node's identity, kept in its store: the Ed25519 key that is also its
// libp2p key (one key, so its libp2p peer id and its did:key name the same
// public key). Made at first start, loaded afterwards.
//
// The key is stored in libp2p's protobuf form (as libp2p's
// privateKeyToProtobuf writes an Ed25519 key), read and written here by hand so
// that a node without the libp2p packages (an optional peer) still has its key.
import { Identity } from "./identity.js";
import { IdentityError } from "./errors.js";

export const META_KEY = "trellis:libp2p-key"; // protobuf private key (the name predates identities)

export interface MetaLike {
  get(key: string): Uint8Array | undefined;
  put(key: string, value: Uint8Array): Promise<void>;
}

// identity, and the same key as libp2p's protobuf bytes (Libp2pTransport's privateKey option).
export interface NodeIdentity { identity: Identity; privateKey: Uint8Array }

// PrivateKey { Type type = 1 (Ed25519 = 1); bytes Data = 2 (seed ‖ public key, 64 bytes) }
const HEAD = [0x08, 0x01, 0x12, 0x40];

function parse(bytes: Uint8Array): Uint8Array {
  if (bytes.length !== HEAD.length + 64 || HEAD.some((b, i) => bytes[i] !== b)) {
    const what = bytes.length > 1 && bytes[0] === 0x08 && bytes[1] !== 0x01 ? "not an Ed25519 key" : "not a libp2p Ed25519 private key";
    throw new IdentityError("STORE", `the stored key does not parse: ${what} (${bytes.length} bytes)`);
  }
  return bytes.subarray(HEAD.length, HEAD.length + 32);
}

export async function loadNodeIdentity(meta: MetaLike): Promise<NodeIdentity> {
  let bytes = meta.get(META_KEY);
  if (bytes) {
    const seed = parse(bytes);
    const identity = await Identity.fromSeed(seed);
    // The stored public half must be the seed's: a mismatch is a damaged key.
    const pub = bytes.subarray(HEAD.length + 32);
    if (pub.some((b, i) => b !== identity.publicKey[i])) throw new IdentityError("STORE", "the stored key does not parse: its public half does not match its seed");
    return { identity, privateKey: bytes };
  }
  const seed = globalThis.crypto.getRandomValues(new Uint8Array(32));
  const identity = await Identity.fromSeed(seed);
  bytes = new Uint8Array(HEAD.length + 64);
  bytes.set(HEAD);
  bytes.set(seed, HEAD.length);
  bytes.set(identity.publicKey, HEAD.length + 32);
  await meta.put(META_KEY, bytes);
  return { identity, privateKey: bytes };
}
