// Enable-wins flag: disable only covers the enables it has seen, so a
// concurrent enable wins. Causal (dots + context), like AWSet with one element.
import { Crdt, adopt, decodeAs } from "./base.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { Tag, TypeSpec } from "./spec.js";
import { register } from "./registry.js";

export class EWFlag extends Crdt<boolean> {
  static readonly spec: TypeSpec = { tag: Tag.EWFlag };

  // Ops for use inside maps: `map.update(key, EWFlag.ops.enable())`.
  static readonly ops = {
    enable: () => (w: ByteWriter) => { w.u8(0); },
    disable: () => (w: ByteWriter) => { w.u8(1); },
  };

  constructor(replica?: string) { super(EWFlag.spec, replica); }

  enable(): this { this.op(EWFlag.ops.enable()); return this; }
  disable(): this { this.op(EWFlag.ops.disable()); return this; }

  get value(): boolean { return EWFlag.readQuery(this.queryReader()); }

  // query := 1 byte, 1 when enabled
  static readQuery(r: ByteReader): boolean { return r.u8() === 1; }
  static decode(bytes: Uint8Array, replica?: string): EWFlag { return decodeAs(bytes, Tag.EWFlag, replica); }
  static fromHandle(h: number, _spec: TypeSpec, replica?: string): EWFlag { return adopt(h, () => new EWFlag(replica)); }
}
register(Tag.EWFlag, EWFlag);
