// The model of any type spec, for maps and pairs whose models hold nested
// models. Types whose models live elsewhere register here (registerModel).
import type { Model } from "./common.js";
import type { TypeSpec } from "../../host/crdt/spec.js";
import { gcounterModel } from "./gcounter.js";
import { awsetModel } from "./awset.js";
import { ewflagModel } from "./ewflag.js";
import { mvregisterModel } from "./mvregister.js";
import { orsetModel } from "./orset.js";
import { gmapModel } from "./gmap.js";
import { awmapModel } from "./awmap.js";
import { pairModel } from "./pair.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyModel = Model<any, any>;

const extra = new Map<number, (spec: TypeSpec) => AnyModel>();
export function registerModel(tag: number, make: (spec: TypeSpec) => AnyModel): void { extra.set(tag, make); }

export function modelFor(spec: TypeSpec): AnyModel {
  switch (spec.tag) {
    case 1: return gcounterModel;
    case 4: return ewflagModel;
    case 7: return mvregisterModel;
    case 10: return awsetModel;
    case 11: return orsetModel;
    case 12: return gmapModel(modelFor(spec.value!));
    case 13: return awmapModel(modelFor(spec.value!));
    case 14: return pairModel(modelFor(spec.a!), modelFor(spec.b!));
  }
  const make = extra.get(spec.tag);
  if (!make) throw new Error(`no model for type tag ${spec.tag}`);
  return make(spec);
}

// The op that clears what a causal value has observed (AWMap remove), or
// undefined for types that cannot forget.
export function clearOpFor(spec: TypeSpec): unknown {
  switch (spec.tag) {
    case 4: return { disable: true };
    case 7: case 10: case 13: return { clear: true };
  }
  return undefined;
}
