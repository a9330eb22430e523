// Positive-negative counter: a GCounter P of increments and a GCounter N of
// decrements, each per replica; the value is P − N. The state is the product
// P × N, so join, order and decomposition are GCounter's, component-wise.
import { Reader, Writer } from "../codec";
import { E_BAD_TAG, E_OUT_OF_MEMORY, E_OVERFLOW, E_TOO_LARGE, E_TRAILING, MAX_PARTS, setError } from "../errors";
import { Lattice, Spec, T_GCOUNTER } from "../lattice";
import { GCounter, MAX_COUNT } from "./gcounter";

export const OP_INCREMENT: u32 = 0; // op := 0 n:varint
export const OP_DECREMENT: u32 = 1; // op := 1 n:varint

// Components are plain GCounters; their spec is never written.
const PART_SPEC = new Spec(T_GCOUNTER);

export class PNCounter extends Lattice {
  // body  := P N, each a GCounter body: count:varint, then count ×
  //          (replica:bytes, value:varint ≥ 1) sorted strictly increasing by replica
  // query := z:varint, the zigzag encoding of v = P − N (z = 2v for v ≥ 0,
  //          z = −2v − 1 for v < 0); the totals P and N each saturate at
  //          2^64 − 1 and v is clamped to the i64 range [−2^63, 2^63 − 1]

  p: GCounter = new GCounter(PART_SPEC);
  n: GCounter = new GCounter(PART_SPEC);

  bottom(): Lattice { return new PNCounter(this.spec); }
  isBottom(): bool { return this.p.isBottom() && this.n.isBottom(); }

  clone(): Lattice {
    const c = new PNCounter(this.spec);
    c.p = changetype<GCounter>(this.p.clone());
    c.n = changetype<GCounter>(this.n.clone());
    return c;
  }

  join(o: Lattice): bool {
    const x = changetype<PNCounter>(o);
    const a = this.p.join(x.p);
    const b = this.n.join(x.n);
    return a || b;
  }

  leq(o: Lattice): bool {
    const x = changetype<PNCounter>(o);
    return this.p.leq(x.p) && this.n.leq(x.n);
  }

  deltaFrom(o: Lattice): Lattice {
    const x = changetype<PNCounter>(o);
    const d = new PNCounter(this.spec);
    d.p = changetype<GCounter>(this.p.deltaFrom(x.p));
    d.n = changetype<GCounter>(this.n.deltaFrom(x.n));
    return d;
  }

  // One part per P entry (replica order), then one per N entry.
  decompose(out: Array<Lattice>): void {
    const ps = new Array<Lattice>();
    this.p.decompose(ps);
    const ns = new Array<Lattice>();
    this.n.decompose(ns);
    if (out.length + ps.length + ns.length > MAX_PARTS) { setError(E_TOO_LARGE); return; }
    for (let i = 0; i < ps.length; i++) {
      const q = new PNCounter(this.spec);
      q.p = changetype<GCounter>(ps[i]);
      out.push(q);
    }
    for (let i = 0; i < ns.length; i++) {
      const q = new PNCounter(this.spec);
      q.n = changetype<GCounter>(ns[i]);
      out.push(q);
    }
  }

  // Delta: the replica's new P (or N) entry; bottom for n = 0.
  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_INCREMENT && code != OP_DECREMENT) { r.fail(E_BAD_TAG); return null; }
    const n = r.varint();
    if (!r.ok) return null;
    const g = code == OP_INCREMENT ? this.p : this.n;
    if (dry) {
      // depth + 1: applied through the generic path, which joins the delta.
      const e = g.checkIncrement(replica, n, depth + 1);
      if (e != 0) r.fail(e);
      return null;
    }
    // A count never passes 2^64 − 2 (GCounter): the dry pass refused the batch.
    const cur = g.at(replica);
    if (n > MAX_COUNT - cur) { r.fail(E_OVERFLOW); return null; }
    const d = new PNCounter(this.spec);
    if (n > 0 && !(code == OP_INCREMENT ? d.p : d.n).setAt(replica, cur + n)) { r.fail(E_OUT_OF_MEMORY); return null; }
    return d;
  }

  free(): void { this.p.free(); this.n.free(); }

  // Streams the two GCounter bodies in: each is checked and staged (merged
  // into a new component, or kept to apply point by point when small), room
  // is made for the point updates, and only then are both committed, so a bad
  // body or exhausted memory changes nothing.
  joinBody(r: Reader): i32 {
    if (this.p.stage(r) == 0) this.n.stage(r);
    if (r.ok && !r.done) r.fail(E_TRAILING);
    if (r.ok && (!this.p.prepareStaged() || !this.n.prepareStaged())) r.fail(E_OUT_OF_MEMORY);
    if (!r.ok) { this.p.dropStaged(); this.n.dropStaged(); return -r.err; }
    const a = this.p.commitStaged();
    const b = this.n.commitStaged();
    return a || b ? 1 : 0;
  }

  query(w: Writer): void {
    const p = this.p.total(), n = this.n.total();
    const I64MAX = <u64>I64.MAX_VALUE;
    if (p >= n) {
      const d = min(p - n, I64MAX);
      w.varint(d << 1);
    } else {
      const d = min(n - p, I64MAX + 1); // magnitude of a negative value
      w.varint(((d - 1) << 1) | 1);
    }
  }

  encode(w: Writer): void {
    this.p.encode(w);
    this.n.encode(w);
  }

  decode(r: Reader, depth: i32): void {
    this.p.decode(r, depth);
    if (r.ok) this.n.decode(r, depth);
  }
}
