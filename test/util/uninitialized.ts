// Child process for leak.test.ts (init is global, so this runs alone): every
// fixture's constructor, decode and the kernel accessor must throw
// TrellisError NOT_INITIALIZED before `await init()`, and work after it.
// Run with `node --import tsx test/util/uninitialized.ts`; prints one JSON line.
import { readdirSync } from "node:fs";
import * as trellis from "../../dist/host/index.node.js";

const dir = new URL("../fixtures/", import.meta.url);
const results: { what: string; before: string; after: string }[] = [];
const outcome = (fn: () => unknown): string => {
  try { const x = fn() as { dispose?: () => void }; x?.dispose?.(); return "ok"; } catch (e) {
    return e instanceof trellis.TrellisError ? `TrellisError ${e.code}` : `${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`;
  }
};

const checks: [string, () => unknown][] = [];
for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts") && f !== "fixture.ts").sort()) {
  const { fixture } = await import(new URL(file, dir).href);
  checks.push([`${fixture.name}: make`, () => fixture.make("r")]);
}
const gcounter = Uint8Array.of(0x54, 0x52, 1, 1, 0);
checks.push(["decodeState", () => trellis.decodeState(gcounter)]);
checks.push(["GCounter.decode", () => trellis.GCounter.decode(gcounter)]);
checks.push(["kernel()", () => { trellis.kernel(); return null; }]);

const before = checks.map(([, fn]) => outcome(fn));
await trellis.init();
checks.forEach(([what, fn], i) => results.push({ what, before: before[i], after: outcome(fn) }));
console.log(JSON.stringify(results));
