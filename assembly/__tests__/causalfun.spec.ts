// The causal DotFun joins (causalfun.ts: EWFlag, MVRegister): a join merges
// the state's sorted store with the other's fresh entries (insertion-sorted
// when a few, appended and sorted when many), swaps the result in from a
// scratch store, and leaves the state unchanged when memory runs out.
import { Lattice } from "../lattice";
import { CausalFun } from "../causalfun";
import { MVRegister } from "../types/mvregister";
import { EWFlag } from "../types/ewflag";

const OP_SET: u8 = 0, OP_CLEAR: u8 = 1, OP_ENABLE: u8 = 0; // the types' op codes, as bytes
import { takeError, E_OUT_OF_MEMORY, E_TRAILING } from "../errors";
import { Reader, Writer } from "../codec";
import { ByteTable, setCapPages } from "../data/index";
import { enc, op, spec, readerOf } from "./helpers";

function mv(): MVRegister { return new MVRegister(spec(7)); }

// The store is sorted by (replica index, counter), strictly: find() and
// encode rely on it.
function storeSorted(s: CausalFun): bool {
  const a = s.store;
  for (let i = 1; i < a.count; i++) {
    const r0 = a.rep(i - 1), r1 = a.rep(i);
    if (r0 > r1 || (r0 == r1 && a.ctr(i - 1) >= a.ctr(i))) return false;
  }
  return true;
}

// n concurrent writes, one per replica id prefix + i, joined into one state.
function concurrent(prefix: string, n: i32): MVRegister {
  const x = mv();
  for (let i = 0; i < n; i++) {
    const w = mv();
    op(w, prefix + i.toString(), OP_SET, "v" + prefix + i.toString());
    x.join(w);
  }
  return x;
}

// a ⊔ x computed one decomposed part of x at a time (each a single dot).
function byParts(a: Lattice, x: Lattice): string {
  const c = a.clone();
  const parts = new Array<Lattice>();
  x.decompose(parts);
  for (let i = 0; i < parts.length; i++) c.join(parts[i]);
  return enc(c);
}

describe("CausalFun join", () => {
  it("a few fresh entries whose replicas are ordered differently there merge into a sorted store", () => {
    // a interns m before b; x interns z, b, m: x's order mapped into a's differs.
    const a = mv();
    op(a, "m", OP_SET, "am");
    const ab = mv(); op(ab, "b", OP_SET, "ab"); a.join(ab);
    const x = mv();
    op(x, "z", OP_SET, "xz");
    const xb = mv(); op(xb, "b", OP_SET, "x1"); op(xb, "b", OP_SET, "x2"); x.join(xb); // b:2 supersedes b:1
    const xm = mv(); op(xm, "m", OP_SET, "x3"); op(xm, "m", OP_SET, "x4"); x.join(xm);
    const want = byParts(a, x);
    const j = changetype<MVRegister>(a.clone());
    expect(j.join(x)).toBe(true);
    expect(storeSorted(j)).toBe(true);
    expect(enc(j)).toBe(want);
    expect(j.size()).toBe(3, "z:1, b:2, m:2");
    expect(j.join(x)).toBe(false, "idempotent");
    expect(x.leq(j)).toBe(true);
    expect(a.leq(j)).toBe(true);
  });

  it("many fresh entries (more than the insertion-sort threshold) take the sort path and agree", () => {
    const a = concurrent("q", 5);
    const x = concurrent("p", 40); // 40 fresh entries
    const want = byParts(a, x);
    const j = changetype<MVRegister>(a.clone());
    expect(j.join(x)).toBe(true);
    expect(storeSorted(j)).toBe(true);
    expect(enc(j)).toBe(want);
    expect(j.size()).toBe(45);
  });

  it("growing across the threshold one join at a time keeps the store sorted", () => {
    const a = mv();
    for (let i = 0; i < 40; i++) {
      const w = concurrent("r" + i.toString() + "-", (i % 3) + 1);
      a.join(w);
      expect(storeSorted(a)).toBe(true);
    }
    const b = concurrent("s", 33);
    a.join(b);
    expect(storeSorted(a)).toBe(true);
    expect(b.leq(a)).toBe(true);
  });

  it("a join that only drops entries, and one that changes nothing, report it", () => {
    const a = concurrent("d", 3);
    const x = changetype<MVRegister>(a.clone());
    op(x, "d0", OP_CLEAR);
    expect(a.join(x)).toBe(true);
    expect(a.size()).toBe(0);
    expect(a.join(x)).toBe(false);
    const f = new EWFlag(spec(4));
    op(f, "A", OP_ENABLE);
    const g = changetype<EWFlag>(f.clone());
    expect(f.join(g)).toBe(false);
  });

  it("a join that cannot get memory fails with OUT_OF_MEMORY and changes nothing", () => {
    // a holds 300 entries; y saw them all and overwrote them with one write,
    // so the join builds a new store (300 entries' worth of room, more than
    // the scratch store keeps between joins).
    const a = concurrent("o", 300);
    const y = changetype<MVRegister>(a.clone());
    op(y, "o5", OP_SET, "last");
    const before = enc(a);
    setCapPages(memory.size() + 8); // only the allocator's headroom: no small block fits
    const grew = a.join(y);
    setCapPages(0);
    expect(grew).toBe(false);
    expect(takeError()).toBe(E_OUT_OF_MEMORY);
    expect(enc(a)).toBe(before);
    expect(a.join(y)).toBe(true); // with room, the same join succeeds
    expect(a.size()).toBe(1);
    expect(enc(a)).toBe(enc(y));
  });
});

describe("ByteTable find on few keys", () => {
  it("finds every key and no other below, at and above the scan threshold", () => {
    const t = new ByteTable();
    const buf = memory.data(8);
    for (let n = 0; n < 12; n++) {
      // key i: i + 1 bytes of value i (so lengths differ and contents differ)
      for (let k = 0; k <= n; k++) store<u8>(buf + <usize>k, <u8>n);
      expect(t.add(buf, <usize>n + 1)).toBe(n);
      for (let i = 0; i <= n; i++) {
        for (let k = 0; k <= i; k++) store<u8>(buf + <usize>k, <u8>i);
        expect(t.find(buf, <usize>i + 1)).toBe(i);
        store<u8>(buf + <usize>i, <u8>(i + 100)); // same length, last byte differs
        expect(t.find(buf, <usize>i + 1)).toBe(-1);
      }
      expect(t.find(buf, 0)).toBe(-1);
    }
    t.free();
  });
});

// The body (no header) of s's encoding, as a reader over a copy.
function bodyOf(s: Lattice): Writer {
  const w = new Writer();
  s.encode(w);
  return w;
}

describe("CausalFun joinBody (scratch state reused across calls)", () => {
  it("equals join of the decoded state, across good, bad and trailing bodies", () => {
    const a = mv(), want = mv();
    for (let i = 0; i < 6; i++) {
      const x = concurrent("j" + i.toString() + "-", (i % 2) + 1);
      const w = bodyOf(x);
      expect(a.joinBody(readerOf(w))).toBe(1);
      want.join(x);
      expect(enc(a)).toBe(enc(want));
      expect(a.joinBody(readerOf(w))).toBe(0, "idempotent");
      // the same body cut short, then with a byte after it: refused, nothing changed
      const before = enc(a);
      const cut = new Reader(w.ptr, w.ptr + <usize>(w.pos - 1));
      expect(a.joinBody(cut)).toBeLessThan(0);
      w.u8(0);
      expect(a.joinBody(readerOf(w))).toBe(-E_TRAILING);
      expect(enc(a)).toBe(before);
    }
    // a flag's body beside a register's: each kind has its own scratch
    const f = new EWFlag(spec(4)), g = new EWFlag(spec(4));
    op(g, "A", OP_ENABLE);
    expect(f.joinBody(readerOf(bodyOf(g)))).toBe(1);
    expect(enc(f)).toBe(enc(g));
  });
});
