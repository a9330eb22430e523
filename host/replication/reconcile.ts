// Range-based set reconciliation (Meyer, "Range-Based Set Reconciliation",
// 2022; the Negentropy protocol's design), over sets of 32-byte ids such as the
// sha-256 digests of envelope CIDs, optionally ordered by a timestamp first.
// Used by the trustless mode's catch-up (docs/replication.md,
// "Range-based reconciliation"); the wire format is in reconcile-wire.ts.
//
// Two peers hold sets; each message covers the key space with ranges. A range
// whose fingerprint (sha-256 of the 256-bit sum of its ids' hashes, and count)
// matches on both sides is done; a small range is sent as its list of ids,
// which the other side answers with a Diff (the ids it has that the list
// lacks, and a bitfield of the listed ids it lacks), so BOTH peers learn the
// difference of every range; a large one is split into `branching` buckets.
// Rounds grow with log_branching(n / idListThreshold); bytes with the size of
// the difference, not of the sets.
//
// A peer may be hostile. What one message can cost is bounded: its bytes,
// ranges and ids are capped (WireLimits), each range costs a binary search and
// one hash (fingerprints come from prefix sums, not a pass over the range),
// and a session ends with TOO_MANY_ROUNDS after maxRounds messages. Replies
// keep to the same caps: when one would overflow, the rest of the key space is
// answered with one fingerprint and resolved in later rounds.
//
// Fingerprints are sums of hashes: structured ids (counters) cannot collide
// by accident, though an adversary who could choose many ids freely might
// search for a collision (a k-sum problem); ids here are sha-256 digests of
// signed envelopes, and a peer gains nothing by hiding a difference from itself.
import { sha256, sha256Words32 } from "./reconcile-hash.js";
import { compareBytes } from "../crdt/bytes.js";
import {
  Bound, DEFAULT_WIRE_LIMITS, FINGERPRINT_BYTES, ID_BYTES, INFINITY, Mode, Range, ReconcileError, WireLimits,
  compareBounds, decodeRanges, encodeRanges,
} from "./reconcile-wire.js";

export type ReconcileItem = Uint8Array | { id: Uint8Array; ts?: number };

export interface ReconcileOptions extends WireLimits {
  branching: number;        // buckets a mismatched range is split into (default 16)
  idListThreshold: number;  // a mismatched range with at most this many of our ids is sent as a list (default 16)
  maxRounds: number;        // messages this side accepts in one session (default 64)
  maxNeed: number;          // ids a peer may say we lack in one session (default 262,144: a peer cannot fill our memory with claims)
  timestamps: boolean;      // items carry timestamps (default false). Both peers must agree: it decides how ids are checked
}

export const DEFAULT_RECONCILE_OPTIONS: Readonly<ReconcileOptions> = Object.freeze({
  ...DEFAULT_WIRE_LIMITS, branching: 16, idListThreshold: 16, maxRounds: 64, maxNeed: 1 << 18, timestamps: false,
});

// What one message taught: `have` = our ids the peer lacks (to send it),
// `need` = the peer's ids we lack (to expect or fetch). Each id is reported
// once per session. `reply` is null when the message asked nothing (it held
// only Skips and Diffs); a message that asked something is always answered,
// if only with "all agreed" (the version byte alone). `done`: this side has
// learned all it will, and the peer will not answer `reply` (it asks nothing).
export interface ReconcileStep { reply: Uint8Array | null; have: Uint8Array[]; need: Uint8Array[]; done: boolean }

const ZERO: Bound = Object.freeze({ ts: 0, prefix: new Uint8Array(0) });
const key = (id: Uint8Array): string => String.fromCharCode.apply(null, id as unknown as number[]);

// A set of ids sorted for reconciliation, with the prefix sums that make any
// range's fingerprint O(1). Immutable: build it once and share it among the
// sessions (one Reconciler per peer) that reconcile the same snapshot.
export class ReconcileSet {
  readonly size: number;
  readonly timestamps: boolean; // key order is (ts, id), and a peer's ids cannot be placed by order alone
  #ts: Float64Array;      // per item, in key order
  #ids: Uint8Array;       // item i's id at [32 i, 32 i + 32)
  #sums: Uint32Array;     // prefix sums: entry i (8 little-endian u32 limbs) = sum of sha-256(id) over [0, i) mod 2^256
  #byId: Uint32Array | null = null; // item indices in id order (timestamped sets only, built when first needed)

  constructor(items: Iterable<ReconcileItem>, options: { timestamps?: boolean } = {}) {
    const timestamps = options.timestamps ?? false;
    if (typeof timestamps !== "boolean") throw new ReconcileError("BAD_INPUT", "timestamps is a boolean");
    this.timestamps = timestamps;
    const list: { ts: number; id: Uint8Array }[] = [];
    if (items === null || typeof (items as Iterable<ReconcileItem>)?.[Symbol.iterator] !== "function") throw new ReconcileError("BAD_INPUT", "items are an iterable of ids");
    for (const it of items) {
      const id = it instanceof Uint8Array ? it : it?.id;
      const ts = it instanceof Uint8Array ? 0 : (it?.ts ?? 0);
      if (!(id instanceof Uint8Array) || id.length !== ID_BYTES) throw new ReconcileError("BAD_INPUT", `an id is ${ID_BYTES} bytes`);
      if (!Number.isSafeInteger(ts) || ts < 0) throw new ReconcileError("BAD_INPUT", "a timestamp is an integer from 0 to 2^53-1");
      if (ts !== 0 && !timestamps) throw new ReconcileError("BAD_INPUT", "an item has a timestamp, but the timestamps option is off");
      list.push({ ts, id });
    }
    sortItems(list);
    // Equal items collapse to one; the same id under two timestamps is refused.
    let n = 0;
    for (let i = 0; i < list.length; i++) {
      if (n > 0 && list[n - 1].ts === list[i].ts && compareBytes(list[n - 1].id, list[i].id) === 0) continue;
      list[n++] = list[i];
    }
    list.length = n;
    this.size = n;
    // Filled through locals: a loop over private fields runs several times slower.
    const tsOf = (this.#ts = new Float64Array(n));
    const ids = (this.#ids = new Uint8Array(n * ID_BYTES));
    const sums = (this.#sums = new Uint32Array((n + 1) * 8));
    const digest = new Uint32Array(8);
    for (let i = 0; i < n; i++) {
      const { ts, id } = list[i];
      tsOf[i] = ts;
      for (let k = 0; k < ID_BYTES; k++) ids[i * ID_BYTES + k] = id[k];
      // Sums of the ids' hashes, not of the ids: ids with structure (a
      // counter in their last bytes) would otherwise collide in sums mod 2^256.
      sha256Words32(ids, i * ID_BYTES, digest);
      addLimbs(sums, i * 8, digest, (i + 1) * 8);
    }
    if (timestamps) {
      const seen = new Set<string>();
      for (let i = 0; i < n; i++) {
        const k = key(this.id(i));
        if (seen.has(k)) throw new ReconcileError("BAD_INPUT", "an id appears under two timestamps");
        seen.add(k);
      }
    }
  }

  // The rest serves Reconciler; positions are indices in key order.
  id(i: number): Uint8Array { return this.#ids.subarray(i * ID_BYTES, (i + 1) * ID_BYTES); }
  slice(lo: number, hi: number): Uint8Array[] { const a: Uint8Array[] = []; for (let i = lo; i < hi; i++) a.push(this.id(i)); return a; }

  // Item i < bound b in key order.
  #below(i: number, b: Bound): boolean {
    const t = this.#ts[i];
    if (t !== b.ts) return t < b.ts;
    const p = b.prefix, o = i * ID_BYTES;
    for (let k = 0; k < p.length; k++) if (this.#ids[o + k] !== p[k]) return this.#ids[o + k] < p[k];
    return false; // equal prefix: the item is at or past the bound
  }

  // The first index >= from whose item is not below b.
  lowerIndex(b: Bound, from: number): number {
    let lo = from, hi = this.size;
    while (lo < hi) { const m = (lo + hi) >>> 1; if (this.#below(m, b)) lo = m + 1; else hi = m; }
    return lo;
  }

  // The shortest bound above item i - 1 and at item i (0 < i < size).
  boundBefore(i: number): Bound {
    const t = this.#ts[i];
    if (this.#ts[i - 1] !== t) return { ts: t, prefix: new Uint8Array(0) };
    const a = i * ID_BYTES - ID_BYTES, b = i * ID_BYTES;
    let k = 0;
    while (this.#ids[a + k] === this.#ids[b + k]) k++;
    return { ts: t, prefix: this.#ids.slice(b, b + k + 1) };
  }

  // Where id is among our items, or -1. Without timestamps the items are in id
  // order (searched within the range's bounds); with them, by an id index.
  indexOf(id: Uint8Array, lower: Bound, upper: Bound): number {
    if (!this.timestamps) {
      let lo = this.lowerIndex(lower, 0), hi = this.lowerIndex(upper, lo);
      while (lo < hi) {
        const m = (lo + hi) >>> 1, c = compareAt(this.#ids, m, id);
        if (c === 0) return m;
        if (c < 0) lo = m + 1; else hi = m;
      }
      return -1;
    }
    const by = (this.#byId ??= this.#buildById());
    let lo = 0, hi = by.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1, c = compareAt(this.#ids, by[m], id);
      if (c === 0) return by[m];
      if (c < 0) lo = m + 1; else hi = m;
    }
    return -1;
  }

  #buildById(): Uint32Array {
    const by = Uint32Array.from({ length: this.size }, (_, i) => i);
    return by.sort((x, y) => compareBytes(this.id(x), this.id(y)));
  }

  // sha-256(sum of sha-256(id) over the ids in [lo, hi), each digest read as
  // a little-endian number, mod 2^256, as 32 bytes little-endian ‖ the count
  // as a varint), first 16 bytes.
  fingerprint(lo: number, hi: number): Uint8Array {
    const buf = new Uint8Array(ID_BYTES + 10);
    let borrow = 0;
    for (let l = 0; l < 8; l++) {
      let d = this.#sums[hi * 8 + l] - this.#sums[lo * 8 + l] - borrow;
      borrow = d < 0 ? 1 : 0;
      if (d < 0) d += 0x100000000;
      buf[l * 4] = d; buf[l * 4 + 1] = d >>> 8; buf[l * 4 + 2] = d >>> 16; buf[l * 4 + 3] = d >>> 24;
    }
    let n = hi - lo, p = ID_BYTES;
    while (n >= 0x80) { buf[p++] = (n & 0x7f) | 0x80; n >>>= 7; }
    buf[p++] = n;
    return sha256(buf.subarray(0, p)).subarray(0, FINGERPRINT_BYTES);
  }
}

export class Reconciler {
  readonly options: Readonly<ReconcileOptions>;
  #set: ReconcileSet;
  #rounds = 0;
  #have = new Set<string>();
  #need = new Set<string>();

  // `items`: the ids (or { id, ts } items), or a ReconcileSet built once for many sessions.
  constructor(items: Iterable<ReconcileItem> | ReconcileSet, options: Partial<ReconcileOptions> = {}) {
    this.options = checkOptions({ ...DEFAULT_RECONCILE_OPTIONS, ...options });
    if (items instanceof ReconcileSet) {
      if (items.timestamps !== this.options.timestamps) throw new ReconcileError("BAD_INPUT", "the set's timestamps option differs from the session's");
      this.#set = items;
    } else this.#set = new ReconcileSet(items, { timestamps: this.options.timestamps });
  }

  get size(): number { return this.#set.size; }
  get rounds(): number { return this.#rounds; }
  // Everything learned so far in this session.
  get have(): Uint8Array[] { return [...this.#have].map(unkey); }
  get need(): Uint8Array[] { return [...this.#need].map(unkey); }

  // The first message of a session.
  initiate(): Uint8Array {
    const out = new Out(this.options);
    this.#answerMismatch(out, 0, this.#set.size, INFINITY);
    return encodeRanges(out.ranges);
  }

  // Answers a peer's message. Throws ReconcileError (and learns nothing from
  // that message) if it is malformed, over a limit or impossible.
  reconcile(msg: Uint8Array): ReconcileStep {
    if (this.#rounds >= this.options.maxRounds) throw new ReconcileError("TOO_MANY_ROUNDS", `more than ${this.options.maxRounds} messages in one session`);
    this.#rounds++;
    const ranges = decodeRanges(msg, this.options);
    // Check and learn first, reply after: a bad range anywhere rejects the
    // whole message before any of it is recorded.
    const spans: { lo: number; hi: number; lower: Bound }[] = new Array(ranges.length);
    const have: Uint8Array[] = [], need: Uint8Array[] = [];
    let lo = 0, lower = ZERO;
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i];
      const hi = this.#set.lowerIndex(r.upper, lo);
      spans[i] = { lo, hi, lower };
      if (r.mode === Mode.IdList || r.mode === Mode.Diff) this.#checkIds(r.ids, lower, r.upper);
      if (r.mode === Mode.Diff) this.#readDiff(r, lo, hi, have, need);
      lo = hi; lower = r.upper;
    }
    const out = new Out(this.options);
    for (let i = 0; i < ranges.length && !out.cut; i++) {
      const r = ranges[i], { lo, hi, lower } = spans[i];
      if (!out.room(1, 0)) { this.#cut(out, lo); break; } // even a skip needs a range
      switch (r.mode) {
        case Mode.Skip: case Mode.Diff: out.skip(r.upper); break;
        case Mode.Fingerprint:
          if (equalFp(this.#set.fingerprint(lo, hi), r.fingerprint)) out.skip(r.upper);
          else this.#answerMismatch(out, lo, hi, r.upper);
          break;
        case Mode.IdList: this.#answerList(out, r.ids, lo, hi, lower, r.upper, have, need); break;
      }
    }
    // The ids not reported before (and not twice in this message); recorded if `keep`.
    const fresh = (set: Set<string>, ids: Uint8Array[], keep: boolean) => {
      const seen = new Set<string>();
      return ids.filter((id) => {
        const k = key(id);
        if (set.has(k) || seen.has(k)) return false;
        seen.add(k);
        if (keep) set.add(k);
        return true;
      });
    };
    const newNeed = fresh(this.#need, need, false);
    if (this.#need.size + newNeed.length > this.options.maxNeed) {
      throw new ReconcileError("TOO_LARGE", `the peer claims more than ${this.options.maxNeed} ids we lack; catch up from a snapshot`);
    }
    const reply = out.finish();
    const asked = ranges.some((r) => r.mode === Mode.Fingerprint || r.mode === Mode.IdList);
    const asks = reply.some((r) => r.mode === Mode.Fingerprint || r.mode === Mode.IdList);
    return { reply: asked ? encodeRanges(reply) : null, done: !asks, have: fresh(this.#have, have, true).map(copy), need: newNeed.map((id) => { this.#need.add(key(id)); return id.slice(); }) };
  }

  // ---- answering ------------------------------------------------------------

  // Our fingerprint of [lo, hi) differs from the peer's (or we start): list our
  // ids if few, else split into buckets; if the reply has no room, cut.
  #answerMismatch(out: Out, lo: number, hi: number, upper: Bound): void {
    const c = hi - lo, o = this.options;
    if (c <= o.idListThreshold) {
      if (!out.room(1, c)) return this.#cut(out, lo);
      out.push({ upper, mode: Mode.IdList, ids: this.#set.slice(lo, hi) });
      return;
    }
    const k = Math.min(o.branching, c);
    if (!out.room(k, 0)) return this.#cut(out, lo);
    let start = lo;
    for (let b = 1; b <= k; b++) {
      const end = lo + Math.floor((c * b) / k);
      out.push({ upper: end === hi ? upper : this.#set.boundBefore(end), mode: Mode.Fingerprint, fingerprint: this.#set.fingerprint(start, end) });
      start = end;
    }
  }

  // The peer listed all its ids in [lo, hi): answer with a Diff (both sides
  // then know this range's difference), or buckets if ours do not fit.
  #answerList(out: Out, theirs: Uint8Array[], lo: number, hi: number, lower: Bound, upper: Bound, have: Uint8Array[], need: Uint8Array[]): void {
    // More of ours than one message may list, whatever theirs hold: split
    // without walking them (a hostile list over everything costs no pass over n).
    if (hi - lo - theirs.length > this.options.maxIds) return this.#answerMismatch(out, lo, hi, upper);
    const listed = new Set<string>();
    for (const id of theirs) listed.add(key(id));
    const mine: Uint8Array[] = [];
    for (let i = lo; i < hi; i++) { const id = this.#set.id(i); if (!listed.has(key(id))) mine.push(id); }
    if (!out.room(1, mine.length)) {
      // More than one message holds: smaller ranges, each answered later.
      // Otherwise the next message lists them.
      if (mine.length > this.options.maxIds && hi - lo > 1) return this.#answerMismatch(out, lo, hi, upper);
      return this.#cut(out, lo);
    }
    const lacks = new Uint8Array((theirs.length + 7) >> 3);
    theirs.forEach((id, j) => {
      if (this.#set.indexOf(id, lower, upper) < 0) { lacks[j >> 3] |= 1 << (j & 7); need.push(id); }
    });
    for (const id of mine) have.push(id);
    out.push({ upper, mode: Mode.Diff, ids: mine, lacks });
  }

  // Everything from item `lo` on is left for later rounds: one fingerprint.
  #cut(out: Out, lo: number): void {
    out.cut = true;
    out.push({ upper: INFINITY, mode: Mode.Fingerprint, fingerprint: this.#set.fingerprint(lo, this.#set.size) });
  }

  // A Diff answers one of our IdLists, so the range holds at most
  // idListThreshold of our ids, the bitfield covers exactly them, and every id
  // it offers is one we lack.
  #readDiff(r: Extract<Range, { mode: typeof Mode.Diff }>, lo: number, hi: number, have: Uint8Array[], need: Uint8Array[]): void {
    const c = hi - lo;
    if (c > this.options.idListThreshold) throw new ReconcileError("PROTOCOL", `a Diff over ${c} of our ids, more than we ever list`);
    if (r.lacks.length !== (c + 7) >> 3) throw new ReconcileError("PROTOCOL", `a Diff bitfield of ${r.lacks.length} bytes for ${c} ids`);
    if (c & 7 && r.lacks[r.lacks.length - 1] >> (c & 7)) throw new ReconcileError("PROTOCOL", "a Diff bitfield sets bits past our ids");
    for (const id of r.ids) {
      if (this.#set.indexOf(id, ZERO, INFINITY) >= 0) throw new ReconcileError("PROTOCOL", "a Diff offers an id we have");
      need.push(id);
    }
    for (let i = 0; i < c; i++) if (r.lacks[i >> 3] & (1 << (i & 7))) have.push(this.#set.id(lo + i));
  }

  // Ids in an IdList or Diff: distinct; without timestamps also strictly
  // increasing and inside the range (with them, an id's place is unknown).
  #checkIds(ids: Uint8Array[], lower: Bound, upper: Bound): void {
    if (!this.#set.timestamps) {
      for (let j = 1; j < ids.length; j++) {
        if (compareBytes(ids[j - 1], ids[j]) >= 0) throw new ReconcileError("PROTOCOL", "ids not strictly increasing");
      }
      if (ids.length > 0 && (compareIdBound(ids[0], lower) < 0 || compareIdBound(ids[ids.length - 1], upper) >= 0)) {
        throw new ReconcileError("PROTOCOL", "an id outside its range");
      }
      return;
    }
    const seen = new Set<string>();
    for (const id of ids) {
      const k = key(id);
      if (seen.has(k)) throw new ReconcileError("PROTOCOL", "an id repeats");
      seen.add(k);
    }
  }
}

// bound (10 + 1 + 32) + mode (1) + fingerprint (16), or count varints (3 + 3)
const MAX_RANGE_BYTES = 60;

// A reply under construction, kept within the wire limits (one range is
// always held back for a cut).
class Out {
  ranges: Range[] = [];
  ids = 0;
  bytes = 1;
  cut = false;
  constructor(readonly o: Readonly<ReconcileOptions>) {}
  // Room for `ranges` more ranges carrying `ids` ids, counting each range at
  // its largest (a 10-byte timestamp, a 32-byte prefix, a fingerprint) and
  // a Diff's bitfield at its largest.
  room(ranges: number, ids: number): boolean {
    return this.ranges.length + ranges + 1 <= this.o.maxRanges && this.ids + ids <= this.o.maxIds &&
      this.bytes + (ranges + 1) * MAX_RANGE_BYTES + ids * ID_BYTES + (this.o.maxIds >> 3) <= this.o.maxMessageBytes;
  }
  push(r: Range): void {
    this.ranges.push(r);
    this.bytes += MAX_RANGE_BYTES;
    if (r.mode === Mode.IdList || r.mode === Mode.Diff) { this.ids += r.ids.length; this.bytes += r.ids.length * ID_BYTES; }
    if (r.mode === Mode.Diff) this.bytes += r.lacks.length;
  }
  // Consecutive skips are one range: a range starts where the previous ends.
  skip(upper: Bound): void {
    const last = this.ranges[this.ranges.length - 1];
    if (last?.mode === Mode.Skip) last.upper = upper;
    else { this.ranges.push({ upper, mode: Mode.Skip }); this.bytes += MAX_RANGE_BYTES; }
  }
  // Without trailing skips (the rest of the space is skipped by default).
  finish(): Range[] {
    while (this.ranges.length && this.ranges[this.ranges.length - 1].mode === Mode.Skip) this.ranges.pop();
    return this.ranges;
  }
}

// In (ts, id) order. Ids are sha-256 digests, so their first 4 bytes nearly
// always decide: without timestamps, (those 4 bytes, index) packed in a double
// sort natively (5-10x a comparator sort at 100k); the rare ties are then
// ordered by whole ids.
function sortItems(list: { ts: number; id: Uint8Array }[]): void {
  const n = list.length, SHIFT = 2 ** 21;
  const head = (id: Uint8Array) => ((id[0] << 24) | (id[1] << 16) | (id[2] << 8) | id[3]) >>> 0;
  if (n >= SHIFT || list.some((x) => x.ts !== 0)) {
    list.sort((a, b) => a.ts - b.ts || compareBytes(a.id, b.id));
    return;
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = head(list[i].id) * SHIFT + i;
  keys.sort();
  const sorted = Array.from(keys, (k) => list[k % SHIFT]);
  for (let i = 0; i < n;) {
    let j = i + 1;
    const h = head(sorted[i].id);
    while (j < n && head(sorted[j].id) === h) j++;
    if (j - i > 1) {
      const run = sorted.slice(i, j).sort((a, b) => compareBytes(a.id, b.id));
      for (let k = i; k < j; k++) sorted[k] = run[k - i];
    }
    i = j;
  }
  for (let i = 0; i < n; i++) list[i] = sorted[i];
}

function checkOptions(o: ReconcileOptions): ReconcileOptions {
  const int = (name: keyof ReconcileOptions, min: number, max = 2 ** 31) => {
    if (!Number.isInteger(o[name] as number) || (o[name] as number) < min || (o[name] as number) > max) throw new ReconcileError("BAD_INPUT", `${name} is an integer from ${min} to ${max}, got ${String(o[name])}`);
  };
  int("branching", 2, 1024);
  int("idListThreshold", 1);
  int("maxRounds", 1);
  int("maxIds", o.idListThreshold);
  int("maxRanges", o.branching + 2);
  // The first range of a reply must always fit, or a session could only cut.
  int("maxMessageBytes", 1 + (o.branching + 2) * MAX_RANGE_BYTES + o.maxIds * ID_BYTES + (o.maxIds >> 3));
  int("maxNeed", 0, 2 ** 32);
  if (typeof o.timestamps !== "boolean") throw new ReconcileError("BAD_INPUT", "timestamps is a boolean");
  return Object.freeze(o);
}

// sums[d..d+8) = sums[s..s+8) + the digest read as a 256-bit little-endian
// number (its big-endian words byte-swapped), mod 2^256.
function addLimbs(sums: Uint32Array, s: number, digest: Uint32Array, d: number): void {
  let carry = 0;
  for (let l = 0; l < 8; l++) {
    const w = digest[l];
    const x = ((w & 0xff) << 24 | (w & 0xff00) << 8 | (w >>> 8) & 0xff00 | w >>> 24) >>> 0;
    const v = sums[s + l] + x + carry;
    carry = v > 0xffffffff ? 1 : 0;
    sums[d + l] = v >>> 0;
  }
}

function compareAt(ids: Uint8Array, i: number, id: Uint8Array): number {
  const o = i * ID_BYTES;
  for (let k = 0; k < ID_BYTES; k++) if (ids[o + k] !== id[k]) return ids[o + k] - id[k];
  return 0;
}

// An id against a bound with ts 0 (sets without timestamps): the prefix padded with zeros.
function compareIdBound(id: Uint8Array, b: Bound): number {
  return compareBounds({ ts: 0, prefix: id }, b);
}

function equalFp(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < FINGERPRINT_BYTES; i++) if (a[i] !== b[i]) return false;
  return true;
}

const copy = (id: Uint8Array): Uint8Array => id.slice();

function unkey(k: string): Uint8Array {
  const b = new Uint8Array(k.length);
  for (let i = 0; i < k.length; i++) b[i] = k.charCodeAt(i);
  return b;
}

export { ReconcileError };
export type { ReconcileErrorCode, WireLimits } from "./reconcile-wire.js";
