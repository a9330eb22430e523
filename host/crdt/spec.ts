// Type specs: a tag plus parameters, written as in the binary format header.
import { ByteReader, ByteWriter } from "./bytes.js";
import { TrellisError } from "../wasm/errors.js";

export const Tag = {
  GCounter: 1, PNCounter: 2, MaxInt: 3, EWFlag: 4, IVar: 5, LWWRegister: 6, MVRegister: 7,
  GSet: 8, TwoPSet: 9, AWSet: 10, ORSet: 11, GMap: 12, AWMap: 13, Pair: 14, TopK: 15,
} as const;
export type TagName = keyof typeof Tag;

export interface TypeSpec {
  readonly tag: number;
  readonly k?: number;          // TopK
  readonly value?: TypeSpec;    // GMap, AWMap
  readonly a?: TypeSpec;        // Pair
  readonly b?: TypeSpec;        // Pair
}

// Anything that names a type: a spec, or a class with a static `spec`.
export type TypeLike = TypeSpec | { readonly spec: TypeSpec };
export const toSpec = (t: TypeLike): TypeSpec => ("tag" in t ? t : t.spec);

export const MAX_TOPK = 1 << 16;

export function writeSpec(w: ByteWriter, s: TypeSpec): void {
  w.u8(s.tag);
  if (s.tag === Tag.TopK) w.varint(s.k!);
  else if (s.tag === Tag.GMap || s.tag === Tag.AWMap) writeSpec(w, s.value!);
  else if (s.tag === Tag.Pair) { writeSpec(w, s.a!); writeSpec(w, s.b!); }
}

export function readSpec(r: ByteReader, depth = 0): TypeSpec {
  if (depth > 16) throw new TrellisError("TOO_DEEP", "type nested deeper than 16");
  const tag = r.u8();
  if (tag === Tag.TopK) return { tag, k: r.varint() };
  if (tag === Tag.GMap || tag === Tag.AWMap) return { tag, value: readSpec(r, depth + 1) };
  if (tag === Tag.Pair) { const a = readSpec(r, depth + 1); return { tag, a, b: readSpec(r, depth + 1) }; }
  if (tag < 1 || tag > 15) throw new TrellisError("BAD_TAG", `unknown type tag ${tag}`);
  return { tag };
}

export function specName(s: TypeSpec): string {
  const name = (Object.keys(Tag) as TagName[]).find((n) => Tag[n] === s.tag) ?? `#${s.tag}`;
  if (s.tag === Tag.TopK) return `${name}(${s.k})`;
  if (s.value) return `${name}<${specName(s.value)}>`;
  if (s.a) return `${name}<${specName(s.a)}, ${specName(s.b!)}>`;
  return name;
}

// Equal exactly when specName(a) === specName(b), without building the names:
// merge checks it on every call (issue 10, boundary cost).
export function sameSpec(a: TypeSpec, b: TypeSpec): boolean {
  if (a === b) return true;
  if (a.tag !== b.tag) return false;
  if (a.tag === Tag.TopK) return String(a.k) === String(b.k);
  if (a.value || b.value) return !!a.value && !!b.value && sameSpec(a.value, b.value);
  if (a.a || b.a) return !!a.a && !!b.a && sameSpec(a.a, b.a) && sameSpec(a.b!, b.b!);
  return true;
}
