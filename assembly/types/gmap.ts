// Grow-only map: key -> a nested lattice of one type (spec.a), joined
// pointwise. A key whose value is bottom is still information: {k: ⊥} ⊐ {},
// so keys are never dropped and the map is a lattice of (key set, values).
import { Reader, Writer, sortKeys } from "../codec";
import { E_BAD_TAG, E_NONCANONICAL, E_TOO_DEEP, E_TOO_LARGE, MAX_DEPTH, MAX_PARTS, setError } from "../errors";
import { Lattice, Spec } from "../lattice";
import { newBottom, readBody } from "../registry";

export const OP_UPDATE: u32 = 0; // op := 0 key:bytes nested-op

// body  := count (key:bytes, nested body)*
//          keys sorted by bytes, strictly increasing; a nested body may be
//          bottom's (the key was touched by an op that changed nothing).
// query := count (key:bytes, nested query)*   (sorted by key)
//
// GMap reads only spec.a, so AWMap reuses it with its own spec.
export class GMap extends Lattice {
  m: Map<string, Lattice> = new Map();

  bottom(): Lattice { return new GMap(this.spec); }
  isBottom(): bool { return this.m.size == 0; }

  clone(): Lattice {
    const c = new GMap(this.spec);
    const ks = this.m.keys();
    for (let i = 0; i < ks.length; i++) c.m.set(ks[i], this.m.get(ks[i]).clone());
    return c;
  }

  join(o: Lattice): bool {
    const x = changetype<GMap>(o);
    let changed = false;
    const ks = x.m.keys();
    for (let i = 0; i < ks.length; i++) {
      const k = ks[i];
      if (!this.m.has(k)) { this.m.set(k, x.m.get(k).clone()); changed = true; }
      else if (this.m.get(k).join(x.m.get(k))) changed = true;
    }
    return changed;
  }

  leq(o: Lattice): bool {
    const x = changetype<GMap>(o);
    const ks = this.m.keys();
    for (let i = 0; i < ks.length; i++) {
      const k = ks[i];
      if (!x.m.has(k) || !this.m.get(k).leq(x.m.get(k))) return false;
    }
    return true;
  }

  // Keys o lacks come whole; shared keys bring the nested delta if it is not bottom.
  deltaFrom(o: Lattice): Lattice {
    const x = changetype<GMap>(o);
    const d = new GMap(this.spec);
    const ks = this.m.keys();
    for (let i = 0; i < ks.length; i++) {
      const k = ks[i];
      if (!x.m.has(k)) { d.m.set(k, this.m.get(k).clone()); continue; }
      const nd = this.m.get(k).deltaFrom(x.m.get(k));
      if (!nd.isBottom()) d.m.set(k, nd);
    }
    return d;
  }

  // {k: part} for each irreducible part of each value; {k: ⊥} for a bottom
  // value (then nothing else records the key).
  decompose(out: Array<Lattice>): void {
    const ks = sortKeys(this.m.keys());
    const parts = new Array<Lattice>();
    for (let i = 0; i < ks.length; i++) {
      const v = this.m.get(ks[i]);
      parts.length = 0;
      v.decompose(parts);
      if (parts.length == 0) {
        const p = new GMap(this.spec);
        p.m.set(ks[i], v.bottom());
        if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
        out.push(p);
        continue;
      }
      for (let j = 0; j < parts.length; j++) {
        if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
        const p = new GMap(this.spec);
        p.m.set(ks[i], parts[j]);
        out.push(p);
      }
    }
  }

  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_UPDATE) { r.fail(E_BAD_TAG); return null; }
    const k = r.value();
    if (!r.ok) return null;
    const nd = nestedOp(this.m.has(k) ? this.m.get(k) : null, this.spec, r, replica, dry, depth);
    if (nd === null) return null;
    const d = new GMap(this.spec);
    d.m.set(k, nd);
    return d;
  }

  // update(key, op) in place: the nested value applies the op into itself and
  // into the pending map's value under the same key, recursively.
  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    r.u8();
    const k = r.key() /* validated by the dry pass */;
    const p = changetype<GMap>(pending);
    let grew = false;
    let v: Lattice;
    if (this.m.has(k)) v = this.m.get(k);
    else { v = newBottom(this.spec.a!); this.m.set(k, v); grew = true; }
    let pv: Lattice;
    if (p.m.has(k)) pv = p.m.get(k);
    else { pv = newBottom(this.spec.a!); p.m.set(k, pv); }
    return v.applyOp(r, replica, pv, depth + 1) || grew;
  }

  query(w: Writer): void {
    const ks = sortKeys(this.m.keys());
    w.varint(<u64>ks.length);
    for (let i = 0; i < ks.length; i++) { w.key(ks[i]); this.m.get(ks[i]).query(w); }
  }

  has(key: string): i32 { return this.m.has(key) ? 1 : 0; }
  size(): i32 { return this.m.size; }
  get(key: string, w: Writer): bool {
    if (!this.m.has(key)) return false;
    this.m.get(key).query(w);
    return true;
  }

  encode(w: Writer): void {
    const ks = sortKeys(this.m.keys());
    w.varint(<u64>ks.length);
    for (let i = 0; i < ks.length; i++) { w.key(ks[i]); this.m.get(ks[i]).encode(w); }
  }

  decode(r: Reader, depth: i32): void {
    // Each entry needs at least its key's length byte (nested bodies are not
    // assumed non-empty).
    const n = r.count(1);
    let prev = "";
    for (let i = 0; i < n && r.ok; i++) {
      const k = r.value();
      if (!r.ok) return;
      if (i > 0 && !(prev < k)) { r.fail(E_NONCANONICAL); return; }
      prev = k;
      const v = readBody(r, this.spec.a!, depth + 1);
      if (!r.ok) return;
      this.m.set(k, v);
    }
  }
}

// Runs a nested op on cur (or a fresh bottom of spec.a when absent) and
// returns its delta; a bottom delta is still returned, so the key is recorded.
// Null on error or when dry.
export function nestedOp(cur: Lattice | null, spec: Spec, r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
  if (depth + 1 > MAX_DEPTH) { r.fail(E_TOO_DEEP); return null; }
  let v: Lattice;
  if (cur !== null) v = cur;
  else if (dry) {
    const a = spec.a!;
    if (a.scratch === null) a.scratch = newBottom(a);
    v = a.scratch!;
  } else v = newBottom(spec.a!);
  const nd = v.op(r, replica, dry, depth + 1);
  if (!r.ok || dry) return null;
  return nd !== null ? nd : v.bottom();
}
