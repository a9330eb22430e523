// Safety net: a data-layer object that becomes garbage without free() (a
// temporary dropped by code that predates the data layer) gives its raw
// memory back when the collector frees the object. States free themselves
// explicitly (dispose, restore); free() is idempotent, so both may run.
import { OBJECT, TOTAL_OVERHEAD } from "rt/common";
import { Vec } from "./vec";
import { ByteTable } from "./table";
import { DotMap } from "./dotmap";
import { release } from "./mem";

// Flat states that own one raw block directly in a usize field (LWWRegister,
// IVar): registered by class id and field offset, so this file need not
// import the types. A handful of entries: a linear scan.
// (Static memory, not a managed array: the collector calls this file.)
const rawTable: usize = memory.data(64); // 8 × (id u32, offset u32)
let rawCount: i32 = 0;
export function ownsRaw(id: u32, offset: usize): void {
  if (rawCount == 8) unreachable(); // a build-time bug, not input
  store<u32>(rawTable + (<usize>rawCount << 3), id);
  store<u32>(rawTable + (<usize>rawCount << 3) + 4, <u32>offset);
  rawCount++;
}

// Bytes of the objects the collector freed since resetSwept(): the host paces
// its collections by it (index.ts, swept()).
let swept: usize = 0;
export function sweptBytes(): usize { return swept; }
export function resetSwept(): void { swept = 0; }

// @ts-ignore: decorator
@global export function __finalize(ptr: usize): void {
  const o = changetype<OBJECT>(ptr - TOTAL_OVERHEAD);
  swept += <usize>o.rtSize + TOTAL_OVERHEAD;
  const id = o.rtId;
  // Only the objects that own raw memory directly: Vec; the others own Vecs.
  if (id == idof<Vec<u8>>()) changetype<Vec<u8>>(ptr).free();
  else if (id == idof<Vec<u32>>()) changetype<Vec<u32>>(ptr).free();
  else if (id == idof<Vec<u64>>()) changetype<Vec<u64>>(ptr).free();
  else if (id == idof<DotMap>()) changetype<DotMap>(ptr).free();
  else if (id == idof<ByteTable>()) { const t = changetype<ByteTable>(ptr); release(t.slots); t.slots = 0; t.mask = 0; t.count = 0; }
  else {
    for (let i = 0; i < rawCount; i++) {
      if (load<u32>(rawTable + (<usize>i << 3)) == id) {
        const at = ptr + <usize>load<u32>(rawTable + (<usize>i << 3) + 4);
        release(load<usize>(at));
        store<usize>(at, 0);
        return;
      }
    }
  }
}
