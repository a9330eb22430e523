// Five replicas edit a shared shopping list (an add-wins set) and a
// visit counter while their messages are delayed, duplicated and reordered,
// then converge. Run: node examples/replicas.mjs [seed]
import { init, AWSet, GCounter } from "trellis";

await init();

// A small seeded PRNG so every run with the same seed tells the same story.
let seed = Number(process.argv[2] ?? 7) >>> 0;
const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
const pick = (a) => a[Math.floor(rand() * a.length)];

const names = ["ana", "ben", "chen", "dara", "eli"];
const items = ["milk", "eggs", "bread", "tea", "rice", "apples", "soap"];
const replicas = names.map((name) => ({ name, list: new AWSet(name), visits: new GCounter(name) }));

// In-flight messages: encoded delta-groups waiting to be delivered.
const inflight = [];
let sent = 0, bytes = 0;

for (let round = 1; round <= 6; round++) {
  for (const r of replicas) {
    // Each replica edits locally, without asking anyone.
    r.visits.increment();
    const item = pick(items);
    if (rand() < 0.7) r.list.add(item); else r.list.remove(item);
    // Ship this round's changes to two random peers (maybe twice).
    const delta = { list: r.list.takeDelta(), visits: r.visits.takeDelta() };
    for (const to of [pick(replicas), pick(replicas)]) {
      if (to === r) continue;
      inflight.push({ to, delta });
      if (rand() < 0.2) inflight.push({ to, delta }); // duplicated on the wire
      sent++; bytes += delta.list.length + delta.visits.length;
    }
  }
  // Deliver a random half of what is in flight, in random order.
  inflight.sort(() => rand() - 0.5);
  for (const m of inflight.splice(0, Math.floor(inflight.length / 2))) {
    m.to.list.merge(m.delta.list);
    m.to.visits.merge(m.delta.visits);
  }
  console.log(`round ${round}: ` + replicas.map((r) => `${r.name}=[${r.list.values().join(",")}] v${r.visits.value}`).join("  "));
}

// Anti-entropy: deliver the rest, then everyone exchanges full states once.
for (const m of inflight.splice(0)) { m.to.list.merge(m.delta.list); m.to.visits.merge(m.delta.visits); }
for (const a of replicas) for (const b of replicas) if (a !== b) { a.list.merge(b.list.encode()); a.visits.merge(b.visits.encode()); }

const first = replicas[0];
const converged = replicas.every((r) => r.list.equals(first.list) && r.visits.equals(first.visits));
console.log(`\n${sent} delta messages, ${bytes} bytes; converged: ${converged}`);
console.log(`shopping list: ${first.list.values().join(", ")}  (visits: ${first.visits.value})`);
console.log(`canonical state: ${first.list.encode().length} bytes, identical on every replica`);
for (const r of replicas) { r.list.dispose(); r.visits.dispose(); }
if (!converged) process.exit(1);
