// Kernel set states and deltas, read as provenance items (docs/format.md has
// the bodies). This is how a replicated set feeds the combinators: each
// delta-group a set gains (a local op's, or the part of a received state that
// was new) becomes the tokens it added or removed.
//
//   GSet, TwoPSet  one token per element (its bytes); a TwoPSet remove marks it removed
//   ORSet          the element's tokens (dots) with their flags
//   AWSet          the element's dots; a dot the delta's causal context covers
//                  but its store no longer holds was removed
import { ByteReader } from "../crdt/bytes.js";
import { current, v1Layout } from "../crdt/layout.js";
import { Tag, TypeSpec, readSpec } from "../crdt/spec.js";
import { decodeValue } from "../crdt/value.js";
import { Item, Tokens, bytesKey } from "./provenance.js";

export const SET_TAGS: ReadonlySet<number> = new Set([Tag.GSet, Tag.TwoPSet, Tag.AWSet, Tag.ORSet]);
// Set types whose elements can leave.
export const removable = (tag: number): boolean => tag !== Tag.GSet;

interface Dot { r: string; c: number }

export class SetSource {
  readonly tag: number;
  readonly #tokens: Tokens;
  // AWSet only: the dots present, per replica (counter -> element key), so the
  // dots a context covers can be found without scanning the whole set.
  #live = new Map<string, Map<number, string>>();
  #values = new Map<string, unknown>();
  // AWSet only: the causal context seen so far (every dot ever added here or
  // covered by a remove). A delta may repeat a dot the context already covers
  // (a join ignores it); such a dot was removed, not added.
  #vv = new Map<string, number>();
  #cloud = new Map<string, Set<number>>();

  constructor(spec: TypeSpec, tokens: Tokens) {
    this.tag = spec.tag;
    this.#tokens = tokens;
  }

  #dotToken(d: Dot): number { return this.#tokens.id(`d${d.r}\u0000${d.c}`); }
  #elemToken(key: string): number { return this.#tokens.id(`e${key}`); }

  // The items of an encoded state or delta-group of this set type. With
  // commit = false nothing is recorded (a dry run over candidate elements).
  read(state: Uint8Array, commit = true): Item[] {
    const r = new ByteReader(v1Layout(current(state))); // values in version 3
    r.raw(3); // 'T' 'R' version: the kernel produced or validated these bytes
    readSpec(r);
    switch (this.tag) {
      case Tag.GSet: return this.#elements(r, false);
      case Tag.TwoPSet: return [...this.#elements(r, false), ...this.#elements(r, true)];
      case Tag.ORSet: return this.#orset(r);
      default: return this.#awset(r, commit);
    }
  }

  #element(r: ByteReader): { key: string; value: unknown } {
    const b = r.bytes();
    const key = bytesKey(b);
    let value = this.#values.get(key);
    if (value === undefined) value = decodeValue(b);
    return { key, value };
  }

  #elements(r: ByteReader, removed: boolean): Item[] {
    const n = r.varint();
    const out: Item[] = [];
    for (let i = 0; i < n; i++) {
      const { key, value } = this.#element(r);
      out.push({ key, value: value as Item["value"], token: this.#elemToken(key), removed });
    }
    return out;
  }

  #orset(r: ByteReader): Item[] {
    const out: Item[] = [];
    const n = r.varint();
    for (let i = 0; i < n; i++) {
      const { key, value } = this.#element(r);
      const m = r.varint();
      for (let j = 0; j < m; j++) {
        const d = { r: r.string(), c: r.varint() };
        out.push({ key, value: value as Item["value"], token: this.#dotToken(d), removed: r.u8() === 1 });
      }
    }
    return out;
  }

  #covers(d: Dot): boolean {
    return d.c <= (this.#vv.get(d.r) ?? 0) || (this.#cloud.get(d.r)?.has(d.c) ?? false);
  }

  #cover(d: Dot): void {
    let top = this.#vv.get(d.r) ?? 0;
    if (d.c <= top) return;
    let cl = this.#cloud.get(d.r);
    if (d.c > top + 1) {
      if (!cl) this.#cloud.set(d.r, (cl = new Set()));
      cl.add(d.c);
      return;
    }
    top = d.c;
    while (cl?.delete(top + 1)) top++; // fold the cloud into the version vector
    this.#vv.set(d.r, top);
  }

  #awset(r: ByteReader, commit: boolean): Item[] {
    // context := count (replica max)* count dot*
    const vv: Dot[] = [];
    for (let i = r.varint(); i > 0; i--) vv.push({ r: r.string(), c: r.varint() });
    const cloud: Dot[] = [];
    for (let i = r.varint(); i > 0; i--) cloud.push({ r: r.string(), c: r.varint() });
    const out: Item[] = [];
    const kept = new Set<string>();
    for (let n = r.varint(); n > 0; n--) {
      const { key, value } = this.#element(r);
      for (let m = r.varint(); m > 0; m--) {
        const d = { r: r.string(), c: r.varint() };
        kept.add(`${d.r}\u0000${d.c}`);
        if (this.#covers(d) && this.#live.get(d.r)?.get(d.c) === undefined) continue; // seen and removed already
        out.push({ key, value: value as Item["value"], token: this.#dotToken(d), removed: false });
        if (commit) {
          let byC = this.#live.get(d.r);
          if (!byC) this.#live.set(d.r, (byC = new Map()));
          byC.set(d.c, key);
          this.#values.set(key, value);
        }
      }
    }
    // Present dots the context covers but the store dropped: removed.
    const removedDot = (d: Dot, key: string): void => {
      if (kept.has(`${d.r}\u0000${d.c}`)) return;
      out.push({ key, value: this.#values.get(key) as Item["value"], token: this.#dotToken(d), removed: true });
      if (commit) this.#live.get(d.r)!.delete(d.c);
    };
    for (const { r: rep, c: max } of vv) {
      const byC = this.#live.get(rep);
      if (!byC) continue;
      if (max < byC.size) { for (let c = 1; c <= max; c++) { const k = byC.get(c); if (k !== undefined) removedDot({ r: rep, c }, k); } }
      else for (const [c, k] of [...byC]) if (c <= max) removedDot({ r: rep, c }, k);
    }
    for (const d of cloud) { const k = this.#live.get(d.r)?.get(d.c); if (k !== undefined) removedDot(d, k); }
    if (commit) {
      for (const { r: rep, c: max } of vv) if (max > (this.#vv.get(rep) ?? 0)) { this.#vv.set(rep, max); this.#cover({ r: rep, c: max }); }
      for (const d of cloud) this.#cover(d);
    }
    return out;
  }
}
