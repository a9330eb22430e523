// Readable text for `inspect`: type names and query values. Pure: bytes in,
// string out, never a trap. One renderer serves every type: it walks a type's
// query encoding (docs/format.md, "Query encodings") driven by its Spec, and
// renders elements, keys, register values and TopK ids with the host's value
// codec (docs/format.md, "User values") as JSON-like text. The output format
// is documented in docs/abi.md, "Command mode".
import { Reader, skipValue, skipText, skipNumber, V_NULL, V_FALSE, V_TRUE, V_NEG, V_POS, V_STRING, V_BYTES, V_ARRAY, V_OBJECT, V_END } from "../codec";
import {
  Spec, T_GCOUNTER, T_PNCOUNTER, T_MAXINT, T_EWFLAG, T_IVAR, T_LWWREGISTER, T_MVREGISTER,
  T_GSET, T_TWOPSET, T_AWSET, T_ORSET, T_GMAP, T_AWMAP, T_PAIR, T_TOPK,
} from "../lattice";

const NAMES: string[] = [
  "", "GCounter", "PNCounter", "MaxInt", "EWFlag", "IVar", "LWWRegister", "MVRegister",
  "GSet", "TwoPSet", "AWSet", "ORSet", "GMap", "AWMap", "Pair", "TopK",
];

// Mirrors specName in host/crdt/spec.ts, so both sides print the same names.
export function specName(s: Spec): string {
  const name = s.tag < <u8>NAMES.length ? NAMES[s.tag] : "#" + s.tag.toString();
  if (s.tag == T_TOPK) return name + "(" + s.k.toString() + ")";
  if (s.tag == T_GMAP || s.tag == T_AWMAP) {
    const a = s.a;
    return name + "<" + (a === null ? "?" : specName(a)) + ">";
  }
  if (s.tag == T_PAIR) {
    const a = s.a, b = s.b;
    return name + "<" + (a === null ? "?" : specName(a)) + ", " + (b === null ? "?" : specName(b)) + ">";
  }
  return name;
}

const HEX = "0123456789abcdef";

export function hex(p: usize, n: i32): string {
  const parts = new Array<string>(max(n, 0));
  for (let i = 0; i < n; i++) {
    const b = load<u8>(p + i);
    parts[i] = HEX.charAt(b >> 4) + HEX.charAt(b & 15);
  }
  return parts.join("");
}

// ---- limits -------------------------------------------------------------------

// At most this many items (elements, entries, array items, object members) of
// one collection are shown; the rest are counted: `… (M more)`.
export const MAX_ITEMS: i32 = 100;
// At most this many items in all, per value line; once spent, every further
// collection shows only its count.
export const MAX_TOTAL: i32 = 1000;
// Strings and byte strings show at most this many bytes: `"abc"… (N more bytes)`.
export const MAX_TEXT: i32 = 200;

const MAX_VALUE_DEPTH: i32 = 64;
const MAX_SPEC_DEPTH: i32 = 64; // specs nest at most 16 deep; the walk follows the spec
const ERR: i32 = 1; // any failure: the caller prints the query as hex

// The output under construction, and the item budget left.
class Out {
  parts: Array<string> = new Array<string>();
  budget: i32 = MAX_TOTAL;
  @inline put(s: string): void { this.parts.push(s); }
  // May another item of a collection that has shown `shown` items be shown?
  @inline take(shown: i32): bool {
    if (shown >= MAX_ITEMS || this.budget <= 0) return false;
    this.budget--;
    return true;
  }
}

function more(n: i32): string { return "… (" + n.toString() + " more)"; }

// ---- scalars --------------------------------------------------------------------

// JSON string escapes; non-ASCII characters are kept as they are (UTF-8 out).
function quote(s: string): string {
  const parts = new Array<string>();
  parts.push("\"");
  let run = 0; // start of the current run of characters that need no escape
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | null = null;
    if (c == 34) esc = "\\\"";
    else if (c == 92) esc = "\\\\";
    else if (c == 10) esc = "\\n";
    else if (c == 13) esc = "\\r";
    else if (c == 9) esc = "\\t";
    else if (c == 8) esc = "\\b";
    else if (c == 12) esc = "\\f";
    else if (c < 32 || c == 127) esc = "\\u00" + HEX.charAt(c >> 4) + HEX.charAt(c & 15);
    if (esc !== null) {
      if (i > run) parts.push(s.substring(run, i));
      parts.push(esc);
      run = i + 1;
    }
  }
  if (s.length > run) parts.push(s.substring(run));
  parts.push("\"");
  return parts.join("");
}

// n bytes of UTF-8 at p as a quoted string, cut at MAX_TEXT bytes (at a character boundary).
function text(p: usize, n: i32): string {
  let shown = n;
  if (n > MAX_TEXT) {
    shown = MAX_TEXT;
    while (shown > 0 && (load<u8>(p + shown) & 0xc0) == 0x80) shown--;
  }
  const s = quote(String.UTF8.decodeUnsafe(p, <usize>shown));
  return shown < n ? s + "… (" + (n - shown).toString() + " more bytes)" : s;
}

// n raw bytes at p: b"0102", cut at MAX_TEXT bytes.
function binary(p: usize, n: i32): string {
  const shown = min(n, MAX_TEXT);
  const s = "b\"" + hex(p, shown) + "\"";
  return shown < n ? s + "… (" + (n - shown).toString() + " more bytes)" : s;
}

// zigzag: 2v for v ≥ 0, −2v − 1 for v < 0; exact over all of u64.
function zigzag(z: u64): string {
  return (z & 1) == 0 ? (z >> 1).toString() : "-" + ((z >> 1) + 1).toString();
}

// A float64 the way JavaScript prints a number (no trailing ".0").
function float(f: f64): string {
  if (isNaN(f)) return "NaN";
  if (!isFinite(f)) return f < 0 ? "-Infinity" : "Infinity";
  const s = f.toString();
  return s.endsWith(".0") ? s.substring(0, s.length - 2) : s;
}

// ---- user values -----------------------------------------------------------------

// Reads a byte length that must fit in what is left of r.
function len(r: Reader): i32 {
  const n = r.varint();
  if (!r.ok) return 0;
  if (n > <u64>r.left) { r.fail(ERR); return 0; }
  return <i32>n;
}

// Skips one value inside an element being rendered (after a collection's cap).
function skip(r: Reader): void {
  const q = skipValue(r.p, r.end, 0);
  if (q == 0) r.fail(ERR);
  else r.p = q;
}

// An escaped string or bytes payload at r (docs/format.md, "User values"),
// unescaped into a fresh buffer; r ends after its terminator.
function payload(r: Reader, utf8: bool): ArrayBuffer {
  const q = skipText(r.p, r.end, utf8);
  if (q == 0) { r.fail(ERR); return new ArrayBuffer(0); }
  let n = 0;
  for (let p = r.p; p < q - 1; p++) { if (load<u8>(p) == 0) p++; n++; }
  const b = new ArrayBuffer(n);
  let i = 0;
  for (let p = r.p; p < q - 1; p++) { store<u8>(changetype<usize>(b) + i++, load<u8>(p)); if (load<u8>(p) == 0) p++; }
  r.p = q;
  return b;
}

// value := tag payload. On malformed bytes sets r.err.
function value(r: Reader, out: Out, depth: i32): void {
  if (depth > MAX_VALUE_DEPTH) { r.fail(ERR); return; }
  const at = r.p;
  const tag = r.u8();
  if (!r.ok) return;
  switch (tag) {
    case V_NULL: out.put("null"); return;
    case V_FALSE: out.put("false"); return;
    case V_TRUE: out.put("true"); return;
    case V_NEG: case V_POS: {
      const q = skipNumber(r.p, r.end, tag == V_NEG);
      if (q == 0) { r.fail(ERR); return; }
      let m: u64 = 0;
      for (let i = 0; r.p < q; i++) {
        let b = <u64>load<u8>(r.p++);
        if (tag == V_NEG) b = 0xff - b;
        m |= (b >> 1) << <u64>(56 - 7 * i);
      }
      out.put(float(reinterpret<f64>(tag == V_NEG ? m | (<u64>1 << 63) : m)));
      return;
    }
    case V_STRING: case V_BYTES: {
      const b = payload(r, tag == V_STRING);
      if (!r.ok) return;
      out.put(tag == V_STRING ? text(changetype<usize>(b), b.byteLength) : binary(changetype<usize>(b), b.byteLength));
      return;
    }
    case V_ARRAY: {
      out.put("[");
      let i = 0, shown = 0;
      while (r.ok && r.p < r.end && load<u8>(r.p) != V_END) {
        if (shown == i && out.take(shown)) {
          if (i > 0) out.put(", ");
          value(r, out, depth + 1);
          shown++;
        } else skip(r);
        i++;
      }
      r.u8(); // the end marker
      if (shown < i) out.put((shown > 0 ? ", " : "") + more(i - shown));
      out.put("]");
      return;
    }
    case V_OBJECT: {
      out.put("{");
      let i = 0, shown = 0;
      while (r.ok && r.p < r.end && load<u8>(r.p) != V_END) {
        if (r.u8() != V_STRING) { r.fail(ERR); return; }
        const k = payload(r, true);
        if (!r.ok) return;
        if (shown == i && out.take(shown)) {
          if (i > 0) out.put(", ");
          out.put(text(changetype<usize>(k), k.byteLength) + ": ");
          value(r, out, depth + 1);
          shown++;
        } else skip(r);
        i++;
      }
      r.u8();
      if (shown < i) out.put((shown > 0 ? ", " : "") + more(i - shown));
      out.put("}");
      return;
    }
  }
  r.p = at;
  r.fail(ERR);
}

// One length-prefixed element (key, register value, TopK id) from r, rendered
// as a value; bytes that are not exactly one value show as <bad value hex>.
function element(r: Reader, out: Out): void {
  const n = len(r);
  if (!r.ok) return;
  const p = r.p;
  r.p += <usize>n;
  const e = new Reader(p, p + <usize>n);
  const o = new Out();
  o.budget = out.budget;
  value(e, o, 0);
  if (!e.ok || !e.done) {
    out.put("<bad value " + hex(p, min(n, MAX_TEXT)) + (n > MAX_TEXT ? "…" : "") + ">");
    return;
  }
  out.budget = o.budget;
  out.put(o.parts.join(""));
}

// Skips one length-prefixed element.
function skipElement(r: Reader): void {
  const n = len(r);
  if (r.ok) r.p += <usize>n;
}

// ---- queries ------------------------------------------------------------------------

// count element*: [e, e, …]
function elements(r: Reader, out: Out): void {
  const n = r.count(1);
  out.put("[");
  let shown = 0;
  for (let i = 0; i < n && r.ok; i++) {
    if (shown == i && out.take(shown)) {
      if (i > 0) out.put(", ");
      element(r, out);
      shown++;
    } else skipElement(r);
  }
  if (r.ok && shown < n) out.put((shown > 0 ? ", " : "") + more(n - shown));
  out.put("]");
}

// Renders one query of type s from r into out; with quiet, only walks it (to
// reach what follows it: map entries and pair components are not length-prefixed).
function query(r: Reader, s: Spec, out: Out, quiet: bool, depth: i32): void {
  if (depth > MAX_SPEC_DEPTH) { r.fail(ERR); return; }
  switch (s.tag) {
    case T_GCOUNTER: case T_MAXINT: {
      const v = r.varint();
      if (r.ok && !quiet) out.put(v.toString());
      return;
    }
    case T_PNCOUNTER: {
      const z = r.varint();
      if (r.ok && !quiet) out.put(zigzag(z));
      return;
    }
    case T_EWFLAG: {
      const b = r.u8();
      if (!r.ok) return;
      if (b > 1) { r.fail(ERR); return; }
      if (!quiet) out.put(b == 1 ? "true" : "false");
      return;
    }
    case T_IVAR: case T_LWWREGISTER: {
      const b = r.u8();
      if (!r.ok) return;
      if (b > 1) { r.fail(ERR); return; }
      if (b == 0) { if (!quiet) out.put("unset"); return; }
      if (quiet) skipElement(r); else element(r, out);
      if (s.tag == T_IVAR || !r.ok) return;
      const ts = r.varint();
      const rep = len(r);
      if (!r.ok) return;
      if (!quiet) out.put(" @" + ts.toString() + " by " + text(r.p, rep));
      r.p += <usize>rep;
      return;
    }
    case T_MVREGISTER: case T_GSET: case T_TWOPSET: case T_AWSET: case T_ORSET: {
      if (!quiet) { elements(r, out); return; }
      const n = r.count(1);
      for (let i = 0; i < n && r.ok; i++) skipElement(r);
      return;
    }
    case T_TOPK: {
      const n = r.count(2);
      if (!quiet) out.put("[");
      let shown = 0;
      for (let i = 0; i < n && r.ok; i++) {
        if (!quiet && shown == i && out.take(shown)) {
          out.put(i > 0 ? ", (" : "(");
          element(r, out);
          const score = r.varint();
          if (r.ok) out.put(", " + score.toString() + ")");
          shown++;
        } else { skipElement(r); r.varint(); }
      }
      if (!quiet) {
        if (r.ok && shown < n) out.put((shown > 0 ? ", " : "") + more(n - shown));
        out.put("]");
      }
      return;
    }
    case T_GMAP: case T_AWMAP: {
      const a = s.a;
      if (a === null) { r.fail(ERR); return; }
      const n = r.count(2);
      if (!quiet) out.put("{");
      let shown = 0;
      for (let i = 0; i < n && r.ok; i++) {
        if (!quiet && shown == i && out.take(shown)) {
          if (i > 0) out.put(", ");
          element(r, out);
          out.put(": ");
          query(r, a, out, false, depth + 1);
          shown++;
        } else { skipElement(r); query(r, a, out, true, depth + 1); }
      }
      if (!quiet) {
        if (r.ok && shown < n) out.put((shown > 0 ? ", " : "") + more(n - shown));
        out.put("}");
      }
      return;
    }
    case T_PAIR: {
      const a = s.a, b = s.b;
      if (a === null || b === null) { r.fail(ERR); return; }
      if (!quiet) out.put("(");
      query(r, a, out, quiet, depth + 1);
      if (!quiet) out.put(", ");
      query(r, b, out, quiet, depth + 1);
      if (!quiet) out.put(")");
      return;
    }
  }
  r.fail(ERR);
}

// The query value of a state (n bytes at p) in readable form, or null if the
// bytes are not a query of type s (the caller then prints hex).
export function queryText(s: Spec, p: usize, n: i32): string | null {
  const r = new Reader(p, p + <usize>max(n, 0));
  const out = new Out();
  query(r, s, out, false, 0);
  return r.ok && r.done ? out.parts.join("") : null;
}
