// Cutting one large delta into pieces that are each signable and admissible
// (docs/security.md, "Large changes"). An envelope carries at most
// EnvelopeLimits.maxBytes, and admission lets one envelope move its author's
// dot counter by at most MintLimits.maxDotAdvance; one update of 25,000 adds,
// or a delta of several MiB, is neither. Its join-irreducible parts are
// sorted by the highest dot of the author's they name (so every piece's dots
// are new above the pieces before it) and joined greedily into pieces within
// both bounds. The join of the pieces is the delta.
import { joinStates, partsOf } from "../replication/lattice.js";
import { mintsOf } from "../replication/mint.js";
import type { Kernel } from "../wasm/kernel.js";
import { kernel } from "../wasm/kernel.js";

export interface SplitBounds {
  maxBytes: number;            // a piece's encoded size (a single part over it stays one piece)
  maxAdvance: bigint;          // how far a piece may move the author's counter past the piece before
  replica: (r: string) => boolean; // the author's own replicas
}

// The highest dot of the author's that a part names (0 when none).
function ownTop(part: Uint8Array, own: (r: string) => boolean, k: Kernel): bigint {
  let top = 0n;
  for (const m of mintsOf(part, k)) {
    if (m.kind === "dot" || m.kind === "token") { if (own(m.replica) && m.counter > top) top = m.counter; }
    else if (m.kind === "context" && own(m.replica)) for (const c of [m.max, ...m.cloud]) if (c > top) top = c;
  }
  return top;
}

export function splitDelta(delta: Uint8Array, b: SplitBounds, k: Kernel = kernel()): Uint8Array[] {
  const parts = partsOf(delta, k).map((p) => ({ p, top: ownTop(p, b.replica, k) }));
  if (parts.length <= 1) return [delta];
  // Stable: parts with the same counter (none, for types without dots) keep their order.
  parts.sort((x, y) => (x.top < y.top ? -1 : x.top > y.top ? 1 : 0));
  const out: Uint8Array[] = [];
  // base: the counter the current piece's advance is measured from (the
  // last piece's highest; before the first dot, just below it).
  let cur: Uint8Array[] = [], bytes = 0, base = -1n, last = 0n;
  for (const { p, top } of parts) {
    // A piece's size is at most the sum of its parts' (each part repeats its header).
    if (cur.length > 0 && (bytes + p.length > b.maxBytes || (base >= 0n && top - base > b.maxAdvance))) {
      out.push(joinStates(cur, k));
      cur = []; bytes = 0;
      base = last > 0n ? last : -1n;
    }
    if (base < 0n && top > 0n) base = top - 1n;
    cur.push(p); bytes += p.length;
    if (top > last) last = top;
  }
  out.push(joinStates(cur, k));
  return out;
}
