// Values as JSON for the control API (docs/cli.md, "Values as JSON").
// trellis values are null, booleans, numbers, strings, Uint8Arrays, arrays and
// plain objects; variable values add Maps (GMap, AWMap). JSON has no bytes,
// maps with non-string keys, NaN or infinities, so those are tagged objects
// with one `$` key:
//
//   Uint8Array            {"$bytes": "<base64>"}
//   Map                   {"$map": [[key, value], ...]}   (keys of any value type, in canonical order)
//   NaN, ±Infinity        {"$num": "NaN" | "Infinity" | "-Infinity"}
//   a plain object with   {"$object": {...}}               (so user data never reads as a tag)
//   one key starting "$"
//
// Every other JSON value is itself. fromJson is the inverse and refuses a `$`
// tag it does not know, so a typo is an error rather than a silent string.

export function toJson(v: unknown): unknown {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : { $num: String(v) };
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  if (v instanceof Map) return { $map: [...v].map(([k, x]) => [toJson(k), toJson(x)]) };
  if (Array.isArray(v)) return v.map(toJson);
  if (typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as object)) out[k] = toJson(x);
    const keys = Object.keys(out);
    return keys.length === 1 && keys[0].startsWith("$") ? { $object: out } : out;
  }
  if (typeof v === "bigint") return Number(v);
  return String(v);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function fromJson(v: unknown, depth = 0): unknown {
  if (depth > 100) throw new RangeError("JSON nested deeper than 100");
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => fromJson(x, depth + 1));
  const keys = Object.keys(v);
  if (keys.length === 1 && keys[0].startsWith("$")) {
    const x = (v as Record<string, unknown>)[keys[0]];
    switch (keys[0]) {
      case "$bytes":
        if (typeof x !== "string" || x.length % 4 !== 0 || !BASE64.test(x)) throw new TypeError("$bytes takes a base64 string");
        return new Uint8Array(Buffer.from(x, "base64"));
      case "$num":
        if (x === "NaN") return NaN;
        if (x === "Infinity") return Infinity;
        if (x === "-Infinity") return -Infinity;
        throw new TypeError(`$num takes "NaN", "Infinity" or "-Infinity", got ${JSON.stringify(x)}`);
      case "$object": {
        if (x === null || typeof x !== "object" || Array.isArray(x)) throw new TypeError("$object takes an object");
        const out: Record<string, unknown> = {};
        for (const [k, y] of Object.entries(x)) out[k] = fromJson(y, depth + 1);
        return out;
      }
      case "$map": {
        if (!Array.isArray(x) || !x.every((e) => Array.isArray(e) && e.length === 2)) throw new TypeError("$map takes [[key, value], ...]");
        return new Map(x.map(([k, y]) => [fromJson(k, depth + 1), fromJson(y, depth + 1)]));
      }
      default:
        throw new TypeError(`unknown JSON tag ${JSON.stringify(keys[0])} (use $bytes, $num, $map, or wrap an object in $object)`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = fromJson((v as Record<string, unknown>)[k], depth + 1);
  return out;
}
