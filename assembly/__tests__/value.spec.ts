// User values (docs/format.md, "User values"): skipValue accepts exactly the
// canonical encoding, and byte order is the values' natural order.
import { Writer, skipValue } from "../codec";
import { E_BAD_VALUE } from "../errors";
import { bytes, readerOf, numberValue, hexOf } from "./helpers";

// Whether a is exactly one canonical value.
function ok(a: u8[]): bool {
  const w = bytes(a);
  return skipValue(w.ptr, w.ptr + <usize>w.pos, 0) == w.ptr + <usize>w.pos;
}

function num(f: f64): Writer { const w = new Writer(); numberValue(w, f); return w; }

function cmp(a: Writer, b: Writer): i32 {
  const n = min(a.pos, b.pos);
  for (let i = 0; i < n; i++) {
    const x = <i32>load<u8>(a.ptr + i), y = <i32>load<u8>(b.ptr + i);
    if (x != y) return x - y;
  }
  return a.pos - b.pos;
}

describe("user values: canonical numbers", () => {
  it("accepts the worked examples", () => {
    expect(hexOf(num(5))).toBe("058114");
    expect(hexOf(num(0))).toBe("0500");
    expect(hexOf(num(-0.0))).toBe("0500");
    expect(hexOf(num(-1))).toBe("04800f");
    expect(ok([5, 0x81, 0x14])).toBe(true);
    expect(ok([5, 0])).toBe(true);
    expect(ok([5, 0xff, 0xf8])).toBe(true, "the one NaN");
    expect(ok([5, 0xff, 0xf0])).toBe(true, "+Infinity");
    expect(ok([4, 0x00, 0x0f])).toBe(true, "-Infinity");
  });

  it("refuses padding, a 10th byte, -0, other NaNs and truncation", () => {
    expect(ok([5, 0x81, 0x00])).toBe(false, "a final group of 0 after the first");
    expect(ok([5, 0x01, 0x00])).toBe(false, "zero written in two bytes");
    expect(ok([4, 0xff])).toBe(false, "negative zero");
    expect(ok([4, 0x7e, 0xff])).toBe(false, "inverted padding");
    expect(ok([5, 0xff, 0xf1, 0x02])).toBe(false, "a NaN with payload");
    expect(ok([4, 0x00, 0x07])).toBe(false, "a negative NaN");
    expect(ok([5, 0x81])).toBe(false, "more set on the last byte");
    expect(ok([5])).toBe(false, "no magnitude");
    const ten: u8[] = [5];
    for (let i = 0; i < 9; i++) ten.push(0x03);
    ten.push(0x02);
    expect(ok(ten)).toBe(false, "more set on the 9th byte");
  });

  it("orders numbers numerically", () => {
    const xs: f64[] = [-Infinity, -1e300, -2.5, -1, -5e-324, 0, 5e-324, 1, 2.5, 10, 2 ** 53, 1e300, Infinity, NaN];
    for (let i = 1; i < xs.length; i++) expect(cmp(num(xs[i - 1]), num(xs[i])) < 0).toBe(true, xs[i].toString());
  });
});

describe("user values: strings, bytes, arrays, objects", () => {
  it("accepts escaped NULs and well-formed UTF-8", () => {
    expect(ok([6, 0x61, 0x00, 0xff, 0x62, 0x00])).toBe(true);
    expect(ok([6, 0xf0, 0x9f, 0x98, 0x80, 0x00])).toBe(true, "an astral character");
    expect(ok([7, 0xff, 0x00, 0xff, 0x00])).toBe(true, "bytes need not be UTF-8");
    expect(ok([8, 1, 6, 0, 8, 0, 0])).toBe(true, "[null, \"\", []]");
    expect(ok([9, 6, 0x61, 0, 1, 6, 0x62, 0, 2, 0])).toBe(true, "{a: null, b: false}");
  });

  it("refuses malformed text", () => {
    expect(ok([6, 0x61])).toBe(false, "no terminator");
    expect(ok([6, 0x00, 0xff])).toBe(false, "an escape without terminator");
    expect(ok([6, 0xff, 0x00])).toBe(false, "not UTF-8");
    expect(ok([6, 0xc0, 0x80, 0x00])).toBe(false, "overlong");
    expect(ok([6, 0xed, 0xa0, 0x80, 0x00])).toBe(false, "a surrogate");
    expect(ok([6, 0xe2, 0x00, 0xff, 0x82, 0x00])).toBe(false, "an escape inside a character");
  });

  it("refuses unterminated arrays and objects, bad keys and key order", () => {
    expect(ok([8, 1])).toBe(false);
    expect(ok([9, 6, 0x61, 0, 1])).toBe(false);
    expect(ok([9, 5, 0, 1, 0])).toBe(false, "a key that is not a string");
    expect(ok([9, 6, 0x62, 0, 1, 6, 0x61, 0, 1, 0])).toBe(false, "keys out of order");
    expect(ok([9, 6, 0x61, 0, 1, 6, 0x61, 0, 1, 0])).toBe(false, "a repeated key");
  });

  it("refuses tag 0, unknown tags and depth beyond 64", () => {
    expect(ok([0])).toBe(false);
    expect(ok([10])).toBe(false);
    const deep: u8[] = [];
    for (let i = 0; i < 66; i++) deep.push(8);
    for (let i = 0; i < 66; i++) deep.push(0);
    expect(ok(deep)).toBe(false);
    const fine: u8[] = [];
    for (let i = 0; i < 65; i++) fine.push(8);
    for (let i = 0; i < 65; i++) fine.push(0);
    expect(ok(fine)).toBe(true, "64 levels below the top one");
  });

  it("a Reader refuses a non-canonical element with BAD_VALUE", () => {
    const r = readerOf(bytes([3, 5, 0x81, 0x00]));
    r.value();
    expect(r.err).toBe(E_BAD_VALUE);
  });
});
