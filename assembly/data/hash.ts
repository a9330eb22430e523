// A fast non-cryptographic hash of byte strings (64-bit multiply-rotate over
// 8-byte words, then a murmur-style finaliser). Tables only need a good spread
// of the low bits, not resistance to chosen keys: a peer that sends colliding
// keys costs probes, bounded by the table's load factor and the input's size.

const K0: u64 = 0x9e3779b97f4a7c15;
const K1: u64 = 0xbf58476d1ce4e5b9;
const K2: u64 = 0x94d049bb133111eb;

@inline function fmix(h: u64): u64 {
  h ^= h >>> 30; h *= K1;
  h ^= h >>> 27; h *= K2;
  return h ^ (h >>> 31);
}

export function hashBytes(p: usize, n: usize): u64 {
  let h: u64 = K0 ^ (<u64>n * K2);
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
