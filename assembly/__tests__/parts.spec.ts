// The streaming decomposition (parts.ts) against the object decompose it
// replaced in the kernel exports: the same parts, byte for byte, in the same
// order; and the counting pass agrees with the walk.
import { Reader, Writer } from "../codec";
import { Lattice, T_AWSET, T_ORSET } from "../lattice";
import { AWSet, OP_ADD, OP_REMOVE, OP_CLEAR } from "../types/awset";
import { ORSet } from "../types/orset";
import { writeState } from "../state";
import { walk, MODE_PARTS, MODE_COUNT } from "../parts";
import { writeCompact } from "../compact";
import { hexOf, spec, op } from "./helpers";

function walked(v: Lattice): Array<string> {
  const s = new Writer();
  writeState(s, v);
  const o = new Writer();
  const n = walk(s.ptr, s.pos, v.spec, MODE_PARTS, o, 0, 1 << 30);
  const out = new Array<string>();
  const r = new Reader(o.ptr, o.ptr + <usize>o.pos);
  for (let i: i64 = 0; i < n; i++) {
    const len = <i32>r.varint();
    const w = new Writer();
    w.raw(r.p, len);
    r.p += <usize>len;
    out.push(hexOf(w));
  }
  return out;
}

function counted(v: Lattice): i64 {
  const s = new Writer();
  writeState(s, v);
  return walk(s.ptr, s.pos, v.spec, MODE_COUNT, new Writer(), 0, 0);
}

function objectParts(v: Lattice): Array<string> {
  const parts = new Array<Lattice>();
  v.decompose(parts);
  const out = new Array<string>();
  // parts leave the walk compact (v2), as encode writes them
  for (let i = 0; i < parts.length; i++) { const w = new Writer(); writeCompact(w, parts[i]); out.push(hexOf(w)); }
  return out;
}

function same(v: Lattice, what: string): void {
  const a = walked(v), b = objectParts(v);
  expect<i32>(a.length).toBe(b.length, what + ": part count");
  for (let i = 0; i < a.length; i++) expect<string>(a[i]).toBe(b[i], what + ": part " + i.toString());
  expect<i64>(counted(v)).toBe(<i64>b.length, what + ": counting pass");
}

describe("parts.ts walk", () => {
  it("AWSet: store dots, then context-only dots from the version vector and the cloud", () => {
    const a = new AWSet(spec(T_AWSET));
    same(a, "bottom");
    op(a, "A", <u8>OP_ADD, "x"); op(a, "A", <u8>OP_ADD, "y"); op(a, "B", <u8>OP_ADD, "x");
    same(a, "adds");
    op(a, "A", <u8>OP_REMOVE, "y");
    same(a, "a remove");
    const far = new AWSet(spec(T_AWSET));
    op(far, "C", <u8>OP_ADD, "p"); op(far, "C", <u8>OP_ADD, "q"); op(far, "C", <u8>OP_ADD, "r");
    // a cloud: C's third dot without its first two
    const only3 = new AWSet(spec(T_AWSET));
    const parts = new Array<Lattice>();
    far.decompose(parts);
    only3.join(parts[parts.length - 1]);
    a.join(only3);
    same(a, "with a cloud dot");
    op(a, "B", <u8>OP_CLEAR);
    same(a, "cleared");
  });

  it("ORSet tokens", () => {
    const o = new ORSet(spec(T_ORSET));
    op(o, "A", <u8>0, "x"); op(o, "B", <u8>0, "x"); op(o, "A", <u8>0, "y"); op(o, "A", <u8>1, "x");
    same(o, "orset");
  });
});
