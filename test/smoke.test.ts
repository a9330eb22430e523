import { describe, expect, it, beforeAll } from "vitest";
import { init, AWSet, GCounter, TrellisError } from "../dist/host/index.node.js";
import { encodeModel } from "./model/common.js";
import { fixture as aw } from "./fixtures/awset.js";
import { fixture as gc } from "./fixtures/gcounter.js";

beforeAll(async () => { await init(); });

describe("models write the kernels' bytes", () => {
  it("AWSet", () => {
    const s = new AWSet("r1");
    let m = aw.model.bottom();
    for (const op of [{ add: "x" }, { add: 2 }, { remove: "x" }, { add: "y" }, { add: "x" }] as const) {
      aw.apply(s, op); m = aw.model.apply(m, op, "r1");
    }
    expect(s.encode()).toEqual(encodeModel(aw.model, m));
    expect(s.values()).toEqual(aw.model.value(m));
  });
  it("GCounter", () => {
    const s = new GCounter("r1");
    let m = gc.model.bottom();
    for (const op of [{ inc: 3 }, { inc: 0 }, { inc: 200 }]) { gc.apply(s, op); m = gc.model.apply(m, op, "r1"); }
    expect(s.encode()).toEqual(encodeModel(gc.model, m));
  });
  it("bad bytes give a typed error", () => {
    expect(() => new AWSet("r").merge(new Uint8Array([0x54, 0x52, 1, 10, 5]))).toThrow(TrellisError);
  });
});
