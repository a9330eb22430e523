// CausalContext (version vector + dot cloud) and the GCounter / AWSet joins.
import { Reader, Writer, keyBytes } from "../codec";
import { CausalContext } from "../dots";
import { Lattice, T_GCOUNTER, T_AWSET } from "../lattice";
import { GCounter, OP_INCREMENT } from "../types/gcounter";
import { AWSet, OP_ADD, OP_REMOVE, OP_CLEAR } from "../types/awset";
import { hexOf, spec, enc, op, stringValue } from "./helpers";

function ccHex(c: CausalContext): string {
  const w = new Writer();
  c.encode(w);
  return hexOf(w);
}

// vv[r] and whether r has cloud dots (the context's linear-memory layout).
function vvOf(c: CausalContext, r: string): u64 { const i = c.findRep(keyBytes(r), r.length); return i < 0 ? 0 : c.vvOf(i); }
function inCloud(c: CausalContext, r: string): bool { const i = c.findRep(keyBytes(r), r.length); return i >= 0 && c.ccount.get(i) > 0; }
function grew(c: CausalContext, o: CausalContext): bool { const g = c.join(o); expect<i32>(g).toBeGreaterThanOrEqual(0, "no exhaustion"); return g == 1; }

function ctx(r: string, dots: u64[]): CausalContext {
  const c = new CausalContext();
  for (let i = 0; i < dots.length; i++) c.add(r, dots[i]);
  return c;
}

describe("CausalContext", () => {
  it("compacts contiguous dots into the version vector", () => {
    const c = new CausalContext();
    expect<bool>(c.add("a", 1)).toBe(true);
    expect<bool>(c.add("a", 3)).toBe(true);
    expect<u64>(vvOf(c, "a")).toBe(1);
    expect<bool>(inCloud(c, "a")).toBe(true);
    expect<bool>(c.add("a", 2)).toBe(true);
    expect<u64>(vvOf(c, "a")).toBe(3);
    expect<bool>(inCloud(c, "a")).toBe(false, "cloud emptied by compaction");
    expect<bool>(c.add("a", 2)).toBe(false, "a seen dot is not new");
    expect<u64>(c.max("a")).toBe(3);
  });

  it("a dot far ahead stays in the cloud", () => {
    const c = ctx("a", [5]);
    expect<u64>(vvOf(c, "a")).toBe(0);
    expect<bool>(c.contains("a", 5)).toBe(true);
    expect<bool>(c.contains("a", 4)).toBe(false);
    expect<u64>(c.max("a")).toBe(5);
  });

  it("join is commutative, idempotent and reports growth", () => {
    const pairs: u64[][] = [[1, 2], [4], [1, 3], [2, 5, 6]];
    for (let i = 0; i < pairs.length; i++) {
      for (let j = 0; j < pairs.length; j++) {
        const x = ctx("a", pairs[i]); x.add("b", 1);
        const y = ctx("a", pairs[j]);
        const xy = x.clone(); grew(xy, y);
        const yx = y.clone(); grew(yx, x);
        expect<string>(ccHex(xy)).toBe(ccHex(yx), "commutative " + i.toString() + "," + j.toString());
        expect<bool>(grew(xy.clone(), y)).toBe(false, "idempotent");
        expect<bool>(xy.covers(x) && xy.covers(y)).toBe(true, "join is an upper bound");
      }
    }
  });

  it("join fills a gap and compacts", () => {
    const x = ctx("a", [1, 3, 4]);
    const y = ctx("a", [1, 2]);
    expect<bool>(grew(x, y)).toBe(true);
    expect<u64>(vvOf(x, "a")).toBe(4);
    expect<bool>(inCloud(x, "a")).toBe(false);
    expect<bool>(grew(x, y)).toBe(false);
  });

  it("covers is the subset order", () => {
    const small = ctx("a", [1, 2]);
    const big = ctx("a", [1, 2, 3]);
    const gap = ctx("a", [1, 3]);
    expect<bool>(big.covers(small)).toBe(true);
    expect<bool>(small.covers(big)).toBe(false);
    expect<bool>(big.covers(gap)).toBe(true);
    expect<bool>(gap.covers(small)).toBe(false, "dot a:2 is missing");
    expect<bool>(small.covers(new CausalContext())).toBe(true);
  });

  it("encodes canonically whatever the insertion order", () => {
    const x = new CausalContext();
    x.add("b", 2); x.add("a", 1); x.add("b", 7); x.add("a", 2);
    const y = new CausalContext();
    y.add("a", 2); y.add("b", 7); y.add("a", 1); y.add("b", 2);
    expect<string>(ccHex(x)).toBe(ccHex(y));
  });
});

function counter(vals: i32[]): GCounter {
  const g = new GCounter(spec(T_GCOUNTER));
  const reps = ["a", "b", "c"];
  for (let i = 0; i < vals.length; i++) if (vals[i] > 0) g.setAt(reps[i], <u64>vals[i]);
  return g;
}

describe("GCounter", () => {
  it("joins pointwise by max, commutatively", () => {
    const cases: i32[][] = [[0, 0, 0], [1, 0, 0], [3, 1, 0], [0, 2, 5], [3, 2, 5]];
    for (let i = 0; i < cases.length; i++) {
      for (let j = 0; j < cases.length; j++) {
        const ab = counter(cases[i]); ab.join(counter(cases[j]));
        const ba = counter(cases[j]); ba.join(counter(cases[i]));
        expect<string>(enc(ab)).toBe(enc(ba));
        expect<bool>(ab.clone().join(counter(cases[j]))).toBe(false, "idempotent");
        expect<bool>(counter(cases[i]).leq(ab)).toBe(true);
      }
    }
    const x = counter([3, 1, 0]);
    x.join(counter([0, 2, 5]));
    expect<u64>(x.total()).toBe(10);
  });

  it("an increment on one replica is a strict inflation", () => {
    const g = counter([0, 0, 0]);
    expect<bool>(op(g, "a", <u8>OP_INCREMENT)).toBe(false, "an op without its count is rejected");
    const w = new Writer();
    w.u8(<u8>OP_INCREMENT); w.varint(4);
    const d = g.op(new Reader(w.ptr, w.ptr + <usize>w.pos), "a", false, 0);
    expect<bool>(d !== null && g.join(d)).toBe(true);
    expect<u64>(g.total()).toBe(4);
  });

  it("delta keeps only the entries that inflate the other", () => {
    const a = counter([3, 1, 5]);
    const b = counter([3, 2, 0]);
    const d = a.deltaFrom(b);
    expect<string>(enc(d)).toBe(enc(counter([0, 0, 5])));
    const ab = a.clone(); ab.join(b);
    const db = d.clone(); db.join(b);
    expect<string>(enc(db)).toBe(enc(ab), "delta(a, b) ⊔ b = a ⊔ b");
  });
});

function awset(): AWSet { return new AWSet(spec(T_AWSET)); }

function copy(s: AWSet): AWSet { return changetype<AWSet>(s.clone()); }

function joined(x: Lattice, y: Lattice): Lattice { const z = x.clone(); z.join(y); return z; }

// Bottom, single adds on two replicas, an observed remove, a clear: small
// states that exercise every branch of the join.
function smallStates(): Array<AWSet> {
  const s = new Array<AWSet>();
  s.push(awset());
  const a = awset(); op(a, "A", <u8>OP_ADD, "x"); s.push(a);
  const b = awset(); op(b, "B", <u8>OP_ADD, "x"); op(b, "B", <u8>OP_ADD, "y"); s.push(b);
  const c = copy(a); op(c, "C", <u8>OP_REMOVE, "x"); op(c, "C", <u8>OP_ADD, "z"); s.push(c);
  const d = copy(b); op(d, "B", <u8>OP_CLEAR); s.push(d);
  return s;
}

describe("AWSet", () => {
  it("add wins over a concurrent remove", () => {
    const a = awset();
    op(a, "A", <u8>OP_ADD, "x");
    const b = copy(a);
    op(b, "B", <u8>OP_REMOVE, "x");  // B removes the add it saw
    op(a, "A", <u8>OP_ADD, "x");     // A adds x again, concurrently
    expect<i32>(b.has(stringValue("x"))).toBe(0);
    const ab = joined(a, b), ba = joined(b, a);
    expect<i32>(ab.has(stringValue("x"))).toBe(1, "the unseen add survives");
    expect<string>(enc(ab)).toBe(enc(ba));
  });

  it("a remove of every observed add removes the element", () => {
    const a = awset();
    op(a, "A", <u8>OP_ADD, "x");
    const b = copy(a);
    op(b, "B", <u8>OP_REMOVE, "x");
    const ab = joined(a, b);
    expect<i32>(ab.has(stringValue("x"))).toBe(0);
    expect<i32>(ab.size()).toBe(0);
    expect<bool>(a.leq(ab)).toBe(true);
    expect<bool>(ab.leq(a)).toBe(false, "the remove is news to A");
  });

  it("joins small states commutatively, associatively and idempotently", () => {
    const s = smallStates();
    for (let i = 0; i < s.length; i++) {
      expect<string>(enc(joined(s[i], s[i]))).toBe(enc(s[i]), "idempotent");
      for (let j = 0; j < s.length; j++) {
        const ij = joined(s[i], s[j]);
        expect<string>(enc(ij)).toBe(enc(joined(s[j], s[i])), "commutative " + i.toString() + "," + j.toString());
        expect<bool>(s[i].leq(ij) && s[j].leq(ij)).toBe(true, "upper bound");
        for (let k = 0; k < s.length; k++) {
          expect<string>(enc(joined(ij, s[k]))).toBe(enc(joined(s[i], joined(s[j], s[k]))), "associative");
        }
      }
    }
  });

  // The generic delta (join of the irreducible parts of a not below b) built
  // from decompose and leq: checks those two, and is the reference the
  // specialised deltaFrom must agree with.
  it("decompose/leq delta: delta(a, b) ⊔ b = a ⊔ b on small states", () => {
    const s = smallStates();
    for (let i = 0; i < s.length; i++) {
      const parts = new Array<Lattice>();
      s[i].decompose(parts);
      let whole: Lattice = awset();
      for (let p = 0; p < parts.length; p++) whole.join(parts[p]);
      expect<string>(enc(whole)).toBe(enc(s[i]), "decompose then join gives the state back");
      for (let j = 0; j < s.length; j++) {
        const d: Lattice = awset();
        for (let p = 0; p < parts.length; p++) if (!parts[p].leq(s[j])) d.join(parts[p]);
        expect<string>(enc(joined(d, s[j]))).toBe(enc(joined(s[i], s[j])), "pair " + i.toString() + "," + j.toString());
      }
    }
  });

  // KNOWN BUGS in types/awset.ts deltaFrom (reported, not fixed here: not this
  // file's owner). (1) It sends a's whole vv entry for a replica where b is
  // behind, which tells b that a has seen, and so removed, b's elements with
  // lower dots: b loses them. (2) It omits the dots a has removed that b still
  // stores, so b keeps removed elements. Un-skip once deltaFrom is fixed.
  it("deltaFrom of adds: delta(a, b) ⊔ b = a ⊔ b", () => {
    const a = awset(); op(a, "A", <u8>OP_ADD, "x"); op(a, "A", <u8>OP_ADD, "y");
    const b = copy(a); op(b, "B", <u8>OP_ADD, "x"); op(b, "B", <u8>OP_ADD, "w");
    op(a, "A", <u8>OP_ADD, "z");
    expect<string>(enc(joined(a.deltaFrom(b), b))).toBe(enc(joined(a, b)));
  });

  it("deltaFrom carries removals: delta(c, a) ⊔ a = c ⊔ a", () => {
    const a = awset(); op(a, "A", <u8>OP_ADD, "x");
    const c = copy(a); op(c, "C", <u8>OP_REMOVE, "x"); op(c, "C", <u8>OP_ADD, "z");
    expect<string>(enc(joined(c.deltaFrom(a), a))).toBe(enc(joined(c, a)));
  });
});
