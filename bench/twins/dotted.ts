// EWFlag and MVRegister twins, written here rather than taken from
// test/model/ewflag.ts and mvregister.ts: those keep dots as JSON strings in a
// Set and recompute the compact context on every encode (quadratic in the
// dots seen). These are the kernels' algorithms (assembly/types/ewflag.ts,
// mvregister.ts): a sorted list of live dots (with their values), and the
// causal context of the AWSet twin (version vector + dot cloud).
import { ByteWriter, header, writeBin } from "../../test/model/common.js";
import { ByteReader, done, readBin, readHeader } from "./read.js";
import { Context, Dot, byDot, contains, dotLess, hasDot, joinContext, readContext, readDots, writeContext, writeDots } from "./awset.js";

export interface EWFlagState { dots: Dot[]; cc: Context }
export interface Entry { d: Dot; v: string }
export interface MVRegisterState { entries: Entry[]; cc: Context }

const emptyCc = (): Context => ({ vv: new Map(), cloud: new Map() });

export const ewflag = {
  bottom: (): EWFlagState => ({ dots: [], cc: emptyCc() }),
  decode(bytes: Uint8Array): EWFlagState {
    const r = new ByteReader(bytes);
    readHeader(r);
    const cc = readContext(r);
    const dots = readDots(r);
    for (const d of dots) if (!contains(cc, d.r, d.c)) throw new Error("dot outside context");
    done(r);
    return { dots, cc };
  },
  encode(s: EWFlagState): Uint8Array {
    const w = new ByteWriter(64);
    header(w, { tag: 4 });
    writeContext(w, s.cc);
    writeDots(w, s.dots);
    return w.finish();
  },
  // A dot survives if both sides have it, or one has it and the other never saw it.
  joinInto(a: EWFlagState, b: EWFlagState): boolean {
    let changed = false;
    const kept = a.dots.filter((d) => !contains(b.cc, d.r, d.c) || hasDot(b.dots, d));
    if (kept.length !== a.dots.length) changed = true;
    let added = false;
    for (const d of b.dots) { if (contains(a.cc, d.r, d.c)) continue; kept.push(d); added = true; }
    if (added) { kept.sort(byDot); changed = true; }
    a.dots = kept;
    if (joinContext(a.cc, b.cc)) changed = true;
    return changed;
  },
};

const hasEntry = (es: Entry[], d: Dot) => es.some((e) => e.d.c === d.c && e.d.r === d.r);

export const mvregister = {
  bottom: (): MVRegisterState => ({ entries: [], cc: emptyCc() }),
  decode(bytes: Uint8Array): MVRegisterState {
    const r = new ByteReader(bytes);
    readHeader(r);
    const cc = readContext(r);
    const n = r.varint();
    const entries: Entry[] = [];
    for (let i = 0; i < n; i++) {
      const d = { r: readBin(r), c: r.varint() };
      if (d.c === 0 || (i > 0 && !dotLess(entries[i - 1].d, d)) || !contains(cc, d.r, d.c)) throw new Error("noncanonical entries");
      entries.push({ d, v: readBin(r) });
    }
    done(r);
    return { entries, cc };
  },
  encode(s: MVRegisterState): Uint8Array {
    const w = new ByteWriter(64);
    header(w, { tag: 7 });
    writeContext(w, s.cc);
    w.varint(s.entries.length);
    for (const e of s.entries) { writeBin(w, e.d.r); w.varint(e.d.c); writeBin(w, e.v); }
    return w.finish();
  },
  joinInto(a: MVRegisterState, b: MVRegisterState): boolean {
    let changed = false;
    const kept = a.entries.filter((e) => !contains(b.cc, e.d.r, e.d.c) || hasEntry(b.entries, e.d));
    if (kept.length !== a.entries.length) changed = true;
    let added = false;
    for (const e of b.entries) { if (contains(a.cc, e.d.r, e.d.c)) continue; kept.push(e); added = true; }
    if (added) { kept.sort((x, y) => byDot(x.d, y.d)); changed = true; }
    a.entries = kept;
    if (joinContext(a.cc, b.cc)) changed = true;
    return changed;
  },
};
