// Byte helpers for assertions and failure messages.
export const hex = (b: Uint8Array, max = 512): string => {
  let s = "";
  const n = Math.min(b.length, max);
  for (let i = 0; i < n; i++) s += b[i].toString(16).padStart(2, "0");
  return b.length > max ? `${s}…(${b.length} bytes)` : s;
};

export const fromHex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g) ?? [], (x) => parseInt(x, 16));

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function concat(...parts: ArrayLike<number>[]): Uint8Array { return concatAll(parts); }

// concat for more parts than a call's arguments can take.
export function concatAll(parts: ArrayLike<number>[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

// Byte order (shorter first on a common prefix): canonical element order.
export function compareBytes(x: Uint8Array, y: Uint8Array): number {
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

export function varint(v: number | bigint): number[] {
  const out: number[] = [];
  let b = BigInt(v);
  while (b >= 0x80n) { out.push(Number(b & 0x7fn) | 0x80); b >>= 7n; }
  out.push(Number(b));
  return out;
}

// Pieces of hand-made states (docs/format.md): UTF-8 bytes, a replica id, a
// string value in version 1 and 2's values (tag 5), a length-prefixed string element, a dot.
export const utf = (s: string): number[] => [...new TextEncoder().encode(s)];
export const rep = (r: string): number[] => [...varint(utf(r).length), ...utf(r)];
export const strValue = (s: string): number[] => [5, ...varint(utf(s).length), ...utf(s)];
// The same string in version 3's values (a string without NUL: tag 6, UTF-8,
// 0x00): what the kernel reports for a version 1 string (docs/format.md).
export const strValue3 = (s: string): number[] => [6, ...utf(s), 0];
export const str = (s: string): number[] => [...varint(strValue(s).length), ...strValue(s)];
export const dot = (r: string, c: bigint | number): number[] => [...rep(r), ...varint(c)];
