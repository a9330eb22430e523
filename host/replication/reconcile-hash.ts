// SHA-256 (FIPS 180-4), synchronous, for reconciliation fingerprints
// (reconcile.ts). Why not a package: WebCrypto's digest is async (a round of
// 16,384 fingerprints would be 16,384 awaits), multiformats' sha-256 is async
// in browsers, and @noble/hashes would put the core install over its 2 MB
// budget (test/package.test.ts). Inputs here are 32 to 42 bytes;
// test/reconcile-hash.test.ts checks both entry points against node:crypto.

// The constants are defined as the first 32 bits of the fractional parts of
// the square roots (initial hash) and cube roots (round constants) of the
// first primes; they are computed exactly, with integer roots on bigints.
function primes(n: number): number[] {
  const out: number[] = [];
  for (let p = 2; out.length < n; p++) if (out.every((q) => p % q !== 0)) out.push(p);
  return out;
}

// floor(n^(1/k)) for k = 2 or 3, from a float guess corrected exactly.
function iroot(n: bigint, k: 2 | 3): bigint {
  const pow = (x: bigint) => (k === 2 ? x * x : x * x * x);
  let x = BigInt(Math.floor(k === 2 ? Math.sqrt(Number(n)) : Math.cbrt(Number(n))));
  while (pow(x) > n) x--;
  while (pow(x + 1n) <= n) x++;
  return x;
}

const P = primes(64);
const frac32 = (p: number, k: 2 | 3) => Number(iroot(BigInt(p) << BigInt(32 * k), k) & 0xffffffffn);
const H0 = Uint32Array.from(P.slice(0, 8), (p) => frac32(p, 2));
const K = Uint32Array.from(P, (p) => frac32(p, 3));

const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n));
const W = new Uint32Array(64);

// One compression of the 16 words in W[0..16) into h.
function compress(h: Uint32Array): void {
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15], y = W[i - 2];
    W[i] = W[i - 16] + (rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3)) + W[i - 7] + (rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10));
  }
  let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (let i = 0; i < 64; i++) {
    const t1 = (k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

export function sha256(data: Uint8Array): Uint8Array {
  const len = data.length;
  const buf = new Uint8Array(((len + 9 + 63) >> 6) << 6);
  buf.set(data);
  buf[len] = 0x80;
  const view = new DataView(buf.buffer);
  view.setUint32(buf.length - 8, Math.floor(len / 0x20000000)); // length in bits, 64-bit big-endian
  view.setUint32(buf.length - 4, (len * 8) >>> 0);
  const h = H0.slice();
  for (let off = 0; off < buf.length; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = view.getUint32(off + i * 4);
    compress(h);
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setUint32(i * 4, h[i]);
  return out;
}

// sha256 of the 32 bytes at src[off..off+32), as its 8 big-endian words in
// `out` (one block, no allocation: reconcile.ts hashes every id once).
export function sha256Words32(src: Uint8Array, off: number, out: Uint32Array): void {
  for (let i = 0; i < 8; i++) {
    const o = off + i * 4;
    W[i] = (src[o] << 24) | (src[o + 1] << 16) | (src[o + 2] << 8) | src[o + 3];
  }
  W[8] = 0x80000000;
  for (let i = 9; i < 15; i++) W[i] = 0;
  W[15] = 256; // the message length in bits
  out.set(H0);
  compress(out);
}
