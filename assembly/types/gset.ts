// Grow-only set of byte strings: join is union, the order is inclusion.
// Every element is its own join-irreducible part.
//
// Layout (assembly/data): a sorted Run of canonical entries, which is exactly
// the body's element list, so encode is one copy and a join is one streaming
// merge; plus a small hash table of elements added locally since the last
// merge ("tail", disjoint from the run), so a local add is O(1). The tail is
// folded into the run (sort it, merge) whenever canonical order is needed.
import { Reader, Writer } from "../codec";
import { E_BAD_TAG, E_NONCANONICAL, E_OUT_OF_MEMORY, E_TOO_LARGE, E_TRAILING, MAX_PARTS, setError } from "../errors";
import { Lattice, Spec, batchEpoch, pendingOfBatch } from "../lattice";
import { ByteTable, Run, Vec, compareBytes, compareFast, copyBytes, entryBody, entryLen, entrySize, isAsciiText, sortedIndex, varintSize } from "../data/index";

export const OP_ADD: u32 = 0; // op := 0 element:bytes

export class GSet extends Lattice {
  // body  := count:varint, then count × element:bytes, sorted strictly increasing by bytes
  // query := the same list: count:varint, then element:bytes in byte order

  run: Run = new Run();
  tail: ByteTable = new ByteTable();
  // Room reserved by the dry pass of the current op batch (see applyOp).
  dryEpoch: u32 = 0;
  dryKeys: i32 = 0;
  dryBytes: i32 = 0;

  bottom(): Lattice { return new GSet(this.spec); }
  isBottom(): bool { return this.run.count == 0 && this.tail.count == 0; }
  size(): i32 { return this.run.count + this.tail.count; }

  free(): void { this.run.free(); this.tail.free(); }

  clone(): Lattice {
    const c = new GSet(this.spec);
    if (!this.run.copyTo(c.run) || !this.tail.copyTo(c.tail)) { c.free(); setError(E_OUT_OF_MEMORY); }
    return c;
  }

  @inline contains(p: usize, n: usize): bool {
    return (this.tail.count != 0 && this.tail.find(p, n) >= 0) || this.run.find(p, n) >= 0;
  }

  // Moves the tail into the run, in order. False (state as it was) when
  // memory is exhausted.
  fold(): bool {
    const t = this.tail;
    if (t.count == 0) return true;
    const idx = new Vec<u32>();
    const merged = new Run();
    let bytes = this.run.data.len;
    for (let i = 0; i < t.count; i++) bytes += <i32>entrySize(t.keyLen(i));
    if (!sortedIndex(t, idx) || !merged.reserve(this.run.count + t.count, bytes)) {
      idx.free(); merged.free();
      return false;
    }
    const a = this.run;
    let i = 0, j = 0;
    const na = a.count, nb = idx.len;
    while (i < na || j < nb) {
      if (j == nb) { merged.appendEntryReserved(a.entry(i), entryEnd(a, i) - a.entry(i)); i++; continue; }
      const k = <i32>idx.get(j);
      if (i < na && compareBytes(a.elemPtr(i), a.elemLen(i), t.keyPtr(k), t.keyLen(k)) < 0) {
        merged.appendEntryReserved(a.entry(i), entryEnd(a, i) - a.entry(i)); i++;
      } else {
        merged.appendReserved(t.keyPtr(k), t.keyLen(k)); j++; // disjoint: never equal
      }
    }
    idx.free();
    this.run.take(merged);
    t.clear();
    return true;
  }

  // Folds, or reports OUT_OF_MEMORY for the ABI to return.
  @inline ordered(): bool {
    if (this.fold()) return true;
    setError(E_OUT_OF_MEMORY);
    return false;
  }

  join(o: Lattice): bool {
    const x = changetype<GSet>(o);
    if (x.isBottom()) return false;
    if (small(x.size(), this.size())) return this.joinPoints(x);
    if (!this.ordered() || !x.ordered()) return false;
    const a = this.run, b = x.run;
    const merged = new Run();
    if (!merged.reserve(a.count + b.count, a.data.len + b.data.len)) { merged.free(); setError(E_OUT_OF_MEMORY); return false; }
    const changed = mergeRuns(a, b, merged);
    if (changed) this.run.take(merged); else merged.free();
    return changed;
  }

  // A few elements into a large set: hash them into the tail rather than
  // rewrite the run (a single-op delta must not cost the whole state).
  private joinPoints(x: GSet): bool {
    const a = x.run, t = x.tail;
    if (!this.tail.reserve(a.count + t.count, a.data.len + t.keys.len)) { setError(E_OUT_OF_MEMORY); return false; }
    let changed = false;
    for (let i = 0; i < a.count; i++) changed = this.addNew(a.elemPtr(i), a.elemLen(i)) || changed;
    for (let i = 0; i < t.count; i++) changed = this.addNew(t.keyPtr(i), t.keyLen(i)) || changed;
    return changed;
  }

  // Adds p[0..n) to the tail (room reserved) unless present; whether it was new.
  @inline private addNew(p: usize, n: usize): bool {
    if (this.run.find(p, n) >= 0) return false;
    this.tail.add(p, n);
    return this.tail.added;
  }

  // Streams the incoming element list into the state: one merge of two sorted
  // runs into new memory, swapped in only once the whole body has checked out.
  joinBody(r: Reader): i32 {
    const start = r.p;
    const n = r.count(1); // an empty element still takes its length byte
    if (!r.ok) return -r.err;
    if (small(n, this.size())) {
      // Check the whole body first, then hash its elements in.
      readElements(r, n, null);
      if (r.ok && !r.done) r.fail(E_TRAILING);
      if (!r.ok) return -r.err;
      if (!this.tail.reserve(n, <i32>(r.end - start))) return -E_OUT_OF_MEMORY;
      const again = scratchReader(start, r.end);
      again.count(1);
      let changed = false;
      for (let j = 0; j < n; j++) {
        const p = again.valueRaw();
        changed = this.addNew(p, <usize>again.rawLen) || changed;
      }
      return changed ? 1 : 0;
    }
    if (!this.fold()) return -E_OUT_OF_MEMORY;
    const a = this.run;
    const na = a.count;
    const merged = new Run();
    // Incoming entries are at most the bytes left; a count over that was refused.
    if (!merged.reserve(na + n, a.data.len + r.left)) { merged.free(); return -E_OUT_OF_MEMORY; }
    // Cursors: pa walks this run's entries (body ba, length la); the
    // incoming entry is at `at`. Entries are written to `merged` as streaks:
    // [ps, pe) is a stretch of consecutive taken entries not yet copied, so a
    // run of entries from one side costs one copy.
    const md = merged.data.ptr;
    let w = md, o: u32 = 0;
    let ps: usize = 0, pe: usize = 0;
    let offs = merged.offs.ptr;
    let pa = a.data.ptr;
    const ea = pa + <usize>a.data.len;
    let i = 0, changed = false, prev: usize = 0, prevLen: usize = 0;
    for (let j = 0; j < n; j++) {
      const at = r.p;
      const p = readElement(r);
      if (!r.ok) break;
      const len = <usize>r.rawLen;
      if (j > 0 && compareFast(prev, prevLen, p, len) >= 0) { r.fail(E_NONCANONICAL); break; }
      prev = p; prevLen = len;
      // Own entries below the incoming one pass through; an equal one is kept.
      let c = -1;
      while (pa < ea) {
        let la = <usize>load<u8>(pa), ba = pa + 1;
        if (la >= 0x80) { la = entryLen(pa); ba = entryBody(pa); }
        c = compareFast(ba, la, p, len);
        if (c > 0) break;
        const size = ba + la - pa;
        if (pe != pa) { copyBytes(w, ps, pe - ps); w += pe - ps; ps = pa; }
        pe = pa + size;
        store<u32>(offs, o); offs += 4; o += <u32>size;
        pa += size; i++;
        if (c == 0) break;
      }
      if (c != 0) {
        const size = r.p - at;
        if (pe != at) { copyBytes(w, ps, pe - ps); w += pe - ps; ps = at; }
        pe = at + size;
        store<u32>(offs, o); offs += 4; o += <u32>size;
        changed = true;
      }
    }
    if (r.ok && !r.done) r.fail(E_TRAILING);
    if (!r.ok) { merged.free(); return -r.err; }
    copyBytes(w, ps, pe - ps);
    merged.data.len = <i32>o;
    merged.offs.len = <i32>((offs - merged.offs.ptr) >> 2);
    appendRest(merged, a, i);
    if (changed) this.run.take(merged); else merged.free();
    return changed ? 1 : 0;
  }

  // Inclusion.
  leq(o: Lattice): bool {
    const x = changetype<GSet>(o);
    if (this.size() > x.size()) return false;
    if (this.isBottom()) return true;
    // A few elements: point lookups, without putting the large set in order.
    if (small(this.size(), x.size())) {
      const a = this.run, t = this.tail;
      for (let i = 0; i < a.count; i++) if (!x.contains(a.elemPtr(i), a.elemLen(i))) return false;
      for (let i = 0; i < t.count; i++) if (!x.contains(t.keyPtr(i), t.keyLen(i))) return false;
      return true;
    }
    if (!this.ordered() || !x.ordered()) return false;
    const a = this.run, b = x.run;
    const na = a.count, nb = b.count;
    // Few against many: binary searches; otherwise one merge walk.
    if (na * 16 < nb) {
      for (let i = 0; i < na; i++) if (b.find(a.elemPtr(i), a.elemLen(i)) < 0) return false;
      return true;
    }
    let j = 0;
    for (let i = 0; i < na; i++) {
      let c = 1;
      while (j < nb && (c = compareBytes(b.elemPtr(j), b.elemLen(j), a.elemPtr(i), a.elemLen(i))) < 0) j++;
      if (j == nb || c != 0) return false;
      j++;
    }
    return true;
  }

  // The elements o lacks.
  deltaFrom(o: Lattice): Lattice {
    const x = changetype<GSet>(o);
    const d = new GSet(this.spec);
    if (small(this.size(), x.size())) {
      const a = this.run, t = this.tail;
      if (!d.tail.reserve(this.size(), a.data.len + t.keys.len)) { setError(E_OUT_OF_MEMORY); return d; }
      for (let i = 0; i < a.count; i++) if (!x.contains(a.elemPtr(i), a.elemLen(i))) d.tail.add(a.elemPtr(i), a.elemLen(i));
      for (let i = 0; i < t.count; i++) if (!x.contains(t.keyPtr(i), t.keyLen(i))) d.tail.add(t.keyPtr(i), t.keyLen(i));
      return d;
    }
    if (!this.ordered() || !x.ordered()) return d;
    const a = this.run, b = x.run;
    if (!d.run.reserve(a.count, a.data.len)) { setError(E_OUT_OF_MEMORY); return d; }
    const na = a.count, nb = b.count;
    let j = 0;
    for (let i = 0; i < na; i++) {
      let c = 1;
      while (j < nb && (c = compareBytes(b.elemPtr(j), b.elemLen(j), a.elemPtr(i), a.elemLen(i))) < 0) j++;
      if (j < nb && c == 0) { j++; continue; }
      d.run.appendEntryReserved(a.entry(i), entryEnd(a, i) - a.entry(i));
    }
    return d;
  }

  // One singleton per element, in byte order.
  decompose(out: Array<Lattice>): void {
    if (!this.ordered()) return;
    const a = this.run;
    for (let i = 0; i < a.count; i++) {
      if (out.length >= MAX_PARTS) { setError(E_TOO_LARGE); return; }
      const p = new GSet(this.spec);
      const bytes = entryEnd(a, i) - a.entry(i);
      if (!p.run.reserve(1, <i32>bytes)) { setError(E_OUT_OF_MEMORY); return; }
      p.run.appendEntryReserved(a.entry(i), bytes);
      out.push(p);
    }
  }

  // add: delta is {e}, or bottom when e is already in (it would add nothing).
  // The dry pass reserves room for e in the state and in the pending
  // delta-group, so the real pass (applyOp) cannot run out of memory halfway.
  op(r: Reader, replica: string, dry: bool, depth: i32): Lattice | null {
    const code = r.u8();
    if (!r.ok) return null;
    if (code != OP_ADD) { r.fail(E_BAD_TAG); return null; }
    const p = r.valueRaw();
    if (!r.ok) return null;
    const n = <usize>r.rawLen;
    if (dry) {
      if (!this.reserveDry(<i32>n, depth)) r.fail(E_OUT_OF_MEMORY);
      return null;
    }
    const d = new GSet(this.spec);
    if (!this.contains(p, n) && d.tail.add(p, n) < 0) { r.fail(E_OUT_OF_MEMORY); return null; }
    return d;
  }

  private reserveDry(n: i32, depth: i32): bool {
    // Nested sets (in maps, pairs) are applied through the generic op() path,
    // which builds a delta: reserving here would only bloat shared scratch bottoms.
    if (depth > 0) return true;
    const e = batchEpoch();
    if (this.dryEpoch != e) { this.dryEpoch = e; this.dryKeys = 0; this.dryBytes = 0; }
    this.dryKeys++;
    this.dryBytes += n;
    if (!this.tail.reserve(this.dryKeys, this.dryBytes)) return false;
    const pend = pendingOfBatch();
    if (pend !== null && pend !== this) {
      if (!changetype<GSet>(pend).tail.reserve(this.dryKeys, this.dryBytes)) return false;
    }
    return true;
  }

  applyOp(r: Reader, replica: string, pending: Lattice, depth: i32): bool {
    r.u8();
    const p = r.valueRaw(); // validated by the dry pass
    const n = <usize>r.rawLen;
    if (this.contains(p, n)) return false;
    const pend = changetype<GSet>(pending);
    // Both have room reserved by the dry pass; pending ⊑ this, so e is new there too.
    if (this.tail.add(p, n) < 0 || pend.tail.add(p, n) < 0) unreachable();
    return true;
  }

  query(w: Writer): void { this.encode(w); }

  hasBytes(p: usize, n: i32): i32 { return this.contains(p, <usize>n) ? 1 : 0; }
  has(key: string): i32 { return this.hasBytes(keyBytesOf(key), key.length); }

  encode(w: Writer): void {
    if (!this.ordered()) { w.varint(0); return; } // the ABI returns OUT_OF_MEMORY
    w.varint(<u64>this.run.count);
    w.raw(this.run.data.ptr, this.run.data.len);
  }

  decode(r: Reader, depth: i32): void {
    const n = r.count(1);
    if (r.ok) readElements(r, n, this.run);
  }
}

// Whether k incoming elements are few enough against a set of n to be hashed
// into the tail one by one instead of merged (a merge rewrites all n).
@inline function small(k: i32, n: i32): bool { return k <= 8 || k * 32 < n; }

// Reads and checks n elements (sorted strictly increasing, each one
// canonical value). With `into`, the entries (already in the run's format)
// are then copied in with one memcpy, their offsets noted on the way.
export function readElements(r: Reader, n: i32, into: Run | null): void {
  if (into !== null && !into.offs.reserve(n)) { r.fail(E_OUT_OF_MEMORY); return; }
  const start = r.p;
  const base = into !== null ? <u32>into.data.len : 0;
  let prev: usize = 0, prevLen: usize = 0;
  for (let j = 0; j < n; j++) {
    const at = r.p;
    const p = readElement(r);
    if (!r.ok) return;
    const len = <usize>r.rawLen;
    if (j > 0 && compareFast(prev, prevLen, p, len) >= 0) { r.fail(E_NONCANONICAL); return; }
    prev = p; prevLen = len;
    if (into !== null) into.offs.pushReserved(base + <u32>(at - start));
  }
  if (into !== null && !into.data.append(start, <i32>(r.p - start))) r.fail(E_OUT_OF_MEMORY);
}

// r.valueRaw() with a fast path for what most elements are: a string of
// fewer than 126 ASCII bytes without NUL (entry = length, tag 6, bytes,
// 0x00), checked a word at a time and accepting exactly what valueRaw()
// accepts for it.
@inline export function readElement(r: Reader): usize {
  const p = r.p;
  if (p + 2 < r.end) {
    const n = <usize>load<u8>(p);
    if (n >= 2 && n < 0x80 && n < r.end - p && load<u8>(p + 1) == 6 && load<u8>(p + n) == 0 && isAsciiText(p + 2, n - 2)) {
      r.p = p + 1 + n;
      r.rawLen = <i32>n;
      return p + 1;
    }
  }
  return r.valueRaw();
}

// out := a ∪ b (runs in order; room reserved in out, which is empty).
// Returns whether b added anything. Cursors walk both runs' entries; taken
// entries are copied as streaks (see joinBody), the rests in one copy each.
function mergeRuns(a: Run, b: Run, out: Run): bool {
  let w = out.data.ptr, o: u32 = 0;
  let ps: usize = 0, pe: usize = 0;
  let offs = out.offs.ptr;
  let pa = a.data.ptr, pb = b.data.ptr;
  const ea = pa + <usize>a.data.len, eb = pb + <usize>b.data.len;
  let i = 0, j = 0, changed = false;
  let la: usize = 0, ba: usize = 0, lb: usize = 0, bb: usize = 0;
  if (pa < ea) { la = <usize>load<u8>(pa); ba = pa + 1; if (la >= 0x80) { la = entryLen(pa); ba = entryBody(pa); } }
  if (pb < eb) { lb = <usize>load<u8>(pb); bb = pb + 1; if (lb >= 0x80) { lb = entryLen(pb); bb = entryBody(pb); } }
  while (pa < ea && pb < eb) {
    const c = compareFast(ba, la, bb, lb);
    if (c <= 0) {
      const size = ba + la - pa;
      if (pe != pa) { copyBytes(w, ps, pe - ps); w += pe - ps; ps = pa; }
      pe = pa + size;
      store<u32>(offs, o); offs += 4; o += <u32>size;
      pa += size; i++;
      if (pa < ea) { la = <usize>load<u8>(pa); ba = pa + 1; if (la >= 0x80) { la = entryLen(pa); ba = entryBody(pa); } }
      if (c == 0) {
        pb = bb + lb; j++;
        if (pb < eb) { lb = <usize>load<u8>(pb); bb = pb + 1; if (lb >= 0x80) { lb = entryLen(pb); bb = entryBody(pb); } }
      }
    } else {
      const size = bb + lb - pb;
      if (pe != pb) { copyBytes(w, ps, pe - ps); w += pe - ps; ps = pb; }
      pe = pb + size;
      store<u32>(offs, o); offs += 4; o += <u32>size;
      pb += size; j++;
      changed = true;
      if (pb < eb) { lb = <usize>load<u8>(pb); bb = pb + 1; if (lb >= 0x80) { lb = entryLen(pb); bb = entryBody(pb); } }
    }
  }
  copyBytes(w, ps, pe - ps);
  out.data.len = <i32>o;
  out.offs.len = <i32>((offs - out.offs.ptr) >> 2);
  if (j < b.count) changed = true;
  appendRest(out, a, i);
  appendRest(out, b, j);
  return changed;
}

// Where entry i of run a ends.
@inline export function entryEnd(a: Run, i: i32): usize {
  return i + 1 < a.count ? a.entry(i + 1) : a.data.ptr + <usize>a.data.len;
}

// Appends entries i.. of a (one copy: they are contiguous) into reserved room.
function appendRest(into: Run, a: Run, i: i32): void {
  const na = a.count;
  if (i >= na) return;
  const base = a.entry(i);
  const shift = <u32>into.data.len - a.offs.get(i);
  for (let k = i; k < na; k++) into.offs.pushReserved(a.offs.get(k) + shift);
  const bytes = a.data.ptr + <usize>a.data.len - base;
  memory.copy(into.data.end(), base, bytes);
  into.data.len += <i32>bytes;
}

import { keyBytes } from "../codec";
function keyBytesOf(s: string): usize { return keyBytes(s); }

// One Reader for the second passes over a checked body (they never nest), so
// applying a small delta allocates no managed object for them.
const tmpReader = new Reader(0, 0);
function scratchReader(p: usize, end: usize): Reader {
  const r = tmpReader;
  r.p = p; r.end = end; r.err = 0; r.dry = false; r.rawLen = 0;
  return r;
}
