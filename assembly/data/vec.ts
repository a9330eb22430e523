// Growable arrays of fixed-size numbers in raw memory (u8 arenas, u32 offsets
// and indices, u64 counters). One managed header per array, never per
// element; the elements are freed by free(), with their state.
import { LARGE, resize, release } from "./mem";

@final export class Vec<T> {
  ptr: usize = 0;
  len: i32 = 0;
  cap: i32 = 0;

  // Makes room for `extra` more elements; false (and nothing changed) when
  // memory is exhausted. Pushes are amortised O(1).
  // The common case, room already there, inline: ops reserve before every
  // write, and the call was a tenth of a map write (profile).
  @inline reserve(extra: i32): bool {
    return <u32>extra <= <u32>(this.cap - this.len) || this.grow(extra);
  }

  grow(extra: i32): bool {
    if (extra < 0 || extra > 0x3fff_ffff - this.len) return false;
    const want = this.len + extra;
    if (want <= this.cap) return true;
    // Amortised growth for pushes (doubling while small, half again once
    // the block lives in page spans, where the last block grows in place);
    // a bulk reserve beyond that takes exactly what it asked for, so a merge
    // that reserves its result's size holds no slack (docs/abi.md, "Memory").
    const cur = this.cap < 8 ? 8 : this.cap;
    let cap = <usize>cur * sizeof<T>() < LARGE ? cur << 1 : cur + (cur >> 1);
    if (cap < want || cap > 0x3fff_ffff) cap = want;
    let p = resize(this.ptr, <usize>cap * sizeof<T>());
    if (p == 0 && cap > want) { cap = want; p = resize(this.ptr, <usize>cap * sizeof<T>()); } // no room to double: exact
    if (p == 0) return false;
    this.ptr = p;
    this.cap = cap;
    return true;
  }

  // Appends v; false when memory is exhausted (nothing changed).
  @inline push(v: T): bool {
    if (this.len == this.cap && !this.reserve(1)) return false;
    store<T>(this.ptr + (<usize>this.len << alignof<T>()), v);
    this.len++;
    return true;
  }

  // Appends v into room made by reserve() (unchecked).
  @inline pushReserved(v: T): void {
    store<T>(this.ptr + (<usize>this.len << alignof<T>()), v);
    this.len++;
  }

  @inline get(i: i32): T { return load<T>(this.ptr + (<usize>i << alignof<T>())); }
  @inline set(i: i32, v: T): void { store<T>(this.ptr + (<usize>i << alignof<T>()), v); }
  @inline end(): usize { return this.ptr + (<usize>this.len << alignof<T>()); }

  // Appends n raw bytes (u8 arenas): false when memory is exhausted.
  append(src: usize, n: i32): bool {
    if (!this.reserve(n)) return false;
    memory.copy(this.ptr + <usize>this.len, src, <usize>n);
    this.len += n;
    return true;
  }

  clear(): void { this.len = 0; }

  // A copy into `into` (emptied first); false when memory is exhausted.
  copyTo(into: Vec<T>): bool {
    into.len = 0;
    if (!into.reserve(this.len)) return false;
    memory.copy(into.ptr, this.ptr, <usize>this.len << alignof<T>());
    into.len = this.len;
    return true;
  }

  // Takes o's memory, releasing this one's; o is left empty.
  take(o: Vec<T>): void {
    release(this.ptr);
    this.ptr = o.ptr; this.len = o.len; this.cap = o.cap;
    o.ptr = 0; o.len = 0; o.cap = 0;
  }

  free(): void {
    release(this.ptr);
    this.ptr = 0; this.len = 0; this.cap = 0;
  }
}

export type Bytes = Vec<u8>;
export type U32Vec = Vec<u32>;
export type U64Vec = Vec<u64>;
