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

// The encoded join-irreducible parts of a state.
export function partsOf(state: Uint8Array, k: Kernel = kernel()): Uint8Array[] {
  const r = new ByteReader(withHandle(k, state, (h) => k.bytes("decompose", h)));
  const n = r.varint();
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push(r.bytes());
  return out;
}

export function countParts(state: Uint8Array, k: Kernel = kernel()): number {
  return new ByteReader(withHandle(k, state, (h) => k.bytes("decompose", h))).varint();
}
