// A fast non-cryptographic hash of byte strings (64-bit multiply-rotate over
// 8-byte words, then a murmur-style finaliser). Tables need a good spread of
// the low bits, and keys a peer cannot aim at one slot: with a fixed hash, a
// peer could search offline for elements that share their low bits, and
// linear probing makes n such keys cost n²/2 probes (100k of them, a 1 MB
// message, seconds of CPU). So the hash starts from a per-instance seed the
// host draws at random (setHashSeed). Nothing depends on its value: tables
// give indices in insertion order, and encodings are in byte order.

// The seed (0 until the host sets one: predictable, so embedders of the raw
// module should set it; docs/abi.md).
let seed: u64 = 0;
export function setHashSeed(s: u64): void { seed = s; }
@inline export function hashSeed(): u64 { return seed; }

const K0: u64 = 0x9e3779b97f4a7c15;
const K1: u64 = 0xbf58476d1ce4e5b9;
const K2: u64 = 0x94d049bb133111eb;

@inline function fmix(h: u64): u64 {
  h ^= h >>> 30; h *= K1;
  h ^= h >>> 27; h *= K2;
  return h ^ (h >>> 31);
}

export function hashBytes(p: usize, n: usize): u64 {
  let h: u64 = K0 ^ seed ^ (<u64>n * K2);
  const end8 = p + (n & ~<usize>7);
  while (p < end8) {
    h = rotl<u64>(h ^ (load<u64>(p) * K1), 29) * K0;
    p += 8;
  }
  const rest = n & 7;
  if (rest != 0) {
    let t: u64 = 0;
    // Byte by byte: a wider load could read past the end of memory.
    for (let i: usize = 0; i < rest; i++) t |= <u64>load<u8>(p + i) << (i << 3);
    h = rotl<u64>(h ^ (t * K1), 29) * K0;
  }
  return fmix(h);
}
