// Shared helpers for the kernel specs: byte builders and encodings as hex
// strings, so assertions stay on std types (see as-pect.config.cjs).
import { Reader, Writer } from "../codec";
import { Lattice, Spec } from "../lattice";
import { readSpec } from "../registry";
import { writeState } from "../state";
import { allocSpan, release, spanFreeBytes } from "../data/mem";

export function bytes(a: u8[]): Writer {
  const w = new Writer();
  for (let i = 0; i < a.length; i++) w.u8(a[i]);
  return w;
}

export function readerOf(w: Writer): Reader {
  return new Reader(w.ptr, w.ptr + <usize>w.pos);
}

export function hexOf(w: Writer): string {
  const parts = new Array<string>(w.pos);
  for (let i = 0; i < w.pos; i++) {
    const b = load<u8>(w.ptr + i);
    parts[i] = (b < 16 ? "0" : "") + b.toString(16);
  }
  return parts.join("");
}

// A spec as the registry reads it (with its id set, as the kernel compares ids).
export function spec(tag: u8): Spec {
  return readSpec(readerOf(bytes([tag])), 0);
}

export function enc(v: Lattice): string {
  const w = new Writer();
  writeState(w, v);
  return hexOf(w);
}

// Applies one op (code, optional element bytes) on replica; returns whether the state grew.
export function op(v: Lattice, replica: string, code: u8, elem: string | null = null): bool {
  const w = new Writer();
  w.u8(code);
  if (elem !== null) w.key(stringValue(elem));
  const d = v.op(readerOf(w), replica, false, 0);
  return d !== null && v.join(d);
}

// An ASCII string (no NUL) in the host's value codec (tag 6, bytes, 0x00), as
// one key string: kernels may require elements to be canonical user values.
export function stringValue(s: string): string {
  return String.fromCharCode(6) + s + String.fromCharCode(0);
}

// A number in the host's value codec (docs/format.md, "User values"): the
// float64's bits without the sign, 7-bit groups from the top, each
// (group << 1) | more, up to the last non-zero group; inverted when negative.
export function numberValue(w: Writer, f: f64): void {
  let bits = reinterpret<u64>(f);
  if (f == 0) bits = 0;
  const neg = (bits >> 63) != 0;
  const m = bits & 0x7fff_ffff_ffff_ffff;
  let last = 0;
  for (let i = 8; i > 0; i--) if (((m >> <u64>(56 - 7 * i)) & 0x7f) != 0) { last = i; break; }
  w.u8(neg ? 4 : 5);
  for (let i = 0; i <= last; i++) {
    const b = <u32>(((m >> <u64>(56 - 7 * i)) & 0x7f) << 1) | (i < last ? 1 : 0);
    w.u8(neg ? 0xff - b : b);
  }
}

// Takes every free page span (4 KiB at a time) so that a cap set next leaves
// exactly the room it says: the data layer takes small blocks from free spans
// when TLSF has no room under the cap (data/mem.ts). Give them back with
// releaseAll.
export function takeFreeSpans(): usize[] {
  const held = new Array<usize>();
  // 4 KiB units of which each block's header takes 16 bytes: one unit at a
  // time, and stop before the allocator would have to grow memory.
  while (spanFreeBytes() >= 4096) {
    const p = allocSpan(4096 - 16);
    if (p == 0) break;
    held.push(p);
  }
  return held;
}

export function releaseAll(held: usize[]): void {
  for (let i = 0; i < held.length; i++) release(held[i]);
}
