// Byte-string comparison and the length-prefixed entries of canonical runs.

// Byte order (the canonical order of every encoding): memcmp, then length.
export function compareBytes(a: usize, alen: usize, b: usize, blen: usize): i32 {
  const n = alen < blen ? alen : blen;
  let i: usize = 0;
  // Words first: equal prefixes are common (keys k0, k1, ...).
  while (i + 8 <= n && load<u64>(a + i) == load<u64>(b + i)) i += 8;
  for (; i < n; i++) {
    const x = <i32>load<u8>(a + i), y = <i32>load<u8>(b + i);
    if (x != y) return x - y;
  }
  return alen < blen ? -1 : alen > blen ? 1 : 0;
}

// compareBytes for merge loops: inlined, and a differing word is ordered by
// its first differing byte, found with one ctz instead of byte by byte. Returns
// only the sign that matters (<0, 0, >0).
@inline export function compareFast(a: usize, alen: usize, b: usize, blen: usize): i32 {
  const n = alen < blen ? alen : blen;
  let i: usize = 0;
  while (i + 8 <= n) {
    const x = load<u64>(a + i), y = load<u64>(b + i);
    if (x != y) {
      // The first differing byte (little-endian: the lowest set bit of x ^ y).
      const sh = ctz<u64>(x ^ y) & ~(<u64>7);
      return (<u32>(x >> sh) & 0xff) < (<u32>(y >> sh) & 0xff) ? -1 : 1;
    }
    i += 8;
  }
  if (i < n) {
    // The last 1-7 bytes as one masked word when both words lie inside
    // memory (short ids and elements: the byte loop was most of a merge).
    const top = <usize>memory.size() << 16;
    if (a + i + 8 <= top && b + i + 8 <= top) {
      const m = (<u64>1 << (<u64>(n - i) << 3)) - 1;
      const x = load<u64>(a + i) & m, y = load<u64>(b + i) & m;
      if (x != y) {
        const sh = ctz<u64>(x ^ y) & ~(<u64>7);
        return (<u32>(x >> sh) & 0xff) < (<u32>(y >> sh) & 0xff) ? -1 : 1;
      }
    } else {
      for (; i < n; i++) {
        const x = <i32>load<u8>(a + i), y = <i32>load<u8>(b + i);
        if (x != y) return x - y;
      }
    }
  }
  return alen < blen ? -1 : alen > blen ? 1 : 0;
}

export function equalBytes(a: usize, alen: usize, b: usize, blen: usize): bool {
  if (alen != blen) return false;
  let i: usize = 0;
  while (i + 8 <= alen) { if (load<u64>(a + i) != load<u64>(b + i)) return false; i += 8; }
  for (; i < alen; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
  return true;
}

// An entry is varint(len) then len bytes. These read entries that the data
// layer wrote itself (already validated), so they do not bounds-check.
// entryLen(p): the payload length; entryBody(p): where the payload starts.
export function entryLen(p: usize): usize {
  let v: usize = 0, shift: usize = 0;
  while (true) {
    const b = <usize>load<u8>(p++);
    v |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
    shift += 7;
  }
  return v;
}

export function entryBody(p: usize): usize {
  while ((load<u8>(p) & 0x80) != 0) p++;
  return p + 1;
}

// Bytes a varint of v takes.
export function varintSize(v: u64): i32 {
  let n = 1;
  while (v >= 0x80) { v >>= 7; n++; }
  return n;
}

// Writes varint v at p; returns the position after it.
export function putVarint(p: usize, v: u64): usize {
  while (v >= 0x80) { store<u8>(p++, <u8>(v | 0x80)); v >>= 7; }
  store<u8>(p++, <u8>v);
  return p;
}

// Copies n bytes: a short copy (an element, a replica id) inline, a long one
// with memory.copy, which V8 runs as a call out of Wasm (it dominated
// per-element merges when every entry was copied that way).
@inline export function copyBytes(dst: usize, src: usize, n: usize): void {
  if (n > 32) { memory.copy(dst, src, n); return; }
  while (n >= 8) { store<u64>(dst, load<u64>(src)); dst += 8; src += 8; n -= 8; }
  while (n > 0) { store<u8>(dst++, load<u8>(src++)); n--; }
}

// Whether p[0..n) is all ASCII (so valid UTF-8), a word at a time.
@inline export function isAscii(p: usize, n: usize): bool {
  const end = p + n;
  let acc: u64 = 0;
  while (p + 8 <= end) { acc |= load<u64>(p); p += 8; }
  while (p < end) { acc |= <u64>load<u8>(p++); }
  return (acc & 0x8080_8080_8080_8080) == 0;
}

// Whether p[0..n) is all ASCII without NUL (a string value's payload that
// needs no escape), a word at a time.
@inline export function isAsciiText(p: usize, n: usize): bool {
  const end = p + n;
  while (p + 8 <= end) {
    const x = load<u64>(p);
    // a high bit set, or a zero byte (the classic haszero test)
    if (((x | ((x - 0x0101_0101_0101_0101) & ~x)) & 0x8080_8080_8080_8080) != 0) return false;
    p += 8;
  }
  while (p < end) { const b = load<u8>(p++); if (b == 0 || b >= 0x80) return false; }
  return true;
}
