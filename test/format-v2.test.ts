// The compact form (docs/format.md; versions 2 and 3 share it): its canonical
// refusals (replica table, timestamp base, front-coded keys), versions 1 and 2
// still decoding for every type, and the kernel's version 3 against a separate
// TypeScript compaction (test/model/compact.ts) of the models' expanded layout.
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { init, decodeState, TrellisError } from "../dist/host/index.node.js";
import { encodeValue } from "../dist/host/crdt/value.js";
import { v1Layout } from "../dist/host/crdt/layout.js";
import { encodeModel, encodeModelV1 } from "./model/common.js";
import { compactV1 } from "./model/compact.js";
import { legacyOf } from "./model/legacy.js";
import { fixtures } from "./util/fixtures.js";

beforeAll(async () => { await init(); });

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const utf8 = (s: string) => [...new TextEncoder().encode(s)];
const varint = (n: bigint | number): number[] => {
  let x = BigInt(n);
  const out: number[] = [];
  while (x >= 0x80n) { out.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
  out.push(Number(x));
  return out;
};
const bytes = (b: number[]) => [...varint(b.length), ...b];
const rep = (s: string) => bytes(utf8(s));
const val = (v: string) => [...encodeValue(v)];
const HEAD = [0x54, 0x52, 3];

function codeOf(b: number[]): string {
  try {
    decodeState(Uint8Array.from(b), "me").dispose();
    return "OK";
  } catch (e) {
    expect(e).toBeInstanceOf(TrellisError);
    return (e as TrellisError).code;
  }
}

// Decoding and re-encoding gives the same bytes.
function roundTrips(b: number[]): boolean {
  const s = decodeState(Uint8Array.from(b), "me");
  try { return hex(s.encode()) === hex(Uint8Array.from(b)); } finally { s.dispose(); }
}

describe("replica table", () => {
  // GCounter {A: 5, B: 3}
  const good = [...HEAD, 1, 2, ...rep("A"), ...rep("B"), 2, 0, 5, 1, 3];
  it("a canonical table decodes and re-encodes byte for byte", () => {
    expect(codeOf(good)).toBe("OK");
    expect(roundTrips(good)).toBe(true);
  });
  it("refuses an unsorted table", () => {
    expect(codeOf([...HEAD, 1, 2, ...rep("B"), ...rep("A"), 2, 1, 5, 0, 3])).toBe("NONCANONICAL");
  });
  it("refuses a duplicate entry", () => {
    expect(codeOf([...HEAD, 1, 2, ...rep("A"), ...rep("A"), 2, 0, 5, 1, 3])).toBe("NONCANONICAL");
  });
  it("refuses an entry no body part references", () => {
    expect(codeOf([...HEAD, 1, 2, ...rep("A"), ...rep("B"), 1, 0, 5])).toBe("NONCANONICAL");
  });
  it("refuses an index past the table", () => {
    expect(codeOf([...HEAD, 1, 1, ...rep("A"), 1, 1, 5])).toBe("INVALID");
  });
  it("refuses an entry that is not UTF-8, or longer than 255 bytes", () => {
    expect(codeOf([...HEAD, 1, 1, ...bytes([0xff]), 1, 0, 5])).toBe("BAD_VALUE");
    expect(codeOf([...HEAD, 1, 1, ...bytes(new Array(256).fill(0x61)), 1, 0, 5])).toBe("TOO_LARGE");
  });
  it("a body's order is by replica id: the parser still refuses entries out of order", () => {
    expect(codeOf([...HEAD, 1, 2, ...rep("A"), ...rep("B"), 2, 1, 3, 0, 5])).toBe("NONCANONICAL");
  });
});

describe("timestamp base", () => {
  // LWWRegister set at `ts` by A to "x": base, then the difference.
  const lww = (base: bigint | number, d: bigint | number) =>
    [...HEAD, 6, 1, ...rep("A"), ...varint(base), 1, ...varint(d), 0, ...bytes(val("x"))];
  it("the base is the least timestamp", () => {
    expect(codeOf(lww(1_700_000_000_000, 0))).toBe("OK");
    expect(roundTrips(lww(1_700_000_000_000, 0))).toBe(true);
    expect(codeOf(lww(1_700_000_000_000, 1))).toBe("NONCANONICAL");
  });
  it("a state without timestamps has base 0", () => {
    expect(codeOf([...HEAD, 6, 0, 0, 0])).toBe("OK");
    expect(codeOf([...HEAD, 6, 0, 3, 0])).toBe("NONCANONICAL");
  });
  it("refuses a timestamp that reaches 2^64 − 1", () => {
    expect(codeOf(lww(2n ** 64n - 2n, 1))).toBe("OVERFLOW");
    expect(codeOf(lww(2n ** 64n - 2n, 0))).toBe("OK");
  });
  it("writes the least timestamp once and the others above it", () => {
    const v1 = Uint8Array.from([0x54, 0x52, 1, 12, 6, 2,
      ...bytes(val("a")), 1, ...varint(1_700_000_000_005), ...rep("A"), ...bytes(val("x")),
      ...bytes(val("b")), 1, ...varint(1_700_000_000_000), ...rep("A"), ...bytes(val("y"))]);
    const m = decodeState(legacyOf(v1, 1), "A");
    const out = [...m.encode()];
    m.dispose();
    const base = varint(1_700_000_000_000);
    expect(out.slice(0, 8 + base.length)).toEqual([...HEAD, 12, 6, 1, ...rep("A"), ...base]);
    expect(hex(Uint8Array.from(out))).toBe(hex(compactV1(v1)));
  });
});

describe("front-coded keys", () => {
  const gset = (keys: number[][]) => [...HEAD, 8, 0, ...varint(keys.length), ...keys.flat()];
  // A key is written from `shared` on, without its final 0x00 (version 3).
  const key = (shared: number, full: number[]) => [...varint(shared), ...bytes(full.slice(shared, full[full.length - 1] === 0 ? -1 : undefined))];
  const raw = (shared: number, suffix: number[]) => [...varint(shared), ...bytes(suffix)];
  const a = val("ab"), b = val("ac");
  const lcp = (x: number[], y: number[]) => { let l = 0; while (l < x.length && l < y.length && x[l] === y[l]) l++; return l; };
  const l = lcp(a, b);

  it("the shared prefix is the longest common one", () => {
    const ok = gset([key(0, a), key(l, b)]);
    expect(ok).toEqual([...HEAD, 8, 0, 2, 0, 3, 6, 0x61, 0x62, 2, 1, 0x63]);
    expect(codeOf(ok)).toBe("OK");
    expect(roundTrips(ok)).toBe(true);
  });
  it("refuses a shorter shared prefix", () => {
    expect(codeOf(gset([key(0, a), key(l - 1, b)]))).toBe("NONCANONICAL");
  });
  it("refuses a shared prefix longer than the key before (or any on the first key)", () => {
    expect(codeOf(gset([key(1, a)]))).toBe("NONCANONICAL");
    expect(codeOf(gset([key(0, a), raw(a.length + 1, [0x61])]))).toBe("NONCANONICAL");
  });
  it("refuses a repeated or smaller key, one that is not a user value, and one written with its final 0x00", () => {
    expect(codeOf(gset([key(0, a), raw(a.length - 1, [])]))).toBe("NONCANONICAL");
    expect(codeOf(gset([key(0, b), key(l, a)]))).toBe("NONCANONICAL");
    expect(codeOf(gset([key(0, a), raw(a.length, [0x61])]))).toBe("BAD_VALUE"); // "ab" 00 "a" 00
    expect(codeOf(gset([raw(0, a)]))).toBe("BAD_VALUE"); // "ab" 00 00: a value and a byte more
    expect(codeOf(gset([raw(0, [5, 0])]))).toBe("NONCANONICAL"); // the number 0 is written 05
    expect(codeOf(gset([raw(0, [5])]))).toBe("OK");
    expect(codeOf(gset([raw(0, [1]), raw(0, [5])]))).toBe("OK"); // null, 0
  });
  it("shares at most 255 bytes", () => {
    const x = val("x".repeat(300) + "a"), y = val("x".repeat(300) + "b");
    expect(lcp(x, y)).toBeGreaterThan(255);
    expect(codeOf(gset([key(0, x), key(255, y)]))).toBe("OK");
    expect(roundTrips(gset([key(0, x), key(255, y)]))).toBe(true);
    expect(codeOf(gset([key(0, x), key(256, y)]))).toBe("NONCANONICAL");
    expect(codeOf(gset([key(0, x), key(254, y)]))).toBe("NONCANONICAL");
  });
});

// Inputs from 16 KiB up are expanded in two passes (assembly/compact.ts): one
// that only measures, then one that writes into a block of exactly that size
// and checks what needs the key before (maximal prefixes). Both passes must
// refuse what the one-pass path refuses, and agree with it on good input.
describe("large inputs (measured, then expanded)", () => {
  const lcp = (x: number[], y: number[]) => { let l = 0; while (l < x.length && l < y.length && x[l] === y[l]) l++; return l; };
  const keys = Array.from({ length: 6000 }, (_, i) => val("item-" + String((i * 7919) % 100_000).padStart(6, "0") + "x".repeat(i % 5)));
  keys.sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  // the GSet of those keys in v2, the key at index `cut` with one byte too few shared
  const gsetV2 = (cut = -1) => [...HEAD, 8, 0, ...varint(keys.length), ...keys.flatMap((k, i) => {
    const l = (i > 0 ? lcp(keys[i - 1], k) : 0) - (i === cut ? 1 : 0);
    return [...varint(l), ...bytes(k.slice(l, -1))]; // the final 0x00 left out
  })];
  const good = gsetV2();
  const v1 = Uint8Array.from([0x54, 0x52, 1, 8, ...varint(keys.length), ...keys.flatMap((k) => bytes(k))]);

  it("decode and re-encode byte for byte, as the v1 bytes of the same state", () => {
    expect(good.length).toBeGreaterThan(16 << 10);
    expect(hex(compactV1(v1))).toBe(hex(Uint8Array.from(good)));
    expect(roundTrips(good)).toBe(true);
    const s = decodeState(legacyOf(v1, 1), "me");
    try {
      expect(s.merge(Uint8Array.from(good))).toBe(false);
      expect(hex(s.encode())).toBe(hex(Uint8Array.from(good)));
    } finally { s.dispose(); }
  });
  it("refuse a non-maximal prefix anywhere, a truncation and trailing bytes", () => {
    expect(codeOf(gsetV2(keys.length - 1))).toBe("NONCANONICAL");
    expect(codeOf(gsetV2(3000))).toBe("NONCANONICAL");
    expect(codeOf(good.slice(0, -1))).toBe("TRUNCATED");
    expect(codeOf([...good, 0])).toBe("TRAILING");
  });
  it("a refused merge leaves the state as it was", () => {
    const half = [0x54, 0x52, 1, 8, ...varint(3000), ...keys.filter((_, i) => i % 2 === 0).flatMap((k) => bytes(k))];
    const s = decodeState(compactV1(Uint8Array.from(half)), "me");
    try {
      const before = hex(s.encode());
      expect(() => s.merge(Uint8Array.from(gsetV2(5999)))).toThrow(TrellisError);
      expect(hex(s.encode())).toBe(before);
      expect(s.merge(Uint8Array.from(good))).toBe(true);
      expect(hex(s.encode())).toBe(hex(Uint8Array.from(good)));
    } finally { s.dispose(); }
  });
});

describe("versions", () => {
  it("refuses an unknown version, naming it", () => {
    let err: unknown;
    try { decodeState(Uint8Array.from([0x54, 0x52, 4, 3, 0]), "me"); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(TrellisError);
    expect((err as TrellisError).code).toBe("BAD_VERSION");
    expect((err as Error).message).toContain("version 4");
  });
  it("refuses the kernel's internal expanded form from outside", () => {
    expect(codeOf([0x54, 0x52, 0x82, 3, 0])).toBe("BAD_VERSION");
  });
  it("a MaxInt in v1 re-encodes as v3", () => {
    const s = decodeState(Uint8Array.from([0x54, 0x52, 1, 3, 7]), "me");
    expect([...s.encode()]).toEqual([...HEAD, 3, 0, 7]);
    s.dispose();
  });
});

// Every type: random model histories, written by the models in the expanded
// layout, as versions 1 and 2 (test/model/legacy.ts: old values, lists in
// their old order) decode and re-encode as the TS compaction's version 3,
// which round-trips; merges from each version agree.
describe.each(fixtures.map((f) => [f.name, f] as const))("%s: v1, v2 → v3", (_name, f) => {
  it("v1 and v2 bytes decode to the state whose v3 the TS compaction writes", () => {
    fc.assert(fc.property(fc.array(fc.tuple(f.op, fc.nat(2)), { maxLength: 12 }), (ops) => {
      const names = ["r0", "r1", "r2"];
      let ms = names.map(() => f.model.bottom());
      for (const [op, at] of ops) ms[at] = f.model.apply(ms[at], op, names[at]);
      const m = ms.reduce((x, y) => f.model.join(x, y));
      const layout = encodeModelV1(f.model, m), v3 = encodeModel(f.model, m);
      const v1 = legacyOf(layout, 1), v2 = legacyOf(layout, 2);
      // the host's reader of the v1 layout (dataflow sources, trust checks)
      expect(hex(v1Layout(v3).subarray(3))).toBe(hex(layout.subarray(3)));
      const a = decodeState(v1, "me"), b = decodeState(v2, "me"), d = decodeState(v3, "me");
      try {
        expect(hex(a.encode())).toBe(hex(v3));
        expect(hex(b.encode())).toBe(hex(v3));
        expect(hex(d.encode())).toBe(hex(v3));
        expect(a.value).toEqual(d.value);
        // merges from v1, v2 and v3 bytes agree
        for (const x of [v1, v2, v3]) {
          const c = f.make("me");
          c.merge(x);
          expect(hex(c.encode())).toBe(hex(v3));
          c.dispose();
        }
      } finally { a.dispose(); b.dispose(); d.dispose(); }
    }), { numRuns: 60 });
  });
});
