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
import { Reader, Writer, keyBytes } from "../codec";
import { E_BAD_TAG, E_OUT_OF_MEMORY, setError } from "../errors";
import { Lattice, Spec, T_AWSET, T_MVREGISTER, T_EWFLAG, T_AWMAP, pendingOfBatch } from "../lattice";
import { newBottom } from "../registry";
import { AWSet } from "./awset";
import { GMap, nestedOp, pendSlot } from "./gmap";

export const OP_UPDATE: u32 = 0; // op := 0 key:bytes nested-op
export const OP_REMOVE: u32 = 1; // op := 1 key:bytes   (covers the key's observed dots, clears a causal value)
export const OP_CLEAR: u32 = 2;  // op := 2   (removes every key observed)

// The AWSet ops the presence runs (AWSet's op codes).
const SET_ADD: u8 = 0, SET_REMOVE: u8 = 1, SET_CLEAR: u8 = 2;

// The presence component is an AWSet; its spec is never encoded (the AWMap header names the type).
const PRESENCE = new Spec(T_AWSET);

// One-byte op bodies for the nested clears: [1] and [2].
const CLEAR_OPS = memory.data<u8>([1, 2]);

// A presence op (code [key]) written here and read back through `keyOp`:
// module state, so an op costs no allocation. Used and consumed at once
// (nothing nests between writing and reading it).
const opw = new Writer();
const keyOp = new Reader(0, 0);
function presenceOp(code: u8, kp: usize, kn: usize, withKey: bool): Reader {
  opw.reset();
  opw.u8(code);
  if (withKey) { opw.varint(<u64>kn); opw.raw(kp, <i32>kn); }
  keyOp.p = opw.ptr; keyOp.end = opw.ptr + <usize>opw.pos;
  keyOp.err = opw.failed ? E_OUT_OF_MEMORY : 0;
  keyOp.dry = false;
  return keyOp;
}

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

  free(): void { this.presence.free(); this.values.free(); }

  @inline setPresence(p: AWSet): void { if (p !== this.presence) this.presence.free(); this.presence = p; }
  @inline setValues(v: GMap): void { if (v !== this.values) this.values.free(); this.values = v; }

  clone(): Lattice {
    const c = new AWMap(this.spec);
    c.setPresence(changetype<AWSet>(this.presence.clone()));
    c.setValues(changetype<GMap>(this.values.clone()));
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
    d.setPresence(changetype<AWSet>(this.presence.deltaFrom(x.presence)));
    d.setValues(changetype<GMap>(this.values.deltaFrom(x.values)));
    return d;
  }

  // (p, ⊥) for each part of presence, then (⊥, v) for each part of values.
  decompose(out: Array<Lattice>): void {
    const parts = new Array<Lattice>();
    this.presence.decompose(parts);
    for (let i = 0; i < parts.length; i++) {
      const p = new AWMap(this.spec);
      p.setPresence(changetype<AWSet>(parts[i]));
      out.push(p);
    }
    parts.length = 0;
    this.values.decompose(parts);
    for (let i = 0; i < parts.length; i++) {
      const p = new AWMap(this.spec);
      p.setValues(changetype<GMap>(parts[i]));
      out.push(p);
    }
  }

  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code == OP_UPDATE) {
      const kp = r.valueRaw();
      const kn = <usize>r.rawLen;
      if (!r.ok) return null;
      // The presence add: checks that replica may mint a dot (a dry pass),
      // or makes {k: [new dot]} with k's observed dots in its context. The
      // presence is a component, not a nested level: it runs at the map's
      // depth, so at the top an AWSet that reserves in its validating pass
      // does so here too.
      const sr = presenceOp(SET_ADD, kp, kn, true);
      const pd = sr.ok ? this.presence.op(sr, replica, dry, depth) : null;
      if (!sr.ok) { r.fail(sr.err); return null; }
      const cur = this.values.valueOf(kp, kn);
      if (dry && cur === null) {
        // The real pass adds the key to the values here and in pending.
        if (depth == 0) {
          const pend = pendingOfBatch();
          const pv = pend !== null && pend !== this && pend instanceof AWMap ? changetype<AWMap>(pend).values : null;
          if (!this.values.reserveKey(<i32>kn, pv)) { r.fail(E_OUT_OF_MEMORY); return null; }
        } else if (!this.values.keys.reserve(1, <i32>kn)) { r.fail(E_OUT_OF_MEMORY); return null; }
        if (!this.values.chargeKey(kn, depth == 0 ? this.values.dryKeys : 1, depth)) { r.fail(E_OUT_OF_MEMORY); return null; }
      }
      const nd = nestedOp(cur, this.spec, r, replica, dry, depth);
      if (nd === null || pd === null) {
        if (pd !== null) pd.free();
        if (nd !== null) { nd.free(); r.fail(E_OUT_OF_MEMORY); } // the presence add made no delta
        return null;
      }
      const d = new AWMap(this.spec);
      d.setPresence(changetype<AWSet>(pd));
      if (d.values.keys.add(kp, kn) < 0) { nd.free(); d.free(); r.fail(E_OUT_OF_MEMORY); return null; }
      d.values.vals.push(nd);
      return d;
    }
    if (code == OP_REMOVE) {
      const kp = r.valueRaw();
      const kn = <usize>r.rawLen;
      if (!r.ok || dry) return null;
      const d = new AWMap(this.spec);
      const sr = presenceOp(SET_REMOVE, kp, kn, true);
      const pd = sr.ok ? this.presence.op(sr, replica, false, depth) : null;
      if (!sr.ok || pd === null) { d.free(); r.fail(sr.ok ? E_OUT_OF_MEMORY : sr.err); return null; }
      d.setPresence(changetype<AWSet>(pd));
      this.clearValue(d, kp, kn, replica, depth);
      return d;
    }
    if (code == OP_CLEAR) {
      if (dry) return null;
      const d = new AWMap(this.spec);
      // The presence clear covers every key's dots; every key with a value is
      // cleared too: a hidden causal value may still hold state from an
      // update whose presence was removed concurrently.
      const sr = presenceOp(SET_CLEAR, 0, 0, false);
      const pd = sr.ok ? this.presence.op(sr, replica, false, depth) : null;
      if (!sr.ok || pd === null) { d.free(); r.fail(sr.ok ? E_OUT_OF_MEMORY : sr.err); return null; }
      d.setPresence(changetype<AWSet>(pd));
      const t = this.values.keys;
      for (let i = 0; i < t.count; i++) this.clearValue(d, t.keyPtr(i), t.keyLen(i), replica, depth);
      return d;
    }
    r.fail(E_BAD_TAG);
    return null;
  }

  // update(key, op) in place: an AWSet add of key on the presence, and the
  // nested op applied in place to the value (into pending's value too).
  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    const at = r.p;
    const code = r.u8();
    if (code != OP_UPDATE) {
      // Remove and clear: the delta joined into this and pending, then freed
      // at once (not left to the collector).
      r.p = at;
      const d = this.op(r, replica, false, depth);
      if (d === null) return false;
      pending.join(d);
      const grew = this.join(d);
      d.free();
      return grew;
    }
    const kp = r.valueRaw(); // validated by the dry pass
    const kn = <usize>r.rawLen;
    const p = changetype<AWMap>(pending);
    this.presence.applyOp(presenceOp(SET_ADD, kp, kn, true), replica, p.presence, depth);
    const i = this.values.slot(kp, kn, p.values, r);
    if (i < 0) return true;
    unchecked(this.values.vals[i]).applyOp(r, replica, unchecked(p.values.vals[pendSlot()]), depth + 1);
    return true; // the new presence dot
  }

  // Adds to d the clear of a causal value under k (if any).
  clearValue(d: AWMap, kp: usize, kn: usize, replica: string, depth: i32): void {
    const v = this.values.valueOf(kp, kn);
    if (v === null) return;
    const cd = clearDelta(v, replica, depth);
    if (cd === null) return;
    if (cd.isBottom() || d.values.keys.add(kp, kn) < 0) {
      if (!cd.isBottom()) setError(E_OUT_OF_MEMORY);
      cd.free();
      return;
    }
    d.values.vals.push(cd);
  }

  // The nested value of a present key (bottom if it has none).
  writeValue(kp: usize, kn: usize, w: Writer): void {
    const v = this.values.valueOf(kp, kn);
    if (v !== null) { v.query(w); return; }
    const a = this.spec.a!;
    if (a.scratch === null) a.scratch = newBottom(a);
    a.scratch!.query(w);
  }

  query(w: Writer): void {
    // The present keys in byte order, as the presence's own query lists them.
    const keys = new Writer();
    this.presence.query(keys);
    const kr = new Reader(keys.ptr, keys.ptr + <usize>keys.pos);
    const n = <i32>kr.varint();
    w.varint(<u64>n);
    for (let i = 0; i < n; i++) {
      const kn = <usize>kr.varint();
      const kp = kr.p;
      kr.p += kn;
      w.varint(<u64>kn);
      w.raw(kp, <i32>kn);
      this.writeValue(kp, kn, w);
    }
  }

  hasBytes(p: usize, n: i32): i32 { return this.presence.hasBytes(p, n); }
  has(key: string): i32 { return this.presence.has(key); }
  size(): i32 { return this.presence.size(); }
  get(key: string, w: Writer): bool {
    if (this.presence.has(key) != 1) return false;
    this.writeValue(keyBytes(key), <usize>key.length, w);
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
