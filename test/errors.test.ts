// Every failure is a typed error — a TrellisError with a known code, or a
// RangeError/TypeError for a bad argument — never a string, never a trap
// (KERNEL_TRAP), and a failed op, merge or batch changes nothing: the bytes
// before equal the bytes after, and no delta is left pending.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { init, kernel, AWSet, EWFlag, GCounter, LWWRegister, PNCounter, TrellisError, decodeState } from "../dist/host/index.node.js";
import type { Crdt } from "../dist/host/index.node.js";
import { fixtures, AnyFixture } from "./util/fixtures.js";
import { build, historyArb, History } from "./util/history.js";
import { Scope } from "./util/scope.js";
import { concat, hex, sameBytes } from "./util/bytes.js";
import { compactV1 } from "./model/compact.js";

type C = Crdt<unknown>;
type Kind = "TrellisError" | "RangeError" | "TypeError";

const KNOWN_CODES = new Set([
  "TRUNCATED", "BAD_MAGIC", "BAD_VERSION", "BAD_TAG", "NONCANONICAL", "TOO_LARGE", "TOO_DEEP",
  "INVALID", "TRAILING", "TYPE_MISMATCH", "BAD_HANDLE", "UNSUPPORTED", "NOT_FOUND",
  "NOT_INITIALIZED", "DISPOSED", "BAD_VALUE", "PRECONDITION", "OVERFLOW", "OUT_OF_MEMORY",
]);

// Runs fn, which must throw a typed error of one of `kinds` (and `code`, if
// given). Returns the error.
function expectTyped(fn: () => unknown, kinds: Kind[], code?: string): Error {
  let thrown: unknown, threw = false;
  try { fn(); } catch (e) { thrown = e; threw = true; }
  expect(threw, "expected a throw").toBe(true);
  expect(thrown, `threw a non-Error: ${String(thrown)}`).toBeInstanceOf(Error);
  if (thrown instanceof TrellisError) {
    expect(kinds, `unexpected TrellisError ${thrown.code}: ${thrown.message}`).toContain("TrellisError");
    expect(KNOWN_CODES.has(thrown.code), `unknown code ${thrown.code}`).toBe(true);
    expect(thrown.code, thrown.message).not.toBe("KERNEL_TRAP");
    if (code) expect(thrown.code).toBe(code);
  } else {
    const kind = (thrown as Error).constructor.name as Kind;
    expect(kinds, `unexpected ${kind}: ${(thrown as Error).message}`).toContain(kind);
    expect(code, `expected TrellisError ${code}, got ${kind}`).toBeUndefined();
  }
  return thrown as Error;
}

// Asserts fn changes neither x's state nor its pending delta-group.
function unchanged(x: C, fn: () => void): void {
  x.takeDelta(); // start with an empty delta-group
  const before = x.encode();
  fn();
  const after = x.encode();
  expect(hex(after), "the state changed").toBe(hex(before));
  const pending = decodeState(x.takeDelta());
  try { expect(pending.isBottom, "a failed call left a pending delta").toBe(true); } finally { pending.dispose(); }
}

// A few non-trivial states per fixture, from random histories.
const scope = new Scope();
const samples = new Map<string, C[]>();
function samplesOf(f: AnyFixture): C[] {
  let xs = samples.get(f.name);
  if (!xs) {
    xs = [];
    const hs = fc.sample(historyArb<unknown>(f, { maxSteps: 10 }), { seed: 42, numRuns: 4 }) as History<unknown>[];
    for (const h of hs) {
      const s = new Scope();
      try { xs.push(scope.track(build(f, h, s).pick(h.picks[0]).clone())); } finally { s.dispose(); }
    }
    xs.push(scope.track(f.make("a")));
    samples.set(f.name, xs);
  }
  return xs;
}

let handlesAtStart = 0;
beforeAll(async () => { await init(); handlesAtStart = kernel().exports.liveHandles(); });
afterAll(() => {
  scope.dispose();
  expect(kernel().exports.liveHandles()).toBe(handlesAtStart);
});

const each = describe.each(fixtures.map((f) => [f.name, f] as const));

each("%s", (_name, f) => {
  it("merging another type gives TYPE_MISMATCH and changes nothing", () => {
    const [a] = samplesOf(f).filter((x) => !x.isBottom).concat(samplesOf(f));
    for (const g of fixtures) {
      if (g === f) continue;
      const b = samplesOf(g)[0];
      unchanged(a, () => expectTyped(() => a.merge(b as never), ["TrellisError"], "TYPE_MISMATCH"));
      unchanged(a, () => expectTyped(() => a.merge(b.encode()), ["TrellisError"], "TYPE_MISMATCH"));
      const other = g.make("z");
      const delta = other.takeDelta();
      other.dispose();
      unchanged(a, () => expectTyped(() => a.merge(delta), ["TrellisError"], "TYPE_MISMATCH"));
      expectTyped(() => a.leq(b as never), ["TrellisError"], "TYPE_MISMATCH");
      expectTyped(() => a.equals(b as never), ["TrellisError"], "TYPE_MISMATCH");
      expectTyped(() => a.delta(b as never), ["TrellisError"], "TYPE_MISMATCH");
      // The class's own decode refuses another type's bytes (when the tags differ).
      if (a.spec.tag !== b.spec.tag) {
        const decode = (a.constructor as unknown as { decode(b: Uint8Array): C }).decode;
        expectTyped(() => decode(b.encode()), ["TrellisError"], "TYPE_MISMATCH");
      }
    }
  });

  it("merge of something that is not a state or bytes is a TypeError and changes nothing", () => {
    const a = samplesOf(f)[0];
    for (const bad of [null, undefined, "TR", 42, {}, [0x54, 0x52, 1], new ArrayBuffer(4), new DataView(new ArrayBuffer(4)), () => 1]) {
      unchanged(a, () => expectTyped(() => a.merge(bad as never), ["TypeError"]));
    }
  });

  it("bad bytes through merge are typed errors and change nothing", () => {
    for (const a of samplesOf(f)) {
      const good = samplesOf(f)[0].encode();
      const inputs = [
        new Uint8Array(0), good.subarray(0, good.length - 1), concat(good, [0]), concat([0x54, 0x53], good.subarray(2)),
        concat(good.subarray(0, 2), [9], good.subarray(3)), concat(good.subarray(0, 3), [0xff], good.subarray(4)),
      ];
      for (const b of inputs) unchanged(a, () => expectTyped(() => a.merge(b), ["TrellisError"]));
    }
  });

  it("bad replica ids are RangeError/TypeError", () => {
    const live = kernel().exports.liveHandles();
    expectTyped(() => f.make("x".repeat(256)), ["RangeError"]);
    expectTyped(() => f.make("é".repeat(128)), ["RangeError"]); // 256 UTF-8 bytes
    expectTyped(() => f.make(42 as never), ["TypeError"]);
    expectTyped(() => samplesOf(f)[0].clone("x".repeat(300)), ["RangeError"]);
    expectTyped(() => decodeState(samplesOf(f)[0].encode(), "x".repeat(300)), ["RangeError"]);
    expectTyped(() => decodeState("TR" as never), ["TypeError"]);
    expect(kernel().exports.liveHandles(), "a failed constructor leaked a handle").toBe(live);
    const ok = f.make("x".repeat(255));
    ok.dispose();
  });

  // Every own method of the type's class, called with each bad value in each
  // argument position: it may succeed (a default applies), but if it throws it
  // must be a typed error and leave the state unchanged.
  it("bad values in any method give a typed error and change nothing", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    let deep: unknown = 0;
    for (let i = 0; i < 80; i++) deep = [deep];
    class Thing { x = 1; }
    const bads: unknown[] = [undefined, () => 1, new Map([[1, 2]]), new Set([1]), Symbol("s"), 10n, cyclic, deep,
      new Date(0), new Thing(), -1, 1.5, NaN, Infinity, 2 ** 53, "x".repeat(300), { toJSON: () => 1, f: () => 1 }];
    const x = f.make("a");
    const proto = Object.getPrototypeOf(x);
    try {
      const methods = Object.getOwnPropertyNames(proto).filter((n) => {
        const d = Object.getOwnPropertyDescriptor(proto, n)!;
        return n !== "constructor" && typeof d.value === "function";
      });
      let threw = 0;
      for (const name of methods) {
        for (const bad of bads) {
          for (const args of [[bad], [bad, bad], ["k", bad], [bad, 1], [1, bad]]) {
            for (const base of samplesOf(f)) {
              const y = base.clone();
              try {
                y.takeDelta();
                const before = y.encode();
                let err: unknown, failed = false;
                try { (y as unknown as Record<string, (...a: unknown[]) => unknown>)[name](...args); } catch (e) { err = e; failed = true; }
                if (!failed) continue;
                threw++;
                const what = `${f.name}.${name}(${args.map((a) => typeof a).join(", ")})`;
                expect(err, `${what} threw a non-Error`).toBeInstanceOf(Error);
                const typed = (err instanceof TrellisError && KNOWN_CODES.has(err.code)) || err instanceof TypeError || err instanceof RangeError;
                expect(typed, `${what} threw ${(err as Error).constructor.name}: ${(err as Error).message}`).toBe(true);
                expect(hex(y.encode()), `${what} threw but changed the state`).toBe(hex(before));
                const pending = decodeState(y.takeDelta());
                const bottom = pending.isBottom;
                pending.dispose();
                expect(bottom, `${what} threw but left a pending delta`).toBe(true);
              } finally { y.dispose(); }
            }
          }
        }
      }
      // (Types whose methods take no values, like EWFlag, reject nothing here;
      // the type-specific tests below insist on rejections.)
      void threw;
    } finally { x.dispose(); }
  });

  it("a failing batch() callback applies none of its ops", () => {
    const ops = fc.sample(fc.array(f.op, { minLength: 1, maxLength: 4 }), { seed: 7, numRuns: 20 });
    for (const base of samplesOf(f)) {
      for (const batch of ops) {
        const y = base.clone();
        try {
          const boom = new Error("boom");
          unchanged(y, () => {
            let err: unknown;
            try { y.batch(() => { for (const op of batch) f.apply(y, op); throw boom; }); } catch (e) { err = e; }
            expect(err, "batch must rethrow the callback's error").toBe(boom);
          });
          // The instance still works after a failed batch.
          for (const op of batch) { try { f.apply(y, op); } catch (e) { if (!(e instanceof TrellisError) || e.code === "KERNEL_TRAP") throw e; } }
        } finally { y.dispose(); }
      }
    }
  });

  it("a batch that reads the state and then fails applies none of its ops", () => {
    const ops = fc.sample(fc.array(f.op, { minLength: 1, maxLength: 3 }), { seed: 11, numRuns: 10 });
    for (const batch of ops) {
      const y = samplesOf(f)[0].clone();
      try {
        unchanged(y, () => {
          expect(() => y.batch(() => {
            for (const op of batch) { f.apply(y, op); void f.value(y); } // "reads inside fn see the ops queued so far"
            throw new Error("boom");
          })).toThrow("boom");
        });
      } finally { y.dispose(); }
    }
  });
});

describe("type-specific bad values", () => {
  it("AWSet.add/remove/has reject values the codec cannot encode, changing nothing", () => {
    const s = new AWSet("a");
    try {
      s.add("x").add(1);
      const cyclic: Record<string, unknown> = {};
      cyclic.c = cyclic;
      let deep: unknown = "leaf";
      for (let i = 0; i < 70; i++) deep = [deep];
      for (const bad of [undefined, () => 1, new Map(), new Set(), Symbol("s"), 10n, new Date(0), /re/, new (class Foo {})()]) {
        unchanged(s, () => expectTyped(() => s.add(bad as never), ["TypeError"]));
        unchanged(s, () => expectTyped(() => s.remove(bad as never), ["TypeError"]));
        expectTyped(() => s.has(bad as never), ["TypeError"]);
        unchanged(s, () => expectTyped(() => s.add([1, { k: bad }] as never), ["TypeError"]));
      }
      unchanged(s, () => expectTyped(() => s.add(cyclic as never), ["TrellisError", "TypeError", "RangeError"]));
      unchanged(s, () => expectTyped(() => s.add(deep as never), ["TrellisError"], "TOO_DEEP"));
      // One element beyond 2^20 bytes: the kernel's key limit.
      unchanged(s, () => expectTyped(() => s.add("x".repeat((1 << 20) + 1)), ["TrellisError"], "TOO_LARGE"));
      unchanged(s, () => expectTyped(() => s.batch((t) => { t.add("ok"); t.add(undefined as never); }), ["TypeError"]));
      expect(s.values()).toEqual([1, "x"]); // canonical (byte) order
    } finally { s.dispose(); }
  });

  it("GCounter.increment rejects what is not a non-negative safe integer, changing nothing", () => {
    const g = new GCounter("a");
    try {
      g.increment(5);
      for (const bad of [-1, 1.5, NaN, Infinity, -Infinity, 2 ** 53, "3", null, {}, 1n]) {
        unchanged(g, () => expectTyped(() => g.increment(bad as never), ["RangeError", "TypeError"]));
      }
      expect(g.value).toBe(5);
    } finally { g.dispose(); }
  });

  // A count of 2^64 − 1 could never be incremented, so no honest history holds
  // one (issue 10): decode refuses it, and a local increment that would reach
  // it fails with OVERFLOW and changes nothing, instead of wrapping or saturating.
  it("decode refuses a count of 2^64 − 1; an increment that would reach it fails with OVERFLOW, changing nothing", () => {
    const top = (b0: number) => concat([0x54, 0x52, 1, 1, 1, 1, 0x61], [b0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expectTyped(() => GCounter.decode(top(0xff), "a"), ["TrellisError"], "OVERFLOW");
    const g = GCounter.decode(top(0xfe), "a"); // 2^64 − 2, the largest honest count
    const h = new GCounter("b");
    try {
      unchanged(g, () => expectTyped(() => g.increment(1), ["TrellisError"], "OVERFLOW"));
      g.increment(0);
      expect(hex(g.encode())).toBe(hex(compactV1(top(0xfe))));
      expect(hex(g.takeDelta())).toBe("545203010000"); // nothing grew: an empty delta-group
      expectTyped(() => h.merge(top(0xff)), ["TrellisError"], "OVERFLOW");
      expect(h.value).toBe(0);
    } finally { g.dispose(); h.dispose(); }
  });

  it("a batch that would cross 2^64 − 2 in total fails as a whole instead of applying a prefix", () => {
    // 2049 × (2^53 − 1) > 2^64: each op alone fits, the batch does not.
    const g = new GCounter("a");
    try {
      g.increment(7);
      unchanged(g, () => expectTyped(() => g.batch((t) => { for (let i = 0; i < 2049; i++) t.increment(2 ** 53 - 1); }), ["TrellisError"], "OVERFLOW"));
      expect(g.value).toBe(7);
      g.batch((t) => { for (let i = 0; i < 2047; i++) t.increment(2 ** 53 - 1); }); // (2^53 − 1) × 2047 + 7 < 2^64 − 2
      expect(g.value).toBe(7 + 2047 * (2 ** 53 - 1));
    } finally { g.dispose(); }
  });

  it("PNCounter increments and decrements refuse to pass 2^64 − 2 per replica", () => {
    const p = new PNCounter("a");
    try {
      p.batch((t) => { for (let i = 0; i < 2047; i++) t.decrement(2 ** 53 - 1); });
      unchanged(p, () => expectTyped(() => p.batch((t) => { t.decrement(2 ** 53 - 1); t.decrement(2 ** 53 - 1); }), ["TrellisError"], "OVERFLOW"));
      p.increment(2 ** 53 - 1); // the other component is independent
    } finally { p.dispose(); }
  });

  // A register at 2^64 − 3: one setAfter reaches 2^64 − 2, the largest honest
  // timestamp; a second in the same batch would write 2^64 − 1, which no
  // state may hold. The dry pass follows the batch's own writes, so the
  // whole batch fails with OVERFLOW before any op applies.
  it("LWWRegister: a batch of setAfter ops that would reach 2^64 − 1 fails as a whole", () => {
    const at = (b0: number) => concat([0x54, 0x52, 1, 6, 1], [b0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], [1, 0x62, 2, 5, 0]);
    expectTyped(() => LWWRegister.decode(at(0xff), "a"), ["TrellisError"], "OVERFLOW");
    const r = LWWRegister.decode(at(0xfd), "a"); // 2^64 − 3
    try {
      unchanged(r, () => expectTyped(() => r.batch((t) => { t.setAfter("x", 0); t.setAfter("y", 0); }), ["TrellisError"], "OVERFLOW"));
      expect(r.value).toBe("");
      r.setAfter("x", 0); // alone it fits: 2^64 − 2
      expect(r.value).toBe("x");
      expect(hex(r.encode())).toBe(hex(compactV1(concat([0x54, 0x52, 1, 6, 1], [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], [1, 0x61, 3, 6, 0x78, 0])))); // the expanded layout with "x" in version 3's values
      unchanged(r, () => expectTyped(() => r.setAfter("z", 0), ["TrellisError"], "OVERFLOW"));
    } finally { r.dispose(); }
  });

  // EWFlag's enable mints the replica's next dot, like AWSet's add: near
  // 2^64 − 1 it fails with OVERFLOW instead of minting a dot no state may hold.
  it("EWFlag: decode refuses a dot at 2^64 − 1; enable near it fails with OVERFLOW, changing nothing", () => {
    const flag = (top: number[]) => concat([0x54, 0x52, 1, 4, 1, 1, 0x61], top, [0, 0]);
    const max = (b0: number) => [b0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    expectTyped(() => EWFlag.decode(flag(max(0xff)), "a"), ["TrellisError"], "OVERFLOW");
    const f = EWFlag.decode(flag(max(0xfe)), "a"); // 2^64 − 2: honest, but a's dots are spent
    const g = EWFlag.decode(flag(max(0xfe)), "b"); // another replica may still enable
    try {
      unchanged(f, () => expectTyped(() => f.enable(), ["TrellisError"], "OVERFLOW"));
      unchanged(f, () => expectTyped(() => f.batch((t) => { t.disable(); t.enable(); }), ["TrellisError"], "OVERFLOW"));
      expect(f.value).toBe(false);
      f.disable(); // mints nothing
      g.enable();
      expect(g.value).toBe(true);
      expect(f.merge(g.encode())).toBe(true);
      expect(f.value).toBe(true);
    } finally { f.dispose(); g.dispose(); }
  });

  it("a failing nested batch applies none of its own ops", () => {
    const s = new AWSet("a");
    try {
      s.batch((t) => {
        t.add("a");
        try { t.batch((u) => { u.add("b"); throw new Error("inner"); }); } catch { /* the outer callback carries on */ }
        t.add("c");
      });
      expect(s.values()).toEqual(["a", "c"]);
    } finally { s.dispose(); }
  });

  it("errors are Error objects with a stable code and a message", () => {
    const s = new AWSet("a");
    try {
      const e = expectTyped(() => s.merge(Uint8Array.of(0x54, 0x52, 1, 10, 5)), ["TrellisError"]) as TrellisError;
      expect(e.name).toBe("TrellisError");
      expect(e.message).toContain(e.code);
      expect(e.stack).toBeTypeOf("string");
      expect(String(e)).toContain("TrellisError");
    } finally { s.dispose(); }
  });

  it("a state the kernel accepts can be read (no value codec error after decode)", () => {
    // AWSet {a:1} whose element bytes (05 01 ff) are a string with invalid UTF-8.
    const bytes = Uint8Array.from([0x54, 0x52, 1, 10, 1, 1, 0x61, 1, 0, 1, 3, 5, 1, 0xff, 1, 1, 0x61, 1]);
    let s: AWSet | undefined;
    try { s = AWSet.decode(bytes); } catch (e) { expectTyped(() => { throw e; }, ["TrellisError"]); return; }
    try { expect(() => s!.values(), `decode accepted ${hex(bytes)} but values() throws`).not.toThrow(); } finally { s.dispose(); }
  });
});
