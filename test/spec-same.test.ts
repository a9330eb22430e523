// sameSpec compares type specs structurally (merge checks it on every call);
// it must agree with comparing their names, which is what it replaced.
import { describe, expect, it } from "vitest";
import { Tag, TypeSpec, sameSpec, specName } from "../host/crdt/spec.js";

const leaf = (tag: number): TypeSpec => ({ tag });
const specs: TypeSpec[] = [
  leaf(Tag.GCounter), leaf(Tag.MaxInt), leaf(Tag.LWWRegister), leaf(99),
  { tag: Tag.TopK, k: 10 }, { tag: Tag.TopK, k: 11 }, { tag: Tag.TopK, k: 10, value: leaf(Tag.GSet) },
  { tag: Tag.GMap, value: leaf(Tag.LWWRegister) }, { tag: Tag.GMap, value: leaf(Tag.MVRegister) },
  { tag: Tag.GMap, value: { tag: Tag.GMap, value: leaf(Tag.LWWRegister) } },
  { tag: Tag.AWMap, value: leaf(Tag.LWWRegister) },
  { tag: Tag.Pair, a: leaf(Tag.GCounter), b: leaf(Tag.GSet) },
  { tag: Tag.Pair, a: leaf(Tag.GSet), b: leaf(Tag.GCounter) },
  { tag: Tag.Pair, a: leaf(Tag.GCounter), b: { tag: Tag.Pair, a: leaf(Tag.GSet), b: leaf(Tag.GSet) } },
  { tag: Tag.GMap }, leaf(Tag.Pair),
];

describe("sameSpec", () => {
  it("agrees with comparing spec names on every pair, including fresh copies", () => {
    const copies = specs.map((s) => JSON.parse(JSON.stringify(s)) as TypeSpec);
    let equal = 0;
    for (const a of specs) for (const b of [...specs, ...copies]) {
      const want = specName(a) === specName(b);
      expect(sameSpec(a, b), `${specName(a)} vs ${specName(b)}`).toBe(want);
      if (want) equal++;
    }
    // each spec equals itself and its copy; the two TopK(10) specs (a TopK's
    // name ignores a stray value field) also equal each other's and copies
    expect(equal).toBe(2 * specs.length + 4);
  });
});
