// The linear-memory data layer (docs/abi.md, "Memory"): raw arrays, byte
// arenas, interning hash tables, sorted runs and packed dots, each freed
// explicitly with its state. Lattice types build on these; no managed object
// is created per element.
export { alloc, resize, release, setCapPages, capPagesNow, canAlloc, spanFreeBytes, LARGE } from "./mem";
export { hashBytes } from "./hash";
export { compareBytes, compareFast, copyBytes, isAscii, isAsciiText, equalBytes, entryLen, entryBody, varintSize, putVarint } from "./bytes";
export { Vec, Bytes, U32Vec, U64Vec } from "./vec";
export { ByteTable } from "./table";
export { Run, entrySize, sortedIndex, sortByKey } from "./sorted";
export { DotVec } from "./dots";
export { DotMap } from "./dotmap";
export { Context } from "./context";
export { SeenDots } from "./seen";
export { DotFun } from "./dotfun";
export { ownsRaw } from "./finalize";
import "./finalize";
