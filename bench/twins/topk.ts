// TopK(k) twin, written here rather than taken from test/model/topk.ts: the
// model keeps every id ever seen and truncates only when it encodes (a full
// sort of the whole map each time). This is the kernel's algorithm
// (assembly/types/topk.ts): at most k entries id -> score; a small join goes
// entry by entry against a cached lowest-ranked entry, a larger one merges by
// max and then keeps the k best.
import { ByteWriter, byByte, header, writeBin } from "../../test/model/common.js";
import { ByteReader, done, readBin, readHeader } from "./read.js";

export interface State { m: Map<string, number>; low?: [string, number] }

const ONE_BY_ONE = 8;
// (s, id) ranks above (t, jd): higher score, then smaller id.
const above = (s: number, id: string, t: number, jd: string) => s > t || (s === t && id < jd);

export function topk(k: number) {
  const lowest = (a: State): [string, number] => {
    if (a.low) return a.low;
    let id = "", s = 0, first = true;
    for (const [i, v] of a.m) if (first || above(s, id, v, i)) { id = i; s = v; first = false; }
    return (a.low = [id, s]);
  };
  const joinOne = (a: State, id: string, s: number): boolean => {
    const cur = a.m.get(id);
    if (cur !== undefined) {
      if (cur >= s) return false;
      a.m.set(id, s);
      if (a.low && a.low[0] === id) a.low = undefined;
      return true;
    }
    if (a.m.size < k) {
      a.m.set(id, s);
      if (a.low && above(a.low[1], a.low[0], s, id)) a.low = [id, s];
      return true;
    }
    const [lid, ls] = lowest(a);
    if (!above(s, id, ls, lid)) return false;
    a.m.delete(lid);
    a.m.set(id, s);
    a.low = undefined;
    return true;
  };
  return {
    bottom: (): State => ({ m: new Map() }),
    joinInto(a: State, b: State): boolean {
      if (b.m.size <= ONE_BY_ONE) {
        let changed = false;
        for (const [id, s] of b.m) if (joinOne(a, id, s)) changed = true;
        return changed;
      }
      const rose: string[] = [];
      for (const [id, s] of b.m) {
        const cur = a.m.get(id);
        if (cur === undefined || cur < s) { a.m.set(id, s); rose.push(id); }
      }
      if (rose.length === 0) return false;
      a.low = undefined;
      if (a.m.size > k) {
        const all = [...a.m].sort((x, y) => (above(x[1], x[0], y[1], y[0]) ? -1 : above(y[1], y[0], x[1], x[0]) ? 1 : 0));
        for (let i = k; i < all.length; i++) a.m.delete(all[i][0]);
      }
      return rose.some((id) => a.m.has(id));
    },
    encode(s: State): Uint8Array {
      const w = new ByteWriter(256);
      header(w, { tag: 15, k });
      const ids = [...s.m.keys()].sort(byByte);
      w.varint(ids.length);
      for (const id of ids) { writeBin(w, id); w.varint(s.m.get(id)!); }
      return w.finish();
    },
    decode(bytes: Uint8Array): State {
      const r = new ByteReader(bytes);
      if (readHeader(r).k !== k) throw new Error("wrong k");
      const n = r.varint();
      if (n > k) throw new Error("more than k entries");
      const m = new Map<string, number>();
      let prev = "";
      for (let i = 0; i < n; i++) {
        const id = readBin(r);
        if (i > 0 && !(prev < id)) throw new Error("noncanonical ids");
        prev = id;
        m.set(id, r.varint());
      }
      done(r);
      return { m };
    },
  };
}
