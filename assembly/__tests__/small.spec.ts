// The small types on the data layer (types/{maxint,ivar,lwwregister,topk}):
// TopK's two join paths agree, flat registers free idempotently, and a join
// that cannot get memory changes nothing.
import { Writer } from "../codec";
import { Lattice } from "../lattice";
import { readSpec } from "../registry";
import { takeError, E_OUT_OF_MEMORY } from "../errors";
import { setCapPages } from "../data/index";
import { TopK } from "../types/topk";
import { LWWRegister } from "../types/lwwregister";
import { bytes, readerOf, enc, spec } from "./helpers";

function topk(k: u8, ids: string, scores: u8[]): TopK {
  const t = new TopK(readSpec(readerOf(bytes([15, k])), 0));
  // body := count (id:value score)*, ids one letter each, given in order
  const w = new Writer();
  w.varint(<u64>ids.length);
  for (let i = 0; i < ids.length; i++) { w.u8(3); w.u8(6); w.u8(ids.charCodeAt(i)); w.u8(0); w.varint(<u64>scores[i]); }
  const r = readerOf(w);
  t.decode(r, 0);
  expect(r.ok).toBe(true);
  return t;
}

describe("TopK", () => {
  it("a large join (merge, rank once) equals joining the same entries one at a time", () => {
    const a = topk(10, "abcdefghij", [50, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const b = topk(10, "bcklmnopqr", [60, 0, 10, 11, 12, 13, 14, 15, 16, 1]);
    const bulk = changetype<TopK>(a.clone());
    expect(bulk.join(b)).toBe(true); // > 8 entries: the merge path
    const parts = new Array<Lattice>();
    b.decompose(parts);
    const one = changetype<TopK>(a.clone());
    for (let i = 0; i < parts.length; i++) one.join(parts[i]);
    expect(enc(bulk)).toBe(enc(one));
    // per id the max (b: 60, c: 2), then the 10 best by (score desc, id asc)
    expect(enc(bulk)).toBe(enc(topk(10, "abjklmnopq", [50, 60, 9, 10, 11, 12, 13, 14, 15, 16])));
    expect(bulk.join(b)).toBe(false); // idempotent
    expect(b.leq(bulk)).toBe(true);   // what was evicted ranks below the last
    expect(a.leq(bulk)).toBe(true);
  });

  it("a large join where nothing that rose survives reports no change", () => {
    const a = topk(9, "abcdefghi", [50, 51, 52, 53, 54, 55, 56, 57, 58]);
    const b = topk(9, "jklmnopqr", [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const before = enc(a);
    expect(a.join(b)).toBe(false);
    expect(enc(a)).toBe(before);
  });
});

describe("flat registers", () => {
  it("free twice is harmless, and a freed register is bottom", () => {
    const r = new LWWRegister(spec(6));
    const w = new Writer();
    w.u8(1); w.varint(7); w.u8(1); w.u8(0x61); w.u8(2); w.u8(5); w.u8(0); // the number 0
    r.decode(readerOf(w), 0);
    expect(r.isBottom()).toBe(false);
    r.free();
    r.free();
    expect(r.isBottom()).toBe(true);
  });

  it("a join that cannot get memory fails with OUT_OF_MEMORY and changes nothing", () => {
    const a = new LWWRegister(spec(6)), b = new LWWRegister(spec(6));
    const w = new Writer();
    const big = 1 << 19; // a 512 KiB value (values are at most 1 MiB): more than the cap below leaves
    w.u8(1); w.varint(9); w.u8(1); w.u8(0x62); w.varint(<u64>big + 2); w.u8(7); // tag, bytes, terminator
    for (let i = 0; i < big; i++) w.u8(0x41);
    w.u8(0);
    b.decode(readerOf(w), 0);
    expect(b.isBottom()).toBe(false);
    const before = enc(a);
    setCapPages(memory.size() + 12); // 4 pages beyond the allocator's 8 of headroom
    const grew = a.join(b);
    setCapPages(0);
    expect(grew).toBe(false);
    expect(takeError()).toBe(E_OUT_OF_MEMORY);
    expect(enc(a)).toBe(before);
    expect(a.join(b)).toBe(true); // with room, the same join succeeds
  });
});
