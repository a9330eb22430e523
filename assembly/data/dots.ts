// Packed dots: (replica index, counter) pairs in one flat array, the replica
// index pointing into a per-state replica table (a ByteTable of replica ids),
// so a dot is 16 bytes of integers instead of an object holding a string.
// Record layout: counter u64, replica u32, 4 bytes padding.
import { alloc, release } from "./mem";
import { Vec } from "./vec";


@final export class DotVec {
  v: Vec<u64> = new Vec<u64>(); // two words per dot: counter, replica

  @inline get count(): i32 { return this.v.len >> 1; }
  @inline rep(i: i32): u32 { return <u32>this.v.get((i << 1) + 1); }
  @inline ctr(i: i32): u64 { return this.v.get(i << 1); }

  reserve(n: i32): bool { return n <= 0x0fff_ffff && this.v.reserve(n << 1); }

  push(rep: u32, ctr: u64): bool {
    if (!this.v.reserve(2)) return false;
    this.v.pushReserved(ctr);
    this.v.pushReserved(<u64>rep);
    return true;
  }

  // Orders by (replica index, counter); false on exhaustion.
  sort(): bool {
    const n = this.count;
    if (n < 2) return true;
    const tmp = alloc(<usize>n << 4);
    if (tmp == 0) return false;
    let src = this.v.ptr, dst = tmp;
    for (let w = 1; w < n; w <<= 1) {
      for (let lo = 0; lo < n; lo += w << 1) {
        const mid = min(lo + w, n), hi = min(lo + (w << 1), n);
        let i = lo, j = mid, k = lo;
        while (i < mid || j < hi) {
          let takeI = j >= hi;
          if (i < mid && j < hi) takeI = !dotLess(src, j, i);
          const from = takeI ? i++ : j++;
          store<u64>(dst + (<usize>k << 4), load<u64>(src + (<usize>from << 4)));
          store<u64>(dst + (<usize>k << 4) + 8, load<u64>(src + (<usize>from << 4) + 8));
          k++;
        }
      }
      const s = src; src = dst; dst = s;
    }
    if (src != this.v.ptr) memory.copy(this.v.ptr, src, <usize>n << 4);
    release(tmp);
    return true;
  }

  // Index of (rep, ctr) in a sorted DotVec, or −1.
  find(rep: u32, ctr: u64): i32 {
    let lo = 0, hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.rep(mid), c = this.ctr(mid);
      if (r == rep && c == ctr) return mid;
      if (r < rep || (r == rep && c < ctr)) lo = mid + 1; else hi = mid;
    }
    return -1;
  }

  clear(): void { this.v.clear(); }
  free(): void { this.v.free(); }
}

@inline function dotLess(p: usize, a: i32, b: i32): bool {
  const ra = load<u64>(p + (<usize>a << 4) + 8), rb = load<u64>(p + (<usize>b << 4) + 8);
  if (ra != rb) return ra < rb;
  return load<u64>(p + (<usize>a << 4)) < load<u64>(p + (<usize>b << 4));
}
