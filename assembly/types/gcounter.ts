// Grow-only counter: replica -> count, joined pointwise by max.
// Two counters may both total 42 and still differ: the order is per replica.
import { Reader, Writer, sortKeys } from "../codec";
import { E_BAD_TAG, E_INVALID, E_NONCANONICAL, E_TOO_LARGE, MAX_REPLICA } from "../errors";
import { Lattice, Spec } from "../lattice";

export const OP_INCREMENT: u32 = 0; // op := 0 n:varint

export class GCounter extends Lattice {
  m: Map<string, u64> = new Map();

  bottom(): Lattice { return new GCounter(this.spec); }
  isBottom(): bool { return this.m.size == 0; }

  clone(): Lattice {
    const c = new GCounter(this.spec);
    const ks = this.m.keys();
    for (let i = 0; i < ks.length; i++) c.m.set(ks[i], this.m.get(ks[i]));
    return c;
  }

  @inline at(r: string): u64 { return this.m.has(r) ? this.m.get(r) : 0; }

  join(o: Lattice): bool {
    const x = changetype<GCounter>(o);
    const ks = x.m.keys();
    let changed = false;
    for (let i = 0; i < ks.length; i++) {
      const v = x.m.get(ks[i]);
      if (v > this.at(ks[i])) { this.m.set(ks[i], v); changed = true; }
    }
    return changed;
  }

  leq(o: Lattice): bool {
    const x = changetype<GCounter>(o);
    const ks = this.m.keys();
    for (let i = 0; i < ks.length; i++) if (this.m.get(ks[i]) > x.at(ks[i])) return false;
    return true;
  }

  deltaFrom(o: Lattice): Lattice {
    const x = changetype<GCounter>(o);
    const d = new GCounter(this.spec);
    const ks = this.m.keys();
    for (let i = 0; i < ks.length; i++) {
      const v = this.m.get(ks[i]);
      if (v > x.at(ks[i])) d.m.set(ks[i], v);
    }
    return d;
  }

  decompose(out: Array<Lattice>): void {
    const ks = sortKeys(this.m.keys());
    for (let i = 0; i < ks.length; i++) {
      const p = new GCounter(this.spec);
      p.m.set(ks[i], this.m.get(ks[i]));
      out.push(p);
    }
  }

  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_INCREMENT) { r.fail(E_BAD_TAG); return null; }
    const n = r.varint();
    if (!r.ok) return null;
    const cur = this.at(replica);
    if (dry) return null;
    // A replica's count saturates at 2^64 − 1 rather than failing: a batch
    // that passed its dry run must never fail halfway.
    const d = new GCounter(this.spec);
    if (n > 0 && cur < U64.MAX_VALUE) d.m.set(replica, n > U64.MAX_VALUE - cur ? U64.MAX_VALUE : cur + n);
    return d;
  }

  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    r.u8();
    const n = r.varint();
    const cur = this.at(replica);
    if (n == 0 || cur == U64.MAX_VALUE) return false;
    const v = n > U64.MAX_VALUE - cur ? U64.MAX_VALUE : cur + n;
    this.m.set(replica, v);
    changetype<GCounter>(pending).m.set(replica, v); // pending ⊑ this, so v is its max too
    return true;
  }

  total(): u64 {
    let t: u64 = 0;
    const vs = this.m.values();
    for (let i = 0; i < vs.length; i++) {
      t = vs[i] > U64.MAX_VALUE - t ? U64.MAX_VALUE : t + vs[i]; // saturate
    }
    return t;
  }

  query(w: Writer): void { w.varint(this.total()); }

  // body := count, then (replica, value ≥ 1) sorted by replica
  encode(w: Writer): void {
    const ks = sortKeys(this.m.keys());
    w.varint(<u64>ks.length);
    for (let i = 0; i < ks.length; i++) { w.key(ks[i]); w.varint(this.m.get(ks[i])); }
  }

  decode(r: Reader, depth: i32): void {
    const n = r.count(2);
    let prev = "";
    for (let i = 0; i < n && r.ok; i++) {
      const k = r.replica();
      const v = r.varint();
      if (!r.ok) return;
      if (k.length > MAX_REPLICA) { r.fail(E_TOO_LARGE); return; }
      if (v == 0) { r.fail(E_INVALID); return; }
      if (i > 0 && !(prev < k)) { r.fail(E_NONCANONICAL); return; }
      prev = k;
      this.m.set(k, v);
    }
  }
}
