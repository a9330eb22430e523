// The ad-counter dashboard: this tab is a replica. Its Runtime runs the same
// program as every other replica (ads × contracts → displayable), keeps its
// state in its own IndexedDB store (so a reload, or a day offline, loses
// nothing) and syncs with the server over WebSocket whenever it is online.
import { init, Runtime, AWSet, GCounter, GSet, LWWRegister, MaxInt } from "../dist/host/index.browser.js";
import { syncWhileOnline } from "./sync.js";
import { openTrust } from "./trust.js";
import { signEnvelope, sortLinks } from "../dist/host/trust/envelope.js";
import { encodeTrustMessage } from "../dist/host/trust/wire.js";
import { openBrowserStore, persist } from "../dist/host/storage/browser.js";
import { loadBrowserIdentity } from "../dist/host/identity/browser.js";
import { esc, lineChart, flowGraph, presenceList, shares, shortDid, showStatus } from "./ui.js";

const $ = (id) => document.getElementById(id);

// One replica per tab: the id lives in sessionStorage, which survives a reload
// of this tab but is not shared with other tabs.
let replica = sessionStorage.getItem("trellis-replica");
if (!replica) {
  replica = "tab-" + crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  sessionStorage.setItem("trellis-replica", replica);
}
$("replica").textContent = replica;
// The tab's key (non-extractable, in IndexedDB, kept per tab like its store):
// it proves itself to the server, and names the tab's replica. The replica
// id is `<did>.<incarnation>`, new at every load: a change can reach the server
// before IndexedDB has it, so a tab closed in between must not reissue its dots.
const identity = await loadBrowserIdentity(replica);
const incarnation = identity.replicaId();

// The app shell works offline once the service worker has cached it.
if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js").catch((e) => console.warn("no offline shell:", e));

await init(new URL("trellis.wasm", location.href));
const rt = new Runtime({ replica: incarnation, onError: (e) => console.error(e) });
const store = await openBrowserStore(`trellis-${replica}`);
const durable = await persist(rt, store, { snapshotEvery: 64 });
// The program (the same on the server and every tab); variables the server
// declares (impressions per ad) arrive through replication.
rt.declare("ads", AWSet).declare("contracts", AWSet);
// Campaigns: the history the server writes, the number asked for, and who is online.
rt.declare("campaigns", GSet).declare("campaign", MaxInt).declare("presence", LWWRegister);
if (!rt.has("ads×contracts")) {
  rt.product("ads×contracts", "ads", "contracts");
  rt.filter("matched", "ads×contracts", ([ad, c]) => ad.id === c.ad);
  rt.map("displayable", "matched", ([ad]) => ad.id);
}

// Trustless: the server owns every variable and delegates to this tab's key
// what a tab may do (count impressions, ask for a campaign); web/trust.js.
const trust = await openTrust(rt, identity, store);
const sync = syncWhileOnline(trust.hub, () => render());
sync.connect();

// Showing an ad counts an impression (durably: only after IndexedDB has it).
let shownHere = 0;
async function showAd() {
  const ads = rt.query("displayable");
  if (ads.length === 0) return null;
  const ad = ads[Math.floor(Math.random() * ads.length)];
  // The server declares one counter per ad, but a declaration travels only
  // with a first change, so the first tab to show an ad declares it too.
  rt.declare(`impressions/${ad}`, GCounter);
  rt.update(`impressions/${ad}`, { increment: 1 });
  shownHere++;
  await durable.flushed();
  return ad;
}
$("show").addEventListener("click", () => { showAd(); });
setInterval(() => { if ($("auto").checked) showAd(); }, 200);

// ---- campaigns --------------------------------------------------------------

// The records of `campaigns` the server writes (a peer could add anything).
const validCampaign = (c) => c !== null && typeof c === "object" && Number.isSafeInteger(c.n) && c.n > 0 &&
  Number.isSafeInteger(c.limit) && c.limit > 0 && Array.isArray(c.ads) && c.ads.length > 0 && c.ads.length <= 16 &&
  c.ads.every((id) => typeof id === "string" && id.length <= 64);
const campaigns = () => rt.query("campaigns").filter(validCampaign).sort((a, b) => b.n - a.n);
// 0 for a counter not here yet, or one a peer declared with another type.
const count = (ad) => {
  const v = rt.has(`impressions/${ad}`) ? rt.query(`impressions/${ad}`) : 0;
  return Number.isSafeInteger(v) ? v : 0;
};
const adName = (id) => id.replace(/^c\d+-/, "");
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

// Asks for campaign n+1: a replicated change like any other, so it works
// offline too (the server starts it once the request reaches it). Tabs that
// ask at the same time ask for the same number: one new campaign.
// A second click while this tab's request is on its way asks for nothing
// more (a number the server could not start is passed over by the next one).
let askedFor = 0;
async function newCampaign() {
  const now = campaigns()[0]?.n ?? 0;
  if (askedFor > now) return;
  askedFor = Math.max(now, rt.query("campaign")) + 1;
  rt.update("campaign", { set: askedFor });
  render();
  await durable.flushed();
}
$("new-campaign").addEventListener("click", newCampaign);
$("new-campaign-2").addEventListener("click", newCampaign);

// Who counted what: a GCounter's state holds one entry per replica (its own
// increments; the value is their sum). Read from the canonical bytes
// (docs/format.md: 'T' 'R' version 3, spec 1, the replica table count
// (replica:bytes)*, then count (replica-index n:varint)*; version 2 has the
// same GCounter layout, version 1 had no table and the replica's bytes in
// each entry), grouped by tab: by its key's
// did (a reload is a new incarnation of the same key).
function counted(ids) {
  const by = new Map();
  const utf8 = new TextDecoder();
  for (const id of ids) {
    if (!rt.has(id)) continue;
    const b = rt.encode(id);
    let i = 4;
    const varint = () => {
      let n = 0, m = 1;
      for (;;) {
        if (i >= b.length) throw new RangeError("truncated GCounter state");
        const x = b[i++];
        n += (x & 0x7f) * m;
        if (x < 0x80) return n;
        m *= 128;
      }
    };
    const bytes = () => { const len = varint(); return utf8.decode(b.subarray(i, (i += len))); };
    if (b[0] !== 0x54 || b[1] !== 0x52 || b[3] !== 1 || (b[2] !== 1 && b[2] !== 2 && b[2] !== 3)) continue;
    const table = [];
    if (b[2] !== 1) for (let k = varint(); k > 0; k--) table.push(bytes());
    for (let k = varint(); k > 0; k--) {
      const replica = b[2] !== 1 ? table[varint()] : bytes();
      const who = String(replica).replace(/\..*$/, "");
      by.set(who, (by.get(who) ?? 0) + varint());
    }
  }
  return [...by].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
}

// ---- what this tab saw: counters over time, and which parts just changed ----

// `var`: render() runs from connect() above, before this point is reached.
var uiReady = false;
var seen = new Map();   // ad id -> [[time, impressions], …] as this tab saw them
var lit = new Map();    // graph node -> time it last changed
const MAX_POINTS = 400; // per series; older points are thinned, not dropped
const MAX_HISTORY = 12; // earlier campaigns listed

function sample(ids, now) {
  for (const id of ids) {
    const v = count(id);
    let pts = seen.get(id);
    if (!pts) seen.set(id, (pts = []));
    if (pts.length && pts[pts.length - 1][1] === v) continue;
    pts.push([now, v]);
    if (pts.length > MAX_POINTS) seen.set(id, pts.filter((_, i) => i % 2 === 0 || i === pts.length - 1));
  }
}

const light = (id) => lit.set(id, Date.now());
for (const id of ["ads", "contracts", "ads×contracts", "matched", "displayable"]) rt.subscribe(id, () => light(id));
rt.onDelta((id) => { if (id.startsWith("impressions/")) light("impressions"); });
let removedBefore = -1;

// ---- rendering ------------------------------------------------------------

function render() {
  if (!uiReady) return;
  const now = Date.now();
  const online = sync.online();
  showStatus($("status"), online);
  $("mine").textContent = `${shownHere} shown in this tab`;
  // The server lists its peers by their proven key (did), so this tab is its did here.
  $("replicas").innerHTML = presenceList({ me: identity.did, online, presence: rt.query("presence"), label: shortDid });

  const all = campaigns();
  const cur = all[0];
  const displayable = rt.query("displayable");
  const requested = rt.query("campaign");
  $("campaign-n").textContent = cur ? `campaign ${cur.n}` : "";
  $("pending").textContent = cur && requested > cur.n
    ? `Campaign ${requested} asked for; ${online ? "the server is starting it…" : "the server starts it when this tab is back online."}` : "";

  let removedNow = 0;
  if (!cur) {
    $("ads").tBodies[0].innerHTML = "";
    $("done").hidden = true;
    $("waiting").hidden = false;
  } else {
    $("waiting").hidden = true;
    const rows = cur.ads.map((ad) => {
      const n = count(ad), showing = displayable.includes(ad);
      const state = showing ? "showing" : n >= cur.limit ? "removed" : "waiting";
      if (state === "removed") removedNow++;
      return { ad, n, state };
    });
    const scale = Math.max(cur.limit * 1.25, ...rows.map((r) => r.n));
    $("ads").tBodies[0].innerHTML = rows.map(({ ad, n, state }) => {
      const over = n - cur.limit;
      return `<tr data-ad="${esc(ad)}" class="${state}"><td>${esc(adName(ad))}</td><td class="state">${state === "removed" ? "removed at the limit" : state}</td>` +
        `<td class="count">${n} / ${cur.limit}</td><td class="meter">${meter(n, cur.limit, scale)}</td>` +
        `<td class="over">${over > 0 ? `+${over} (${Math.round((100 * over) / cur.limit)}%)` : ""}</td></tr>`;
    }).join("");
    const allRemoved = rows.every((r) => r.state === "removed");
    $("done").hidden = !allRemoved;
    if (allRemoved) {
      $("done-text").textContent = `All ${rows.length} ads of campaign ${cur.n} reached their limit of ${cur.limit} impressions and were removed ` +
        `(${plural(rows.reduce((t, r) => t + r.n - cur.limit, 0), "impression")} past the limit in all).`;
      $("new-campaign-2").textContent = `Start campaign ${Math.max(cur.n, requested) + 1}`;
    }
    // Only the current campaign is drawn: forget the series of earlier ones.
    for (const id of seen.keys()) if (!cur.ads.includes(id)) seen.delete(id);
    sample(cur.ads, now);
    $("counted").innerHTML = shares(counted(cur.ads.map((ad) => `impressions/${ad}`)), identity.did);
    $("chart").innerHTML = lineChart(cur.ads.map((id) => ({ id, label: adName(id), points: seen.get(id) ?? [] })), { limit: cur.limit, now });
  }
  if (removedBefore >= 0 && removedNow > removedBefore) light("enforce");
  removedBefore = removedNow;
  $("chart-box").hidden = !cur;

  // Past campaigns: what each ad ended with (the latest few; the set only grows).
  $("history").tBodies[0].innerHTML = all.slice(1, 1 + MAX_HISTORY).map((c) => {
    const ns = c.ads.map(count);
    return `<tr data-campaign="${c.n}"><td>${c.n}</td><td>${c.limit}</td>` +
      c.ads.map((ad, i) => `<td>${esc(adName(ad))} ${ns[i]}${ns[i] > c.limit ? ` <span class="plus">+${ns[i] - c.limit}</span>` : ns[i] < c.limit ? ` <span class="muted">(ended)</span>` : ""}</td>`).join("") +
      `</tr>`;
  }).join("");
  $("history-box").hidden = all.length < 2;
  renderGraph(cur, displayable, now);
}

// A bar to the count, a tick at the limit, the part past it in red.
function meter(n, limit, scale) {
  const pct = (v) => ((100 * v) / scale).toFixed(1);
  return `<svg viewBox="0 0 100 10" preserveAspectRatio="none" class="meter-svg"><rect width="100" height="10" class="track"/>` +
    `<rect width="${pct(Math.min(n, limit))}" height="10" class="fill"/>` +
    (n > limit ? `<rect x="${pct(limit)}" width="${pct(n - limit)}" height="10" class="overshoot"/>` : "") +
    `<line x1="${pct(limit)}" x2="${pct(limit)}" y1="0" y2="10" class="limit-tick"/></svg>`;
}

function renderGraph(cur, displayable, now) {
  const size = (id) => (rt.has(id) ? rt.query(id).length : 0);
  const total = cur ? cur.ads.reduce((t, ad) => t + count(ad), 0) : 0;
  const removed = cur ? cur.ads.filter((ad) => !displayable.includes(ad) && count(ad) >= cur.limit).length : 0;
  const on = (id) => now - (lit.get(id) ?? 0) < 900;
  const nodes = [
    { id: "contracts", x: 10, y: 15, title: "contracts · AWSet", kind: "var", value: `${size("contracts")} contracts` },
    { id: "ads", x: 10, y: 95, title: "ads · AWSet", kind: "var", value: `${size("ads")} ads` },
    { id: "ads×contracts", x: 215, y: 55, title: "ads × contracts", kind: "proc", value: `${size("ads×contracts")} pairs` },
    { id: "matched", x: 412, y: 55, title: "filter: same ad", kind: "proc", value: `${size("matched")} matched` },
    { id: "displayable", x: 600, y: 55, title: "map: the ad", kind: "proc", value: `${displayable.length} displayable` },
    { id: "impressions", x: 600, y: 185, title: "impressions · GCounter", kind: "var", value: `${total} counted` },
    { id: "enforce", x: 215, y: 185, title: "enforceOnce (server)", kind: "once", value: cur ? `${removed} of ${cur.ads.length} removed` : "" },
  ].map((n) => ({ ...n, lit: on(n.id) }));
  const edges = [
    { from: "contracts", to: "ads×contracts" }, { from: "ads", to: "ads×contracts" },
    { from: "ads×contracts", to: "matched" }, { from: "matched", to: "displayable" },
    { from: "displayable", to: "impressions", label: "tabs show ads", labelAt: [728, 162] },
    { from: "impressions", to: "enforce", label: cur ? `≥ ${cur.limit}` : "≥ limit" },
    { from: "enforce", to: "ads", path: "M215,210 L90,210 L90,147", label: "remove the ad", labelAt: [150, 228] },
  ];
  $("graph").innerHTML = flowGraph(nodes, edges, { width: 770, height: 245 });
}

uiReady = true;
rt.onDelta(() => queueMicrotask(render));
setInterval(render, 500);
render();

// What a tab cannot do: remove an ad. Its runtime would apply the remove
// locally, but the tab signs only what its delegation covers, so this signs
// the envelope by hand (as a hostile tab would) and sends it to the server,
// which refuses it (UNAUTHORIZED_CAP). For the tests and the curious; the
// tab's own state is untouched. Resolves with the envelope's CID.
async function tryRemoveAd(adId) {
  const l = sync.link();
  if (!l?.server) throw new Error("not connected");
  const copy = AWSet.decode(rt.encode("ads"), identity.replicaId());
  const ad = copy.value.find((a) => a?.id === adId);
  if (!ad) { copy.dispose(); throw new Error(`no ad ${adId}`); }
  copy.takeDelta();
  copy.remove(ad);
  const delta = copy.takeDelta();
  copy.dispose();
  const hub = trust.hub, me = identity.did, seq = hub.ledger.lastSeq(me) + 1;
  const links = hub.ledger.heads();
  const env = await signEnvelope(identity, { author: me, seq, links: sortLinks(links), items: [{ variable: "ads", delta }], cap: trust.proof });
  l.client.send(l.server, encodeTrustMessage({ kind: "envelopes", envelopes: [env.bytes] }));
  return env.cid.toString();
}

// For tests and the console.
globalThis.trellis = {
  tryRemoveAd, trustStats: () => trust.hub.stats(), owner: trust.owner,
  rt, replica, incarnation, identity, did: identity.did, showAd, render, newCampaign,
  campaign: () => campaigns()[0] ?? null,
  series: () => Object.fromEntries(seen),
  online: sync.online,
  flushed: () => durable.flushed(),
  state: (id) => Array.from(rt.encode(id)),
};
