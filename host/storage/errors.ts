// Storage failures. A record that fails its checksum, is badly framed or sits
// under a key that is not in the layout (docs/storage.md) is CORRUPT: it is
// reported, never loaded.

export type StorageErrorCode =
  | "CORRUPT"      // a stored record failed its checksum, framing or key check
  | "CLOSED"       // the store was closed
  | "UNDECLARED"   // a delta or snapshot for a variable never declared
  | "CONFLICT"     // a variable declared again with a different spec or kind
  | "UNSUPPORTED"; // the database was written by a newer storage format

export class StorageError extends Error {
  readonly code: StorageErrorCode;
  // The offending record's key (CORRUPT), when there is one.
  readonly key?: Uint8Array;
  constructor(code: StorageErrorCode, message: string, key?: Uint8Array, options?: { cause?: unknown }) {
    super(`${code}: ${message}${key ? ` (record ${describeKey(key)})` : ""}`, options);
    this.name = "StorageError";
    this.code = code;
    if (key) this.key = Uint8Array.prototype.slice.call(key);
  }
}

// A key as text: the prefix letter, then the rest as printable ASCII or hex.
export function describeKey(key: Uint8Array): string {
  let s = "";
  for (const b of key) s += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`;
  return s;
}
