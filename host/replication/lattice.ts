// The few lattice operations replication needs, straight on kernel handles:
// no typed wrapper per state or per part (decompose() would build one for
// every join-irreducible), since the protocol only moves bytes.
import { ByteReader } from "../crdt/bytes.js";
import { TypeSpec, readSpec } from "../crdt/spec.js";
import { TrellisError } from "../wasm/errors.js";
import { Kernel, kernel } from "../wasm/kernel.js";

// decode input := replica:bytes state; an empty replica id is for read-only use.
function decodeInput(state: Uint8Array): Uint8Array {
  const b = new Uint8Array(state.length + 1);
  b.set(state, 1);
  return b;
}

// Each operation runs on the kernel of the runtime being replicated (default: the current one).
function withHandle<R>(k: Kernel, state: Uint8Array, f: (h: number) => R): R {
  const h = k.call("decode", decodeInput(state));
  try { return f(h); } finally { k.int("dispose", h); }
}

// The type named in a state's header ('T' 'R' version spec ...).
export function headerSpec(state: Uint8Array): TypeSpec {
  if (state.length < 4 || state[0] !== 0x54 || state[1] !== 0x52) throw new TrellisError("BAD_MAGIC", "not a trellis state");
  return readSpec(new ByteReader(state.subarray(3)));
}

// Decodes the whole state (the kernel validates every byte); returns its type.
export function checkState(state: Uint8Array, k: Kernel = kernel()): TypeSpec {
  withHandle(k, state, () => undefined);
  return headerSpec(state);
}

// The join of states of one type.
export function joinStates(states: Uint8Array[], k: Kernel = kernel()): Uint8Array {
  if (states.length === 1) return states[0];
  return withHandle(k, states[0], (h) => {
    for (let i = 1; i < states.length; i++) k.call("joinBytes", states[i], h);
    return k.bytes("encode", h);
  });
}

// The encoded join-irreducible parts of a state, fetched from the kernel in
// batches (the kernel never builds them all at once).
export function partsOf(state: Uint8Array, k: Kernel = kernel(), batch = 4096): Uint8Array[] {
  return withHandle(k, state, (h) => {
    const out: Uint8Array[] = [];
    for (;;) {
      const r = new ByteReader(k.decomposeRange(h, out.length, batch));
      const n = r.varint();
      for (let i = 0; i < n; i++) out.push(r.bytes());
      if (n < batch) return out;
    }
  });
}

// How many join-irreducible parts a state has (counted without building them).
export function countParts(state: Uint8Array, k: Kernel = kernel()): number {
  return withHandle(k, state, (h) => k.partCount(h));
}

// The 8-byte hash64 (wire.ts) of each part of a state, in decomposition order.
export function partHashes(state: Uint8Array, k: Kernel = kernel()): Uint8Array[] {
  const all = withHandle(k, state, (h) => k.bytes("partHashes", h));
  const out: Uint8Array[] = new Array(all.length >> 3);
  for (let i = 0; i < out.length; i++) out[i] = all.subarray(i * 8, i * 8 + 8);
  return out;
}

// The join of the parts of a state whose hash is not in `have` (8-byte
// hashes, any order), and how many parts that is; bytes is null when none.
// The hashes are sorted as big-endian u64s: the kernel's (byte) order.
export function joinMissing(state: Uint8Array, have: Uint8Array[], k: Kernel = kernel()): { count: number; bytes: Uint8Array | null } {
  const keys = new BigUint64Array(have.length);
  let n = 0;
  for (const x of have) if (x.length === 8) keys[n++] = new DataView(x.buffer, x.byteOffset, 8).getBigUint64(0);
  const sorted = keys.subarray(0, n).sort();
  const list = new Uint8Array(n * 8);
  const view = new DataView(list.buffer);
  for (let i = 0; i < n; i++) view.setBigUint64(i * 8, sorted[i]);
  const r = new ByteReader(withHandle(k, state, (h) => k.joinMissing(h, list)));
  const count = r.varint();
  return { count, bytes: count === 0 ? null : r.buf.subarray(r.pos) };
}
