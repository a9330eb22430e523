// GMap<LWWRegister> laid out flat: the map users race against Yjs, Automerge
// and Loro, so a key costs no object at all. Same type tag, spec and bytes as
// a GMap of LWWRegister values (gmap.ts, lwwregister.ts): the registry picks
// this layout for that spec, and every semantic is the two types' combined.
//
// Layout (assembly/data): keys interned in a ByteTable (one probe per update
// or join of a key); per key one 16-byte record — timestamp u64, replica
// index u32 (into a replica table: a writer is named once, not per key;
// NONE for a bottom register), and where the value's entry (varint length,
// bytes) starts in one value arena. An overwrite appends the new value; the
// arena is compacted once most of it is overwritten values.
import { Reader, Writer, keyBytes } from "../codec";
import {
  E_BAD_TAG, E_INVALID, E_NONCANONICAL, E_OUT_OF_MEMORY, E_OVERFLOW, E_TOO_DEEP, E_TOO_LARGE,
  E_TRAILING, MAX_DEPTH, MAX_PARTS, setError,
} from "../errors";
import { Lattice, batchEpoch, pendingOfBatch } from "../lattice";
import { ByteTable, Vec, compareBytes, entryBody, entryLen, putVarint, varintSize } from "../data/index";
import { KeyOrder } from "../data/order";
import { MAX_TS, OP_SET, OP_SET_AFTER } from "./lwwregister";

const OP_UPDATE: u32 = 0; // GMap's op code
const NONE: u32 = 0xffff_ffff; // the replica index of a bottom register
const REC: usize = 16;         // bytes per record

// The register a body or op describes (module state: no object per entry).
let wTs: u64 = 0;
let wRep: usize = 0;
let wRepLen: usize = 0;
let wVal: usize = 0;
let wValLen: usize = 0;

export class LWWMap extends Lattice {
  keys: ByteTable = new ByteTable();
  recs: Vec<u64> = new Vec<u64>(); // per key: ts, then rep u32 | value offset u32 << 32
  reps: ByteTable = new ByteTable();
  vals: Vec<u8> = new Vec<u8>();   // value entries
  dead: i32 = 0;                   // arena bytes of overwritten values
  order: KeyOrder = new KeyOrder();
  dryEpoch: u32 = 0;
  dryKeys: i32 = 0;
  dryBytes: i32 = 0;
  dryVals: i32 = 0;
  dryOps: i32 = 0;
  dryOpBytes: i32 = 0;
  dryTop: u64 = 0; // the greatest timestamp this batch's real pass may write

  bottom(): Lattice { return new LWWMap(this.spec); }
  isBottom(): bool { return this.keys.count == 0; }
  size(): i32 { return this.keys.count; }

  free(): void {
    this.keys.free(); this.recs.free(); this.reps.free(); this.vals.free(); this.order.free();
    this.dead = 0;
  }

  @inline ts(i: i32): u64 { return this.recs.get(i << 1); }
  @inline rep(i: i32): u32 { return <u32>this.recs.get((i << 1) + 1); }
  @inline isSet(i: i32): bool { return this.rep(i) != NONE; }
  @inline valEntry(i: i32): usize { return this.vals.ptr + <usize>(this.recs.get((i << 1) + 1) >>> 32); }
  @inline repPtr(i: i32): usize { return this.reps.keyPtr(<i32>this.rep(i)); }
  @inline repLen(i: i32): usize { return this.reps.keyLen(<i32>this.rep(i)); }

  clone(): Lattice {
    const c = new LWWMap(this.spec);
    if (!this.keys.copyTo(c.keys) || !this.recs.copyTo(c.recs) || !this.reps.copyTo(c.reps) ||
        !this.vals.copyTo(c.vals) || !this.order.copyTo(c.order)) {
      c.free(); setError(E_OUT_OF_MEMORY); return c;
    }
    c.dead = this.dead;
    return c;
  }

  // Key i's register < the write (wTs, wRep, wVal) in LWWRegister's chain.
  belowW(i: i32): bool {
    if (!this.isSet(i)) return true;
    const t = this.ts(i);
    if (t != wTs) return t < wTs;
    const c = compareBytes(this.repPtr(i), this.repLen(i), wRep, wRepLen);
    if (c != 0) return c < 0;
    const e = this.valEntry(i);
    return compareBytes(entryBody(e), entryLen(e), wVal, wValLen) < 0;
  }

  // Loads key i's register as the current write.
  loadW(i: i32): void {
    wTs = this.ts(i); wRep = this.repPtr(i); wRepLen = this.repLen(i);
    const e = this.valEntry(i);
    wVal = entryBody(e); wValLen = entryLen(e);
  }

  // Room for n more keys of `bytes` key bytes, writers of up to `reps` more
  // ids and `vbytes` of value entries; false (nothing changed) on exhaustion.
  reserve(n: i32, bytes: i32, reps: i32, repBytes: i32, vbytes: i32): bool {
    return this.keys.reserve(n, bytes) && this.recs.reserve(n << 1) && this.reps.reserve(reps, repBytes) && this.vals.reserve(vbytes);
  }

  // Index of key p[0..n), added with a bottom register if new (this.keys.added
  // tells which). Room must have been reserved.
  @inline slot(p: usize, n: usize): i32 {
    const i = this.keys.add(p, n);
    if (this.keys.added) { this.recs.pushReserved(0); this.recs.pushReserved(<u64>NONE); }
    return i;
  }

  // Key i := the current write (room reserved). The sources must not be in
  // this map's arenas (they may move).
  setW(i: i32): void {
    const r = this.reps.add(wRep, wRepLen);
    if (this.isSet(i)) this.dead += <i32>entryLen(this.valEntry(i)) + varintSize(<u64>entryLen(this.valEntry(i)));
    const off = this.vals.len;
    const body = putVarint(this.vals.end(), <u64>wValLen);
    memory.copy(body, wVal, wValLen);
    this.vals.len += <i32>(body - this.vals.end() + wValLen);
    this.recs.set(i << 1, wTs);
    this.recs.set((i << 1) + 1, <u64>r | (<u64>off << 32));
  }

  // Bytes a value entry of n bytes takes.
  @inline static entryBytes(n: usize): i32 { return varintSize(<u64>n) + <i32>n; }

  // Rewrites the arena without overwritten values once they are most of it
  // (a failure to get memory only postpones it).
  compact(): void {
    if (this.dead <= (this.vals.len >> 1)) return;
    const nv = new Vec<u8>();
    if (!nv.reserve(this.vals.len - this.dead)) return;
    for (let i = 0; i < this.keys.count; i++) {
      if (!this.isSet(i)) continue;
      const e = this.valEntry(i);
      const n = <usize>LWWMap.entryBytes(entryLen(e));
      const off = nv.len;
      memory.copy(nv.end(), e, n);
      nv.len += <i32>n;
      this.recs.set((i << 1) + 1, <u64>this.rep(i) | (<u64>off << 32));
    }
    this.vals.take(nv);
    this.dead = 0;
  }

  join(o: Lattice): bool {
    const x = changetype<LWWMap>(o);
    if (x.keys.count == 0 || x === this) return false;
    if (!this.reserve(x.keys.count, x.keys.keys.len, x.reps.count, x.reps.keys.len, x.vals.len - x.dead)) { setError(E_OUT_OF_MEMORY); return false; }
    let changed = false;
    for (let j = 0; j < x.keys.count; j++) {
      const i = this.slot(x.keys.keyPtr(j), x.keys.keyLen(j));
      if (this.keys.added) changed = true;
      if (!x.isSet(j)) continue;
      x.loadW(j);
      if (this.belowW(i)) { this.setW(i); changed = true; }
    }
    this.compact();
    return changed;
  }

  // Key i here ⊑ key j of x (LWWRegister.leq).
  private leqAt(i: i32, x: LWWMap, j: i32): bool {
    if (!this.isSet(i)) return true;
    if (!x.isSet(j)) return false;
    this.loadW(i);
    return !x.belowW(j) || x.equalW(j);
  }

  // Whether key j's register is exactly the current write.
  equalW(j: i32): bool {
    if (!this.isSet(j) || this.ts(j) != wTs) return false;
    if (compareBytes(this.repPtr(j), this.repLen(j), wRep, wRepLen) != 0) return false;
    const e = this.valEntry(j);
    return compareBytes(entryBody(e), entryLen(e), wVal, wValLen) == 0;
  }

  leq(o: Lattice): bool {
    const x = changetype<LWWMap>(o);
    if (this.keys.count > x.keys.count) return false;
    for (let i = 0; i < this.keys.count; i++) {
      const j = x.keys.find(this.keys.keyPtr(i), this.keys.keyLen(i));
      if (j < 0 || !this.leqAt(i, x, j)) return false;
    }
    return true;
  }

  // Keys o lacks come whole; shared keys bring this key's write if it wins.
  deltaFrom(o: Lattice): Lattice {
    const x = changetype<LWWMap>(o);
    const d = new LWWMap(this.spec);
    if (!d.reserve(this.keys.count, this.keys.keys.len, this.reps.count, this.reps.keys.len, this.vals.len - this.dead)) { setError(E_OUT_OF_MEMORY); return d; }
    for (let i = 0; i < this.keys.count; i++) {
      const p = this.keys.keyPtr(i), n = this.keys.keyLen(i);
      const j = x.keys.find(p, n);
      if (j >= 0) {
        if (!this.isSet(i)) continue;
        this.loadW(i);
        if (!x.belowW(j)) continue;
      }
      const k = d.slot(p, n);
      if (this.isSet(i)) { this.loadW(i); d.setW(k); }
    }
    return d;
  }

  // {k: the write} per key, or {k: ⊥} for a bottom register.
  decompose(out: Array<Lattice>): void {
    if (!this.ordered()) return;
    for (let s = 0; s < this.keys.count; s++) {
      if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
      const i = this.order.at(s);
      const p = new LWWMap(this.spec);
      const set = this.isSet(i);
      const vn = set ? LWWMap.entryBytes(entryLen(this.valEntry(i))) : 0;
      if (!p.reserve(1, <i32>this.keys.keyLen(i), 1, set ? <i32>this.repLen(i) : 0, vn)) { setError(E_OUT_OF_MEMORY); return; }
      const k = p.slot(this.keys.keyPtr(i), this.keys.keyLen(i));
      if (set) { this.loadW(i); p.setW(k); }
      out.push(p);
    }
  }

  // Reads one nested LWWRegister op (as LWWRegister.op at depth ≥ 1 reads
  // it) against key i (−1: absent) into the current write. Returns 1 if it
  // names a write, or 0 after r.fail.
  private readOp(r: Reader, replica: string, i: i32, depth: i32): i32 {
    if (depth + 1 > MAX_DEPTH) { r.fail(E_TOO_DEEP); return 0; }
    const code = r.u8();
    if (!r.ok) return 0;
    if (code != OP_SET && code != OP_SET_AFTER) { r.fail(E_BAD_TAG); return 0; }
    let ts = r.varint();
    const vp = r.valueRaw();
    const vn = <usize>r.rawLen;
    if (!r.ok) return 0;
    // setAfter: at max(timestamp, current + 1); may reach 2^64 − 1, refused below.
    if (code == OP_SET_AFTER && i >= 0 && this.isSet(i) && this.ts(i) >= ts) ts = this.ts(i) + 1;
    rdAfter = code == OP_SET_AFTER;
    if (ts > MAX_TS) { r.fail(E_OVERFLOW); return 0; }
    // An empty replica id names no writer: such a state would not decode.
    if (replica.length == 0) { r.fail(E_INVALID); return 0; }
    wTs = ts; wRep = keyBytes(replica); wRepLen = <usize>replica.length; wVal = vp; wValLen = vn;
    return 1;
  }

  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_UPDATE) { r.fail(E_BAD_TAG); return null; }
    const kp = r.valueRaw();
    const kn = <usize>r.rawLen;
    if (!r.ok) return null;
    const i = this.keys.find(kp, kn);
    rdKeyLenOp = <i32>kn;
    if (this.readOp(r, replica, i, depth) == 0) return null;
    if (dry) {
      if (depth == 0) {
        this.dryBatch();
        // Earlier ops of this batch may raise the key a setAfter follows: its
        // real timestamp is at most max(this one, the batch's greatest + 1).
        // A batch whose real pass could pass MAX_TS is refused whole here
        // (conservative: it may count another key's write), never halfway.
        const top = rdAfter && this.dryTop >= wTs ? this.dryTop + 1 : wTs;
        if (top > MAX_TS) { r.fail(E_OVERFLOW); return null; }
        if (top > this.dryTop) this.dryTop = top;
        if (!this.reserveDry(i < 0 ? <i32>kn : -1, LWWMap.entryBytes(wValLen))) r.fail(E_OUT_OF_MEMORY);
      }
      return null;
    }
    const d = new LWWMap(this.spec);
    const wins = i < 0 || this.belowW(i);
    if (!d.reserve(1, <i32>kn, 1, <i32>wRepLen, LWWMap.entryBytes(wValLen))) { r.fail(E_OUT_OF_MEMORY); return null; }
    const k = d.slot(kp, kn); // a bottom delta still records the key
    if (wins) d.setW(k);
    return d;
  }

  // Starts this batch's dry-pass accounting on its first op.
  private dryBatch(): void {
    const e = batchEpoch();
    if (this.dryEpoch == e) return;
    this.dryEpoch = e; this.dryKeys = 0; this.dryBytes = 0; this.dryVals = 0; this.dryOps = 0; this.dryOpBytes = 0; this.dryTop = 0;
    this.compact(); // not during the real pass: it would give reserved room back
  }

  // The real pass of a batch adds new keys and writes values here and in the
  // pending delta-group: the dry pass reserves that room in both (kn < 0:
  // the key is present here, but may still be new in pending), so the real
  // pass cannot run out halfway. A batch has one writer: one replica id.
  private reserveDry(kn: i32, vbytes: i32): bool {
    if (kn >= 0) { this.dryKeys++; this.dryBytes += kn; }
    this.dryOps++;
    this.dryOpBytes += kn >= 0 ? kn : rdKeyLenOp;
    this.dryVals += vbytes;
    if (!this.reserve(this.dryKeys, this.dryBytes, 1, 255, this.dryVals)) return false;
    const pend = pendingOfBatch();
    if (pend !== null && pend !== this && pend instanceof LWWMap) {
      if (!changetype<LWWMap>(pend).reserve(this.dryOps, this.dryOpBytes, 1, 255, this.dryVals)) return false;
    }
    return true;
  }

  // update(key, set op) in place, into this and pending (room reserved by the dry pass).
  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    r.u8();
    const kp = r.valueRaw();
    const kn = <usize>r.rawLen;
    const p = changetype<LWWMap>(pending);
    if (!this.reserve(1, <i32>kn, 1, 255, 0) || !p.reserve(1, <i32>kn, 1, 255, 0)) { r.fail(E_OUT_OF_MEMORY); return false; }
    const i = this.slot(kp, kn);
    const grew = this.keys.added;
    const j = p.slot(kp, kn);
    if (this.readOp(r, replica, i, depth) == 0) return grew;
    if (!this.belowW(i)) return grew;
    const vb = LWWMap.entryBytes(wValLen);
    if (!this.vals.reserve(vb) || !p.vals.reserve(vb) || !this.reps.reserve(1, <i32>wRepLen) || !p.reps.reserve(1, <i32>wRepLen)) { r.fail(E_OUT_OF_MEMORY); return grew; }
    this.setW(i);
    p.setW(j);
    return true;
  }

  // Puts the keys in byte order, or reports OUT_OF_MEMORY for the ABI to return.
  @inline ordered(): bool {
    if (this.order.update(this.keys)) return true;
    setError(E_OUT_OF_MEMORY);
    return false;
  }

  // LWWRegister's query of key i.
  private queryAt(i: i32, w: Writer): void {
    if (!this.isSet(i)) { w.u8(0); return; }
    w.u8(1);
    const e = this.valEntry(i);
    w.raw(e, LWWMap.entryBytes(entryLen(e)));
    w.varint(this.ts(i));
    w.varint(<u64>this.repLen(i));
    w.raw(this.repPtr(i), <i32>this.repLen(i));
  }

  query(w: Writer): void {
    if (!this.ordered()) { w.varint(0); return; } // the ABI returns OUT_OF_MEMORY
    w.varint(<u64>this.keys.count);
    for (let s = 0; s < this.keys.count; s++) {
      const i = this.order.at(s);
      const n = this.keys.keyLen(i);
      w.varint(<u64>n);
      w.raw(this.keys.keyPtr(i), <i32>n);
      this.queryAt(i, w);
    }
  }

  hasBytes(p: usize, n: i32): i32 { return this.keys.find(p, <usize>n) >= 0 ? 1 : 0; }
  has(key: string): i32 { return this.hasBytes(keyBytes(key), key.length); }
  get(key: string, w: Writer): bool {
    const i = this.keys.find(keyBytes(key), <usize>key.length);
    if (i < 0) return false;
    this.queryAt(i, w);
    return true;
  }

  encode(w: Writer): void {
    if (!this.ordered()) { w.varint(0); return; } // the ABI returns OUT_OF_MEMORY
    w.varint(<u64>this.keys.count);
    for (let s = 0; s < this.keys.count; s++) {
      const i = this.order.at(s);
      const n = this.keys.keyLen(i);
      w.varint(<u64>n);
      w.raw(this.keys.keyPtr(i), <i32>n);
      if (!this.isSet(i)) { w.u8(0); continue; }
      w.u8(1);
      w.varint(this.ts(i));
      w.varint(<u64>this.repLen(i));
      w.raw(this.repPtr(i), <i32>this.repLen(i));
      const e = this.valEntry(i);
      w.raw(e, LWWMap.entryBytes(entryLen(e)));
    }
  }

  // Reads and checks one entry (key, then a register body as LWWRegister
  // reads it) into the current write; returns 1 for a write, 0 for bottom,
  // −1 after r.fail. rdKey/rdKeyLen: the key.
  private static readEntry(r: Reader, depth: i32): i32 {
    rdKey = r.valueRaw();
    rdKeyLen = <usize>r.rawLen;
    if (!r.ok) return -1;
    if (depth + 1 > MAX_DEPTH) { r.fail(E_TOO_DEEP); return -1; }
    const f = r.u8();
    if (!r.ok) return -1;
    if (f > 1) { r.fail(E_INVALID); return -1; }
    if (f == 0) return 0;
    wTs = r.varint();
    wRep = r.replicaRaw(); // refuses more than 255 bytes and bad UTF-8
    wRepLen = <usize>r.rawLen;
    wVal = r.valueRaw();
    wValLen = <usize>r.rawLen;
    if (!r.ok) return -1;
    if (wRepLen == 0) { r.fail(E_INVALID); return -1; }
    if (wTs > MAX_TS) { r.fail(E_OVERFLOW); return -1; }
    return 1;
  }

  // readEntry for bytes the first pass has already checked: positions and
  // lengths only (no second value, UTF-8 and order check per entry).
  private static readEntryChecked(r: Reader): i32 {
    let n = <usize>r.varint();
    rdKey = r.p; rdKeyLen = n; r.p += n;
    const f = load<u8>(r.p++);
    if (f == 0) return 0;
    wTs = r.varint();
    n = <usize>r.varint();
    wRep = r.p; wRepLen = n; r.p += n;
    n = <usize>r.varint();
    wVal = r.p; wValLen = n; r.p += n;
    return 1;
  }

  decode(r: Reader, depth: i32): void { this.ingest(r, depth, false); }

  // Streamed: the body is joined straight from its bytes (joinBody).
  joinBody(r: Reader): i32 { return this.ingest(r, 0, true); }

  // Joins the body at r into this (decode: into a bottom). One pass checks
  // the whole body in place, interns its writers and counts exactly what it
  // adds (new keys, winning values), so one reservation makes the second
  // pass, which joins entry by entry from the bytes, unable to fail; a bad
  // body changes nothing (a writer id interned for it is unused, and the
  // replica table is not part of the state's value or bytes). `whole`: the
  // body must end the input. Returns 1 if this grew, 0 if not, −code.
  private ingest(r: Reader, depth: i32, whole: bool): i32 {
    const start = r.p;
    const n = r.count(1);
    if (!r.ok) return -r.err;
    const empty = this.keys.count == 0;
    let prev: usize = 0, prevLen: usize = 0, nk = 0, kbytes = 0, vbytes = 0;
    for (let i = 0; i < n; i++) {
      const k = LWWMap.readEntry(r, depth);
      if (k < 0) break;
      if (i > 0 && compareBytes(prev, prevLen, rdKey, rdKeyLen) >= 0) { r.fail(E_NONCANONICAL); break; }
      prev = rdKey; prevLen = rdKeyLen;
      const at = empty ? -1 : this.keys.find(rdKey, rdKeyLen);
      if (at < 0) { nk++; kbytes += <i32>rdKeyLen; }
      if (k == 1 && (at < 0 || this.belowW(at))) {
        vbytes += LWWMap.entryBytes(wValLen);
        if (this.reps.add(wRep, wRepLen) < 0) { r.fail(E_OUT_OF_MEMORY); break; }
      }
    }
    if (whole && r.ok && !r.done) r.fail(E_TRAILING);
    // The records are the block a merge grows most: reserved last when
    // decoding (they end up last in memory) and first when merging (they
    // grow in place there instead of leaving their old block as a hole).
    if (r.ok && !(empty
        ? this.order.idx.reserve(n) && this.keys.reserve(nk, kbytes) && this.vals.reserve(vbytes) && this.recs.reserve(nk << 1)
        : this.recs.reserve(nk << 1) && this.vals.reserve(vbytes) && this.keys.reserve(nk, kbytes))) r.fail(E_OUT_OF_MEMORY);
    if (!r.ok) return -r.err;
    const again = new Reader(start, r.p);
    again.count(1);
    let changed = false;
    for (let i = 0; i < n; i++) {
      const k = LWWMap.readEntryChecked(again);
      const s = this.slot(rdKey, rdKeyLen);
      if (this.keys.added) changed = true;
      if (k == 1 && this.belowW(s)) { this.setW(s); changed = true; }
    }
    // Read in byte order; if this index cannot be had, the next encode sorts.
    if (empty) this.order.identity(n);
    this.compact();
    return changed ? 1 : 0;
  }
}

let rdKey: usize = 0;
let rdKeyLen: usize = 0;
let rdAfter: bool = false; // the op read last was a setAfter
let rdKeyLenOp: i32 = 0; // the key length of the op being read (reserveDry)
