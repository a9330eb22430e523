// The compact form (format versions 2 and 3), written in plain TypeScript from
// the expanded layout (version 1's: replica ids inline, timestamps and keys
// whole): an implementation separate from the kernel's (assembly/compact.ts),
// so tests comparing the two check the format, not one implementation against
// itself. docs/format.md is the reference.
//
// The models write that layout with the version byte 1 and version 3's user
// values (the values are opaque here): compactV1 gives the version 3 state
// the kernels write. Real version 1 and 2 bytes, with the old values, are
// made from the same layout by test/model/legacy.ts.

export interface Spec { tag: number; k?: number; a?: Spec; b?: Spec }

export class Cursor {
  p = 0;
  constructor(readonly b: Uint8Array) {}
  u8(): number {
    if (this.p >= this.b.length) throw new RangeError("truncated");
    return this.b[this.p++];
  }
  varint(): bigint {
    let v = 0n, shift = 0n;
    for (;;) {
      const x = this.u8();
      v |= BigInt(x & 0x7f) << shift;
      if ((x & 0x80) === 0) return v;
      shift += 7n;
    }
  }
  n(): number { return Number(this.varint()); }
  bytes(): Uint8Array {
    const n = this.n();
    const out = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return out;
  }
}

class Out {
  parts: number[] = [];
  u8(x: number): void { this.parts.push(x); }
  varint(v: bigint | number): void {
    let x = BigInt(v);
    while (x >= 0x80n) { this.parts.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
    this.parts.push(Number(x));
  }
  bytes(b: Uint8Array): void { this.varint(b.length); for (const x of b) this.parts.push(x); }
}

export function readSpec(c: Cursor): Spec {
  const tag = c.u8();
  if (tag === 15) return { tag, k: c.n() };
  if (tag === 12 || tag === 13) return { tag, a: readSpec(c) };
  if (tag === 14) return { tag, a: readSpec(c), b: readSpec(c) };
  return { tag };
}

const hasTs = (s: Spec): boolean => s.tag === 6 || (s.a !== undefined && hasTs(s.a)) || (s.b !== undefined && hasTs(s.b));

const key = (b: Uint8Array): string => Buffer.from(b).toString("latin1");
const byBytes = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);

// Items of the v1 body in order: what the v2 body writes in their place.
type Item =
  | { t: "v"; v: bigint }          // a varint, as it is
  | { t: "u8"; v: number }
  | { t: "b"; v: Uint8Array }      // bytes, as they are (a value)
  | { t: "rep"; v: string }        // a replica id → its table index
  | { t: "ts"; v: bigint }         // a timestamp → minus the base
  | { t: "key"; v: Uint8Array; list: number }; // a key of sorted list `list`

function walk(c: Cursor, s: Spec, out: Item[], lists: { n: number }): void {
  const v = () => out.push({ t: "v", v: c.varint() });
  const rep = () => out.push({ t: "rep", v: key(c.bytes()) });
  const count = (): number => { const n = c.n(); out.push({ t: "v", v: BigInt(n) }); return n; };
  const keys = (n: number, each: () => void) => {
    const list = lists.n++;
    for (let i = 0; i < n; i++) { out.push({ t: "key", v: c.bytes(), list }); each(); }
  };
  const context = () => {
    for (let i = count(); i > 0; i--) { rep(); v(); }
    for (let i = count(); i > 0; i--) { rep(); v(); }
  };
  switch (s.tag) {
    case 1: for (let i = count(); i > 0; i--) { rep(); v(); } break;
    case 2: walk(c, { tag: 1 }, out, lists); walk(c, { tag: 1 }, out, lists); break;
    case 3: v(); break;
    case 5: { const f = c.u8(); out.push({ t: "u8", v: f }); if (f === 1) out.push({ t: "b", v: c.bytes() }); break; }
    case 6: {
      const f = c.u8(); out.push({ t: "u8", v: f });
      if (f === 1) { out.push({ t: "ts", v: c.varint() }); rep(); out.push({ t: "b", v: c.bytes() }); }
      break;
    }
    case 8: keys(count(), () => {}); break;
    case 9: walk(c, { tag: 8 }, out, lists); walk(c, { tag: 8 }, out, lists); break;
    case 4: case 7: context(); for (let i = count(); i > 0; i--) { rep(); v(); if (s.tag === 7) out.push({ t: "b", v: c.bytes() }); } break;
    case 10: context(); keys(count(), () => { for (let j = count(); j > 0; j--) { rep(); v(); } }); break;
    case 11: keys(count(), () => { for (let j = count(); j > 0; j--) { rep(); v(); out.push({ t: "u8", v: c.u8() }); } }); break;
    case 12: keys(count(), () => walk(c, s.a!, out, lists)); break;
    case 13: walk(c, { tag: 10 }, out, lists); keys(count(), () => walk(c, s.a!, out, lists)); break;
    case 14: walk(c, s.a!, out, lists); walk(c, s.b!, out, lists); break;
    case 15: keys(count(), v); break;
    default: throw new RangeError(`tag ${s.tag}`);
  }
}

export const MAX_PREFIX = 255;

// The compact encoding (version 3 unless told) of the state whose expanded
// layout is `v1`; its values are copied as they are.
export function compactV1(v1: Uint8Array, version = 3): Uint8Array {
  const c = new Cursor(v1);
  if (c.u8() !== 0x54 || c.u8() !== 0x52 || c.u8() !== 1) throw new RangeError("not a v1 state");
  const specAt = c.p;
  const spec = readSpec(c);
  const specBytes = v1.subarray(specAt, c.p);
  const items: Item[] = [];
  walk(c, spec, items, { n: 0 });
  if (c.p !== v1.length) throw new RangeError("trailing bytes");

  const reps = [...new Set(items.flatMap((i) => (i.t === "rep" ? [i.v] : [])))].sort(byBytes);
  const index = new Map(reps.map((r, i) => [r, i]));
  const stamps = items.flatMap((i) => (i.t === "ts" ? [i.v] : []));
  const base = stamps.length === 0 ? 0n : stamps.reduce((a, b) => (b < a ? b : a));

  const o = new Out();
  o.u8(0x54); o.u8(0x52); o.u8(version);
  for (const x of specBytes) o.u8(x);
  o.varint(reps.length);
  for (const r of reps) o.bytes(Buffer.from(r, "latin1"));
  if (hasTs(spec)) o.varint(base);
  const prev = new Map<number, Uint8Array>();
  for (const i of items) {
    switch (i.t) {
      case "v": o.varint(i.v); break;
      case "u8": o.u8(i.v); break;
      case "b": o.bytes(i.v); break;
      case "rep": o.varint(index.get(i.v)!); break;
      case "ts": o.varint(i.v - base); break;
      case "key": {
        const p = prev.get(i.list) ?? new Uint8Array(0);
        // From version 3 a key's final 0x00 is left out (docs/format.md, "Sorted keys").
        const z = version >= 3 && i.v.length > 0 && i.v[i.v.length - 1] === 0 ? 1 : 0;
        let l = 0;
        while (l < MAX_PREFIX && l < p.length && l < i.v.length - z && p[l] === i.v[l]) l++;
        o.varint(l);
        o.bytes(i.v.subarray(l, i.v.length - z));
        prev.set(i.list, i.v);
        break;
      }
    }
  }
  return Uint8Array.from(o.parts);
}
