// Dots and compact causal contexts for the causal types (AWSet, EWFlag,
// MVRegister, ORSet tokens, AWMap presence). After Almeida, Shoker & Baquero,
// "Delta State Replicated Data Types" (JPDC 2018): a context is a version vector
// (every dot (r, 1..vv[r]) is seen) plus a cloud of dots not yet contiguous.
import { Reader, Writer, sortKeys } from "./codec";
import { E_NONCANONICAL, E_INVALID, E_OVERFLOW, E_TOO_LARGE, MAX_REPLICA, MAX_PARTS, setError } from "./errors";

// Decode accepts only what an honest history can produce (docs/format.md,
// "Causal context"): no empty replica id, and no counter at 2^64 − 1, whose
// replica's next op would wrap to 0. A local op mints a new dot only below
// MINT_LIMIT: the headroom (2^32) is more than one op batch can mint, so a
// batch validated against the state before it cannot overflow part-way.
export const MAX_COUNTER: u64 = U64.MAX_VALUE - 1;
export const MINT_LIMIT: u64 = U64.MAX_VALUE - (<u64>1 << 32);

// Checks a decoded replica id and counter; false after r.fail.
export function honestDot(r: Reader, rep: string, c: u64): bool {
  if (!r.ok) return false;
  if (rep.length > MAX_REPLICA) { r.fail(E_TOO_LARGE); return false; }
  if (rep.length == 0 || c == 0) { r.fail(E_INVALID); return false; }
  if (c > MAX_COUNTER) { r.fail(E_OVERFLOW); return false; }
  return true;
}

// May `replica` mint the dot after `top` (its highest counter here)? An
// empty replica id is for read-only handles (docs/abi.md). Fails r otherwise.
export function canMint(r: Reader, replica: string, top: u64): bool {
  if (!r.ok) return false;
  if (replica.length == 0) { r.fail(E_INVALID); return false; }
  if (top >= MINT_LIMIT) { r.fail(E_OVERFLOW); return false; }
  return true;
}

export class Dot {
  r: string;
  c: u64;
  constructor(r: string, c: u64) { this.r = r; this.c = c; }
}

// Dots in canonical order: by replica bytes, then counter.
export function dotLess(a: Dot, b: Dot): bool {
  return a.r < b.r || (a.r == b.r && a.c < b.c);
}

export function sortDots(a: Array<Dot>): void {
  a.sort((x: Dot, y: Dot): i32 => (dotLess(x, y) ? -1 : dotLess(y, x) ? 1 : 0));
}

export function writeDots(w: Writer, a: Array<Dot>): void {
  w.varint(<u64>a.length);
  for (let i = 0; i < a.length; i++) { w.key(a[i].r); w.varint(a[i].c); }
}

// Reads a strictly increasing list of dots (canonical), counters ≥ 1.
export function readDots(r: Reader): Array<Dot> {
  const n = r.count(2);
  const out = new Array<Dot>();
  for (let i = 0; i < n && r.ok; i++) {
    const d = readDot(r);
    if (!r.ok) break;
    if (i > 0 && !dotLess(out[i - 1], d)) { r.fail(E_NONCANONICAL); break; }
    out.push(d);
  }
  return out;
}

export function readDot(r: Reader): Dot {
  const rep = r.replica();
  const c = r.varint();
  honestDot(r, rep, c);
  return new Dot(rep, c);
}

export class CausalContext {
  vv: Map<string, u64> = new Map();
  cloud: Map<string, Set<u64>> = new Map();

  clone(): CausalContext {
    const c = new CausalContext();
    const ks = this.vv.keys();
    for (let i = 0; i < ks.length; i++) c.vv.set(ks[i], this.vv.get(ks[i]));
    const cs = this.cloud.keys();
    for (let i = 0; i < cs.length; i++) {
      const src = this.cloud.get(cs[i]).values();
      const s = new Set<u64>();
      for (let j = 0; j < src.length; j++) s.add(src[j]);
      c.cloud.set(cs[i], s);
    }
    return c;
  }

  isEmpty(): bool { return this.vv.size == 0 && this.cloud.size == 0; }

  // How many dots the context names (saturating).
  size(): u64 {
    let n: u64 = 0;
    const vs = this.vv.values();
    for (let i = 0; i < vs.length; i++) n = vs[i] > U64.MAX_VALUE - n ? U64.MAX_VALUE : n + vs[i];
    const cs = this.cloud.values();
    for (let i = 0; i < cs.length; i++) n += <u64>cs[i].size;
    return n;
  }

  contains(r: string, c: u64): bool {
    if (this.vv.has(r) && c <= this.vv.get(r)) return true;
    return this.cloud.has(r) && this.cloud.get(r).has(c);
  }

  // Highest counter seen for replica r (for minting the next dot).
  max(r: string): u64 {
    let m: u64 = this.vv.has(r) ? this.vv.get(r) : 0;
    if (this.cloud.has(r)) {
      const v = this.cloud.get(r).values();
      for (let i = 0; i < v.length; i++) if (v[i] > m) m = v[i];
    }
    return m;
  }

  // Adds one dot; returns true if new. Leaves the context compact.
  add(r: string, c: u64): bool {
    if (this.contains(r, c)) return false;
    const base: u64 = this.vv.has(r) ? this.vv.get(r) : 0;
    if (c == base + 1) {
      this.vv.set(r, c);
      this.compactReplica(r);
    } else {
      if (!this.cloud.has(r)) this.cloud.set(r, new Set<u64>());
      this.cloud.get(r).add(c);
    }
    return true;
  }

  // Moves cloud dots of r that have become contiguous into the version vector.
  compactReplica(r: string): void {
    if (!this.cloud.has(r)) return;
    const s = this.cloud.get(r);
    let base: u64 = this.vv.has(r) ? this.vv.get(r) : 0;
    const start = base;
    while (s.has(base + 1)) { s.delete(base + 1); base++; }
    if (base != start) this.vv.set(r, base);
    if (s.size == 0) this.cloud.delete(r);
  }

  // this := this ∪ o; returns true if it grew.
  join(o: CausalContext): bool {
    let changed = false;
    const ks = o.vv.keys();
    for (let i = 0; i < ks.length; i++) {
      const r = ks[i];
      const v = o.vv.get(r);
      const mine: u64 = this.vv.has(r) ? this.vv.get(r) : 0;
      if (v > mine) {
        // Dots of r in our cloud up to v are now in the vv: count growth only if
        // some dot in (mine, v] was missing.
        let missing = false;
        if (this.cloud.has(r)) {
          const s = this.cloud.get(r);
          // The cloud can only fill (mine, v] if it has that many dots: bounds the loop.
          if (<u64>s.size < v - mine) missing = true;
          else for (let c = mine + 1; c <= v; c++) {
            if (!s.has(c)) { missing = true; break; }
          }
          const vals = s.values();
          for (let j = 0; j < vals.length; j++) if (vals[j] <= v) s.delete(vals[j]);
          if (s.size == 0) this.cloud.delete(r);
        } else missing = true;
        if (missing) changed = true;
        this.vv.set(r, v);
        this.compactReplica(r);
      }
    }
    const cs = o.cloud.keys();
    for (let i = 0; i < cs.length; i++) {
      const vals = o.cloud.get(cs[i]).values();
      for (let j = 0; j < vals.length; j++) if (this.add(cs[i], vals[j])) changed = true;
    }
    return changed;
  }

  // o ⊆ this
  covers(o: CausalContext): bool {
    const ks = o.vv.keys();
    for (let i = 0; i < ks.length; i++) {
      const r = ks[i];
      const v = o.vv.get(r);
      const mine: u64 = this.vv.has(r) ? this.vv.get(r) : 0;
      if (v > mine) {
        if (!this.cloud.has(r)) return false;
        const s = this.cloud.get(r);
        if (<u64>s.size < v - mine) return false;
        for (let c = mine + 1; c <= v; c++) if (!s.has(c)) return false;
      }
    }
    const cs = o.cloud.keys();
    for (let i = 0; i < cs.length; i++) {
      const vals = o.cloud.get(cs[i]).values();
      for (let j = 0; j < vals.length; j++) if (!this.contains(cs[i], vals[j])) return false;
    }
    return true;
  }

  // Every dot, in canonical order (for decomposition; may be large).
  dots(out: Array<Dot>): void {
    const ks = sortKeys(this.replicas());
    for (let i = 0; i < ks.length; i++) {
      const r = ks[i];
      const top: u64 = this.vv.has(r) ? this.vv.get(r) : 0;
      // A hostile or huge context could name billions of dots: stop at the budget.
      if (top > <u64>(MAX_PARTS - out.length)) { setError(E_TOO_LARGE); return; }
      for (let c: u64 = 1; c <= top; c++) out.push(new Dot(r, c));
      if (this.cloud.has(r)) {
        const vals = this.cloud.get(r).values();
        vals.sort((a: u64, b: u64): i32 => (a < b ? -1 : a > b ? 1 : 0));
        for (let j = 0; j < vals.length; j++) out.push(new Dot(r, vals[j]));
      }
    }
  }

  replicas(): Array<string> {
    const out = this.vv.keys();
    const cs = this.cloud.keys();
    for (let i = 0; i < cs.length; i++) if (!this.vv.has(cs[i])) out.push(cs[i]);
    return out;
  }

  // Canonical encoding: vv entries sorted by replica (counter ≥ 1), then cloud
  // dots sorted, each strictly above vv[r] + 1 (otherwise it would be compacted).
  encode(w: Writer): void {
    const ks = sortKeys(this.vv.keys());
    w.varint(<u64>ks.length);
    for (let i = 0; i < ks.length; i++) { w.key(ks[i]); w.varint(this.vv.get(ks[i])); }
    const cloud = new Array<Dot>();
    const cs = this.cloud.keys();
    for (let i = 0; i < cs.length; i++) {
      const vals = this.cloud.get(cs[i]).values();
      for (let j = 0; j < vals.length; j++) cloud.push(new Dot(cs[i], vals[j]));
    }
    sortDots(cloud);
    writeDots(w, cloud);
  }

  decode(r: Reader): void {
    const n = r.count(2);
    let prev = "";
    for (let i = 0; i < n && r.ok; i++) {
      const rep = r.replica();
      const c = r.varint();
      if (!honestDot(r, rep, c)) return;
      if (i > 0 && !(prev < rep)) { r.fail(E_NONCANONICAL); return; }
      prev = rep;
      this.vv.set(rep, c);
    }
    const cloud = readDots(r);
    if (!r.ok) return;
    for (let i = 0; i < cloud.length; i++) {
      const d = cloud[i];
      const base: u64 = this.vv.has(d.r) ? this.vv.get(d.r) : 0;
      if (d.c <= base + 1) { r.fail(E_NONCANONICAL); return; }
      if (!this.cloud.has(d.r)) this.cloud.set(d.r, new Set<u64>());
      this.cloud.get(d.r).add(d.c);
    }
  }
}
