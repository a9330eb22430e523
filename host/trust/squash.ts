// Squash envelopes (docs/security.md, "Squash envelopes and the log's
// bound"): one envelope an author signs in place of a contiguous run of its
// own envelopes from..seq. Its items are, per variable, the join of the run's
// deltas; it names the run's CIDs (`covers`), so links to any of them
// resolve to it at a node that never saw them; its links are the run's links
// that lie outside it and do not follow it. It is admitted by the rules of
// any envelope (admit.ts), with the run's worth of steps, and a node that
// holds envelopes of the run checks it against them here.
import { joinStates } from "../replication/lattice.js";
import { decodeState } from "../crdt/base.js";
import type { Kernel } from "../wasm/kernel.js";
import type { Envelope, EnvelopeItem } from "./envelope.js";
import { TrustError } from "./errors.js";

// Per variable, the join of the items of `envs` (sorted by variable).
export function joinItems(envs: readonly Envelope[], k: Kernel): EnvelopeItem[] {
  const by = new Map<string, Uint8Array[]>();
  for (const e of envs) for (const it of e.items) {
    let l = by.get(it.variable);
    if (!l) by.set(it.variable, (l = []));
    l.push(it.delta);
  }
  return [...by.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((variable) => ({ variable, delta: joinStates(by.get(variable)!, k) }));
}

// Checks squash `s` against `held`, envelopes of its run this node holds
// (each inside from..seq). If `whole` (they cover the whole run), every
// variable's delta in `s` must equal the join of theirs, and name no other
// variable; otherwise it must be at least their join. A variable redacted
// in `s` or in a held one is checked as far as both carry it. Throws
// BAD_SQUASH: the author signed a run and a squash of it that disagree.
export function checkSquash(s: Envelope, held: readonly Envelope[], whole: boolean, k: Kernel): void {
  const bad = (msg: string) => new TrustError("BAD_SQUASH", `squash ${s.cid} of ${s.author}'s ${s.from}..${s.seq}: ${msg}`);
  const heldVars = new Set<string>();
  for (const e of held) for (const h of e.header) heldVars.add(h.variable);
  if (whole) {
    for (const h of s.header) if (!heldVars.has(h.variable)) throw bad(`${JSON.stringify(h.variable)} is in no envelope it covers`);
    for (const v of heldVars) if (!s.header.some((h) => h.variable === v)) throw bad(`it leaves out ${JSON.stringify(v)}`);
  }
  const joined = joinItems(held, k);
  for (const it of joined) {
    const mine = s.items.find((x) => x.variable === it.variable);
    if (!mine) continue; // redacted in the squash here: nothing to compare
    // Exact only if every held envelope naming the variable carried it.
    const complete = whole && held.every((e) => !e.redacted.includes(it.variable));
    const a = decodeState(it.delta, undefined, k), b = decodeState(mine.delta, undefined, k);
    try {
      if (complete ? !a.equals(b) : !a.leq(b)) throw bad(`its ${JSON.stringify(it.variable)} is not the join of the envelopes it covers`);
    } finally { a.dispose(); b.dispose(); }
  }
}
