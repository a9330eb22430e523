// Range-based reconciliation against a hostile peer: every malformed, oversize
// or impossible message is a ReconcileError with a code, a rejected message
// teaches nothing (have/need unchanged), replies stay within the limits, and a
// session that does not end is cut off at maxRounds.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Reconciler } from "../dist/host/replication/reconcile.js";
import { DEFAULT_WIRE_LIMITS, INFINITY, Mode, decodeRanges, encodeRanges, type Range } from "../dist/host/replication/reconcile-wire.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function ids(seed: number, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    const b = new Uint8Array(32);
    for (let j = 0; j < 32; j++) { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; b[j] = s; }
    b[31] = i; // distinct
    out.push(b);
  }
  return out;
}
const sorted = (xs: Uint8Array[]) => [...xs].sort((x, y) => Buffer.compare(x, y));

function codeOf(f: () => unknown): string {
  try { f(); } catch (e) { return `${(e as Error).name}:${(e as { code?: string }).code}`; }
  return "ok";
}

const bytes = (...parts: (number | Uint8Array)[]) => {
  const out: number[] = [];
  for (const p of parts) if (typeof p === "number") out.push(p); else out.push(...p);
  return new Uint8Array(out);
};
const ID = new Uint8Array(32).fill(7);
const FP = new Uint8Array(16).fill(1);

describe("range-based reconciliation: hostile messages", () => {
  const xs = sorted(ids(11, 10)); // at most idListThreshold: this side lists them
  const fresh = () => new Reconciler(xs);

  it.each([
    ["not bytes", "hello" as unknown as Uint8Array, "MALFORMED"],
    ["empty", bytes(), "MALFORMED"],
    ["another version", bytes(2), "BAD_VERSION"],
    ["a truncated fingerprint", bytes(1, 0, 0, Mode.Fingerprint, 1, 2, 3), "MALFORMED"],
    ["an unknown mode", bytes(1, 0, 0, 9), "MALFORMED"],
    ["a prefix of 33 bytes", bytes(1, 1, 33, new Uint8Array(33)), "MALFORMED"],
    ["a range after the infinite bound", bytes(1, 0, 0, Mode.Skip, 0, 0, Mode.Skip), "MALFORMED"],
    ["a prefix on the infinite bound", bytes(1, 0, 1, 5, Mode.Skip), "MALFORMED"],
    ["bounds out of order", bytes(1, 1, 1, 9, Mode.Skip, 1, 1, 3, Mode.Skip), "MALFORMED"],
    ["a repeated bound", bytes(1, 1, 1, 9, Mode.Skip, 1, 1, 9, Mode.Skip), "MALFORMED"],
    ["a timestamp past 2^53", bytes(1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, Mode.Skip), "MALFORMED"],
    ["a varint of 11 bytes", bytes(1, ...new Array(10).fill(0x80), 1), "MALFORMED"],
    ["a billion ids in 40 bytes", bytes(1, 0, 0, Mode.IdList, 0x80, 0x94, 0xeb, 0xdc, 0x03, ID), "MALFORMED"],
    ["a bitfield longer than the message", bytes(1, 0, 0, Mode.Diff, 0, 100), "MALFORMED"],
  ])("%s is refused", (_name, msg, code) => {
    const r = fresh();
    expect(codeOf(() => r.reconcile(msg))).toBe(`ReconcileError:${code}`);
    expect(r.have).toEqual([]); expect(r.need).toEqual([]);
  });

  it("limits: bytes, ranges and ids per message are refused as TOO_LARGE", () => {
    const r = new Reconciler(xs, { maxRanges: 20, maxIds: 20, maxMessageBytes: 2000 });
    expect(codeOf(() => r.reconcile(new Uint8Array(2001).fill(1)))).toBe("ReconcileError:TOO_LARGE");
    const many: Range[] = Array.from({ length: 21 }, (_, i) => ({ upper: { ts: i + 1, prefix: new Uint8Array(0) }, mode: Mode.Skip }));
    expect(codeOf(() => r.reconcile(encodeRanges(many)))).toBe("ReconcileError:TOO_LARGE");
    const lists: Range[] = [
      { upper: { ts: 0, prefix: new Uint8Array([0x80]) }, mode: Mode.IdList, ids: ids(1, 15).map((b) => { b[0] = 0x10; return b; }).sort(Buffer.compare) },
      { upper: INFINITY, mode: Mode.IdList, ids: ids(2, 6).map((b) => { b[0] = 0x90; return b; }).sort(Buffer.compare) },
    ];
    expect(codeOf(() => r.reconcile(encodeRanges(lists)))).toBe("ReconcileError:TOO_LARGE");
  });

  it("impossible ranges are PROTOCOL errors, and a rejected message teaches nothing", () => {
    const lacksAll = new Uint8Array([0xff, 0x03]);
    const cases: [string, Range[]][] = [
      ["unsorted ids", [{ upper: INFINITY, mode: Mode.IdList, ids: [xs[1], xs[0]] }]],
      ["an id below its range", [{ upper: { ts: 0, prefix: xs[5].subarray(0, 4) }, mode: Mode.Skip }, { upper: INFINITY, mode: Mode.IdList, ids: [xs[0]] }]],
      ["an id above its range", [{ upper: { ts: 0, prefix: xs[5].subarray(0, 4) }, mode: Mode.IdList, ids: [xs[7]] }]],
      ["a bitfield of the wrong length", [{ upper: INFINITY, mode: Mode.Diff, ids: [], lacks: new Uint8Array(1) }]],
      ["bits past our ids", [{ upper: INFINITY, mode: Mode.Diff, ids: [], lacks: new Uint8Array([0, 0x04]) }]],
      ["a Diff offering an id we have", [{ upper: INFINITY, mode: Mode.Diff, ids: [xs[3]], lacks: new Uint8Array(2) }]],
    ];
    for (const [name, ranges] of cases) {
      const r = fresh();
      expect(codeOf(() => r.reconcile(encodeRanges(ranges))), name).toBe("ReconcileError:PROTOCOL");
    }
    // A valid Diff (we hold nothing it claims), then a bad range: nothing is recorded.
    const r = fresh();
    const half = { ts: 0, prefix: xs[5].subarray(0, 8) };
    const msg = encodeRanges([
      { upper: half, mode: Mode.Diff, ids: [], lacks: new Uint8Array([0x1f]) },
      { upper: INFINITY, mode: Mode.IdList, ids: [xs[9], xs[8]] },
    ]);
    expect(codeOf(() => r.reconcile(msg))).toBe("ReconcileError:PROTOCOL");
    expect(r.have).toEqual([]);
    // The same Diff alone is accepted and teaches exactly the flagged ids.
    const ok = r.reconcile(encodeRanges([{ upper: INFINITY, mode: Mode.Diff, ids: [ID], lacks: lacksAll }]));
    expect(ok.reply).toBeNull();
    expect(new Set(ok.have.map(hex))).toEqual(new Set(xs.map(hex)));
    expect(ok.need.map(hex)).toEqual([hex(ID)]);
  });

  it("a peer cannot fill our memory with claims: past maxNeed ids we lack, TOO_LARGE and nothing recorded", () => {
    const fake = sorted(ids(77, 12));
    const r = new Reconciler(xs, { maxNeed: 10 });
    const diff = (claims: Uint8Array[]) => encodeRanges([{ upper: INFINITY, mode: Mode.Diff, ids: claims, lacks: new Uint8Array(2) }]);
    expect(r.reconcile(diff(fake.slice(0, 8))).need.length).toBe(8);
    expect(r.reconcile(diff(fake.slice(0, 8))).need.length).toBe(0); // each id once
    expect(codeOf(() => r.reconcile(diff(fake.slice(5, 12))))).toBe("ReconcileError:TOO_LARGE"); // 8 + 4 new > 10
    expect(r.need.length).toBe(8);
    expect(r.reconcile(diff(fake.slice(6, 10))).need.length).toBe(2); // 10: at the cap
  });

  it("a Diff over more of our ids than we ever list is a PROTOCOL error", () => {
    const big = sorted(ids(4, 40));
    const r = new Reconciler(big);
    const msg = encodeRanges([{ upper: INFINITY, mode: Mode.Diff, ids: [], lacks: new Uint8Array(5) }]);
    expect(codeOf(() => r.reconcile(msg))).toBe("ReconcileError:PROTOCOL");
  });

  it("with timestamps, a list that repeats an id is a PROTOCOL error", () => {
    const r = new Reconciler(xs.map((id, i) => ({ id, ts: i })), { timestamps: true });
    expect(codeOf(() => r.reconcile(encodeRanges([{ upper: INFINITY, mode: Mode.IdList, ids: [ID, ID] }])))).toBe("ReconcileError:PROTOCOL");
  });

  it("a peer that never agrees is cut off at maxRounds", () => {
    const big = ids(9, 5000);
    const r = new Reconciler(big, { maxRounds: 10 });
    const liar = encodeRanges([{ upper: INFINITY, mode: Mode.Fingerprint, fingerprint: FP }]);
    for (let i = 0; i < 10; i++) {
      const step = r.reconcile(liar);
      expect(step.reply).not.toBeNull(); // it splits again, each time within the limits
      expect(decodeRanges(step.reply!).length).toBeLessThanOrEqual(16);
    }
    expect(r.rounds).toBe(10);
    expect(codeOf(() => r.reconcile(liar))).toBe("ReconcileError:TOO_MANY_ROUNDS");
  });

  it("a list over everything with no ids is answered with one split, not a list of the whole set", () => {
    const big = ids(8, 40_000);
    const r = new Reconciler(big, { maxIds: 1000 });
    const step = r.reconcile(encodeRanges([{ upper: INFINITY, mode: Mode.IdList, ids: [] }]));
    const reply = decodeRanges(step.reply!);
    expect(reply.map((x) => x.mode)).toEqual(new Array(16).fill(Mode.Fingerprint));
    expect(step.have).toEqual([]);
  });

  it("replies to a flood of mismatching ranges keep to the limits (the rest is one fingerprint)", () => {
    const big = sorted(ids(5, 20_000));
    const limits = { maxRanges: 64, maxIds: 64, maxMessageBytes: 4096 };
    const r = new Reconciler(big, limits);
    // 60 mismatching fingerprints over consecutive ranges of ~300 ids each.
    const ranges: Range[] = [];
    for (let i = 1; i <= 60; i++) ranges.push({ upper: i === 60 ? INFINITY : { ts: 0, prefix: big[i * 330].subarray(0, 3) }, mode: Mode.Fingerprint, fingerprint: FP });
    const msg = encodeRanges(ranges);
    expect(msg.length).toBeLessThanOrEqual(4096);
    const reply = r.reconcile(msg).reply!;
    expect(reply.length).toBeLessThanOrEqual(limits.maxMessageBytes);
    const out = decodeRanges(reply, limits);
    expect(out.length).toBeLessThanOrEqual(limits.maxRanges);
    expect(out.at(-1)).toMatchObject({ upper: { ts: Infinity }, mode: Mode.Fingerprint });
  });

  it("a rejected message costs a round and nothing else: the same side then finds the exact difference", () => {
    const all = ids(22, 400);
    const a = new Reconciler(all.slice(0, 350)), b = new Reconciler(all.slice(30));
    expect(codeOf(() => a.reconcile(bytes(1, 0, 0, Mode.IdList, 2, ID, ID)))).toBe("ReconcileError:PROTOCOL");
    expect(a.rounds).toBe(1);
    let m: Uint8Array | null = b.initiate(), turn = 0;
    while (m) m = (turn++ % 2 === 0 ? a : b).reconcile(m).reply;
    expect(new Set(a.have.map(hex))).toEqual(new Set(all.slice(0, 30).map(hex)));
    expect(new Set(a.need.map(hex))).toEqual(new Set(all.slice(350).map(hex)));
  });

  it("well-formed random messages (any modes, bounds, ids from our set or not, bitfields): a ReconcileError or a reply within the limits", () => {
    const ours = sorted(ids(31, 300));
    const limits = { maxRanges: 40, maxIds: 40, maxMessageBytes: 1 + 18 * 60 + 40 * 32 + 5 + 500 };
    const idArb = fc.oneof(fc.constantFrom(...ours), fc.uint8Array({ minLength: 32, maxLength: 32 }));
    const rangeArb = fc.oneof(
      fc.constant({ mode: Mode.Skip }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }).map((fingerprint) => ({ mode: Mode.Fingerprint, fingerprint })),
      fc.array(idArb, { maxLength: 20 }).map((l) => ({ mode: Mode.IdList, ids: sorted(l) })),
      fc.tuple(fc.array(idArb, { maxLength: 20 }), fc.uint8Array({ maxLength: 4 })).map(([l, lacks]) => ({ mode: Mode.Diff, ids: sorted(l), lacks })),
    );
    let accepted = 0, refused = 0;
    fc.assert(fc.property(fc.array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 3 }), rangeArb), { maxLength: 12 }), fc.boolean(), (parts, toInfinity) => {
      // Strictly increasing bounds from the random prefixes, the last one maybe infinite.
      const bounds = [...new Map(parts.map(([p]) => [hex(p), p])).values()].sort(Buffer.compare);
      const ranges = parts.slice(0, bounds.length).map(([, r], i) => ({ ...r, upper: toInfinity && i === bounds.length - 1 ? INFINITY : { ts: 0, prefix: bounds[i] } }) as Range);
      const r = new Reconciler(ours, limits);
      let step;
      try { step = r.reconcile(encodeRanges(ranges)); } catch (e) {
        expect((e as Error).name).toBe("ReconcileError");
        expect(r.have).toEqual([]); expect(r.need).toEqual([]);
        refused++;
        return;
      }
      accepted++;
      if (step.reply) decodeRanges(step.reply, limits);
      for (const id of step.need) expect(ours.some((x) => hex(x) === hex(id))).toBe(false);
      for (const id of step.have) expect(ours.some((x) => hex(x) === hex(id))).toBe(true);
    }), { numRuns: 1000 });
    // Both paths ran: the generator is not all garbage, nor all harmless.
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });

  it("random bytes and mutated honest messages: a ReconcileError or a reply within the limits, never another throw", () => {
    const all = ids(21, 400);
    const aSet = all.slice(0, 350), bSet = all.slice(30);
    const honest = new Reconciler(bSet).initiate();
    fc.assert(fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }).map((b) => bytes(1, b)),
        fc.tuple(fc.nat(honest.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => { const m = honest.slice(); m[i] ^= x; return m; }),
        fc.nat(honest.length - 1).map((n) => honest.subarray(0, n)),
      ),
      (msg) => {
        const a = new Reconciler(aSet);
        try {
          const step = a.reconcile(msg);
          if (step.reply) decodeRanges(step.reply, DEFAULT_WIRE_LIMITS);
        } catch (e) {
          expect((e as Error).name).toBe("ReconcileError");
          expect(a.have).toEqual([]); expect(a.need).toEqual([]);
        }
      }), { numRuns: 300 });
  });
});
