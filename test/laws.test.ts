// Every type's fixture through every lattice law (test/laws.ts), 1,000 cases
// per law per type (TRELLIS_RUNS / TRELLIS_LONG for more), plus the morphism
// checker on simple functions, and checks that the checkers can fail.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init, kernel, GCounter, decodeState } from "../dist/host/index.node.js";
import type { AWSet, Value } from "../dist/host/index.node.js";
import { LAWS, LawOptions, checkCommutative, checkIdempotent, checkMorphism } from "./laws.js";
import { fixtures, fixtureNamed, AnyFixture } from "./util/fixtures.js";
import { concat, varint } from "./util/bytes.js";
import { runs } from "./util/runs.js";
import { v1Layout } from "../dist/host/crdt/layout.js";

let handlesAtStart = 0;
beforeAll(async () => { await init(); handlesAtStart = kernel().exports.liveHandles(); });
afterAll(() => {
  // Every law disposes what it creates.
  expect(kernel().exports.liveHandles()).toBe(handlesAtStart);
});

const numRuns = runs(1000);

it("finds the fixtures", () => {
  expect(fixtures.map((f) => f.name)).toEqual(expect.arrayContaining(["AWSet", "GCounter"]));
});

describe.each(fixtures.map((f) => [f.name, f] as const))("%s", (_name, fixture) => {
  for (const [law, check] of Object.entries(LAWS)) {
    it(law, () => { check(fixture, { numRuns }); });
  }
});

// A GCounter state built from its body: count, (replica, value) sorted.
function gcounterFromEntries(entries: [string, number][], replica: string): GCounter {
  const enc = new TextEncoder();
  const sorted = entries.map(([r, v]) => [enc.encode(r), v] as const)
    .filter(([, v]) => v > 0)
    .sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  const body: number[] = [...varint(sorted.length)];
  for (const [r, v] of sorted) body.push(...varint(r.length), ...r, ...varint(v));
  return GCounter.decode(concat([0x54, 0x52, 1, 1], body), replica);
}

// The entries of a GCounter, read from its encoding in v1 layout (the kernel
// writes v2: replicas as indices into a table; v1Layout writes them out). The
// reader throws past the end: reading v2 as v1 once ran off the end here, and
// `undefined < 0x80` is false, so it looped forever instead of failing.
function gcounterEntries(c: GCounter): [string, number][] {
  const b = v1Layout(c.encode());
  let p = 4;
  const rd = () => {
    let v = 0, m = 1;
    for (;;) {
      if (p >= b.length) throw new RangeError("gcounterEntries: truncated");
      const x = b[p++]; v += (x & 0x7f) * m; if (x < 0x80) return v; m *= 128;
    }
  };
  const n = rd();
  const out: [string, number][] = [];
  for (let i = 0; i < n; i++) {
    const len = rd();
    if (p + len > b.length) throw new RangeError("gcounterEntries: truncated");
    const r = new TextDecoder().decode(b.subarray(p, p + len));
    p += len;
    out.push([r, rd()]);
  }
  if (p !== b.length) throw new RangeError("gcounterEntries: trailing bytes");
  return out;
}

// The helpers the morphism checks below are built on read back what they
// write, in the kernel's current format (they once hung on v2, see above).
it("gcounterEntries reads back gcounterFromEntries", () => {
  const c = gcounterFromEntries([["b", 5], ["a", 3], ["zz", 300], ["none", 0]], "a");
  try {
    expect(gcounterEntries(c)).toEqual([["a", 3], ["b", 5], ["zz", 300]]);
    expect(c.value).toBe(308);
  } finally { c.dispose(); }
});

describe("morphisms", () => {
  const gc = fixtureNamed("GCounter");
  const aw = fixtureNamed("AWSet");
  const opts: LawOptions = { numRuns };

  it.runIf(!!gc)("GCounter → GCounter: projection onto one replica", () => {
    const project = (c: GCounter) => gcounterFromEntries(gcounterEntries(c).filter(([r]) => r === "a"), c.replica);
    checkMorphism(project, gc!, gc!, opts);
  });

  it.runIf(!!gc)("GCounter → GCounter: per-replica max as one entry (a MaxInt-like query)", () => {
    const top = (c: GCounter) => gcounterFromEntries([["max", Math.max(0, ...gcounterEntries(c).map(([, v]) => v))]], c.replica);
    checkMorphism(top, gc!, gc!, opts);
  });

  it.runIf(!!aw)("AWSet → AWSet: filter by an element predicate (removes keep the context)", () => {
    const keep = (v: Value) => typeof v === "string";
    const filter = (s: AWSet<Value>) => {
      const out = s.clone();
      for (const v of out.values()) if (!keep(v)) out.remove(v);
      return out;
    };
    checkMorphism(filter, aw!, aw!, opts);
  });

  it.runIf(!!aw)("AWSet → AWSet: identity through encode/decode", () => {
    checkMorphism((s: AWSet<Value>) => decodeState(s.encode(), s.replica) as AWSet<Value>, aw!, aw!, opts);
  });

  // The checker must be able to fail: the total is not a join morphism
  // (two replicas' concurrent increments add up, the max of totals does not).
  it.runIf(!!gc)("rejects a function that is not a morphism (GCounter total as one entry)", () => {
    const total = (c: GCounter) => gcounterFromEntries([["sum", c.value]], c.replica);
    expect(() => checkMorphism(total, gc!, gc!, { numRuns: 500 })).toThrow(/morphism/);
  });
});

// A deliberately broken "lattice" (Hydro's practice: a type that is not a
// lattice has a test expecting the law check to fail): a counter whose merge
// also counts the merge on the receiving replica, so a ⊔ b ≠ b ⊔ a.
class BumpCounter extends GCounter {
  override merge(other: GCounter | Uint8Array): boolean {
    const changed = super.merge(other);
    if (changed) this.increment(1);
    return changed;
  }
  override clone(replica: string = this.replica): this {
    const c = new BumpCounter(replica);
    GCounter.prototype.merge.call(c, this);
    return c as this;
  }
}

describe("the law checkers can fail", () => {
  const gc = fixtureNamed("GCounter");
  const broken: AnyFixture | undefined = gc && { ...gc, name: "BumpCounter", make: (r: string) => new BumpCounter(r) };

  it.runIf(!!broken)("commutativity fails for a merge that is not commutative", () => {
    expect(() => checkCommutative(broken!, { numRuns: 500 })).toThrow(/commutative/);
  });

  it.runIf(!!broken)("idempotence holds for it (the checker does not fail everything)", () => {
    checkIdempotent(broken!, { numRuns: 200 });
  });
});
