// Enable-wins flag: an AWSet with one implicit element. Enabling mints a dot;
// disabling covers only the dots it observed, so a concurrent enable wins.
// Almeida, Shoker & Baquero, "Delta State Replicated Data Types", §7 (EWFlag).
import { Reader, Writer } from "../codec";
import { E_BAD_TAG, E_INVALID, E_TOO_LARGE, MAX_PARTS, setError } from "../errors";
import { Lattice } from "../lattice";
import { CausalContext, Dot, canMint, readDots, sortDots, writeDots } from "../dots";
import { hasDot, missingContext } from "./awset";

export const OP_ENABLE: u32 = 0;  // op := 0
export const OP_DISABLE: u32 = 1; // op := 1   (covers the enables observed)

// body  := context dots
//          context as in dots.ts; dots := count (replica, counter) sorted by
//          (replica bytes, counter), strictly increasing, every dot in the context.
// query := 1 byte: 1 if some enable dot is alive, else 0.
export class EWFlag extends Lattice {
  dots: Array<Dot> = new Array<Dot>();
  cc: CausalContext = new CausalContext();

  bottom(): Lattice { return new EWFlag(this.spec); }
  isBottom(): bool { return this.dots.length == 0 && this.cc.isEmpty(); }

  clone(): Lattice {
    const c = new EWFlag(this.spec);
    c.dots = this.dots.slice();
    c.cc = this.cc.clone();
    return c;
  }

  // A dot survives if both sides have it, or one has it and the other never saw it.
  join(o: Lattice): bool {
    const x = changetype<EWFlag>(o);
    let changed = false;
    const kept = new Array<Dot>();
    for (let i = 0; i < this.dots.length; i++) {
      const d = this.dots[i];
      if (!x.cc.contains(d.r, d.c) || hasDot(x.dots, d)) kept.push(d);
    }
    if (kept.length != this.dots.length) changed = true;
    let added = false;
    for (let i = 0; i < x.dots.length; i++) {
      const d = x.dots[i];
      if (this.cc.contains(d.r, d.c)) continue; // seen here: kept above or disabled here
      kept.push(d);
      added = true;
    }
    if (added) { sortDots(kept); changed = true; }
    this.dots = kept;
    if (this.cc.join(x.cc)) changed = true;
    return changed;
  }

  // a ⊑ b iff b's context covers a's and b keeps no dot a has seen disabled.
  leq(o: Lattice): bool {
    const x = changetype<EWFlag>(o);
    if (!x.cc.covers(this.cc)) return false;
    for (let i = 0; i < x.dots.length; i++) {
      const d = x.dots[i];
      if (this.cc.contains(d.r, d.c) && !hasDot(this.dots, d)) return false;
    }
    return true;
  }

  // Dots b has not seen, plus the context b lacks (compact, as in AWSet).
  deltaFrom(o: Lattice): Lattice {
    const x = changetype<EWFlag>(o);
    const d = new EWFlag(this.spec);
    // The compact missing context may name dots b already has (a whole vv
    // entry): send the live dots it covers too, or b would drop them.
    d.cc = missingContext(this.cc, x.cc);
    for (let i = 0; i < this.dots.length; i++) {
      const t = this.dots[i];
      if (!x.cc.contains(t.r, t.c) || d.cc.contains(t.r, t.c)) d.dots.push(t);
    }
    // Disables b has not seen: dots b keeps that this has seen and dropped.
    for (let i = 0; i < x.dots.length; i++) {
      const t = x.dots[i];
      if (this.cc.contains(t.r, t.c) && !hasDot(this.dots, t)) d.cc.add(t.r, t.c);
    }
    return d;
  }

  // One part per live dot ({dot} with context {dot}), one per context-only dot.
  decompose(out: Array<Lattice>): void {
    for (let i = 0; i < this.dots.length; i++) {
      if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
      const p = new EWFlag(this.spec);
      p.dots.push(this.dots[i]);
      p.cc.add(this.dots[i].r, this.dots[i].c);
      out.push(p);
    }
    const all = new Array<Dot>();
    this.cc.dots(all);
    for (let i = 0; i < all.length; i++) {
      const d = all[i];
      if (hasDot(this.dots, d)) continue;
      if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
      const p = new EWFlag(this.spec);
      p.cc.add(d.r, d.c);
      out.push(p);
    }
  }

  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_ENABLE && code != OP_DISABLE) { r.fail(E_BAD_TAG); return null; }
    // Enable mints the replica's next dot: refused (OVERFLOW) near 2^64 − 1,
    // and for an empty replica id, since neither state would decode again.
    if (code == OP_ENABLE && !canMint(r, replica, this.cc.max(replica))) return null;
    if (dry) return null;
    return this.opDelta(code == OP_ENABLE, replica);
  }

  // Both ops supersede every dot observed; enable adds a fresh one.
  opDelta(enable: bool, replica: string): EWFlag {
    const d = new EWFlag(this.spec);
    for (let i = 0; i < this.dots.length; i++) d.cc.add(this.dots[i].r, this.dots[i].c);
    if (enable) {
      const dot = new Dot(replica, this.cc.max(replica) + 1);
      d.dots.push(dot);
      d.cc.add(dot.r, dot.c);
    }
    return d;
  }

  query(w: Writer): void { w.u8(this.dots.length > 0 ? 1 : 0); }

  encode(w: Writer): void {
    this.cc.encode(w);
    writeDots(w, this.dots);
  }

  decode(r: Reader, depth: i32): void {
    this.cc.decode(r);
    if (!r.ok) return;
    const ds = readDots(r);
    if (!r.ok) return;
    for (let i = 0; i < ds.length; i++) {
      if (!this.cc.contains(ds[i].r, ds[i].c)) { r.fail(E_INVALID); return; }
    }
    this.dots = ds;
  }
}
