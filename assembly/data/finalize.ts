// Safety net: a data-layer object that becomes garbage without free() (a
// temporary dropped by code that predates the data layer) gives its raw
// memory back when the collector frees the object. States free themselves
// explicitly (dispose, restore); free() is idempotent, so both may run.
import { OBJECT, TOTAL_OVERHEAD } from "rt/common";
import { Vec } from "./vec";
import { ByteTable } from "./table";
import { release } from "./mem";

// @ts-ignore: decorator
@global export function __finalize(ptr: usize): void {
  const id = changetype<OBJECT>(ptr - TOTAL_OVERHEAD).rtId;
  // Only the objects that own raw memory directly: Vec; the others own Vecs.
  if (id == idof<Vec<u8>>()) changetype<Vec<u8>>(ptr).free();
  else if (id == idof<Vec<u32>>()) changetype<Vec<u32>>(ptr).free();
  else if (id == idof<Vec<u64>>()) changetype<Vec<u64>>(ptr).free();
  else if (id == idof<ByteTable>()) { const t = changetype<ByteTable>(ptr); release(t.slots); t.slots = 0; t.mask = 0; t.count = 0; }
}
