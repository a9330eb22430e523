// A replica's identity: an Ed25519 key pair, named by its did:key. The
// replica id of a Runtime is `<did>.<incarnation>` (replicaId below): the key
// is durable, the incarnation is new at every start, so a restarted node never
// reissues a dot it may have shipped before a crash, and every replica id
// still names the key that speaks for it.
import { didFromPublicKey, publicKeyFromDid } from "./did.js";
import { IdentityError } from "./errors.js";
import {
  type Backend, defaultBackend, importSeed, nobleSecret, noblePublic, rawPublicKey, signNoble, signWebCrypto, verifyRaw,
} from "./ed25519.js";

// What a transport needs to authenticate itself and its peers
// (ws-client.ts / ws-server.ts take this shape, so they import no crypto).
export interface PeerIdentity {
  readonly did: string;
  sign(data: Uint8Array): Promise<Uint8Array>;
  // Whether `sig` is `did`'s signature of `data`; false (never a throw) for a bad did or signature.
  verify(did: string, data: Uint8Array, sig: Uint8Array): Promise<boolean>;
}

type Key = { backend: "webcrypto"; privateKey: CryptoKey; publicKey?: CryptoKey } | { backend: "noble"; secret: Uint8Array };

export interface GenerateOptions {
  backend?: Backend;     // default: WebCrypto if it has Ed25519, else @noble/ed25519
  extractable?: boolean; // WebCrypto only (default false: the private key can never be read out)
}

export class Identity implements PeerIdentity {
  readonly did: string;
  readonly publicKey: Uint8Array;
  readonly backend: Backend;
  #key: Key;

  private constructor(publicKey: Uint8Array, key: Key) {
    this.publicKey = publicKey;
    this.did = didFromPublicKey(publicKey);
    this.#key = key;
    this.backend = key.backend;
  }

  // A new key pair.
  static async generate(o: GenerateOptions = {}): Promise<Identity> {
    const backend = o.backend ?? await defaultBackend();
    if (backend === "noble") {
      const secret = nobleSecret();
      return new Identity(await noblePublic(secret), { backend, secret });
    }
    const pair = await globalThis.crypto.subtle.generateKey({ name: "Ed25519" }, o.extractable ?? false, ["sign", "verify"]) as CryptoKeyPair;
    return new Identity(await rawPublicKey(pair.publicKey), { backend, privateKey: pair.privateKey, publicKey: pair.publicKey });
  }

  // From a 32-byte Ed25519 seed (RFC 8032 private key), e.g. a node's stored
  // libp2p key; with WebCrypto the key is imported non-extractable.
  static async fromSeed(seed: Uint8Array, o: { backend?: Backend } = {}): Promise<Identity> {
    if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new IdentityError("BAD_KEY", `an Ed25519 seed is 32 bytes, got ${seed?.length}`);
    const backend = o.backend ?? await defaultBackend();
    const pub = await noblePublic(seed);
    if (backend === "noble") return new Identity(pub, { backend, secret: seed.slice() });
    return new Identity(pub, { backend, privateKey: await importSeed(seed) });
  }

  // From a WebCrypto key pair (as kept in IndexedDB by browser.ts).
  static async fromKeyPair(pair: CryptoKeyPair): Promise<Identity> {
    if (pair?.privateKey?.algorithm?.name !== "Ed25519" || pair.publicKey?.algorithm?.name !== "Ed25519") throw new IdentityError("BAD_KEY", "not an Ed25519 CryptoKeyPair");
    return new Identity(await rawPublicKey(pair.publicKey), { backend: "webcrypto", privateKey: pair.privateKey, publicKey: pair.publicKey });
  }

  // The WebCrypto pair (to store it: CryptoKeys survive structured clone into
  // IndexedDB, non-extractable), or undefined with the noble backend.
  get keyPair(): CryptoKeyPair | undefined {
    const k = this.#key;
    return k.backend === "webcrypto" && k.publicKey ? { privateKey: k.privateKey, publicKey: k.publicKey } : undefined;
  }

  // The noble backend's secret (to store it), or undefined with WebCrypto.
  exportSecret(): Uint8Array | undefined { return this.#key.backend === "noble" ? this.#key.secret.slice() : undefined; }

  sign(data: Uint8Array): Promise<Uint8Array> {
    const k = this.#key;
    return k.backend === "noble" ? signNoble(k.secret, data) : signWebCrypto(k.privateKey, data);
  }

  verify(did: string, data: Uint8Array, sig: Uint8Array): Promise<boolean> { return verifySignature(did, data, sig); }

  // A fresh replica id for this start: `<did>.<12 hex digits>`.
  replicaId(): string { return replicaId(this.did); }

  toJSON(): { did: string } { return { did: this.did }; }
}

// Whether `sig` is `did`'s Ed25519 signature of `data`. Never throws.
export async function verifySignature(did: string, data: Uint8Array, sig: Uint8Array): Promise<boolean> {
  let pub: Uint8Array;
  try { pub = publicKeyFromDid(did); } catch { return false; }
  return verifyRaw(pub, data, sig);
}

export function replicaId(did: string): string {
  const b = new Uint8Array(6);
  globalThis.crypto.getRandomValues(b);
  return `${did}.${Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")}`;
}

// The did a replica id names (the part before its incarnation), or null.
export function didOfReplica(replica: string): string | null {
  const i = replica.lastIndexOf(".");
  const did = i < 0 ? replica : replica.slice(0, i);
  return did.startsWith("did:key:") ? did : null;
}
