// The causal types join two ways (docs/abi.md, "Causal types"): in memory,
// handle with handle, and streamed from the other state's canonical bytes
// (merge(bytes)). Random histories over three replicas, exchanging deltas and
// whole states in random order, must give byte-equal results on both paths,
// and both must agree with the order (a ⊑ a ⊔ b) and with idempotence.
import { beforeAll, describe, expect, it } from "vitest";
import { init, AWSet, EWFlag, MVRegister } from "../dist/host/index.node.js";
import { Prng } from "./util/prng.js";
import { hex } from "./util/bytes.js";

beforeAll(async () => { await init(); });

type Any = AWSet<string> | EWFlag | MVRegister<string>;
const make = {
  AWSet: (r: string) => new AWSet<string>(r),
  EWFlag: (r: string) => new EWFlag(r),
  MVRegister: (r: string) => new MVRegister<string>(r),
};

// AWSet draws from 60 elements, so states pass 32 live elements and a small
// delta takes the dot-index path; the registers from 6 values.
function step(s: Any, rng: Prng): void {
  const k = rng.u32() % 4, e = "e" + (rng.u32() % (s instanceof AWSet ? 60 : 6));
  if (s instanceof AWSet) { if (k < 2) s.add(e); else if (k == 2) s.remove(e); else if (rng.u32() % 40 == 0) s.clear(); else s.add(e); }
  else if (s instanceof EWFlag) { if (k < 2) s.enable(); else s.disable(); }
  else { if (k < 3) s.set(e); else s.clear(); }
}

describe("causal joins: in memory and from bytes give the same state", () => {
  for (const name of Object.keys(make) as (keyof typeof make)[]) {
    it(`${name}: 200 random histories`, () => {
      for (let seed = 1; seed <= 200; seed++) {
        const rng = new Prng(seed);
        const reps = ["a", "b", "c"].map((r) => make[name](r));
        try {
          for (let t = 0; t < (name === "AWSet" ? 120 : 25); t++) {
            const i = rng.u32() % 3, j = rng.u32() % 3;
            step(reps[i], rng);
            // The op's own delta (one or two dots of context) into another
            // replica: on a large AWSet this takes the dot-index path.
            const dl = reps[i].takeDelta();
            if (i !== j && rng.u32() % 2 === 0) {
              const a = reps[j].clone(), b = reps[j].clone();
              const dd = (reps[i].constructor as typeof AWSet).decode(dl, "d") as Any;
              try {
                expect(a.merge(dl), `delta grew, seed ${seed}`).toBe(b.merge(dd as never));
                expect(hex(a.encode()), `delta, seed ${seed}`).toBe(hex(b.encode()));
                reps[j].merge(dl);
                expect(hex(reps[j].encode()), `seed ${seed}`).toBe(hex(a.encode()));
              } finally { a.dispose(); b.dispose(); dd.dispose(); }
            }
            if (i !== j && rng.u32() % 3 === 0) {
              // Join i into j both ways and compare.
              const viaBytes = reps[j].clone(), viaHandle = reps[j].clone();
              try {
                const g1 = viaBytes.merge(reps[i].encode());
                const g2 = viaHandle.merge(reps[i]);
                expect(g1, `seed ${seed}`).toBe(g2);
                expect(hex(viaBytes.encode()), `seed ${seed}`).toBe(hex(viaHandle.encode()));
                expect(reps[i].leq(viaHandle) && reps[j].leq(viaHandle), `seed ${seed}`).toBe(true);
                expect(viaHandle.merge(reps[i].encode()), `idempotent, seed ${seed}`).toBe(false);
                // A delta since j joins to the same state.
                const d = reps[i].delta(reps[j]);
                const viaDelta = reps[j].clone();
                try { viaDelta.merge(d.encode()); expect(hex(viaDelta.encode()), `delta, seed ${seed}`).toBe(hex(viaHandle.encode())); }
                finally { viaDelta.dispose(); d.dispose(); }
                reps[j].merge(viaHandle);
              } finally { viaBytes.dispose(); viaHandle.dispose(); }
            }
          }
        } finally { for (const r of reps) r.dispose(); }
      }
    });
  }
});
