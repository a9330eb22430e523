// SHA-256, synchronous, for reconciliation fingerprints (reconcile.ts), from
// the js-sha256 package. Why synchronous: WebCrypto's digest is async (a
// round of 16,384 fingerprints would be 16,384 awaits) and so is multiformats'
// sha-256 in browsers. Why js-sha256: 88 KB installed, where @noble/hashes
// would put the core install over its 2 MB budget (test/package.test.ts).
// test/reconcile-hash.test.ts checks both entry points against node:crypto.
import { sha256 as hash } from "js-sha256";

export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(hash.arrayBuffer(data));
}

// sha256 of the 32 bytes at src[off..off+32), as its 8 big-endian words in
// `out` (reconcile.ts hashes every id once).
export function sha256Words32(src: Uint8Array, off: number, out: Uint32Array): void {
  const d = hash.array(src.subarray(off, off + 32));
  for (let i = 0; i < 8; i++) out[i] = ((d[4 * i] << 24) | (d[4 * i + 1] << 16) | (d[4 * i + 2] << 8) | d[4 * i + 3]) >>> 0;
}
