// What every transport's incoming states and delta-groups pass before any of
// them is joined, whether they came by anti-entropy (Replicator) or by gossip
// (gossip.ts): each decodes, and fits the variable it names here (same type,
// a replicated variable). A message fails as a unit. Issue 12's admission
// checks (signatures, capabilities, authorship) belong here too.
import { TypeSpec, sameSpec, specName } from "../crdt/spec.js";
import type { Runtime } from "../dataflow/runtime.js";
import { checkState, headerSpec } from "./lattice.js";
import { Entry, ReplicationError } from "./wire.js";

// firstByBind: the first entry to a declared variable is decoded by the bind
// that joins it (which throws and changes nothing), so only its header is read
// here; the Replicator uses that to save a decode.
export function admitEntries(runtime: Runtime, entries: Entry[], o: { firstByBind?: boolean } = {}): void {
  entries.forEach((e, i) => {
    let spec: TypeSpec;
    try {
      spec = o.firstByBind && i === 0 && runtime.has(e.id) ? headerSpec(e.bytes) : checkState(e.bytes, runtime.kernel);
    } catch (err) {
      throw new ReplicationError("BAD_STATE", `${JSON.stringify(e.id)}: ${(err as Error)?.message ?? String(err)}`, undefined, err);
    }
    checkFits(runtime, e.id, spec);
  });
}

export function checkFits(runtime: Runtime, id: string, spec: TypeSpec): void {
  if (!runtime.has(id)) return;
  const kind = runtime.kind(id);
  if (kind !== "replicated") throw new ReplicationError("KIND_MISMATCH", `${JSON.stringify(id)} is ${kind} here`);
  const mine = runtime.spec(id)!;
  if (!sameSpec(mine, spec)) throw new ReplicationError("TYPE_MISMATCH", `${JSON.stringify(id)} is ${specName(mine)} here, got ${specName(spec)}`);
}
