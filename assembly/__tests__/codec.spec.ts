// Varint codec and Reader bounds: canonical round trips, hostile bytes set an
// error code and never trap.
import { Reader, Writer } from "../codec";
import { E_TRUNCATED, E_NONCANONICAL, E_TOO_LARGE, E_BAD_MAGIC, MAX_KEY } from "../errors";
import { readState } from "../state";
import { T_AWSET } from "../lattice";
import { AWSet, OP_ADD } from "../types/awset";
import { bytes, readerOf, spec, op } from "./helpers";
import { Writer as W } from "../codec";
import { writeState } from "../state";

function roundTrip(v: u64, size: i32): void {
  const w = new Writer();
  w.varint(v);
  expect<i32>(w.pos).toBe(size, "encoded length of " + v.toString());
  const r = readerOf(w);
  expect<u64>(r.varint()).toBe(v);
  expect<i32>(r.err).toBe(0);
  expect<bool>(r.done).toBe(true);
}

function varintErr(a: u8[]): i32 {
  const r = readerOf(bytes(a));
  const v = r.varint();
  expect<u64>(v).toBe(0, "a failed read returns 0");
  expect<bool>(r.done).toBe(true, "a failed read consumes the rest");
  return r.err;
}

describe("varint", () => {
  it("round-trips boundary values in the shortest form", () => {
    roundTrip(0, 1);
    roundTrip(1, 1);
    roundTrip(127, 1);
    roundTrip(128, 2);
    roundTrip(300, 2);
    roundTrip(16383, 2);
    roundTrip(16384, 3);
    roundTrip(0xffffffff, 5);
    roundTrip(<u64>1 << 63, 10);
    roundTrip(U64.MAX_VALUE, 10);
  });

  it("rejects padded encodings", () => {
    expect<i32>(varintErr([0x80, 0x00])).toBe(E_NONCANONICAL);
    expect<i32>(varintErr([0x81, 0x00])).toBe(E_NONCANONICAL);
    expect<i32>(varintErr([0xff, 0x80, 0x00])).toBe(E_NONCANONICAL);
  });

  it("rejects overlong encodings", () => {
    // tenth byte above 1 overflows 64 bits
    expect<i32>(varintErr([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])).toBe(E_TOO_LARGE);
    // more than ten bytes
    expect<i32>(varintErr([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x00])).toBe(E_TOO_LARGE);
  });

  it("reports truncation", () => {
    expect<i32>(varintErr([])).toBe(E_TRUNCATED);
    expect<i32>(varintErr([0x80])).toBe(E_TRUNCATED);
    expect<i32>(varintErr([0xff, 0xff])).toBe(E_TRUNCATED);
  });
});

describe("Reader bounds", () => {
  it("u8 past the end sets TRUNCATED and returns 0", () => {
    const r = readerOf(bytes([7]));
    expect<u32>(r.u8()).toBe(7);
    expect<u32>(r.u8()).toBe(0);
    expect<i32>(r.err).toBe(E_TRUNCATED);
  });

  it("the first error wins and later reads stay at the end", () => {
    const r = readerOf(bytes([0x80, 0x00, 5]));
    r.varint();
    expect<i32>(r.err).toBe(E_NONCANONICAL);
    r.u8();
    expect<i32>(r.err).toBe(E_NONCANONICAL);
    expect<bool>(r.done).toBe(true);
  });

  it("a key longer than the input is TRUNCATED, not read", () => {
    const r = readerOf(bytes([5, 0x61, 0x62]));
    expect<string>(r.key()).toBe("");
    expect<i32>(r.err).toBe(E_TRUNCATED);
  });

  it("a key over MAX_KEY is TOO_LARGE before any allocation", () => {
    const w = new Writer();
    w.varint(<u64>MAX_KEY + 1);
    const r = readerOf(w);
    r.key();
    expect<i32>(r.err).toBe(E_TOO_LARGE);
  });

  it("reads a key as one code unit per byte", () => {
    const r = readerOf(bytes([3, 0x61, 0xff, 0x00]));
    const k = r.key();
    expect<i32>(k.length).toBe(3);
    expect<i32>(k.charCodeAt(1)).toBe(0xff);
    expect<bool>(r.done).toBe(true);
  });

  it("a count beyond what the remaining bytes can hold is TOO_LARGE", () => {
    const r = readerOf(bytes([10, 1, 2, 3]));
    expect<i32>(r.count(1)).toBe(0);
    expect<i32>(r.err).toBe(E_TOO_LARGE);
    const ok = readerOf(bytes([3, 1, 2, 3]));
    expect<i32>(ok.count(1)).toBe(3);
    expect<i32>(ok.err).toBe(0);
  });
});

describe("readState on hostile bytes", () => {
  it("every strict prefix of a valid state fails with an error code", () => {
    const s = new AWSet(spec(T_AWSET));
    op(s, "a", <u8>OP_ADD, "x");
    op(s, "b", <u8>OP_ADD, "y");
    const w = new W();
    writeState(w, s);
    for (let n = 0; n < w.pos; n++) {
      const r = new Reader(w.ptr, w.ptr + <usize>n);
      const v = readState(r);
      expect<bool>(v === null || !r.ok || !r.done).toBe(true, "prefix " + n.toString());
      expect<bool>(r.ok).toBe(false, "prefix " + n.toString() + " must fail");
    }
    const full = new Reader(w.ptr, w.ptr + <usize>w.pos);
    expect<bool>(readState(full) !== null).toBe(true);
    expect<bool>(full.done).toBe(true);
  });

  it("wrong magic is BAD_MAGIC", () => {
    const r = readerOf(bytes([0x54, 0x53, 1, 1, 0]));
    expect<bool>(readState(r) === null).toBe(true);
    expect<i32>(r.err).toBe(E_BAD_MAGIC);
  });
});
