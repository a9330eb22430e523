// Error codes returned (negated) across the Wasm boundary. The host maps each
// to a TrellisError with the same name; keep host/wasm/errors.ts in step.
// Kernels never trap on bad input: they set an error and return.

export const OK: i32 = 0;
export const E_TRUNCATED: i32 = 1;      // input ended inside a value
export const E_BAD_MAGIC: i32 = 2;      // not a trellis encoding
export const E_BAD_VERSION: i32 = 3;    // format version this build cannot read
export const E_BAD_TAG: i32 = 4;        // unknown type tag or op code
export const E_NONCANONICAL: i32 = 5;   // valid-looking but not the canonical form (order, duplicates, varint padding)
export const E_TOO_LARGE: i32 = 6;      // a count/length/number beyond its limit
export const E_TOO_DEEP: i32 = 7;       // nesting beyond MAX_DEPTH
export const E_INVALID: i32 = 8;        // breaks a type invariant (e.g. a dot outside its causal context)
export const E_TRAILING: i32 = 9;       // bytes left over after a complete value
export const E_TYPE_MISMATCH: i32 = 10; // two states of different types
export const E_BAD_HANDLE: i32 = 11;    // unknown or disposed handle
export const E_UNSUPPORTED: i32 = 12;   // operation not offered by this type
export const E_NOT_FOUND: i32 = 13;     // key absent
export const E_BAD_VALUE: i32 = 14;     // an element/key/value that is not one canonical user value
export const E_OVERFLOW: i32 = 15;      // a counter, dot or timestamp whose next op would wrap (never produced by an honest history)
export const E_OUT_OF_MEMORY: i32 = 16; // the kernel could not get memory (or hit the host's cap); the state is unchanged

export const MAX_DEPTH: i32 = 16;       // type nesting (GMap of AWMap of ...)
export const MAX_KEY: i32 = 1 << 20;    // bytes in one element/key/value
export const MAX_REPLICA: i32 = 255;    // bytes in a replica id
// Irreducible parts one decompose may produce: decomposition is for deltas and
// small states (RR, tests); a tiny causal context can name billions of dots.
export const MAX_PARTS: i32 = 1 << 16;

// Errors raised deep inside an operation that has no Reader to carry them
// (e.g. a decomposition over budget). The ABI clears it before each call and
// checks it after; the first error wins.
export let pendingError: i32 = 0;
export function setError(code: i32): void { if (pendingError == 0) pendingError = code; }
export function takeError(): i32 { const e = pendingError; pendingError = 0; return e; }
