// Readable text for `inspect`: type names and query values. Pure: bytes in,
// string out. Elements are rendered with the host's value codec
// (host/crdt/value.ts); bytes that are not a valid value are shown as hex.
import { Reader } from "../codec";
import { Spec, T_GCOUNTER, T_TOPK, T_GMAP, T_AWMAP, T_PAIR, T_AWSET } from "../lattice";

const NAMES: string[] = [
  "", "GCounter", "PNCounter", "MaxInt", "EWFlag", "IVar", "LWWRegister", "MVRegister",
  "GSet", "TwoPSet", "AWSet", "ORSet", "GMap", "AWMap", "Pair", "TopK",
];

// Mirrors specName in host/crdt/spec.ts, so both sides print the same names.
export function specName(s: Spec): string {
  const name = s.tag < <u8>NAMES.length ? NAMES[s.tag] : "#" + s.tag.toString();
  if (s.tag == T_TOPK) return name + "(" + s.k.toString() + ")";
  if (s.tag == T_GMAP || s.tag == T_AWMAP) return name + "<" + specName(s.a!) + ">";
  if (s.tag == T_PAIR) return name + "<" + specName(s.a!) + ", " + specName(s.b!) + ">";
  return name;
}

const HEX = "0123456789abcdef";

export function hex(p: usize, n: i32): string {
  const parts = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const b = load<u8>(p + i);
    parts[i] = HEX.charAt(b >> 4) + HEX.charAt(b & 15);
  }
  return parts.join("");
}

function quote(s: string): string {
  const parts = new Array<string>();
  parts.push("\"");
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 34) parts.push("\\\"");
    else if (c == 92) parts.push("\\\\");
    else if (c == 10) parts.push("\\n");
    else if (c < 32 || c == 127) parts.push("\\u00" + HEX.charAt(c >> 4) + HEX.charAt(c & 15));
    else parts.push(String.fromCharCode(c));
  }
  parts.push("\"");
  return parts.join("");
}

const MAX_VALUE_DEPTH = 64;

// value := tag payload (see host/crdt/value.ts). Appends to out; on malformed
// bytes sets r.err and the caller falls back to hex.
function value(r: Reader, out: Array<string>, depth: i32): void {
  if (depth > MAX_VALUE_DEPTH) { r.fail(1); return; }
  const tag = r.u8();
  if (!r.ok) return;
  switch (tag) {
    case 0: out.push("null"); return;
    case 1: out.push("false"); return;
    case 2: out.push("true"); return;
    case 3: {
      const z = r.varint();
      if (!r.ok) return;
      // zigzag; (z >> 1) + 1 cannot overflow where -(z + 1) / 2 would
      out.push((z & 1) == 0 ? (z >> 1).toString() : "-" + ((z >> 1) + 1).toString());
      return;
    }
    case 4: {
      if (r.left < 8) { r.fail(1); return; }
      const f = reinterpret<f64>(bswap<u64>(load<u64>(r.p)));
      r.p += 8;
      out.push(f.toString());
      return;
    }
    case 5: {
      const n = r.varint();
      if (!r.ok) return;
      if (n > <u64>r.left) { r.fail(1); return; }
      out.push(quote(String.UTF8.decodeUnsafe(r.p, <usize>n)));
      r.p += <usize>n;
      return;
    }
    case 6: {
      const n = r.varint();
      if (!r.ok) return;
      if (n > <u64>r.left) { r.fail(1); return; }
      out.push("bytes(" + hex(r.p, <i32>n) + ")");
      r.p += <usize>n;
      return;
    }
    case 7: {
      const n = r.count(1);
      out.push("[");
      for (let i = 0; i < n && r.ok; i++) {
        if (i > 0) out.push(", ");
        value(r, out, depth + 1);
      }
      out.push("]");
      return;
    }
    case 8: {
      const n = r.count(2);
      out.push("{");
      for (let i = 0; i < n && r.ok; i++) {
        if (i > 0) out.push(", ");
        const k = r.varint();
        if (!r.ok) return;
        if (k > <u64>r.left) { r.fail(1); return; }
        out.push(quote(String.UTF8.decodeUnsafe(r.p, <usize>k)) + ": ");
        r.p += <usize>k;
        value(r, out, depth + 1);
      }
      out.push("}");
      return;
    }
  }
  r.fail(1);
}

// One element (opaque bytes p..p+n to the kernel) as a value, or hex if it is not one.
export function element(p: usize, n: i32): string {
  const r = new Reader(p, p + <usize>n);
  const out = new Array<string>();
  value(r, out, 0);
  if (!r.ok || !r.done) return "bytes(" + hex(p, n) + ")";
  return out.join("");
}

// The query value of a state in readable form, for the types whose query
// encoding this file knows; null otherwise (the caller prints hex).
export function queryText(s: Spec, p: usize, n: i32): string | null {
  const r = new Reader(p, p + <usize>n);
  if (s.tag == T_GCOUNTER) {
    const v = r.varint();
    return r.ok && r.done ? v.toString() : null;
  }
  if (s.tag == T_AWSET) {
    // query := count, elements (length-prefixed, sorted)
    const c = r.count(1);
    const parts = new Array<string>();
    for (let i = 0; i < c && r.ok; i++) {
      const len = r.varint();
      if (!r.ok || len > <u64>r.left) return null;
      parts.push(element(r.p, <i32>len));
      r.p += <usize>len;
    }
    return r.ok && r.done ? "[" + parts.join(", ") + "]" : null;
  }
  return null;
}
