// Every failure trellis reports is a TrellisError with a stable code (or a
// RangeError/TypeError for a bad argument). Kernel error numbers map to codes
// here; keep in step with assembly/errors.ts.

export type ErrorCode =
  | "TRUNCATED" | "BAD_MAGIC" | "BAD_VERSION" | "BAD_TAG" | "NONCANONICAL" | "TOO_LARGE"
  | "TOO_DEEP" | "INVALID" | "TRAILING" | "TYPE_MISMATCH" | "BAD_HANDLE" | "UNSUPPORTED"
  | "NOT_FOUND" | "NOT_INITIALIZED" | "DISPOSED" | "KERNEL_TRAP" | "BAD_VALUE" | "PRECONDITION"
  | "USER_FUNCTION" | "ABORTED" | "OVERFLOW" | "OUT_OF_MEMORY" | "TIMEOUT"
  | "OVER_BUDGET"; // a decomposition past Kernel.workLimit (a peer's sync-work budget)

const KERNEL_CODES: ErrorCode[] = [
  "INVALID", "TRUNCATED", "BAD_MAGIC", "BAD_VERSION", "BAD_TAG", "NONCANONICAL", "TOO_LARGE",
  "TOO_DEEP", "INVALID", "TRAILING", "TYPE_MISMATCH", "BAD_HANDLE", "UNSUPPORTED", "NOT_FOUND",
  "BAD_VALUE", "OVERFLOW", "OUT_OF_MEMORY",
];

export class TrellisError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = "TrellisError";
    this.code = code;
  }
}

// What each kernel code means to someone holding the bytes (assembly/errors.ts).
const KERNEL_MESSAGES: Partial<Record<ErrorCode, string>> = {
  TRUNCATED: "the bytes end in the middle of a value (truncated)",
  BAD_MAGIC: "not a trellis encoding (bad magic)",
  BAD_VERSION: "written in a trellis format version this build cannot read",
  BAD_TAG: "unknown type tag or operation code",
  NONCANONICAL: "not in canonical form (order, duplicates or padded numbers)",
  TOO_LARGE: "a count, length or number beyond its limit",
  TOO_DEEP: "types nested too deeply",
  INVALID: "the bytes break the type's invariants",
  TRAILING: "bytes left over after a complete value",
  TYPE_MISMATCH: "the two states are of different types",
  BAD_HANDLE: "the state was disposed or never existed",
  UNSUPPORTED: "this type does not offer that operation",
  NOT_FOUND: "no such key",
  BAD_VALUE: "an element, key or value that is not a single valid value",
  OVERFLOW: "a counter, dot or timestamp would wrap around",
  OUT_OF_MEMORY: "out of memory (the state is unchanged)",
};

// A message for users first; the kernel call and number stay for bug reports.
// `state`, when given, is the encoding the call read: a BAD_VERSION names the
// version byte it carries.
export function kernelError(result: number, what: string, state?: Uint8Array): TrellisError {
  const code = KERNEL_CODES[-result] ?? "INVALID";
  let text = KERNEL_MESSAGES[code] ?? "invalid input";
  if (code === "BAD_VERSION" && state !== undefined && state.length >= 3 && state[0] === 0x54 && state[1] === 0x52) {
    text = `written in trellis format version ${state[2]}; this build reads versions 1 and 2`;
  }
  return new TrellisError(code, `${text} [${what}, kernel error ${-result}]`);
}

// An offending argument for an error message: its type shows too, so the
// string "2" does not read as the number 2.
export function describeValue(v: unknown): string {
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)}`;
  if (typeof v === "number") return String(v);
  if (typeof v === "bigint") return `the bigint ${v}n`;
  if (v === null || v === undefined || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return "an array";
  if (v instanceof Uint8Array) return "bytes";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}
