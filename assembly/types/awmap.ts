// Add-wins map of nested lattices (spec.a): the product of
//   presence — an AWSet of keys (key -> dots of the updates still alive, plus
//              a causal context), deciding which keys are in the map, and
//   values   — a GMap key -> nested lattice, holding every key ever updated.
// A product of lattices is a lattice, so join, leq, delta and decompose are
// componentwise. An update mints a presence dot; a remove covers only the
// dots it observed, so a concurrent update wins and the key stays.
//
// What a remove does to the value: for nested *causal* types (AWSet,
// MVRegister, EWFlag, AWMap) it also joins the nested "clear what was
// observed" delta (AWSet clear, MVRegister clear, EWFlag disable, AWMap
// clear), so a key updated again later starts from a reset value, while a
// concurrent nested update survives. Other nested types (counters, registers,
// GSet, ORSet, TopK, GMap, Pair...) cannot forget: their value is kept, hidden,
// and shows again, with everything accumulated, if the key is updated later.
import { Reader, Writer, sortKeys } from "../codec";
import { E_BAD_TAG } from "../errors";
import { Lattice, Spec, T_AWSET, T_MVREGISTER, T_EWFLAG, T_AWMAP } from "../lattice";
import { newBottom } from "../registry";
import { Dot, canMint } from "../dots";
import { AWSet } from "./awset";
import { GMap, nestedOp } from "./gmap";

export const OP_UPDATE: u32 = 0; // op := 0 key:bytes nested-op
export const OP_REMOVE: u32 = 1; // op := 1 key:bytes   (covers the key's observed dots, clears a causal value)
export const OP_CLEAR: u32 = 2;  // op := 2   (removes every key observed)

// The presence component is an AWSet; its spec is never encoded (the AWMap header names the type).
const PRESENCE = new Spec(T_AWSET);

// One-byte op bodies for the nested clears: [1] and [2].
const CLEAR_OPS = memory.data<u8>([1, 2]);

// body  := presence values
//   presence := AWSet body: context, count (key:bytes, dots)* sorted by key,
//               each key with ≥ 1 dot, every dot in the context
//   values   := GMap body: count (key:bytes, nested body)* sorted by key
// Both components are canonical on their own and independent: values may hold
// keys that are not present (removed keys, or parts of a decomposition), and
// a present key may be absent from values (its value is then bottom).
// query := count (key:bytes, nested query)*   (present keys only, sorted)
export class AWMap extends Lattice {
  presence: AWSet = new AWSet(PRESENCE);
  values: GMap;

  constructor(spec: Spec) {
    super(spec);
    this.values = new GMap(spec); // GMap reads only spec.a
  }

  bottom(): Lattice { return new AWMap(this.spec); }
  isBottom(): bool { return this.presence.isBottom() && this.values.isBottom(); }

  clone(): Lattice {
    const c = new AWMap(this.spec);
    c.presence = changetype<AWSet>(this.presence.clone());
    c.values = changetype<GMap>(this.values.clone());
    return c;
  }

  join(o: Lattice): bool {
    const x = changetype<AWMap>(o);
    const cp = this.presence.join(x.presence);
    const cv = this.values.join(x.values);
    return cp || cv;
  }

  leq(o: Lattice): bool {
    const x = changetype<AWMap>(o);
    return this.presence.leq(x.presence) && this.values.leq(x.values);
  }

  deltaFrom(o: Lattice): Lattice {
    const x = changetype<AWMap>(o);
    const d = new AWMap(this.spec);
    d.presence = changetype<AWSet>(this.presence.deltaFrom(x.presence));
    d.values = changetype<GMap>(this.values.deltaFrom(x.values));
    return d;
  }

  // (p, ⊥) for each part of presence, then (⊥, v) for each part of values.
  decompose(out: Array<Lattice>): void {
    const parts = new Array<Lattice>();
    this.presence.decompose(parts);
    for (let i = 0; i < parts.length; i++) {
      const p = new AWMap(this.spec);
      p.presence = changetype<AWSet>(parts[i]);
      out.push(p);
    }
    parts.length = 0;
    this.values.decompose(parts);
    for (let i = 0; i < parts.length; i++) {
      const p = new AWMap(this.spec);
      p.values = changetype<GMap>(parts[i]);
      out.push(p);
    }
  }

  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code == OP_UPDATE) {
      const k = r.value();
      if (!canMint(r, replica, this.presence.cc.max(replica))) return null;
      const vs = this.values.m;
      const nd = nestedOp(vs.has(k) ? vs.get(k) : null, this.spec, r, replica, dry, depth);
      if (nd === null) return null;
      const d = new AWMap(this.spec);
      this.coverKey(d, k);
      const dot = new Dot(replica, this.presence.cc.max(replica) + 1);
      d.presence.entries.set(k, [dot]);
      d.presence.cc.add(dot.r, dot.c);
      d.values.m.set(k, nd);
      return d;
    }
    if (code == OP_REMOVE) {
      const k = r.value();
      if (!r.ok || dry) return null;
      const d = new AWMap(this.spec);
      this.removeKey(d, k, replica, depth);
      return d;
    }
    if (code == OP_CLEAR) {
      if (dry) return null;
      const d = new AWMap(this.spec);
      // Every key with a presence dot or a value: a hidden causal value may
      // still hold state from an update whose presence was removed concurrently.
      const ks = this.values.m.keys();
      const ps = this.presence.entries.keys();
      for (let i = 0; i < ps.length; i++) if (!this.values.m.has(ps[i])) ks.push(ps[i]);
      for (let i = 0; i < ks.length; i++) this.removeKey(d, ks[i], replica, depth);
      return d;
    }
    r.fail(E_BAD_TAG);
    return null;
  }

  // update(key, op) in place: an AWSet add of key on the presence, and the
  // nested op applied in place to the value (into pending's value too).
  // Remove and clear take the generic path.
  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    const at = r.p;
    const code = r.u8();
    if (code != OP_UPDATE) { r.p = at; return super.applyOp(r, replica, pending, depth); }
    const k = r.key() /* validated by the dry pass */;
    const p = changetype<AWMap>(pending);
    this.presence.addOrRemove(k, true, replica, p.presence);
    const vs = this.values.m, pvs = p.values.m;
    let v: Lattice, pv: Lattice;
    if (vs.has(k)) v = vs.get(k); else { v = newBottom(this.spec.a!); vs.set(k, v); }
    if (pvs.has(k)) pv = pvs.get(k); else { pv = newBottom(this.spec.a!); pvs.set(k, pv); }
    v.applyOp(r, replica, pv, depth + 1);
    return true; // the new presence dot
  }

  // Adds to d's context the presence dots of k observed here.
  coverKey(d: AWMap, k: string): void {
    if (!this.presence.entries.has(k)) return;
    const ds = this.presence.entries.get(k);
    for (let j = 0; j < ds.length; j++) d.presence.cc.add(ds[j].r, ds[j].c);
  }

  // Adds to d the removal of k: its presence dots, and the clear of a causal value.
  removeKey(d: AWMap, k: string, replica: string, depth: i32): void {
    this.coverKey(d, k);
    if (!this.values.m.has(k)) return;
    const cd = clearDelta(this.values.m.get(k), replica, depth);
    if (cd !== null && !cd.isBottom()) d.values.m.set(k, cd);
  }

  // The nested value of a present key (bottom if it has none).
  writeValue(k: string, w: Writer): void {
    if (this.values.m.has(k)) this.values.m.get(k).query(w);
    else newBottom(this.spec.a!).query(w);
  }

  query(w: Writer): void {
    const ks = sortKeys(this.presence.entries.keys());
    w.varint(<u64>ks.length);
    for (let i = 0; i < ks.length; i++) { w.key(ks[i]); this.writeValue(ks[i], w); }
  }

  has(key: string): i32 { return this.presence.entries.has(key) ? 1 : 0; }
  size(): i32 { return this.presence.entries.size; }
  get(key: string, w: Writer): bool {
    if (!this.presence.entries.has(key)) return false;
    this.writeValue(key, w);
    return true;
  }

  encode(w: Writer): void {
    this.presence.encode(w);
    this.values.encode(w);
  }

  decode(r: Reader, depth: i32): void {
    this.presence.decode(r, depth); // checks every presence dot is in the context
    if (!r.ok) return;
    this.values.decode(r, depth);
  }
}

// The delta that clears what v has observed, for causal nested types; null
// for types that cannot forget. Runs the type's own clear op (AWSet 2,
// MVRegister 1, EWFlag 1 disable, AWMap 2) through its op interface.
function clearDelta(v: Lattice, replica: string, depth: i32): Lattice | null {
  const tag = v.spec.tag;
  let at: usize = 0;
  if (tag == T_MVREGISTER || tag == T_EWFLAG) at = CLEAR_OPS;
  else if (tag == T_AWSET || tag == T_AWMAP) at = CLEAR_OPS + 1;
  else return null;
  const r = new Reader(at, at + 1);
  const d = v.op(r, replica, false, depth + 1);
  return r.ok ? d : null;
}
