// A dot store of a few dots, each with an optional byte value (a DotFun:
// EWFlag's enables, MVRegister's writes): dots sorted by (replica index,
// counter) for binary search, values back to back in one arena. Built whole
// (a join makes a new one and swaps it in), so it never deletes in place.
import { Vec } from "./vec";
import { DotVec } from "./dots";
import { alloc, release } from "./mem";

@final export class DotFun {
  dots: DotVec = new DotVec();
  vals: Vec<u8> = new Vec<u8>();
  voff: Vec<u32> = new Vec<u32>(); // value i is vals[voff[i] .. voff[i + 1]); voff[count] = vals.len

  @inline get count(): i32 { return this.dots.count; }
  @inline rep(i: i32): u32 { return this.dots.rep(i); }
  @inline ctr(i: i32): u64 { return this.dots.ctr(i); }
  @inline valPtr(i: i32): usize { return this.vals.ptr + <usize>this.voff.get(i); }
  @inline valLen(i: i32): usize { return <usize>(this.voff.get(i + 1) - this.voff.get(i)); }

  // Index of (rep, ctr) (sorted store), or −1.
  @inline find(rep: u32, ctr: u64): i32 { return this.dots.find(rep, ctr); }

  // Room for n more dots with `bytes` bytes of values; false on exhaustion.
  reserve(n: i32, bytes: i32): bool {
    return this.dots.reserve(n) && this.voff.reserve(n + 1) && this.vals.reserve(bytes);
  }

  // Appends a dot and its value in reserved room (order: the caller's, or sort()).
  append(rep: u32, ctr: u64, vp: usize, vn: usize): void {
    if (this.voff.len == 0) this.voff.pushReserved(0);
    this.dots.v.pushReserved(ctr);
    this.dots.v.pushReserved(<u64>rep);
    memory.copy(this.vals.end(), vp, vn);
    this.vals.len += <i32>vn;
    this.voff.pushReserved(<u32>this.vals.len);
  }

  // Sorts by (replica, counter), values alongside; false on exhaustion.
  sort(): bool {
    const n = this.count;
    if (n < 2) return true;
    let sorted = true;
    for (let i = 1; i < n && sorted; i++) sorted = less(this, i - 1, i);
    if (sorted) return true;
    const perm = new Vec<u32>();
    if (!perm.reserve(n)) return false;
    for (let i = 0; i < n; i++) perm.pushReserved(<u32>i);
    if (!sortPerm(this, perm)) { perm.free(); return false; }
    const out = new DotFun();
    if (!out.reserve(n, this.vals.len)) { perm.free(); out.free(); return false; }
    for (let k = 0; k < n; k++) {
      const i = <i32>perm.get(k);
      out.append(this.rep(i), this.ctr(i), this.valPtr(i), this.valLen(i));
    }
    perm.free();
    this.take(out);
    return true;
  }

  copyTo(into: DotFun): bool {
    return this.dots.v.copyTo(into.dots.v) && this.vals.copyTo(into.vals) && this.voff.copyTo(into.voff);
  }

  // Exchanges contents (and memory) with o: a join builds into a scratch
  // DotFun and swaps it in, so no store is allocated per join.
  swap(o: DotFun): void { swapVec(this.dots.v, o.dots.v); swapVec(this.vals, o.vals); swapVec(this.voff, o.voff); }

  // Bytes of memory held (for bounding what a scratch DotFun keeps).
  @inline get held(): usize {
    return (<usize>this.dots.v.cap << 3) + <usize>this.vals.cap + (<usize>this.voff.cap << 2);
  }

  // Takes o's memory (o is left empty), freeing this one's.
  take(o: DotFun): void { this.dots.v.take(o.dots.v); this.vals.take(o.vals); this.voff.take(o.voff); }

  clear(): void { this.dots.clear(); this.vals.clear(); this.voff.clear(); }
  free(): void { this.dots.free(); this.vals.free(); this.voff.free(); }
}

function swapVec<T>(a: Vec<T>, b: Vec<T>): void {
  const p = a.ptr, l = a.len, c = a.cap;
  a.ptr = b.ptr; a.len = b.len; a.cap = b.cap;
  b.ptr = p; b.len = l; b.cap = c;
}

@inline function less(f: DotFun, a: i32, b: i32): bool {
  const ra = f.rep(a), rb = f.rep(b);
  return ra < rb || (ra == rb && f.ctr(a) < f.ctr(b));
}

// Sorts perm (indices into f) by their dots: bottom-up merge sort.
function sortPerm(f: DotFun, perm: Vec<u32>): bool {
  const n = perm.len;
  const tmp = alloc(<usize>n << 2);
  if (tmp == 0) return false;
  let src = perm.ptr, dst = tmp;
  for (let w = 1; w < n; w <<= 1) {
    for (let lo = 0; lo < n; lo += w << 1) {
      const mid = min(lo + w, n), hi = min(lo + (w << 1), n);
      let i = lo, j = mid, k = lo;
      while (i < mid || j < hi) {
        let takeI = j >= hi;
        if (i < mid && j < hi) takeI = !less(f, <i32>load<u32>(src + (<usize>j << 2)), <i32>load<u32>(src + (<usize>i << 2)));
        const from = takeI ? i++ : j++;
        store<u32>(dst + (<usize>k << 2), load<u32>(src + (<usize>from << 2)));
        k++;
      }
    }
    const s = src; src = dst; dst = s;
  }
  if (src != perm.ptr) memory.copy(perm.ptr, src, <usize>n << 2);
  release(tmp);
  return true;
}
