// Decode accepts only what an honest history can produce (issue 10 item 7,
// docs/format.md): for the causal types no counter at 2^64 − 1 (the next op
// would wrap), no dot on two elements, no empty replica id; and a local op
// that would overflow fails with OVERFLOW and changes nothing.
import { beforeAll, describe, expect, it } from "vitest";
import { dot, rep, str, utf as bytes, varint } from "./util/bytes.js";
import {
  AWMap, AWSet, GCounter, MVRegister, ORSet, TrellisError, decodeState, init,
} from "../dist/host/index.node.js";
import type { Crdt } from "../dist/host/index.node.js";

beforeAll(async () => { await init(); });

const MAX = 2n ** 64n - 1n;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
// context := vv entries, cloud dots (each already canonical)
const ctx = (vv: [string, bigint | number][], cloud: [string, bigint | number][] = []) =>
  [...varint(vv.length), ...vv.flatMap(([r, c]) => dot(r, c)), ...varint(cloud.length), ...cloud.flatMap(([r, c]) => dot(r, c))];
const state = (tag: number[], body: number[]) => Uint8Array.from([0x54, 0x52, 1, ...tag, ...body]);
const AWSET = [10], ORSET = [11], MVREG = [7];

function refused(b: Uint8Array, code: string): void {
  let err: unknown;
  try { decodeState(b, "x").dispose(); } catch (e) { err = e; }
  expect(err, hex(b)).toBeInstanceOf(TrellisError);
  expect((err as TrellisError).code, hex(b)).toBe(code);
}

function unchanged(s: Crdt<unknown>, f: () => void, code: string): void {
  const before = hex(s.encode());
  let err: unknown;
  try { f(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(TrellisError);
  expect((err as TrellisError).code).toBe(code);
  expect(hex(s.encode())).toBe(before);
}

describe("the issue's AWSet attack", () => {
  // vv {"a": 2^64 − 1} and the element "x" at dot (a, 1): before this fix it
  // decoded, and replica a's next add wrapped to dot 0, after which its state
  // no longer decoded (the node could not replicate or restart).
  const attack = state(AWSET, [...ctx([["a", MAX]]), 1, ...str("x"), 1, ...dot("a", 1)]);

  it("is refused by decode and by merge, which leave the state unchanged", () => {
    expect(attack.length).toBeLessThanOrEqual(32);
    refused(attack, "OVERFLOW");
    const s = new AWSet("a").add("y");
    unchanged(s, () => s.merge(attack), "OVERFLOW");
    s.add("z");
    const back = decodeState(s.encode(), "a") as AWSet;
    expect(back.value).toEqual(["y", "z"]);
    back.dispose(); s.dispose();
  });

  it("the largest counter an honest history reaches (2^64 − 2) decodes; a cloud dot at 2^64 − 1 does not", () => {
    const ok = decodeState(state(AWSET, [...ctx([["a", MAX - 1n]]), 0]), "x");
    ok.dispose();
    refused(state(AWSET, [...ctx([["a", 1]], [["a", MAX]]), 0]), "OVERFLOW");
    refused(state(AWSET, [...ctx([], [["b", MAX]]), 0]), "OVERFLOW");
  });
});

describe("a local op that would overflow fails with OVERFLOW and changes nothing", () => {
  it("AWSet add, and a batch of adds", () => {
    const s = decodeState(state(AWSET, [...ctx([["a", MAX - 1n]]), 0]), "a") as AWSet;
    unchanged(s, () => s.add("x"), "OVERFLOW");
    unchanged(s, () => s.batch((t) => { t.add("x"); t.add("y"); }), "OVERFLOW");
    s.remove("nothing"); // ops that mint nothing still work
    s.dispose();
    // another replica mints its own dots as usual
    const b = decodeState(state(AWSET, [...ctx([["a", MAX - 1n]]), 0]), "b") as AWSet;
    b.add("x");
    expect(b.value).toEqual(["x"]);
    b.dispose();
  });

  it("ORSet add, MVRegister set, AWMap update", () => {
    const or = decodeState(state(ORSET, [1, ...str("x"), 1, ...dot("a", MAX - 1n), 0]), "a") as ORSet;
    unchanged(or, () => or.add("y"), "OVERFLOW");
    or.dispose();
    const mv = decodeState(state(MVREG, [...ctx([["a", MAX - 1n]]), 0]), "a") as MVRegister;
    unchanged(mv, () => mv.set(1), "OVERFLOW");
    mv.dispose();
    // AWMap<GCounter>: presence context vv {"a": 2^64 − 2}, no keys, no values
    const am = decodeState(state([13, 1], [...ctx([["a", MAX - 1n]]), 0, 0]), "a") as AWMap;
    unchanged(am, () => am.update("k", GCounter.ops.increment(1)), "OVERFLOW");
    am.dispose();
  });

  it("a read-only handle (empty replica id) cannot mint a dot", () => {
    const s = decodeState(new AWSet("a").add(1).encode(), "") as AWSet;
    unchanged(s, () => s.add("x"), "INVALID");
    s.remove(1); // removes mint nothing
    expect(s.value).toEqual([]);
    s.dispose();
  });

  it("the threshold is 2^64 − 2^32: a counter just below it still mints", () => {
    const s = decodeState(state(AWSET, [...ctx([["a", MAX - 2n ** 32n]]), 0]), "a") as AWSet;
    unchanged(s, () => s.add("x"), "OVERFLOW");
    s.dispose();
    const t = decodeState(state(AWSET, [...ctx([["a", MAX - 2n ** 32n - 1n]]), 0]), "a") as AWSet;
    t.add("x");
    expect(t.value).toEqual(["x"]);
    t.dispose();
  });
});

describe("one dot on two elements (AWSet and AWMap presence; not ORSet)", () => {
  it("AWSet", () => {
    refused(state(AWSET, [...ctx([["a", 2]]), 2, ...str("x"), 1, ...dot("a", 1), ...str("y"), 1, ...dot("a", 1)]), "INVALID");
    // the same shape with distinct dots decodes
    decodeState(state(AWSET, [...ctx([["a", 2]]), 2, ...str("x"), 1, ...dot("a", 1), ...str("y"), 1, ...dot("a", 2)]), "x").dispose();
  });
  it("AWMap presence", () => {
    refused(state([13, 1], [...ctx([["a", 1]]), 2, ...str("k"), 1, ...dot("a", 1), ...str("l"), 1, ...dot("a", 1), 0]), "INVALID");
  });
  it("the join of two AWSets holding one dot on different elements holds it on neither, so stays decodable", () => {
    const x = decodeState(state(AWSET, [...ctx([["a", 1]]), 1, ...str("x"), 1, ...dot("a", 1)]), "p") as AWSet;
    const y = state(AWSET, [...ctx([["a", 1]]), 1, ...str("y"), 1, ...dot("a", 1)]);
    x.merge(y);
    expect(x.value).toEqual([]);
    decodeState(x.encode(), "p").dispose();
    x.dispose();
  });
  it("ORSet (no causal context) accepts it: the join of two decodable states can hold it, and must stay readable", () => {
    const x = decodeState(state(ORSET, [1, ...str("x"), 1, ...dot("a", 1), 0]), "p") as ORSet;
    x.merge(state(ORSET, [1, ...str("y"), 1, ...dot("a", 1), 0]));
    expect(x.value).toEqual(["x", "y"]);
    decodeState(x.encode(), "p").dispose();
    x.dispose();
  });
});

describe("empty replica ids", () => {
  it("in a version vector, a cloud, a store dot, an ORSet token, an MVRegister entry", () => {
    refused(state(AWSET, [...ctx([["", 1]]), 0]), "INVALID");
    refused(state(AWSET, [...ctx([], [["", 3]]), 0]), "INVALID");
    refused(state(ORSET, [1, ...str("x"), 1, ...dot("", 1), 0]), "INVALID");
    refused(state(MVREG, [...ctx([["a", 1]]), 1, ...dot("", 1), ...str("v")]), "INVALID");
    refused(state([4], [...ctx([["", 1]]), 0]), "INVALID"); // EWFlag's context
  });
});
