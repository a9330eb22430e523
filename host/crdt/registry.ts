// Which class serves which type tag, so decode and nested maps can build and
// read any type. Each type module registers itself when imported.
import type { ByteReader } from "./bytes.js";
import type { Crdt } from "./base.js";
import type { TypeSpec } from "./spec.js";
import { TrellisError } from "../wasm/errors.js";

export interface CrdtClass {
  readonly spec: TypeSpec;
  // Decodes the type's query encoding (docs/format.md) into a JS value.
  readQuery(r: ByteReader, spec: TypeSpec): unknown;
  // Wraps a kernel handle holding a state of this type.
  fromHandle(handle: number, spec: TypeSpec, replica: string | undefined): Crdt<unknown>;
}

const classes = new Map<number, CrdtClass>();

export function register(tag: number, cls: CrdtClass): void { classes.set(tag, cls); }

export function classOf(spec: TypeSpec): CrdtClass {
  const c = classes.get(spec.tag);
  if (!c) throw new TrellisError("BAD_TAG", `no class registered for type tag ${spec.tag}`);
  return c;
}

// The class of a type tag, or undefined (no error object: decode's fast path).
export function classOfTag(tag: number): CrdtClass | undefined { return classes.get(tag); }

export function readQuery(r: ByteReader, spec: TypeSpec): unknown {
  return classOf(spec).readQuery(r, spec);
}
