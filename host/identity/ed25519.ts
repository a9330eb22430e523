// Ed25519 signing and verification: WebCrypto where it has Ed25519 (Node 20,
// Chromium 137+, Firefox 129+, Safari 17+), else @noble/ed25519. WebCrypto
// keeps a private key non-extractable; the fallback holds a 32-byte secret in
// memory, so it can only be stored as bytes (docs/security.md says so).
import * as noble from "@noble/ed25519";
import { batchVerifier } from "./verify-worker.js";

export type Backend = "webcrypto" | "noble";

const subtle = (): SubtleCrypto | undefined => (globalThis as { crypto?: Crypto }).crypto?.subtle;
// WebCrypto's types want an ArrayBuffer-backed view.
const buf = (b: Uint8Array): Uint8Array<ArrayBuffer> => b as Uint8Array<ArrayBuffer>;

let probe: Promise<boolean> | null = null;
let probed: boolean | undefined; // the answer, once known (verifyRaw's hot path skips a wait)
// Whether this platform's WebCrypto has Ed25519 (asked once).
export function webCryptoEd25519(): Promise<boolean> {
  probe ??= (async () => {
    const s = subtle();
    if (!s) return (probed = false);
    try { await s.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]); return (probed = true); } catch { return (probed = false); }
  })();
  return probe;
}

export async function defaultBackend(): Promise<Backend> { return (await webCryptoEd25519()) ? "webcrypto" : "noble"; }

// PKCS#8 wrapping of a 32-byte Ed25519 seed (RFC 8410): a fixed 16-byte prefix.
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
export function pkcs8(seed: Uint8Array): Uint8Array {
  const out = new Uint8Array(48);
  out.set(PKCS8_PREFIX); out.set(seed, 16);
  return out;
}

export async function importSeed(seed: Uint8Array, extractable = false): Promise<CryptoKey> {
  return subtle()!.importKey("pkcs8", buf(pkcs8(seed)), { name: "Ed25519" }, extractable, ["sign"]);
}

export async function rawPublicKey(key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await subtle()!.exportKey("raw", key));
}

export async function signWebCrypto(key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle()!.sign({ name: "Ed25519" }, key, buf(data)));
}

export const signNoble = (secret: Uint8Array, data: Uint8Array): Promise<Uint8Array> => noble.signAsync(data, secret);
export const nobleSecret = (): Uint8Array => noble.utils.randomSecretKey();
export const noblePublic = (secret: Uint8Array): Promise<Uint8Array> => noble.getPublicKeyAsync(secret);

// Imported verification keys, bounded: a peer cycling keys cannot grow it;
// once imported, the key itself (a verification then waits only for WebCrypto).
const verifyKeys = new Map<string, Promise<CryptoKey>>();
const verifyKeysReady = new Map<string, CryptoKey>();
const MAX_CACHED = 256;

// Never throws for bad input: a malformed signature or key is false. In Node
// (unless a backend is named) the check goes to the batch worker
// (verify-worker.ts), which runs the same OpenSSL Ed25519 off the main thread.
export async function verifyRaw(publicKey: Uint8Array, data: Uint8Array, sig: Uint8Array, backend?: Backend): Promise<boolean> {
  if (!(sig instanceof Uint8Array) || sig.length !== 64 || !(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
  const use = backend ?? (probed === undefined ? await defaultBackend() : probed ? "webcrypto" : "noble");
  if (use === "noble") {
    try { return await noble.verifyAsync(sig, data, publicKey); } catch { return false; }
  }
  if (backend === undefined && data instanceof Uint8Array) {
    const w = batchVerifier(verifyWebCrypto);
    if (w) return w.verify(publicKey, data, sig);
  }
  return verifyWebCrypto(publicKey, data, sig);
}

async function verifyWebCrypto(publicKey: Uint8Array, data: Uint8Array, sig: Uint8Array): Promise<boolean> {
  try {
    const k = String.fromCharCode(...publicKey);
    const ready = verifyKeysReady.get(k);
    if (ready) return await subtle()!.verify({ name: "Ed25519" }, ready, buf(sig), buf(data));
    let key = verifyKeys.get(k);
    if (!key) {
      if (verifyKeys.size >= MAX_CACHED) { const old = verifyKeys.keys().next().value!; verifyKeys.delete(old); verifyKeysReady.delete(old); }
      key = subtle()!.importKey("raw", buf(publicKey), { name: "Ed25519" }, false, ["verify"]);
      verifyKeys.set(k, key);
      key.then((x) => { if (verifyKeys.get(k) === key) verifyKeysReady.set(k, x); }, () => verifyKeys.delete(k));
    }
    return await subtle()!.verify({ name: "Ed25519" }, await key, buf(sig), buf(data));
  } catch {
    return false;
  }
}
