// Growable byte buffers for the expanded form of an input (compact.ts) and
// its legacy transcoding (legacy.ts).
import { LARGE, alloc, release, resize } from "./data/index";

// Where a v2 input is expanded. A large input is expanded twice: a first pass
// only counts the bytes (and stops at the first error), then the second writes
// them into a block of exactly that size from the page spans, which the call
// gives back when it ends (doneWithInput). A merge then holds the expansion
// once, at its size, beside the join: a managed buffer presized to 3 × the
// input, kept up to 8 MiB between calls, came from TLSF, which grows memory
// by doubling and whose pages the spans (where states live) never reuse; it
// took a 100k-element AWSet merge to 10.3 MiB against a 5.5 MiB budget.
// Small inputs take one pass into a small buffer kept between calls.
export class XBuf {
  ptr: usize = 0;
  cap: i32 = 0;
  pos: i32 = 0;
  failed: bool = false;
  sizing: bool = false; // counting pass: size grows, nothing is written
  size: u64 = 0;

  start(sizing: bool): void { this.pos = 0; this.failed = false; this.sizing = sizing; this.size = 0; }

  // Room for exactly n bytes (contents not kept); false when out of memory.
  reserve(n: u64): bool {
    if (n <= <u64>this.cap) return true;
    if (n > 0x7000_0000) return false;
    release(this.ptr);
    this.ptr = alloc(<usize>n);
    this.cap = this.ptr == 0 ? 0 : <i32>n;
    return this.ptr != 0;
  }

  @inline ensure(n: i32): bool {
    if (this.pos + n > this.cap) return this.grow(n);
    return !this.failed;
  }

  grow(n: i32): bool {
    if (this.failed) return false;
    const want = <u64>this.pos + <u64>n;
    let cap = max(<u64>this.cap << 1, <u64>256);
    if (cap < want) cap = want;
    const q: usize = cap > 0x7000_0000 ? <usize>0 : resize(this.ptr, <usize>cap);
    if (q == 0) { this.failed = true; return false; }
    this.ptr = q; this.cap = <i32>cap;
    return true;
  }

  u8(v: u32): void {
    if (this.sizing) { this.size++; return; }
    if (!this.ensure(1)) return;
    store<u8>(this.ptr + <usize>this.pos, <u8>v);
    this.pos++;
  }

  varint(v: u64): void {
    if (this.sizing) { this.size += <u64>varintLen(v); return; }
    if (!this.ensure(10)) return;
    let p = this.ptr + <usize>this.pos;
    const start = p;
    while (v >= 0x80) { store<u8>(p++, <u8>(v | 0x80)); v >>= 7; }
    store<u8>(p++, <u8>v);
    this.pos += <i32>(p - start);
  }

  raw(src: usize, n: i32): void {
    if (this.sizing) { this.size += <u64>n; return; }
    if (!this.ensure(n)) return;
    memory.copy(this.ptr + <usize>this.pos, src, <usize>n);
    this.pos += n;
  }

  // After the call: a span goes back, a small buffer stays for the next one.
  done(): void {
    if (<usize>this.cap >= LARGE) { release(this.ptr); this.ptr = 0; this.cap = 0; }
    this.pos = 0;
  }
}

@inline export function varintLen(v: u64): i32 {
  let n = 1;
  while (v >= 0x80) { v >>= 7; n++; }
  return n;
}
