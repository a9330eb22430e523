// Multi-value register: a dot -> value map (a DotFun) plus a causal context.
// A set covers every value it observed, so only concurrent sets survive
// together and a read returns all of them.
// Almeida, Shoker & Baquero, "Delta State Replicated Data Types", §7 (MVRegister).
import { Reader, Writer, sortKeys } from "../codec";
import { E_BAD_TAG, E_INVALID, E_NONCANONICAL, E_TOO_LARGE, MAX_PARTS, setError } from "../errors";
import { Lattice } from "../lattice";
import { CausalContext, Dot, canMint, dotLess, readDot } from "../dots";
import { missingContext } from "./awset";

export const OP_SET: u32 = 0;   // op := 0 value:bytes
export const OP_CLEAR: u32 = 1; // op := 1   (covers the values observed)

// A dot and the value written with it. A dot names one write, so two replicas
// holding the same dot hold the same value.
class Entry {
  dot: Dot;
  v: string;
  constructor(dot: Dot, v: string) { this.dot = dot; this.v = v; }
}

function sortEntries(a: Array<Entry>): void {
  a.sort((x: Entry, y: Entry): i32 => (dotLess(x.dot, y.dot) ? -1 : dotLess(y.dot, x.dot) ? 1 : 0));
}

function hasEntry(a: Array<Entry>, d: Dot): bool {
  for (let i = 0; i < a.length; i++) if (a[i].dot.c == d.c && a[i].dot.r == d.r) return true;
  return false;
}

// body  := context count (replica, counter, value:bytes)*
//          context as in dots.ts; entries sorted by dot (replica bytes, then
//          counter), strictly increasing, every dot in the context.
// query := count value:bytes*   (distinct values, sorted by bytes)
export class MVRegister extends Lattice {
  entries: Array<Entry> = new Array<Entry>();
  cc: CausalContext = new CausalContext();

  bottom(): Lattice { return new MVRegister(this.spec); }
  isBottom(): bool { return this.entries.length == 0 && this.cc.isEmpty(); }

  clone(): Lattice {
    const c = new MVRegister(this.spec);
    c.entries = this.entries.slice();
    c.cc = this.cc.clone();
    return c;
  }

  // An entry survives if both sides have its dot, or one has it and the other never saw it.
  join(o: Lattice): bool {
    const x = changetype<MVRegister>(o);
    let changed = false;
    const kept = new Array<Entry>();
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i];
      if (!x.cc.contains(e.dot.r, e.dot.c) || hasEntry(x.entries, e.dot)) kept.push(e);
    }
    if (kept.length != this.entries.length) changed = true;
    let added = false;
    for (let i = 0; i < x.entries.length; i++) {
      const e = x.entries[i];
      if (this.cc.contains(e.dot.r, e.dot.c)) continue;
      kept.push(e);
      added = true;
    }
    if (added) { sortEntries(kept); changed = true; }
    this.entries = kept;
    if (this.cc.join(x.cc)) changed = true;
    return changed;
  }

  leq(o: Lattice): bool {
    const x = changetype<MVRegister>(o);
    if (!x.cc.covers(this.cc)) return false;
    for (let i = 0; i < x.entries.length; i++) {
      const d = x.entries[i].dot;
      if (this.cc.contains(d.r, d.c) && !hasEntry(this.entries, d)) return false;
    }
    return true;
  }

  deltaFrom(o: Lattice): Lattice {
    const x = changetype<MVRegister>(o);
    const d = new MVRegister(this.spec);
    // As in AWSet: entries b has not seen, the context b lacks (compact), and
    // the entries that compact context covers, so b keeps them.
    d.cc = missingContext(this.cc, x.cc);
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i];
      if (!x.cc.contains(e.dot.r, e.dot.c) || d.cc.contains(e.dot.r, e.dot.c)) d.entries.push(e);
    }
    // Overwrites b has not seen: dots b keeps that this has seen and dropped.
    for (let i = 0; i < x.entries.length; i++) {
      const t = x.entries[i].dot;
      if (this.cc.contains(t.r, t.c) && !hasEntry(this.entries, t)) d.cc.add(t.r, t.c);
    }
    return d;
  }

  decompose(out: Array<Lattice>): void {
    for (let i = 0; i < this.entries.length; i++) {
      if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
      const e = this.entries[i];
      const p = new MVRegister(this.spec);
      p.entries.push(e);
      p.cc.add(e.dot.r, e.dot.c);
      out.push(p);
    }
    const all = new Array<Dot>();
    this.cc.dots(all);
    for (let i = 0; i < all.length; i++) {
      const d = all[i];
      if (hasEntry(this.entries, d)) continue;
      if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
      const p = new MVRegister(this.spec);
      p.cc.add(d.r, d.c);
      out.push(p);
    }
  }

  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    let v = "";
    if (code == OP_SET) {
      v = r.value();
      if (!r.ok) return null;
    } else if (code != OP_CLEAR) { r.fail(E_BAD_TAG); return null; }
    if (code == OP_SET && !canMint(r, replica, this.cc.max(replica))) return null;
    if (dry) return null;
    const d = new MVRegister(this.spec);
    for (let i = 0; i < this.entries.length; i++) d.cc.add(this.entries[i].dot.r, this.entries[i].dot.c);
    if (code == OP_SET) {
      const dot = new Dot(replica, this.cc.max(replica) + 1);
      d.entries.push(new Entry(dot, v));
      d.cc.add(dot.r, dot.c);
    }
    return d;
  }

  // Distinct values: two replicas may concurrently write the same bytes.
  values(): Array<string> {
    const s = new Set<string>();
    for (let i = 0; i < this.entries.length; i++) s.add(this.entries[i].v);
    return sortKeys(s.values());
  }

  query(w: Writer): void {
    const vs = this.values();
    w.varint(<u64>vs.length);
    for (let i = 0; i < vs.length; i++) w.key(vs[i]);
  }

  size(): i32 { return this.values().length; }

  encode(w: Writer): void {
    this.cc.encode(w);
    w.varint(<u64>this.entries.length);
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i];
      w.key(e.dot.r); w.varint(e.dot.c); w.key(e.v);
    }
  }

  decode(r: Reader, depth: i32): void {
    this.cc.decode(r);
    const n = r.count(3);
    for (let i = 0; i < n && r.ok; i++) {
      const d = readDot(r);
      const v = r.value();
      if (!r.ok) return;
      if (i > 0 && !dotLess(this.entries[i - 1].dot, d)) { r.fail(E_NONCANONICAL); return; }
      if (!this.cc.contains(d.r, d.c)) { r.fail(E_INVALID); return; }
      this.entries.push(new Entry(d, v));
    }
  }
}
