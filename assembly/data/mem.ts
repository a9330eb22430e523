// Raw memory for the data layer: every allocation goes through here, so
// running out is a zero pointer the caller turns into E_OUT_OF_MEMORY before
// it changes any state, never an allocator trap.
//
// Two allocators (docs/abi.md, "Memory"):
// - Small blocks (< LARGE) come from the runtime's TLSF (heap.alloc/realloc/
//   free). TLSF traps when memory.grow fails, so a small allocation is only
//   attempted when memory could grow by the block's worst case without passing
//   the cap.
// - Large blocks (≥ LARGE: arenas, offset arrays, slot arrays, the input
//   buffer) come from page spans managed here. TLSF grows memory by doubling
//   it, which took a 1e6-element GSet merge to 145 MiB for 59 MiB of data;
//   spans grow memory by exactly the pages a block lacks, reuse freed spans
//   first (first fit, coalesced), and grow a block in place when it is the
//   last one in memory. A failed memory.grow is a zero pointer, not a trap.

import { BLOCK, BLOCK_OVERHEAD } from "rt/common";

const MAX_PAGES: i32 = 65536; // 4 GiB, all wasm32 can address

let capPages: i32 = MAX_PAGES;

// The host's cap on kernel memory, in 64 KiB pages (0 or out of range: no cap
// beyond wasm32's 4 GiB). A cap below the current size only stops growth.
export function setCapPages(pages: i32): void {
  capPages = pages <= 0 || pages > MAX_PAGES ? MAX_PAGES : pages;
}
export function capPagesNow(): i32 { return capPages; }

// Pages kept free under the cap for the small managed objects a call still
// allocates (handles, state headers): those come from TLSF, which would trap
// if it could not grow.
const HEADROOM: usize = 8;

// Whether n more bytes could be had from TLSF without passing the cap. Worst
// case it must grow memory for the whole block, rounded up to its size class
// (at most 1/16 more), plus block overhead and a spare page.
@inline function fits(n: usize): bool {
  if (n > 0x7000_0000) return false;
  const need = ((n + (n >>> 4) + 256 + 0xffff) >>> 16) + 1;
  return <usize>memory.size() + need + (inRealPass ? 1 : HEADROOM) <= <usize>capPages;
}

// The real pass of an op batch its dry pass accepted (index.ts apply) must
// not fail: the dry pass charged what it takes (lattice.ts chargeBatch)
// within the headroom, so the data layer's blocks may use the headroom then
// (nested values' first blocks are made only in that pass).
let inRealPass = false;
export function realPass(on: bool): void { inRealPass = on; }

// For managed buffers (the ABI's output, from TLSF): whether n bytes fit.
export function canAlloc(n: usize): bool { return fits(n); }

// A block of at least n bytes, or 0 when memory (or the cap) is exhausted.
export function alloc(n: usize): usize {
  if (n >= LARGE) return spanAlloc(n);
  if (n < 16) n = 16;
  // Near the cap TLSF cannot grow, while freed spans may be free (a large
  // input refused just before): a small block then takes span units, from
  // free spans only (growing memory for it would eat the headroom TLSF keeps).
  if (!fits(n)) return spanReuse(n);
  return heap.alloc(n);
}

// Resizes p (0: allocates) to n bytes keeping its contents; 0 on failure, and
// then p is untouched and still owned by the caller.
export function resize(p: usize, n: usize): usize {
  if (p == 0) return alloc(n);
  if (isSpan(p)) return spanResize(p, n);
  if (n >= LARGE) {
    // Moves out of TLSF: copy what the old block held.
    const q = spanAlloc(n);
    if (q == 0) return 0;
    const old = changetype<BLOCK>(p - BLOCK_OVERHEAD).mmInfo & ~<usize>3;
    memory.copy(q, p, old < n ? old : n);
    heap.free(p);
    return q;
  }
  if (n < 16) n = 16;
  if (!fits(n)) {
    // As in alloc: out of TLSF into free span units, contents kept.
    const q = spanReuse(n);
    if (q == 0) return 0;
    const old = changetype<BLOCK>(p - BLOCK_OVERHEAD).mmInfo & ~<usize>3;
    memory.copy(q, p, old < n ? old : n);
    heap.free(p);
    return q;
  }
  return heap.realloc(p, n);
}

// A block of at least n bytes from the page spans whatever its size (4 KiB
// units), or 0: for buffers that grow to a state's size from small, so their
// growth never asks TLSF, which grows memory by doubling all of it.
export function allocSpan(n: usize): usize { return spanAlloc(n); }

export function release(p: usize): void {
  if (p == 0) return;
  if (isSpan(p)) spanFree(p - HEAD);
  else heap.free(p);
}

// ---- page spans ------------------------------------------------------------

// Blocks from this size up live in spans. 64 KiB: a block's rounding to
// UNIT then wastes at most 1/16 of it.
export const LARGE: usize = 64 << 10;
const UNIT_BITS: usize = 12;
const UNIT: usize = 1 << UNIT_BITS; // spans are carved in 4 KiB units
const HEAD: usize = 16;              // per block: units u32, next-free u32
// Whether each 64 KiB page belongs to spans (bit per page, 4 GiB / 64 KiB).
const owned: usize = memory.data(MAX_PAGES >> 3);
// Free blocks, sorted by address, each header holding its size and the next.
let freeHead: usize = 0;

@inline function units(b: usize): usize { return <usize>load<u32>(b); }
@inline function setUnits(b: usize, u: usize): void { store<u32>(b, <u32>u); }
@inline function next(b: usize): usize { return <usize>load<u32>(b, 4); }
@inline function setNext(b: usize, n: usize): void { store<u32>(b, <u32>n, 4); }
@inline function unitsFor(n: usize): usize { return (n + HEAD + UNIT - 1) >> UNIT_BITS; }
@inline function memTop(): usize { return <usize>memory.size() << 16; }

@inline function isSpan(p: usize): bool {
  const page = p >> 16;
  return (load<u8>(owned + (page >> 3)) & (1 << <u8>(page & 7))) != 0;
}

// Inserts block b (u units) into the free list, merging with neighbours.
function spanFree(b: usize): void {
  let u = units(b);
  let prev: usize = 0, cur = freeHead;
  while (cur != 0 && cur < b) { prev = cur; cur = next(cur); }
  if (cur != 0 && b + (u << UNIT_BITS) == cur) { u += units(cur); cur = next(cur); }
  if (prev != 0 && prev + (units(prev) << UNIT_BITS) == b) {
    setUnits(prev, units(prev) + u);
    setNext(prev, cur);
    return;
  }
  setUnits(b, u);
  setNext(b, cur);
  if (prev != 0) setNext(prev, b); else freeHead = b;
}

// Grows memory so that at least u more units exist at its end, freed into
// the list (merging with a free span that ended at the old end). False when
// memory (or the cap) is exhausted.
function growTop(u: usize, tailFree: usize): bool {
  const pages = (((u - tailFree) << UNIT_BITS) + 0xffff) >>> 16;
  if (<usize>memory.size() + pages + HEADROOM > <usize>capPages) return false;
  const before = memory.grow(<i32>pages);
  if (before < 0) return false;
  for (let pg = <usize>before; pg < <usize>before + pages; pg++) {
    const at = owned + (pg >> 3);
    store<u8>(at, load<u8>(at) | <u8>(1 << <u8>(pg & 7)));
  }
  const b = <usize>before << 16;
  setUnits(b, (pages << 16) >> UNIT_BITS);
  spanFree(b);
  return true;
}

// Free units at the end of memory (a free span ending there), or 0.
function tailFreeUnits(): usize {
  const top = memTop();
  for (let b = freeHead; b != 0; b = next(b)) {
    if (b + (units(b) << UNIT_BITS) == top) return units(b);
  }
  return 0;
}

// Takes u units from the front of free block b (prev before it in the list).
function take(prev: usize, b: usize, u: usize): void {
  const have = units(b);
  let rest = next(b);
  if (have > u) {
    const r = b + (u << UNIT_BITS);
    setUnits(r, have - u);
    setNext(r, rest);
    rest = r;
  }
  if (prev != 0) setNext(prev, rest); else freeHead = rest;
  setUnits(b, u);
}

// A block from the free spans only (memory does not grow), or 0.
function spanReuse(n: usize): usize {
  const u = unitsFor(n);
  let prev: usize = 0;
  for (let b = freeHead; b != 0; b = next(b)) {
    if (units(b) >= u) { take(prev, b, u); return b + HEAD; }
    prev = b;
  }
  return 0;
}

function spanAlloc(n: usize): usize {
  if (n > 0x7000_0000) return 0;
  const u = unitsFor(n);
  for (let pass = 0; pass < 2; pass++) {
    let prev: usize = 0;
    for (let b = freeHead; b != 0; b = next(b)) {
      if (units(b) >= u) { take(prev, b, u); return b + HEAD; }
      prev = b;
    }
    if (pass == 0 && !growTop(u, tailFreeUnits())) return 0;
  }
  return 0; // unreachable: growTop made room
}

function spanResize(p: usize, n: usize): usize {
  if (n > 0x7000_0000) return 0;
  const b = p - HEAD;
  const have = units(b);
  let u = unitsFor(n);
  if (u < 1) u = 1;
  if (u <= have) {
    if (u < have) { // give the end back
      const r = b + (u << UNIT_BITS);
      setUnits(r, have - u);
      setUnits(b, u);
      spanFree(r);
    }
    return p;
  }
  // In place: the free span right after b, grown at the end of memory if b
  // (or that span) is the last thing there.
  const end = b + (have << UNIT_BITS);
  let prev: usize = 0, f = freeHead;
  while (f != 0 && f < end) { prev = f; f = next(f); }
  const after = f == end ? units(f) : 0;
  if (have + after < u && (after != 0 ? f + (after << UNIT_BITS) : end) == memTop()) {
    if (growTop(u - have, after)) return spanResize(p, n); // the new pages merged after b
  } else if (have + after >= u) {
    take(prev, f, u - have);
    setUnits(b, u);
    return p;
  }
  const q = spanAlloc(n);
  if (q == 0) return 0;
  memory.copy(q, p, (have << UNIT_BITS) - HEAD);
  spanFree(b);
  return q;
}

// Bytes held by free spans (tests and the ABI's memory report).
export function spanFreeBytes(): usize {
  let s: usize = 0;
  for (let b = freeHead; b != 0; b = next(b)) s += units(b) << UNIT_BITS;
  return s;
}
