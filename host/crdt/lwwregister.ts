// Last-writer-wins register: the write with the greatest (timestamp, replica,
// value bytes) wins. Timestamps are milliseconds by default; a replica's own
// writes are kept in order by never writing below the last timestamp seen.
import { Crdt, adopt, decodeAs } from "./base.js";
import { ByteReader, ByteWriter, fromUtf8 } from "./bytes.js";
import { Tag, TypeSpec } from "./spec.js";
import { register } from "./registry.js";
import { Value, decodeValue, readValue } from "./value.js";
import { TrellisError } from "../wasm/errors.js";
import { writeElement } from "./set.js";
import { checkCount } from "./gcounter.js";

export interface LWWEntry<T> { value: T; timestamp: number; replica: string }

export class LWWRegister<T extends Value = Value> extends Crdt<T | undefined> {
  static readonly spec: TypeSpec = { tag: Tag.LWWRegister };

  // With no timestamp: now, but after the register's current write (kernel
  // op 1), so a replica's successive writes win in order even within one
  // millisecond. With an explicit timestamp (op 0) the write simply competes.
  static readonly ops = {
    set: (v: Value, timestamp?: number) => (w: ByteWriter) => {
      if (timestamp === undefined) return LWWRegister.ops.setAfter(v, Date.now())(w);
      w.u8(0); w.varint(checkCount(timestamp)); writeElement(w, v);
    },
    // For callers with their own clock: v at max(timestamp, current + 1).
    setAfter: (v: Value, timestamp: number) => (w: ByteWriter) => {
      w.u8(1); w.varint(checkCount(timestamp)); writeElement(w, v);
    },
  };

  constructor(replica?: string) { super(LWWRegister.spec, replica); }

  // Writes v at timestamp (default: now, and after the current write, so this
  // write wins locally). An explicit timestamp below the current write loses.
  set(v: T, timestamp?: number): this {
    this.op(LWWRegister.ops.set(v, timestamp));
    return this;
  }

  // Writes v at max(timestamp, current timestamp + 1): for a caller's own clock.
  setAfter(v: T, timestamp: number): this {
    this.op(LWWRegister.ops.setAfter(v, timestamp));
    return this;
  }

  get value(): T | undefined { return LWWRegister.readQuery(this.queryReader()) as T | undefined; }
  get timestamp(): number | undefined { return this.entry?.timestamp; }
  // The replica that made the current write.
  get writer(): string | undefined { return this.entry?.replica; }

  get entry(): LWWEntry<T> | undefined { return LWWRegister.readEntry(this.queryReader()) as LWWEntry<T> | undefined; }

  // query := 0 | 1 value:bytes timestamp:varint replica:bytes
  static readEntry(r: ByteReader): LWWEntry<Value> | undefined {
    if (r.u8() !== 1) return undefined;
    const value = decodeValue(r.bytes());
    const timestamp = r.varint();
    return { value, timestamp, replica: fromUtf8(r.bytes()) };
  }
  // The value alone: the timestamp and writer's id are passed over, not decoded.
  static readQuery(r: ByteReader): Value | undefined {
    if (r.u8() !== 1) return undefined;
    const n = r.varint();
    const end = r.pos + n;
    if (end > r.buf.length) throw new TrellisError("TRUNCATED", "input ended inside a value");
    const v = readValue(r, 0, end);
    if (r.pos !== end) throw new TrellisError("TRAILING", "bytes left after a value");
    // Pass over the timestamp and the writer id (no view made), so an entry
    // inside a map ends where the next begins.
    r.varint();
    const w = r.varint();
    if (w > r.buf.length - r.pos) throw new TrellisError("TRUNCATED", "input ended inside a writer id");
    r.pos += w;
    return v;
  }
  static decode<T extends Value = Value>(bytes: Uint8Array, replica?: string): LWWRegister<T> { return decodeAs(bytes, Tag.LWWRegister, replica); }
  static fromHandle(h: number, _spec: TypeSpec, replica?: string): LWWRegister { return adopt(h, () => new LWWRegister(replica)); }
}
register(Tag.LWWRegister, LWWRegister);
