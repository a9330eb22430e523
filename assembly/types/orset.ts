// Observed-remove set with tombstones (the classic OR-Set, as Lasp's
// state_orset): element -> tokens, each token a unique dot that is active or
// removed. A remove marks only the tokens it observed, so a concurrent add (a
// new token) keeps the element. Tombstones are never collected: unlike AWSet,
// no causal context is needed, at the cost of state that only grows.
// Shapiro, Preguiça, Baquero & Zawirski, "A comprehensive study of CRDTs" (2011).
import { Reader, Writer, sortKeys } from "../codec";
import { E_BAD_TAG, E_INVALID, E_NONCANONICAL, E_TOO_LARGE, MAX_PARTS, setError } from "../errors";
import { Lattice } from "../lattice";
import { Dot, canMint, dotLess, readDot } from "../dots";

export const OP_ADD: u32 = 0;    // op := 0 element:bytes
export const OP_REMOVE: u32 = 1; // op := 1 element:bytes   (marks the tokens observed removed)

// Immutable: states share tokens after clone, so a flag change makes a new one.
class Token {
  dot: Dot;
  removed: bool;
  constructor(dot: Dot, removed: bool) { this.dot = dot; this.removed = removed; }
}

// Order of two tokens' dots: -1, 0, 1.
@inline function cmp(a: Token, b: Token): i32 {
  return dotLess(a.dot, b.dot) ? -1 : dotLess(b.dot, a.dot) ? 1 : 0;
}

// body  := count (element:bytes, count (replica, counter, flag:u8)*)*
//          elements sorted by bytes, strictly increasing, each with ≥ 1 token;
//          tokens sorted by dot (replica bytes, then counter), strictly
//          increasing; flag 0 = active, 1 = removed.
// query := count element:bytes*   (elements with an active token, sorted)
//
// One dot as a token of two elements is accepted: with no causal context, the
// join of two states that each decode can hold it (one peer sent the dot on
// x, another on y), and refusing it at decode would make that join, once
// stored, unreadable. Admission checks (host/replication/mint.ts) see tokens.
export class ORSet extends Lattice {
  entries: Map<string, Array<Token>> = new Map();
  // Highest counter per replica over all tokens: the next add mints max + 1.
  // Derived from entries; kept so an add need not scan the whole set.
  top: Map<string, u64> = new Map();

  bottom(): Lattice { return new ORSet(this.spec); }
  isBottom(): bool { return this.entries.size == 0; }

  clone(): Lattice {
    const c = new ORSet(this.spec);
    const ks = this.entries.keys();
    for (let i = 0; i < ks.length; i++) c.entries.set(ks[i], this.entries.get(ks[i]).slice());
    const rs = this.top.keys();
    for (let i = 0; i < rs.length; i++) c.top.set(rs[i], this.top.get(rs[i]));
    return c;
  }

  note(d: Dot): void {
    if (!this.top.has(d.r) || this.top.get(d.r) < d.c) this.top.set(d.r, d.c);
  }

  // Per element, a merge of two sorted token lists: union of tokens, a token
  // removed if removed on either side.
  join(o: Lattice): bool {
    const x = changetype<ORSet>(o);
    let changed = false;
    const ks = x.entries.keys();
    for (let i = 0; i < ks.length; i++) {
      const theirs = x.entries.get(ks[i]);
      if (!this.entries.has(ks[i])) {
        this.entries.set(ks[i], theirs.slice());
        for (let j = 0; j < theirs.length; j++) this.note(theirs[j].dot);
        changed = true;
        continue;
      }
      const mine = this.entries.get(ks[i]);
      const out = new Array<Token>();
      let a = 0, b = 0, grew = false;
      while (a < mine.length || b < theirs.length) {
        const c = a == mine.length ? 1 : b == theirs.length ? -1 : cmp(mine[a], theirs[b]);
        if (c < 0) out.push(mine[a++]);
        else if (c > 0) { out.push(theirs[b]); this.note(theirs[b].dot); b++; grew = true; }
        else {
          if (theirs[b].removed && !mine[a].removed) { out.push(theirs[b]); grew = true; }
          else out.push(mine[a]);
          a++; b++;
        }
      }
      if (grew) { this.entries.set(ks[i], out); changed = true; }
    }
    return changed;
  }

  // Every token of this is in o, and removed there if removed here.
  leq(o: Lattice): bool {
    const x = changetype<ORSet>(o);
    const ks = this.entries.keys();
    for (let i = 0; i < ks.length; i++) {
      if (!x.entries.has(ks[i])) return false;
      const mine = this.entries.get(ks[i]);
      const theirs = x.entries.get(ks[i]);
      if (mine.length > theirs.length) return false;
      let b = 0;
      for (let a = 0; a < mine.length; a++) {
        while (b < theirs.length && cmp(theirs[b], mine[a]) < 0) b++;
        if (b == theirs.length || cmp(theirs[b], mine[a]) != 0) return false;
        if (mine[a].removed && !theirs[b].removed) return false;
      }
    }
    return true;
  }

  // The tokens o lacks, or has active where this has them removed.
  deltaFrom(o: Lattice): Lattice {
    const x = changetype<ORSet>(o);
    const d = new ORSet(this.spec);
    const ks = this.entries.keys();
    for (let i = 0; i < ks.length; i++) {
      const mine = this.entries.get(ks[i]);
      const theirs: Array<Token> = x.entries.has(ks[i]) ? x.entries.get(ks[i]) : new Array<Token>();
      const out = new Array<Token>();
      let b = 0;
      for (let a = 0; a < mine.length; a++) {
        while (b < theirs.length && cmp(theirs[b], mine[a]) < 0) b++;
        const found = b < theirs.length && cmp(theirs[b], mine[a]) == 0;
        if (!found || (mine[a].removed && !theirs[b].removed)) { out.push(mine[a]); d.note(mine[a].dot); }
      }
      if (out.length > 0) d.entries.set(ks[i], out);
    }
    return d;
  }

  // One part per token, with its flag: (t, removed) covers only (t, active).
  decompose(out: Array<Lattice>): void {
    const ks = sortKeys(this.entries.keys());
    for (let i = 0; i < ks.length; i++) {
      const ts = this.entries.get(ks[i]);
      for (let j = 0; j < ts.length; j++) {
        if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
        const p = new ORSet(this.spec);
        p.entries.set(ks[i], [ts[j]]);
        p.note(ts[j].dot);
        out.push(p);
      }
    }
  }

  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_ADD && code != OP_REMOVE) { r.fail(E_BAD_TAG); return null; }
    const e = r.value();
    if (code == OP_ADD && !canMint(r, replica, this.top.has(replica) ? this.top.get(replica) : 0)) return null;
    if (!r.ok || dry) return null;
    const d = new ORSet(this.spec);
    if (code == OP_ADD) {
      const dot = new Dot(replica, (this.top.has(replica) ? this.top.get(replica) : 0) + 1);
      d.entries.set(e, [new Token(dot, false)]);
      d.note(dot);
    } else if (this.entries.has(e)) {
      const ts = this.entries.get(e);
      const out = new Array<Token>();
      for (let j = 0; j < ts.length; j++) {
        if (!ts[j].removed) { out.push(new Token(ts[j].dot, true)); d.note(ts[j].dot); }
      }
      if (out.length > 0) d.entries.set(e, out);
    }
    return d;
  }

  @inline live(ts: Array<Token>): bool {
    for (let j = 0; j < ts.length; j++) if (!ts[j].removed) return true;
    return false;
  }

  query(w: Writer): void {
    const ks = sortKeys(this.entries.keys());
    const present = new Array<string>();
    for (let i = 0; i < ks.length; i++) if (this.live(this.entries.get(ks[i]))) present.push(ks[i]);
    w.varint(<u64>present.length);
    for (let i = 0; i < present.length; i++) w.key(present[i]);
  }

  has(key: string): i32 { return this.entries.has(key) && this.live(this.entries.get(key)) ? 1 : 0; }

  size(): i32 {
    const vs = this.entries.values();
    let n = 0;
    for (let i = 0; i < vs.length; i++) if (this.live(vs[i])) n++;
    return n;
  }

  encode(w: Writer): void {
    const ks = sortKeys(this.entries.keys());
    w.varint(<u64>ks.length);
    for (let i = 0; i < ks.length; i++) {
      w.key(ks[i]);
      const ts = this.entries.get(ks[i]);
      w.varint(<u64>ts.length);
      for (let j = 0; j < ts.length; j++) {
        w.key(ts[j].dot.r); w.varint(ts[j].dot.c); w.u8(ts[j].removed ? 1 : 0);
      }
    }
  }

  decode(r: Reader, depth: i32): void {
    const n = r.count(2);
    let prev = "";
    for (let i = 0; i < n && r.ok; i++) {
      const e = r.value();
      if (!r.ok) return;
      if (i > 0 && !(prev < e)) { r.fail(E_NONCANONICAL); return; }
      prev = e;
      const m = r.count(3);
      if (!r.ok) return;
      if (m == 0) { r.fail(E_NONCANONICAL); return; }
      const ts = new Array<Token>();
      for (let j = 0; j < m; j++) {
        const d = readDot(r);
        const f = r.u8();
        if (!r.ok) return;
        if (f > 1) { r.fail(E_INVALID); return; }
        if (j > 0 && !dotLess(ts[j - 1].dot, d)) { r.fail(E_NONCANONICAL); return; }
        ts.push(new Token(d, f == 1));
        this.note(d);
      }
      this.entries.set(e, ts);
    }
  }
}
