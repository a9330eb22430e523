// Which dots a decode has met so far, to refuse one dot on two elements (no
// honest history puts one add on two elements). Every store dot lies in the
// state's context, so a dot (r, c ≤ vv[r]) is one bit of a bitmap over
// 1..vv[r]; the others (cloud dots, or a replica whose vv is too large for
// a bitmap within budget) go to a hash set. Memory stays within a budget the
// caller ties to the input's size: 100k dots of one replica cost 12.5 KB,
// where a hash set of them would cost 4 MiB.
import { Vec } from "./vec";
import { DotMap } from "./dotmap";
import { Context } from "./context";

@final export class SeenDots {
  base: Vec<u64> = new Vec<u64>(); // per replica: first bit of its bitmap + 1 (0: none)
  lim: Vec<u64> = new Vec<u64>();  // per replica: the bitmap covers counters 1..lim
  bits: Vec<u64> = new Vec<u64>();
  map: DotMap = new DotMap();

  // Bitmaps for ctx's replicas whose vv fits in what is left of budgetBits.
  // False on exhaustion.
  init(ctx: Context, budgetBits: u64): bool {
    const n = ctx.replicas;
    if (!this.base.reserve(n) || !this.lim.reserve(n)) return false;
    let used: u64 = 0;
    for (let i = 0; i < n; i++) {
      const v = ctx.vvOf(i);
      // Whole words are charged, so used never passes budgetBits (a
      // subtraction that wrapped once let a 25-byte input claim 128 MiB).
      const w = (v + 63) & ~<u64>63;
      if (v != 0 && v < (<u64>1 << 62) && w <= budgetBits - used) {
        this.base.pushReserved(used + 1);
        this.lim.pushReserved(v);
        used += w;
      } else {
        this.base.pushReserved(0);
        this.lim.pushReserved(0);
      }
    }
    const words = <i32>(used >> 6);
    if (!this.bits.reserve(words)) return false;
    memory.fill(this.bits.ptr, 0, <usize>words << 3);
    this.bits.len = words;
    return true;
  }

  // Notes dot (ri, c) of ctx's replica ri: 1 if new, 0 if met before, −1 on exhaustion.
  add(ri: i32, c: u64): i32 {
    const b = this.base.get(ri);
    if (b != 0 && c >= 1 && c <= this.lim.get(ri)) {
      const bit = b - 1 + c - 1;
      const at = this.bits.ptr + <usize>((bit >> 6) << 3);
      const m: u64 = <u64>1 << (bit & 63);
      const w = load<u64>(at);
      if ((w & m) != 0) return 0;
      store<u64>(at, w | m);
      return 1;
    }
    return this.map.add(<u32>ri, c, 0);
  }

  free(): void { this.base.free(); this.lim.free(); this.bits.free(); this.map.free(); }
}
