// The kernel writes format v2 three ways: GCounter straight from its entries
// (encodeCompact), compact.ts's generic pass with replica references that
// arrive new and in byte order (no table sort, no second lookup), and the
// generic pass with a sorted table. Each must give the bytes the models'
// independent v2 writer (test/model/common.ts encodeModel) gives.
import { describe, expect, it, beforeAll } from "vitest";
import { init, AWSet, GCounter, GMap, LWWRegister } from "../dist/host/index.node.js";
import { encodeValue } from "../host/crdt/value.js";
import { encodeModel } from "./model/common.js";
import { gcounterModel } from "./model/gcounter.js";
import { gmapModel } from "./model/gmap.js";
import { lwwregisterModel } from "./model/lwwregister.js";

beforeAll(async () => { await init(); });

// A fixed shuffle (so a failure replays).
function shuffled<T>(xs: T[], seed: number): T[] {
  const a = xs.slice();
  let s = seed >>> 0;
  for (let i = a.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => prefix + String(i).padStart(5, "0"));

describe("v2 encodings written by every path agree with the model's", () => {
  it("GCounter, entries joined one by one out of order (unsorted, written through a sorted index)", () => {
    const reps = shuffled(ids(3000, "r"), 7);
    const c = new GCounter("seed");
    let m = gcounterModel.bottom();
    for (const [i, r] of reps.entries()) {
      const one = new GCounter(r);
      one.increment(i + 1);
      c.merge(one.encode()); // a small delta: a point update, appended out of order
      one.dispose();
      m = gcounterModel.apply(m, { inc: i + 1 }, r);
    }
    expect(c.encode()).toEqual(encodeModel(gcounterModel, m));
    // A bulk join leaves the entries in order: the direct writer's other branch.
    const other = new GCounter("x");
    const big = GCounter.decode(c.encode(), "y");
    other.merge(big.encode());
    expect(other.encode()).toEqual(encodeModel(gcounterModel, m));
    // Counts past one varint byte, an empty counter.
    expect(new GCounter("e").encode()).toEqual(encodeModel(gcounterModel, gcounterModel.bottom()));
    for (const x of [c, other, big]) x.dispose();
  });

  const model = gmapModel(lwwregisterModel);
  const mapOf = (writers: string[]) => {
    const keys = ids(writers.length, "k");
    let m = model.bottom();
    const states: Uint8Array[] = [];
    for (let i = 0; i < keys.length; i++) {
      const op = { key: keys[i], op: { set: i, ts: 1_700_000_000_000 + i, after: false } };
      m = model.apply(m, op, writers[i]);
      const one = new GMap<number>(writers[i], LWWRegister);
      one.update(keys[i], LWWRegister.ops.set(i, 1_700_000_000_000 + i));
      states.push(one.encode());
      one.dispose();
    }
    const g = new GMap<number>("reader", LWWRegister);
    g.batch(() => { for (const s of states) g.merge(s); });
    return { g, m };
  };

  it("GMap<LWWRegister> whose writers rise with the keys (references new and in order)", () => {
    const { g, m } = mapOf(ids(2000, "w"));
    expect(g.encode()).toEqual(encodeModel(model, m));
    g.dispose();
  });

  it("GMap<LWWRegister> whose writers fall as the keys rise, and repeat (the table sorted)", () => {
    const w = ids(1000, "w").reverse();
    const { g, m } = mapOf([...w, ...w]);
    expect(g.encode()).toEqual(encodeModel(model, m));
    g.dispose();
  });

  // AWSet keeps its elements' byte order incrementally (data/order.ts): each
  // encode sorts only what was added since. Every encoding below must be the
  // canonical one: decode refuses elements out of order (NONCANONICAL), and
  // a state decoded from it must list exactly what a plain Set holds.
  it("AWSet encodes in canonical order after adds, removes, joins and a compaction, encode after encode", () => {
    const s = new AWSet<string>("a");
    const want = new Set<string>();
    const check = () => {
      const bytes = s.encode();
      const back = AWSet.decode<string>(bytes); // throws on a non-canonical order
      const byBytes = [...want].sort((x, y) => Buffer.compare(Buffer.from(encodeValue(x)), Buffer.from(encodeValue(y))));
      expect(back.values()).toEqual(byBytes);
      expect(back.encode()).toEqual(bytes);
      back.dispose();
    };
    const words = shuffled(ids(6000, "e"), 11);
    s.batch(() => { for (const w of words.slice(0, 3000)) { s.add(w); want.add(w); } });
    check(); // the first encode sorts everything
    s.batch(() => { for (const w of words.slice(3000, 3500)) { s.add(w); want.add(w); } });
    for (const w of words.slice(0, 200)) { s.remove(w); want.delete(w); }
    check(); // only the 500 new ones are sorted and merged in
    const other = new AWSet<string>("b");
    other.batch(() => { for (const w of words.slice(3500, 4500)) { other.add(w); want.add(w); } });
    s.merge(other.encode());
    check(); // elements interned by a join
    // Remove most: once dead elements outnumber the live ones, the next join
    // moves the live ones to a new table (new indices).
    s.batch(() => { for (const w of words.slice(200, 4200)) { s.remove(w); want.delete(w); } });
    const late = new AWSet<string>("c");
    late.batch(() => { for (const w of words.slice(4500, 4600)) { late.add(w); want.add(w); } });
    s.merge(late.encode());
    check();
    s.batch(() => { for (const w of words.slice(4600, 4700)) { s.add(w); want.add(w); } });
    check();
    for (const x of [s, other, late]) x.dispose();
  });
});
