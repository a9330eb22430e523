// What a delta *does*, as capability commands (docs/security.md,
// "Capabilities"): read from its bytes with the kernel's mint list and its
// type header, never from what the envelope claims. The classification errs
// towards needing more: what cannot be told apart needs the broader right.
import { mintsOf, type Mint, type PathSegment } from "../replication/mint.js";
import { ByteReader } from "../crdt/bytes.js";
import { readSpec, Tag, type TypeSpec } from "../crdt/spec.js";
import type { Kernel } from "../wasm/kernel.js";
import { kernel } from "../wasm/kernel.js";
import { COMMANDS } from "./ucan.js";
import { TrustError } from "./errors.js";
import { current, v1Layout } from "../crdt/layout.js";

function specAt(root: TypeSpec, path: PathSegment[]): TypeSpec {
  let s = root;
  for (const seg of path) {
    if (seg === "first" || seg === "second") {
      if (s.tag !== Tag.Pair) throw new TrustError("BAD_DELTA", "a mint path names a Pair component of a type that is not a Pair");
      s = seg === "first" ? s.a! : s.b!;
    } else {
      if (s.tag !== Tag.GMap && s.tag !== Tag.AWMap) throw new TrustError("BAD_DELTA", "a mint path names a map key of a type that is not a map");
      s = s.value!;
    }
  }
  return s;
}

function hasTag(s: TypeSpec, tag: number): boolean {
  return s.tag === tag || (s.value !== undefined && hasTag(s.value, tag)) || (s.a !== undefined && (hasTag(s.a, tag) || hasTag(s.b!, tag)));
}

const pathKey = (p: PathSegment[]): string => p.map((s) => typeof s === "string" ? s[0] : "k" + Array.from(s.key).join(",")).join("/");

// The commands a delta needs (a sorted list), given its bytes. Throws the
// kernel's error for bytes that are not a valid state.
//
// - GCounter / PNCounter entries: increment, decrement.
// - AWSet and AWMap (its presence): a dot is an add; a causal context that
//   covers a dot the delta does not carry removes it (a remove, or a re-add
//   that retires older dots: the bytes cannot tell the two apart, so both
//   need remove). ORSet: a live token is an add, a removed one a remove.
// - LWWRegister, MVRegister, EWFlag, IVar, MaxInt: set. TopK entries: add.
// - GSet, TwoPSet and IVar name no writer and list no mints: GSet needs add
//   and IVar set wherever they sit; a TwoPSet at the top needs add and/or
//   remove as its lists are non-empty, nested in a map or pair both.
// - A delta that does none of these (bottom, or bottom map keys) needs
//   /trellis/write: nothing narrower describes it.
export function commandsOf(delta: Uint8Array, k: Kernel = kernel()): string[] {
  const mints: Mint[] = mintsOf(delta, k); // validates the state first
  const r = new ByteReader(v1Layout(current(delta, k))); // values in version 3
  r.raw(3); // 'T' 'R' version: checked by the kernel
  const root = readSpec(r);
  const need = new Set<string>();
  if (hasTag(root, Tag.GSet)) need.add(COMMANDS.ADD);
  if (hasTag(root, Tag.IVar)) need.add(COMMANDS.SET);
  if (root.tag === Tag.TwoPSet) {
    const adds = r.varint(); // body := adds removes, each count element*
    for (let n = adds; n > 0; n--) r.bytes();
    if (adds > 0) need.add(COMMANDS.ADD);
    if (r.varint() > 0) need.add(COMMANDS.REMOVE);
  } else if (hasTag(root, Tag.TwoPSet)) { need.add(COMMANDS.ADD); need.add(COMMANDS.REMOVE); }

  // Dots each (path, replica) carries, to see what a context covers beyond them.
  const carried = new Map<string, Set<bigint>>();
  for (const m of mints) {
    if (m.kind !== "dot") continue;
    const key = pathKey(m.path) + "\0" + m.replica;
    let s = carried.get(key);
    if (!s) carried.set(key, (s = new Set()));
    s.add(m.counter);
  }
  for (const m of mints) {
    switch (m.kind) {
      case "increment": need.add(COMMANDS.INCREMENT); break;
      case "decrement": need.add(COMMANDS.DECREMENT); break;
      case "write": case "max": need.add(COMMANDS.SET); break;
      case "topk": need.add(COMMANDS.ADD); break;
      case "token": need.add(m.removed ? COMMANDS.REMOVE : COMMANDS.ADD); break;
      case "dot": {
        const t = specAt(root, m.path).tag;
        need.add(t === Tag.MVRegister || t === Tag.EWFlag ? COMMANDS.SET : t === Tag.AWSet || t === Tag.AWMap ? COMMANDS.ADD : COMMANDS.WRITE);
        break;
      }
      case "context": {
        const t = specAt(root, m.path).tag;
        if (t === Tag.MVRegister || t === Tag.EWFlag) { need.add(COMMANDS.SET); break; }
        // Dots covered: 1..max and the cloud; any not carried by the delta is retired.
        const have = carried.get(pathKey(m.path) + "\0" + m.replica) ?? new Set<bigint>();
        let inside = 0n;
        for (const c of have) if (c <= m.max || m.cloud.includes(c)) inside++;
        if (m.max + BigInt(m.cloud.filter((c) => c > m.max).length) > inside) need.add(t === Tag.AWSet || t === Tag.AWMap ? COMMANDS.REMOVE : COMMANDS.WRITE);
        break;
      }
    }
  }
  if (need.size === 0) need.add(COMMANDS.WRITE);
  return [...need].sort();
}
