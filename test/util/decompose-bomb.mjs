// Child process for hostile.test.ts: decodes an AWSet whose causal context is
// a 10-byte version vector naming `counter` dots, decomposes it, and prints
// one JSON line: the outcome, error code, part count, kernel memory, time.
// Run alone so an out-of-memory trap cannot poison the parent's kernel.
import { init, kernel, decodeState, TrellisError } from "../../dist/host/index.node.js";

const counter = BigInt(process.argv[2] ?? "4194303");
const varint = (v) => { const o = []; while (v >= 0x80n) { o.push(Number(v & 0x7fn) | 0x80); v >>= 7n; } o.push(Number(v)); return o; };

await init();
// 'T' 'R' 1, AWSet; context: vv {"r": counter}, empty cloud; no elements.
const bytes = Uint8Array.from([0x54, 0x52, 1, 10, 1, 1, 0x72, ...varint(counter), 0, 0]);
const t0 = Date.now();
const result = { outcome: "ok", memory: 0, ms: 0 };
let x;
try {
  x = decodeState(bytes, "r");
  const parts = x.decompose();
  result.parts = parts.length;
  for (const p of parts) p.dispose();
} catch (e) {
  result.outcome = "error";
  result.code = e instanceof TrellisError ? e.code : `${e?.constructor?.name}: ${e?.message}`;
}
try { x?.dispose(); } catch { /* the kernel may be gone after a trap */ }
result.ms = Date.now() - t0;
result.memory = kernel().memoryBytes();
console.log(JSON.stringify(result));
