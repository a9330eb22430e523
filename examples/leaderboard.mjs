// The leaderboard of the Lasp talk: every device keeps a local top-K of the
// games played on it (a dynamic variable: this device's own, never
// replicated), and foldDynamic combines them across devices into a
// replicated global top-K. Devices play while messages are delayed, lost,
// duplicated and reordered, and one device is offline for a while.
// Run: node examples/leaderboard.mjs [seed]
import { init, Runtime, TopK, replicate } from "trellis";
import { SimNetwork } from "trellis/sim";

await init();

const seed = Number(process.argv[2] ?? 7) >>> 0;
const K = 5;
const DEVICES = ["phone-ana", "phone-ben", "tablet-chen", "laptop-dara", "console-eli", "phone-fay"];
const PLAYERS = ["ana", "ben", "chen", "dara", "eli", "fay", "gus", "hana", "ivo", "jun"];

let s = seed;
const rand = () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);

const net = new SimNetwork({ seed, latency: [10, 80], loss: 0.1, duplicate: 0.05, reorder: 0.2 });
net.topology("ring", DEVICES);

const devices = DEVICES.map((id, i) => {
  const rt = new Runtime({ replica: id });
  rt.declareDynamic("local", TopK.of(K));
  rt.foldDynamic("global", "local");
  const t = net.transport(id);
  return { id, rt, rep: replicate(rt, t, { clock: t.clock, interval: 150, session: i + 1 }) };
});

// Every game ever played, to check the result against a recomputation.
const best = new Map();
let games = 0;
for (const d of devices) {
  const play = () => {
    if (net.now > 4000) return;
    const player = PLAYERS[Math.floor(rand() * PLAYERS.length)];
    const score = Math.floor(rand() * 1000);
    d.rt.update("local", { add: [player, score] });
    best.set(player, Math.max(best.get(player) ?? 0, score));
    games++;
    net.transport(d.id).clock.setTimeout(play, 50 + rand() * 150);
  };
  net.transport(d.id).clock.setTimeout(play, rand() * 100);
}
net.clock.setTimeout(() => { net.partition([["console-eli"]]); console.log("t=1.0s  console-eli goes offline (keeps playing)"); }, 1000);
net.clock.setTimeout(() => { net.heal(); console.log("t=3.0s  console-eli back online"); }, 3000);

const show = (list) => list.map((e) => `${e.id} ${e.score}`).join(", ");
console.log(`Leaderboard: ${DEVICES.length} devices on a ring, local top-${K} each, global top-${K} by foldDynamic, seed ${seed}\n`);
for (let t = 1000; t <= 4000; t += 1000) {
  net.run({ until: t });
  console.log(`t=${t / 1000}s  ${games} games; global top-${K} at ${devices[0].id}: ${show(devices[0].rt.query("global"))}`);
}
net.run({ until: 9000 }); // play has stopped; replication settles

const want = [...best].map(([id, score]) => ({ id, score }))
  .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1)).slice(0, K);
console.log("\nlocal top-K per device (never replicated):");
for (const d of devices) console.log(`  ${d.id.padEnd(12)} ${show(d.rt.query("local"))}`);
const agree = devices.every((d) => JSON.stringify(d.rt.query("global")) === JSON.stringify(want));
console.log(`\nglobal top-${K} on every device: ${show(devices[0].rt.query("global"))}`);
console.log(`equals the top-${K} recomputed from all ${games} games: ${agree ? "yes" : "NO"}`);
for (const d of devices) { d.rep.close(); d.rt.close(); }
if (!agree) process.exit(1);
