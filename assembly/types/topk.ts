// Top-K(k): at most k entries id -> score (u64). Joining keeps, per id, the
// max score, then the k greatest entries ranked by (score desc, id asc).
// Truncation commutes with join (an entry in the top k of a union is in the
// top k of the side its max score came from, and an entry evicted from one
// side has k entries above it that survive), so this is a join-semilattice:
// the quotient of "map of max scores" by "same top k". Score 0 is a real
// score: an entry (id, 0) is not bottom.
// Single entries are the join-irreducibles; {(id, s)} ⊑ b iff b[id] ≥ s, or b
// is full and (s, id) ranks below b's last entry (it would be evicted).
import { Reader, Writer, sortKeys } from "../codec";
import { E_BAD_TAG, E_INVALID, E_NONCANONICAL } from "../errors";
import { Lattice, Spec } from "../lattice";

export const OP_ADD: u32 = 0; // op := 0 id:bytes score:varint

class Entry {
  id: string;
  s: u64;
  constructor(id: string, s: u64) { this.id = id; this.s = s; }
}

// (s1, id1) ranks above (s2, id2): greater score, ties by smaller id.
@inline function above(s1: u64, id1: string, s2: u64, id2: string): bool {
  return s1 > s2 || (s1 == s2 && id1 < id2);
}

function byRank(a: Array<Entry>): void {
  a.sort((x: Entry, y: Entry): i32 => (above(x.s, x.id, y.s, y.id) ? -1 : above(y.s, y.id, x.s, x.id) ? 1 : 0));
}

// Joining more entries than this one by one costs a rescan per eviction; past
// it a join merges then sorts once.
const ONE_BY_ONE: i32 = 8;

export class TopK extends Lattice {
  // body  := count:varint (≤ k), then count × (id:bytes, score:varint) sorted
  //          strictly increasing by id (k is in the spec, not the body)
  // query := count:varint, then count × (id:bytes, score:varint) in rank
  //          order: score descending, ties by id ascending in byte order

  m: Map<string, u64> = new Map();
  // Cache of the lowest-ranked entry (valid only when lowOk); not state.
  lowOk: bool = false;
  lowId: string = "";
  lowS: u64 = 0;

  bottom(): Lattice { return new TopK(this.spec); }
  isBottom(): bool { return this.m.size == 0; }

  clone(): Lattice {
    const c = new TopK(this.spec);
    const ks = this.m.keys();
    for (let i = 0; i < ks.length; i++) c.m.set(ks[i], this.m.get(ks[i]));
    return c;
  }

  @inline get full(): bool { return <u32>this.m.size >= this.spec.k; }

  low(): void {
    if (this.lowOk) return;
    const ks = this.m.keys();
    let id = "", s: u64 = 0;
    for (let i = 0; i < ks.length; i++) {
      const v = this.m.get(ks[i]);
      if (i == 0 || above(s, id, v, ks[i])) { id = ks[i]; s = v; }
    }
    this.lowId = id; this.lowS = s; this.lowOk = true;
  }

  // {(id, s)} ⊑ this.
  covers(id: string, s: u64): bool {
    if (this.m.has(id)) return this.m.get(id) >= s;
    if (!this.full) return false;
    this.low();
    return above(this.lowS, this.lowId, s, id);
  }

  // this := this ⊔ {(id, s)}; true if it grew.
  joinOne(id: string, s: u64): bool {
    if (this.m.has(id)) {
      if (this.m.get(id) >= s) return false;
      this.m.set(id, s);
      if (this.lowOk && this.lowId == id) this.lowOk = false;
      return true;
    }
    if (!this.full) {
      this.m.set(id, s);
      if (this.lowOk && above(this.lowS, this.lowId, s, id)) { this.lowId = id; this.lowS = s; }
      return true;
    }
    this.low();
    if (!above(s, id, this.lowS, this.lowId)) return false;
    this.m.delete(this.lowId);
    this.m.set(id, s);
    this.lowOk = false;
    return true;
  }

  join(o: Lattice): bool {
    const x = changetype<TopK>(o);
    const ks = x.m.keys();
    if (ks.length <= ONE_BY_ONE) {
      let changed = false;
      for (let i = 0; i < ks.length; i++) if (this.joinOne(ks[i], x.m.get(ks[i]))) changed = true;
      return changed;
    }
    // Merge by max, remembering what rose; then keep the k best. The state
    // changed iff a risen entry survived (an old entry is only evicted by one).
    const rose = new Array<string>();
    for (let i = 0; i < ks.length; i++) {
      const v = x.m.get(ks[i]);
      if (!this.m.has(ks[i]) || this.m.get(ks[i]) < v) { this.m.set(ks[i], v); rose.push(ks[i]); }
    }
    if (rose.length == 0) return false;
    this.lowOk = false;
    if (<u32>this.m.size > this.spec.k) {
      const all = this.entries();
      byRank(all);
      for (let i = <i32>this.spec.k; i < all.length; i++) this.m.delete(all[i].id);
    }
    for (let i = 0; i < rose.length; i++) if (this.m.has(rose[i])) return true;
    return false;
  }

  entries(): Array<Entry> {
    const ks = this.m.keys();
    const a = new Array<Entry>(ks.length);
    for (let i = 0; i < ks.length; i++) a[i] = new Entry(ks[i], this.m.get(ks[i]));
    return a;
  }

  leq(o: Lattice): bool {
    const x = changetype<TopK>(o);
    const ks = this.m.keys();
    for (let i = 0; i < ks.length; i++) if (!x.covers(ks[i], this.m.get(ks[i]))) return false;
    return true;
  }

  // The entries o does not cover.
  deltaFrom(o: Lattice): Lattice {
    const x = changetype<TopK>(o);
    const d = new TopK(this.spec);
    const ks = this.m.keys();
    for (let i = 0; i < ks.length; i++) {
      const v = this.m.get(ks[i]);
      if (!x.covers(ks[i], v)) d.m.set(ks[i], v);
    }
    return d;
  }

  // One single-entry state per entry, by id (at most k ≤ 65536 parts).
  decompose(out: Array<Lattice>): void {
    const ks = sortKeys(this.m.keys());
    for (let i = 0; i < ks.length; i++) {
      const p = new TopK(this.spec);
      p.m.set(ks[i], this.m.get(ks[i]));
      out.push(p);
    }
  }

  // add(id, score): delta is the entry when it would enter or raise the top k,
  // else bottom.
  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_ADD) { r.fail(E_BAD_TAG); return null; }
    const id = r.value();
    const s = r.varint();
    if (!r.ok || dry) return null;
    const d = new TopK(this.spec);
    if (!this.covers(id, s)) d.m.set(id, s);
    return d;
  }

  query(w: Writer): void {
    const all = this.entries();
    byRank(all);
    w.varint(<u64>all.length);
    for (let i = 0; i < all.length; i++) { w.key(all[i].id); w.varint(all[i].s); }
  }

  size(): i32 { return this.m.size; }

  encode(w: Writer): void {
    const ks = sortKeys(this.m.keys());
    w.varint(<u64>ks.length);
    for (let i = 0; i < ks.length; i++) { w.key(ks[i]); w.varint(this.m.get(ks[i])); }
  }

  decode(r: Reader, depth: i32): void {
    const n = r.count(2);
    if (!r.ok) return;
    if (<u32>n > this.spec.k) { r.fail(E_INVALID); return; }
    let prev = "";
    for (let i = 0; i < n && r.ok; i++) {
      const id = r.value();
      const s = r.varint();
      if (!r.ok) return;
      if (i > 0 && !(prev < id)) { r.fail(E_NONCANONICAL); return; }
      prev = id;
      this.m.set(id, s);
    }
  }
}
