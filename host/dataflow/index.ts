// The dataflow layer: Lasp's replicated variables, monotone processes and
// threshold reads over the lattice API.
export { Runtime, toOp } from "./runtime.js";
export type { Kind, Origin, OpLike, RuntimeOptions, ReadOptions, VariableInfo, WriteAuthority, EffectWrite, EnforceRefusal } from "./runtime.js";
export { DataflowError } from "./combinators.js";
export type { Threshold } from "./threshold.js";
export { ProvSet, Tokens } from "./provenance.js";
