// Crash-durability writer for test/storage.test.ts: appends records to a Store
// in <dir> forever, with several appends in flight (so group commit batches
// them), snapshotting each variable every few deltas. It prints
// "ack <var> <n>" only after append(<var>, n) resolved, i.e. once the record
// is durable. The test SIGKILLs it at random moments.
//
// Each variable is a simulated grow-only set of integers: a delta is one n
// (4 bytes, then filler), a snapshot is the sorted list of every n it holds.
import { openNodeStore } from "../../dist/host/storage/node.js";

const dir = process.argv[2];
const VARS = ["a", "b", "c"];
const IN_FLIGHT = 8;
const SNAPSHOT_EVERY = 20;
const out = (s) => process.stdout.write(s + "\n");

export const decodeDelta = (d) => new DataView(d.buffer, d.byteOffset, 4).getUint32(0);
export function decodeState(s) {
  const dv = new DataView(s.buffer, s.byteOffset, s.byteLength);
  const ns = [];
  for (let i = 0; i < s.byteLength; i += 4) ns.push(dv.getUint32(i));
  return ns;
}
function encodeDelta(n) {
  const d = new Uint8Array(4 + (n % 61));
  new DataView(d.buffer).setUint32(0, n);
  for (let i = 4; i < d.length; i++) d[i] = (n * 31 + i) & 0xff;
  return d;
}
function encodeState(set) {
  const ns = [...set].sort((x, y) => x - y);
  const s = new Uint8Array(ns.length * 4);
  const dv = new DataView(s.buffer);
  ns.forEach((n, i) => dv.setUint32(i * 4, n));
  return s;
}

if (dir) {
  const store = await openNodeStore(dir);
  const loaded = await store.load();
  const state = new Map(), next = new Map();
  for (const v of VARS) {
    const set = new Set();
    const lv = loaded.vars.get(v);
    if (lv?.snapshot) for (const n of decodeState(lv.snapshot)) set.add(n);
    for (const d of lv?.deltas ?? []) set.add(decodeDelta(d));
    state.set(v, set);
    next.set(v, Math.max(0, ...set) + 1);
    if (!store.isDeclared(v)) await store.declare(v, new Uint8Array([8]), "replicated");
  }
  out("ready");
  let turn = 0;
  const one = () => {
    const v = VARS[turn++ % VARS.length];
    const n = next.get(v);
    next.set(v, n + 1);
    state.get(v).add(n);
    const p = store.append(v, encodeDelta(n)).then(() => out(`ack ${v} ${n}`));
    if (store.logLength(v) >= SNAPSHOT_EVERY) store.snapshot(v, encodeState(state.get(v)));
    return p;
  };
  const lane = async () => { for (;;) await one(); };
  for (let i = 0; i < IN_FLIGHT; i++) lane();
}
