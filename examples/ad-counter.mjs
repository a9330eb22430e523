// npm start: the advertisement counter of the Lasp papers (Meiklejohn & Van
// Roy, PPDP 2015), on 9 in-process replicas over a simulated network that
// delays, loses, duplicates and reorders messages, with clients going offline.
//
//   ads, contracts          replicated add-wins sets
//   displayable             product(ads, contracts) → filter (same ad) → map (the ad)
//   impressions/<ad>        a replicated GCounter per ad, incremented by clients
//   hq (trusted)            enforceOnce: at the impression limit, remove the ad
//
// Clients show only ads in their own (possibly stale) view of displayable, so
// impressions made offline or before the removal reaches them overshoot the
// limit; the report says by how much. Run: node examples/ad-counter.mjs [seed]
import { init, Runtime, AWSet, GCounter, replicate } from "trellis";
import { SimNetwork } from "trellis/sim";

await init();

const seed = Number(process.argv[2] ?? 2015) >>> 0;
const LIMIT = 40;
const CLIENTS = 8;
const ADS = [
  { id: "ad-shoes", campaign: "spring" },
  { id: "ad-coffee", campaign: "mornings" },
  { id: "ad-bikes", campaign: "commute" },
  { id: "ad-books", campaign: "autumn" },
  { id: "ad-games", campaign: "holidays" },
];
const CONTRACTS = ADS.filter((a) => a.id !== "ad-games").map((a) => ({ ad: a.id, advertiser: a.campaign + " co." }));

// Deterministic randomness for the clients' choices (the network has its own).
let s = seed;
const rand = () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);

const ids = ["hq", ...Array.from({ length: CLIENTS }, (_, i) => `client-${i + 1}`)];
const net = new SimNetwork({ seed, latency: [5, 60], loss: 0.1, duplicate: 0.05, reorder: 0.2 });
net.topology("partialMesh", ids, { degree: 3 });

// The same program on every replica.
const nodes = new Map();
for (const id of ids) {
  const rt = new Runtime({ replica: id, trusted: id === "hq" });
  rt.declare("ads", AWSet).declare("contracts", AWSet);
  for (const ad of ADS) rt.declare(`impressions/${ad.id}`, GCounter);
  rt.product("ads×contracts", "ads", "contracts");
  rt.filter("matched", "ads×contracts", ([ad, contract]) => ad.id === contract.ad);
  rt.map("displayable", "matched", ([ad]) => ad.id);
  const t = net.transport(id);
  const rep = replicate(rt, t, { clock: t.clock, interval: 100, session: ids.indexOf(id) + 1 });
  nodes.set(id, { rt, rep, shown: 0, offlineShown: 0 });
}

// hq creates the ads and contracts and enforces the limits.
const hq = nodes.get("hq").rt;
hq.update("ads", ADS.map((ad) => ({ add: ad })));
hq.update("contracts", CONTRACTS.map((c) => ({ add: c })));
const removedAt = new Map();
for (const ad of ADS) {
  hq.enforceOnce(`impressions/${ad.id}`, { atLeast: LIMIT }, () => {
    hq.update("ads", { remove: ad });
    removedAt.set(ad.id, { at: net.now, count: hq.query(`impressions/${ad.id}`) });
    console.log(`  t=${(net.now / 1000).toFixed(2)}s  hq: ${ad.id} reached ${hq.query(`impressions/${ad.id}`)} ≥ ${LIMIT} impressions → removed`);
  });
}

// Clients: every 40–80 ms each shows one ad from its own view.
const offline = new Set();
let running = true;
for (const id of ids.slice(1)) {
  const node = nodes.get(id);
  const tick = () => {
    if (!running) return;
    const shown = node.rt.query("displayable");
    if (shown.length > 0) {
      const ad = shown[Math.floor(rand() * shown.length)];
      node.rt.update(`impressions/${ad}`, { increment: 1 });
      node.shown++;
      if (offline.has(id)) node.offlineShown++;
    }
    net.transport(id).clock.setTimeout(tick, 40 + rand() * 40);
  };
  net.transport(id).clock.setTimeout(tick, 200 + rand() * 200);
}

// Two clients go offline for a while (a partition of one), then come back.
const goOffline = (id, from, to) => {
  net.clock.setTimeout(() => { offline.add(id); partition(); console.log(`  t=${(from / 1000).toFixed(2)}s  ${id} goes offline`); }, from);
  net.clock.setTimeout(() => { offline.delete(id); partition(); console.log(`  t=${(to / 1000).toFixed(2)}s  ${id} back online`); }, to);
};
const partition = () => (offline.size === 0 ? net.heal() : net.partition([...offline].map((id) => [id])));
goOffline("client-3", 500, 2500);
goOffline("client-7", 800, 3500);

const totals = () => ADS.map((ad) => hq.query(`impressions/${ad.id}`));
console.log(`Ad counter: ${ids.length} replicas (hq + ${CLIENTS} clients), limit ${LIMIT} impressions per ad, seed ${seed}`);
console.log(`network: partial mesh of degree 3, 5–60 ms latency, 10% loss, 5% duplicates, 20% reordered\n`);

// Run in slices of virtual time; between slices, promise callbacks (the
// enforceOnce actions) get their turn, as they would on a real event loop.
const bar = (n) => "█".repeat(Math.min(20, Math.round((n / LIMIT) * 20))).padEnd(20, "·");
for (let t = 250; t <= 6000; t += 250) {
  net.run({ until: t });
  await new Promise((r) => setImmediate(r));
  if (t % 1000 === 0) {
    const shown = totals();
    console.log(`t=${t / 1000}s  ` + ADS.map((ad, i) => `${ad.id.slice(3)} ${bar(shown[i])} ${String(shown[i]).padStart(3)}`).join("  "));
  }
}

// Quiesce: clients stop showing ads and replication settles (still lossy).
running = false;
net.run({ until: net.now + 5000 });

const encode = (rt) => ["ads", "contracts", ...ADS.map((a) => `impressions/${a.id}`)].map((v) => Buffer.from(rt.encode(v)).toString("hex")).join("|");
const converged = ids.every((id) => encode(nodes.get(id).rt) === encode(hq));
const sameView = ids.every((id) => JSON.stringify(nodes.get(id).rt.query("displayable")) === JSON.stringify(hq.query("displayable")));

console.log(`\nFinal (converged on all ${ids.length} replicas: ${converged && sameView ? "yes" : "NO"})`);
console.log("ad            contract  impressions  at removal  overshoot");
for (const ad of ADS) {
  const final = hq.query(`impressions/${ad.id}`);
  const r = removedAt.get(ad.id);
  const hasContract = CONTRACTS.some((c) => c.ad === ad.id);
  console.log(`${ad.id.padEnd(13)} ${(hasContract ? "yes" : "no").padEnd(9)} ${String(final).padStart(11)}  ${(r ? String(r.count) : "—").padStart(10)}  ${r ? `+${final - LIMIT} (${(((final - LIMIT) / LIMIT) * 100).toFixed(0)}%)` : "never displayable"}`);
}
const offlineShown = [...nodes.values()].reduce((t, n) => t + n.offlineShown, 0);
console.log(`still displayable: ${JSON.stringify(hq.query("displayable"))}`);
console.log(`impressions made while offline: ${offlineShown}`);
const st = net.totals();
console.log(`network: ${st.sent} messages sent (${(st.sentBytes / 1024).toFixed(1)} KiB), ${st.dropped} dropped, ${st.duplicated} duplicated`);
for (const { rt, rep } of nodes.values()) { rep.close(); rt.close(); }
if (!converged || !sameView) process.exit(1);
