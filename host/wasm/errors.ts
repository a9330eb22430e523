// Every failure trellis reports is a TrellisError with a stable code (or a
// RangeError/TypeError for a bad argument). Kernel error numbers map to codes
// here; keep in step with assembly/errors.ts.

export type ErrorCode =
  | "TRUNCATED" | "BAD_MAGIC" | "BAD_VERSION" | "BAD_TAG" | "NONCANONICAL" | "TOO_LARGE"
  | "TOO_DEEP" | "INVALID" | "TRAILING" | "TYPE_MISMATCH" | "BAD_HANDLE" | "UNSUPPORTED"
  | "NOT_FOUND" | "NOT_INITIALIZED" | "DISPOSED" | "KERNEL_TRAP" | "BAD_VALUE" | "PRECONDITION"
  | "USER_FUNCTION" | "ABORTED" | "OVERFLOW" | "OUT_OF_MEMORY"
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

export function kernelError(result: number, what: string): TrellisError {
  const code = KERNEL_CODES[-result] ?? "INVALID";
  return new TrellisError(code, `${what} failed (kernel error ${-result})`);
}
