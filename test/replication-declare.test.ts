// A declaration replicates by itself: a variable declared on one node, never
// changed, appears (with its type) on every node of a line, hop by hop.
import { beforeAll, expect, it } from "vitest";
import { init, Runtime, GCounter, TopK, replicate } from "../dist/host/index.node.js";
import { SimNetwork } from "../dist/host/transport/sim.js";

beforeAll(async () => { await init(); });

it("declared, never updated: reaches every node and keeps its type", () => {
  const net = new SimNetwork({ seed: 11, loss: 0.2, duplicate: 0.1 });
  const ids = ["a", "b", "c", "d"];
  net.topology("line", ids);
  const rts = ids.map((id) => {
    const rt = new Runtime({ replica: id });
    const t = net.transport(id);
    replicate(rt, t, { clock: t.clock, interval: 50 });
    return rt;
  });
  rts[0].declare("hits", GCounter).declare("best", TopK.of(3));
  rts[0].declareDynamic("mine", GCounter); // never replicated
  net.run({ until: 3000 });
  for (const rt of rts) {
    expect(rt.has("hits") && rt.has("best")).toBe(true);
    expect(rt.spec("best")).toEqual({ tag: 15, k: 3 });
    expect(rt.query("hits")).toBe(0);
  }
  expect(rts.slice(1).some((rt) => rt.has("mine"))).toBe(false);
  rts.forEach((rt) => rt.close());
});
