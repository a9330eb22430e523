// Raw memory for the data layer: every allocation goes through here, so
// running out is a zero pointer the caller turns into E_OUT_OF_MEMORY before
// it changes any state, never an allocator trap.
//
// Blocks come from the runtime's allocator (TLSF, heap.alloc/realloc/free) and
// are freed explicitly with their state (docs/abi.md, "Memory"). The allocator
// traps when memory.grow fails, so an allocation is only attempted when the
// memory could grow by the block's worst case without passing the cap.

const MAX_PAGES: i32 = 65536; // 4 GiB, all wasm32 can address

let capPages: i32 = MAX_PAGES;

// The host's cap on kernel memory, in 64 KiB pages (0 or out of range: no cap
// beyond wasm32's 4 GiB). A cap below the current size only stops growth.
export function setCapPages(pages: i32): void {
  capPages = pages <= 0 || pages > MAX_PAGES ? MAX_PAGES : pages;
}
export function capPagesNow(): i32 { return capPages; }

// Pages kept free under the cap for the small managed objects a call still
// allocates (handles, state headers): those come from the same allocator,
// which would trap if it could not grow.
const HEADROOM: usize = 8;

// Whether n more bytes could be had without passing the cap. Worst case the
// allocator must grow memory for the whole block, rounded up to its size class
// (at most 1/16 more), plus block overhead and a spare page.
@inline function fits(n: usize): bool {
  if (n > 0x7000_0000) return false;
  const need = ((n + (n >>> 4) + 256 + 0xffff) >>> 16) + 1;
  return <usize>memory.size() + need + HEADROOM <= <usize>capPages;
}

// For managed buffers (the ABI's input and output): whether n bytes fit.
export function canAlloc(n: usize): bool { return fits(n); }

// A block of at least n bytes, or 0 when memory (or the cap) is exhausted.
export function alloc(n: usize): usize {
  if (n < 16) n = 16;
  if (!fits(n)) return 0;
  return heap.alloc(n);
}

// Resizes p (0: allocates) to n bytes keeping its contents; 0 on failure, and
// then p is untouched and still owned by the caller.
export function resize(p: usize, n: usize): usize {
  if (n < 16) n = 16;
  if (!fits(n)) return 0;
  return p == 0 ? heap.alloc(n) : heap.realloc(p, n);
}

export function release(p: usize): void {
  if (p != 0) heap.free(p);
}
