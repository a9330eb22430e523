// Every lattice type, registered for decode and nesting.
export { Crdt, decodeState, randomReplica } from "./base.js";
export { GCounter } from "./gcounter.js";
export { AWSet } from "./awset.js";
export { Tag, specName } from "./spec.js";
export type { TypeSpec, TypeLike } from "./spec.js";
export { encodeValue, decodeValue } from "./value.js";
export type { Value } from "./value.js";
