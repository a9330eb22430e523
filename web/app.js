// The ad-counter dashboard: this tab is a replica. Its Runtime runs the same
// program as every other replica (ads × contracts → displayable), keeps its
// state in its own IndexedDB store (so a reload, or a day offline, loses
// nothing) and syncs with the server over WebSocket whenever it is online.
import { init, Runtime, AWSet, GCounter, replicate } from "../dist/host/index.browser.js";
import { WsClient } from "../dist/host/transport/ws-client.js";
import { openBrowserStore, persist } from "../dist/host/storage/browser.js";
import { loadBrowserIdentity } from "../dist/host/identity/browser.js";

const $ = (id) => document.getElementById(id);
const LIMIT_VAR = "limit";

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
// declares (impressions per ad, the limit) arrive through replication.
rt.declare("ads", AWSet).declare("contracts", AWSet);
if (!rt.has("ads×contracts")) {
  rt.product("ads×contracts", "ads", "contracts");
  rt.filter("matched", "ads×contracts", ([ad, c]) => ad.id === c.ad);
  rt.map("displayable", "matched", ([ad]) => ad.id);
}

// Sync: a WebSocket client and a replicator, torn down when the browser goes
// offline and rebuilt when it is back (the digest exchange catches up).
let link = null;
const connect = () => {
  if (link || !navigator.onLine) return;
  const url = new URL("/sync", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const client = new WsClient({ url: url.href, identity, reconnect: { initial: 200, max: 5000 } });
  const rep = replicate(rt, client, { interval: 250 });
  client.onNeighbour(() => render());
  link = { client, rep };
  render();
};
const disconnect = () => {
  if (!link) return;
  link.rep.close();
  link.client.close();
  link = null;
  render();
};
addEventListener("online", connect);
addEventListener("offline", disconnect);
connect();

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

function count(ad) { return rt.has(`impressions/${ad}`) ? rt.query(`impressions/${ad}`) : 0; }
function render() {
  const online = !!link && link.client.connected;
  $("status").textContent = online ? "online" : "offline";
  $("status").className = "status " + (online ? "online" : "offline");
  $("mine").textContent = `${shownHere} shown in this tab`;
  const limit = rt.has(LIMIT_VAR) ? rt.query(LIMIT_VAR) : 0;
  const displayable = rt.query("displayable");
  $("ads").tBodies[0].innerHTML = displayable.map((ad) => {
    const n = count(ad);
    return `<tr data-ad="${ad}"><td>${ad}</td><td class="count">${n}${limit ? ` / ${limit}` : ""}</td>` +
      `<td style="width:40%"><div class="bar" style="width:${limit ? Math.min(100, (100 * n) / limit) : 0}%"></div></td></tr>`;
  }).join("");
  const removed = rt.query("ads").length === 0 && !rt.has(LIMIT_VAR) ? [] :
    [...new Set(rt.variables().filter((v) => v.id.startsWith("impressions/")).map((v) => v.id.slice(12)))]
      .filter((ad) => !displayable.includes(ad) && limit && count(ad) >= limit);
  $("removed").tBodies[0].innerHTML = removed.map((ad) =>
    `<tr data-ad="${ad}"><td>${ad}</td><td class="count">${count(ad)}</td><td>+${count(ad) - limit}</td></tr>`).join("");
}
rt.onDelta(() => queueMicrotask(render));
setInterval(render, 500);
render();

// For tests and the console.
globalThis.trellis = {
  rt, replica, incarnation, identity, did: identity.did, showAd, render,
  online: () => !!link && link.client.connected,
  flushed: () => durable.flushed(),
  state: (id) => Array.from(rt.encode(id)),
};
