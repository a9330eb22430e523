// Add-wins set (optimised OR-Set without tombstones): element -> the dots of
// the adds that are still alive, plus a compact causal context of every dot
// seen. A remove only covers the dots it observed, so a concurrent add wins.
// Almeida, Shoker & Baquero, "Delta State Replicated Data Types", §7 (AWSet).
import { Reader, Writer, sortKeys } from "../codec";
import { E_BAD_TAG, E_INVALID, E_NONCANONICAL, E_TOO_LARGE, MAX_PARTS, setError } from "../errors";
import { Lattice, Spec } from "../lattice";
import { CausalContext, Dot, canMint, readDots, sortDots, writeDots } from "../dots";

export const OP_ADD: u32 = 0;    // op := 0 element:bytes
export const OP_REMOVE: u32 = 1; // op := 1 element:bytes
export const OP_CLEAR: u32 = 2;  // op := 2   (removes every element observed)

export class AWSet extends Lattice {
  entries: Map<string, Array<Dot>> = new Map();
  cc: CausalContext = new CausalContext();

  bottom(): Lattice { return new AWSet(this.spec); }
  isBottom(): bool { return this.entries.size == 0 && this.cc.isEmpty(); }

  clone(): Lattice {
    const c = new AWSet(this.spec);
    const ks = this.entries.keys();
    for (let i = 0; i < ks.length; i++) c.entries.set(ks[i], this.entries.get(ks[i]).slice());
    c.cc = this.cc.clone();
    return c;
  }

  // replica -> counter -> element for every dot in the store, so that joining a
  // small delta touches only the dots it names instead of every element. Built
  // on the first join that needs it, then kept current by join, the only
  // method that changes an existing state in place (all others build new ones).
  index: Map<string, Map<u64, string>> | null = null;

  buildIndex(): Map<string, Map<u64, string>> {
    const ix = new Map<string, Map<u64, string>>();
    const ks = this.entries.keys();
    for (let i = 0; i < ks.length; i++) {
      const ds = this.entries.get(ks[i]);
      for (let j = 0; j < ds.length; j++) indexAdd(ix, ds[j], ks[i]);
    }
    this.index = ix;
    return ix;
  }

  // (s1, c1) ⊔ (s2, c2): a dot survives if both sides have it, or one side has
  // it and the other has not seen it.
  join(o: Lattice): bool {
    const x = changetype<AWSet>(o);
    let changed = false;
    // 1. Drop our dots that x has seen but no longer keeps.
    if (this.entries.size > 32 && x.cc.size() < <u64>min(this.entries.size >> 2, 1 << 14)) {
      changed = this.dropSeenSmall(x);
    } else {
      const mine = this.entries.keys();
      for (let i = 0; i < mine.length; i++) {
        const e = mine[i];
        const ds = this.entries.get(e);
        const theirs: Array<Dot> | null = x.entries.has(e) ? x.entries.get(e) : null;
        let kept: Array<Dot> | null = null;
        for (let j = 0; j < ds.length; j++) {
          const d = ds[j];
          const keep = !x.cc.contains(d.r, d.c) || (theirs !== null && hasDot(theirs, d));
          if (!keep && kept === null) kept = ds.slice(0, j);
          else if (keep && kept !== null) kept.push(d);
        }
        if (kept !== null) {
          changed = true;
          const ix = this.index;
          if (ix !== null) for (let j = 0; j < ds.length; j++) if (!hasDot(kept, ds[j])) indexDelete(ix, ds[j]);
          if (kept.length == 0) this.entries.delete(e); else this.entries.set(e, kept);
        }
      }
    }
    // 2. Take x's dots that we have not seen.
    const ks = x.entries.keys();
    for (let i = 0; i < ks.length; i++) {
      const e = ks[i];
      const ds = x.entries.get(e);
      let cur: Array<Dot> | null = this.entries.has(e) ? this.entries.get(e) : null;
      let added = false;
      for (let j = 0; j < ds.length; j++) {
        const d = ds[j];
        if (this.cc.contains(d.r, d.c)) continue; // seen here: kept above or removed here
        if (cur === null) { cur = new Array<Dot>(); this.entries.set(e, cur); }
        cur.push(d);
        if (this.index !== null) indexAdd(this.index!, d, e);
        added = true;
      }
      if (added) { sortDots(cur!); changed = true; }
    }
    if (this.cc.join(x.cc)) changed = true;
    return changed;
  }

  // Step 1 of join when x's context is small: look up each dot x has seen.
  dropSeenSmall(x: AWSet): bool {
    const ix = this.index !== null ? this.index! : this.buildIndex();
    const seen = new Array<Dot>();
    x.cc.dots(seen); // small by the caller's check
    let changed = false;
    for (let i = 0; i < seen.length; i++) {
      const d = seen[i];
      if (!ix.has(d.r)) continue;
      const byCounter = ix.get(d.r);
      if (!byCounter.has(d.c)) continue;
      const e = byCounter.get(d.c);
      if (x.entries.has(e) && hasDot(x.entries.get(e), d)) continue;
      const ds = this.entries.get(e);
      const kept = new Array<Dot>();
      for (let j = 0; j < ds.length; j++) if (!(ds[j].c == d.c && ds[j].r == d.r)) kept.push(ds[j]);
      if (kept.length == 0) this.entries.delete(e); else this.entries.set(e, kept);
      byCounter.delete(d.c);
      changed = true;
    }
    return changed;
  }

  // a ⊑ b iff b's context covers a's, and b keeps no dot that a has seen removed.
  leq(o: Lattice): bool {
    const x = changetype<AWSet>(o);
    if (!x.cc.covers(this.cc)) return false;
    const ks = x.entries.keys();
    for (let i = 0; i < ks.length; i++) {
      const ds = x.entries.get(ks[i]);
      const mine: Array<Dot> | null = this.entries.has(ks[i]) ? this.entries.get(ks[i]) : null;
      for (let j = 0; j < ds.length; j++) {
        const d = ds[j];
        if (this.cc.contains(d.r, d.c) && (mine === null || !hasDot(mine, d))) return false;
      }
    }
    return true;
  }

  // Store dots b has not seen, plus the context b lacks (kept compact by
  // sending a's whole vv entry for a replica where b is behind). That entry
  // also names dots b already has; b would drop those from its store unless
  // the delta carries them, so every store dot the delta's context covers
  // is sent too.
  deltaFrom(o: Lattice): Lattice {
    const x = changetype<AWSet>(o);
    const d = new AWSet(this.spec);
    d.cc = missingContext(this.cc, x.cc);
    const ks = this.entries.keys();
    for (let i = 0; i < ks.length; i++) {
      const ds = this.entries.get(ks[i]);
      let kept: Array<Dot> | null = null;
      for (let j = 0; j < ds.length; j++) {
        if (x.cc.contains(ds[j].r, ds[j].c) && !d.cc.contains(ds[j].r, ds[j].c)) continue;
        if (kept === null) kept = new Array<Dot>();
        kept.push(ds[j]);
      }
      if (kept !== null) d.entries.set(ks[i], kept);
    }
    // Removals b has not seen: dots b still keeps that a has seen and dropped.
    // Both contexts may hold them, so missingContext alone would lose them.
    const theirs = x.entries.keys();
    for (let i = 0; i < theirs.length; i++) {
      const ds = x.entries.get(theirs[i]);
      const mine: Array<Dot> | null = this.entries.has(theirs[i]) ? this.entries.get(theirs[i]) : null;
      for (let j = 0; j < ds.length; j++) {
        const t = ds[j];
        if (this.cc.contains(t.r, t.c) && (mine === null || !hasDot(mine, t))) d.cc.add(t.r, t.c);
      }
    }
    return d;
  }

  decompose(out: Array<Lattice>): void {
    const inStore = new CausalContext();
    const ks = sortKeys(this.entries.keys());
    for (let i = 0; i < ks.length; i++) {
      const ds = this.entries.get(ks[i]);
      for (let j = 0; j < ds.length; j++) {
        if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
        const p = new AWSet(this.spec);
        p.entries.set(ks[i], [ds[j]]);
        p.cc.add(ds[j].r, ds[j].c);
        inStore.add(ds[j].r, ds[j].c);
        out.push(p);
      }
    }
    const all = new Array<Dot>();
    this.cc.dots(all);
    for (let i = 0; i < all.length; i++) {
      const d = all[i];
      if (inStore.contains(d.r, d.c)) continue;
      const p = new AWSet(this.spec);
      p.cc.add(d.r, d.c);
      out.push(p);
    }
  }

  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code == OP_ADD || code == OP_REMOVE) {
      const e = r.value();
      if (code == OP_ADD && !canMint(r, replica, this.cc.max(replica))) return null;
      if (!r.ok || dry) return null;
      const d = new AWSet(this.spec);
      const cur: Array<Dot> | null = this.entries.has(e) ? this.entries.get(e) : null;
      if (cur !== null) for (let j = 0; j < cur.length; j++) d.cc.add(cur[j].r, cur[j].c);
      if (code == OP_ADD) {
        const dot = new Dot(replica, this.cc.max(replica) + 1);
        d.entries.set(e, [dot]);
        d.cc.add(dot.r, dot.c);
      }
      return d;
    }
    if (code == OP_CLEAR) {
      if (dry) return null;
      const d = new AWSet(this.spec);
      const ks = this.entries.keys();
      for (let i = 0; i < ks.length; i++) {
        const ds = this.entries.get(ks[i]);
        for (let j = 0; j < ds.length; j++) d.cc.add(ds[j].r, ds[j].c);
      }
      return d;
    }
    r.fail(E_BAD_TAG);
    return null;
  }

  // add/remove in place (clear takes the generic path). An add's delta is
  // ({e: [new dot]}, e's old dots + new dot); a remove's is ({}, e's old dots).
  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    const at = r.p;
    const code = r.u8();
    if (code != OP_ADD && code != OP_REMOVE) { r.p = at; return super.applyOp(r, replica, pending, depth); }
    const e = r.key() /* validated by the dry pass */;
    return this.addOrRemove(e, code == OP_ADD, replica, changetype<AWSet>(pending));
  }

  // The in-place add or remove of e, into this and into pending (⊑ this).
  // Also AWMap's presence update.
  addOrRemove(e: string, add: bool, replica: string, p: AWSet): bool {
    const old: Array<Dot> | null = this.entries.has(e) ? this.entries.get(e) : null;
    if (!add && old === null) return false;
    if (old !== null) {
      if (this.index !== null) for (let j = 0; j < old.length; j++) indexDelete(this.index!, old[j]);
      for (let j = 0; j < old.length; j++) p.cc.add(old[j].r, old[j].c);
    }
    // pending's dots for e are among the old ones: the delta covers them.
    if (p.entries.has(e)) {
      if (p.index !== null) { const pd = p.entries.get(e); for (let j = 0; j < pd.length; j++) indexDelete(p.index!, pd[j]); }
      p.entries.delete(e);
    }
    if (!add) { this.entries.delete(e); return true; }
    const dot = new Dot(replica, this.cc.max(replica) + 1);
    this.entries.set(e, [dot]);
    this.cc.add(dot.r, dot.c);
    if (this.index !== null) indexAdd(this.index!, dot, e);
    p.entries.set(e, [dot]);
    p.cc.add(dot.r, dot.c);
    if (p.index !== null) indexAdd(p.index!, dot, e);
    return true;
  }

  // query := count, elements sorted
  query(w: Writer): void {
    const ks = sortKeys(this.entries.keys());
    w.varint(<u64>ks.length);
    for (let i = 0; i < ks.length; i++) w.key(ks[i]);
  }

  has(key: string): i32 { return this.entries.has(key) ? 1 : 0; }
  size(): i32 { return this.entries.size; }

  // body := context, count, then (element, dots) sorted by element; every dot
  // in the context, each element with at least one dot.
  encode(w: Writer): void {
    this.cc.encode(w);
    const ks = sortKeys(this.entries.keys());
    w.varint(<u64>ks.length);
    for (let i = 0; i < ks.length; i++) { w.key(ks[i]); writeDots(w, this.entries.get(ks[i])); }
  }

  decode(r: Reader, depth: i32): void {
    this.cc.decode(r);
    const n = r.count(2);
    let prev = "";
    // A dot names one add of one element: on two elements, no history made it.
    const seen = new CausalContext();
    for (let i = 0; i < n && r.ok; i++) {
      const e = r.value();
      const ds = readDots(r);
      if (!r.ok) return;
      if (i > 0 && !(prev < e)) { r.fail(E_NONCANONICAL); return; }
      if (ds.length == 0) { r.fail(E_NONCANONICAL); return; }
      for (let j = 0; j < ds.length; j++) {
        if (!this.cc.contains(ds[j].r, ds[j].c)) { r.fail(E_INVALID); return; }
        if (!seen.add(ds[j].r, ds[j].c)) { r.fail(E_INVALID); return; }
      }
      prev = e;
      this.entries.set(e, ds);
    }
  }
}

function indexAdd(ix: Map<string, Map<u64, string>>, d: Dot, e: string): void {
  if (!ix.has(d.r)) ix.set(d.r, new Map<u64, string>());
  ix.get(d.r).set(d.c, e);
}

function indexDelete(ix: Map<string, Map<u64, string>>, d: Dot): void {
  if (ix.has(d.r)) ix.get(d.r).delete(d.c);
}

export function hasDot(a: Array<Dot>, d: Dot): bool {
  for (let i = 0; i < a.length; i++) if (a[i].c == d.c && a[i].r == d.r) return true;
  return false;
}

// The dots of a's context that b lacks, as a compact context: a's whole vv
// entry wherever b's vv is behind (its lower dots are already in b, so they
// add nothing when joined), plus a's cloud dots that b has not seen.
export function missingContext(a: CausalContext, b: CausalContext): CausalContext {
  const out = new CausalContext();
  const ks = a.vv.keys();
  for (let i = 0; i < ks.length; i++) {
    const v = a.vv.get(ks[i]);
    const theirs: u64 = b.vv.has(ks[i]) ? b.vv.get(ks[i]) : 0;
    if (v > theirs) {
      // b may still hold every dot in (theirs, v] in its cloud.
      let missing = true;
      if (b.cloud.has(ks[i]) && <u64>b.cloud.get(ks[i]).size >= v - theirs) {
        missing = false;
        for (let c = theirs + 1; c <= v; c++) if (!b.contains(ks[i], c)) { missing = true; break; }
      }
      if (missing) out.vv.set(ks[i], v);
    }
  }
  const cs = a.cloud.keys();
  for (let i = 0; i < cs.length; i++) {
    const vals = a.cloud.get(cs[i]).values();
    for (let j = 0; j < vals.length; j++) {
      if (!b.contains(cs[i], vals[j])) out.add(cs[i], vals[j]);
    }
  }
  return out;
}
