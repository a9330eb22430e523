// What a delta mints and what its causal contexts cover, as the kernel lists
// them (assembly/mint.ts, docs/abi.md "Mint lists"): the facts an admission
// check needs to see that a delta writes only as its author (issue 12).
import { ByteReader } from "../crdt/bytes.js";
import { Kernel, kernel } from "../wasm/kernel.js";

// Where in nested values a record sits: a map key's encoded user value, or a
// Pair component. [] is the state itself.
export type PathSegment = { key: Uint8Array } | "first" | "second";

export type Mint =
  | { kind: "dot"; path: PathSegment[]; replica: string; counter: bigint }
  | { kind: "token"; path: PathSegment[]; replica: string; counter: bigint; removed: boolean }
  | { kind: "increment" | "decrement"; path: PathSegment[]; replica: string; value: bigint }
  | { kind: "write"; path: PathSegment[]; replica: string; timestamp: bigint }
  | { kind: "topk"; path: PathSegment[]; id: Uint8Array; score: bigint }
  | { kind: "max"; path: PathSegment[]; value: bigint }
  | { kind: "context"; path: PathSegment[]; replica: string; max: bigint; cloud: bigint[] };

const KINDS = ["", "dot", "token", "increment", "decrement", "write", "topk", "max", "context"] as const;
const utf8 = new TextDecoder("utf-8", { fatal: true });

// Every record of a delta (any valid state), in encoding order. Throws the
// kernel's typed error if the bytes do not decode.
export function mintsOf(delta: Uint8Array, k: Kernel = kernel()): Mint[] {
  const r = new ByteReader(k.mints(delta));
  const n = r.varint();
  const out: Mint[] = [];
  for (let i = 0; i < n; i++) {
    const depth = r.varint();
    const path: PathSegment[] = [];
    for (let j = 0; j < depth; j++) {
      const s = r.u8();
      path.push(s === 0 ? { key: r.bytes().slice() } : s === 1 ? "first" : "second");
    }
    const kind = KINDS[r.u8()];
    switch (kind) {
      case "dot": out.push({ kind, path, replica: utf8.decode(r.bytes()), counter: r.bigVarint() }); break;
      case "token": out.push({ kind, path, replica: utf8.decode(r.bytes()), counter: r.bigVarint(), removed: r.u8() === 1 }); break;
      case "increment": case "decrement": out.push({ kind, path, replica: utf8.decode(r.bytes()), value: r.bigVarint() }); break;
      case "write": out.push({ kind, path, replica: utf8.decode(r.bytes()), timestamp: r.bigVarint() }); break;
      case "topk": out.push({ kind, path, id: r.bytes().slice(), score: r.bigVarint() }); break;
      case "max": out.push({ kind, path, value: r.bigVarint() }); break;
      case "context": {
        const replica = utf8.decode(r.bytes());
        const max = r.bigVarint();
        const cloud: bigint[] = [];
        for (let c = r.varint(); c > 0; c--) cloud.push(r.bigVarint());
        out.push({ kind, path, replica, max, cloud });
        break;
      }
      default: throw new Error(`unknown mint record kind at record ${i}`);
    }
  }
  return out;
}

// Per replica id: what the delta attributes to it. `dots` holds store dots
// and active ORSet tokens; `removed`, ORSet tokens marked removed (a remove
// marks tokens of any replica, but only ones the receiver has seen: an
// unseen one would block that replica's future add); counters, writes and
// what the contexts cover are listed as they come. An admission check
// compares each replica here with the delta's author.
export interface ReplicaMints {
  dots: bigint[];
  removed: bigint[];
  increments: bigint[];
  decrements: bigint[];
  writes: bigint[];
  covers: { max: bigint; cloud: bigint[] }[];
}

export function mintsByReplica(delta: Uint8Array, k: Kernel = kernel()): Map<string, ReplicaMints> {
  const by = new Map<string, ReplicaMints>();
  const at = (r: string) => {
    let m = by.get(r);
    if (!m) by.set(r, (m = { dots: [], removed: [], increments: [], decrements: [], writes: [], covers: [] }));
    return m;
  };
  for (const m of mintsOf(delta, k)) {
    switch (m.kind) {
      case "dot": at(m.replica).dots.push(m.counter); break;
      case "token": (m.removed ? at(m.replica).removed : at(m.replica).dots).push(m.counter); break;
      case "increment": at(m.replica).increments.push(m.value); break;
      case "decrement": at(m.replica).decrements.push(m.value); break;
      case "write": at(m.replica).writes.push(m.timestamp); break;
      case "context": at(m.replica).covers.push({ max: m.max, cloud: m.cloud }); break;
    }
  }
  return by;
}
