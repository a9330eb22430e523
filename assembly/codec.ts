// Cursor codecs: LEB128 varints and length-prefixed byte strings.
// Byte strings are held as AS strings with one byte per UTF-16 code unit, so
// Map<string, _> hashes them and `<` orders them exactly as bytes compare.
import { E_TRUNCATED, E_NONCANONICAL, E_TOO_LARGE, MAX_KEY } from "./errors";

export class Writer {
  buf: ArrayBuffer = new ArrayBuffer(1024);
  pos: i32 = 0;

  reset(): void { this.pos = 0; }

  @inline ensure(n: i32): void {
    if (this.pos + n > this.buf.byteLength) this.grow(n);
  }

  grow(n: i32): void {
    let cap = this.buf.byteLength << 1;
    while (cap < this.pos + n) cap <<= 1;
    const nb = new ArrayBuffer(cap);
    memory.copy(changetype<usize>(nb), changetype<usize>(this.buf), this.pos);
    this.buf = nb;
  }

  @inline get ptr(): usize { return changetype<usize>(this.buf); }

  u8(v: u32): void {
    this.ensure(1);
    store<u8>(this.ptr + this.pos, <u8>v);
    this.pos++;
  }

  varint(v: u64): void {
    this.ensure(10);
    let p = this.ptr + this.pos;
    const start = p;
    while (v >= 0x80) {
      store<u8>(p++, <u8>(v | 0x80));
      v >>= 7;
    }
    store<u8>(p++, <u8>v);
    this.pos += <i32>(p - start);
  }

  // A byte string held as a key string (see top of file), length-prefixed.
  key(s: string): void {
    const n = s.length;
    this.varint(<u64>n);
    this.ensure(n);
    const src = changetype<usize>(s);
    const dst = this.ptr + this.pos;
    for (let i = 0; i < n; i++) store<u8>(dst + i, <u8>load<u16>(src + (<usize>i << 1)));
    this.pos += n;
  }

  raw(src: usize, n: i32): void {
    this.ensure(n);
    memory.copy(this.ptr + this.pos, src, n);
    this.pos += n;
  }
}

export class Reader {
  p: usize;
  end: usize;
  err: i32 = 0;

  constructor(p: usize, end: usize) { this.p = p; this.end = end; }

  @inline get left(): i32 { return <i32>(this.end - this.p); }
  @inline get ok(): bool { return this.err == 0; }
  @inline get done(): bool { return this.p >= this.end; }

  fail(code: i32): void { if (this.err == 0) this.err = code; this.p = this.end; }

  u8(): u32 {
    if (this.p >= this.end) { this.fail(E_TRUNCATED); return 0; }
    return load<u8>(this.p++);
  }

  // Canonical LEB128: at most 10 bytes, no padding (a trailing zero byte is rejected).
  varint(): u64 {
    let v: u64 = 0;
    let shift: u64 = 0;
    for (let i = 0; i < 10; i++) {
      if (this.p >= this.end) { this.fail(E_TRUNCATED); return 0; }
      const b = <u64>load<u8>(this.p++);
      if (i == 9 && b > 1) { this.fail(E_TOO_LARGE); return 0; }
      v |= (b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        if (b == 0 && i > 0) { this.fail(E_NONCANONICAL); return 0; }
        return v;
      }
      shift += 7;
    }
    this.fail(E_TOO_LARGE);
    return 0;
  }

  // A count of items that each need at least `minBytes` bytes: bounded by what remains,
  // so hostile counts cannot make us allocate or loop beyond the input's size.
  count(minBytes: i32): i32 {
    const v = this.varint();
    if (!this.ok) return 0;
    if (v > <u64>(this.left / max(minBytes, 1))) { this.fail(E_TOO_LARGE); return 0; }
    return <i32>v;
  }

  key(): string {
    const n = this.varint();
    if (!this.ok) return "";
    if (n > <u64>MAX_KEY) { this.fail(E_TOO_LARGE); return ""; }
    if (n > <u64>this.left) { this.fail(E_TRUNCATED); return ""; }
    const len = <i32>n;
    const s = changetype<string>(__new(<usize>len << 1, idof<string>()));
    const dst = changetype<usize>(s);
    for (let i = 0; i < len; i++) store<u16>(dst + (<usize>i << 1), load<u8>(this.p + i));
    this.p += len;
    return s;
  }
}

// Shared scratch writer for encodings produced inside the kernel.
export function keyOf(w: Writer): string {
  const n = w.pos;
  const s = changetype<string>(__new(<usize>n << 1, idof<string>()));
  const dst = changetype<usize>(s);
  for (let i = 0; i < n; i++) store<u16>(dst + (<usize>i << 1), load<u8>(w.ptr + i));
  return s;
}

// Sorts keys in byte order (the canonical order of every encoding).
export function sortKeys(a: Array<string>): Array<string> {
  a.sort((x: string, y: string): i32 => (x < y ? -1 : x > y ? 1 : 0));
  return a;
}
