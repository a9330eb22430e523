// The leaderboard of the Lasp talk, live: every tab is a device that keeps a
// local top-K of the games played on it (a dynamic variable: this tab's own,
// never replicated), and foldDynamic joins it into the replicated global
// top-K that every tab and the server share. Play offline and the global
// board catches up when the tab is back.
import { init, Runtime, LWWRegister, TopK } from "../dist/host/index.browser.js";
import { loadBrowserIdentity } from "../dist/host/identity/browser.js";
import { syncWhileOnline } from "./sync.js";
import { openTrust } from "./trust.js";
import { openBrowserStore, persist } from "../dist/host/storage/browser.js";
import { esc, flowGraph, presenceList, shortDid, showStatus } from "./ui.js";

const $ = (id) => document.getElementById(id);
const K = 5; // as the server declares lb/global (web/server.mjs)
const PLAYERS = ["ana", "ben", "chen", "dara", "eli", "fay", "gus", "hana", "ivo", "jun"];

// One replica per tab, as on the dashboard (sessionStorage: survives a reload of this tab only).
let replica = sessionStorage.getItem("trellis-replica");
if (!replica) {
  replica = "tab-" + crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  sessionStorage.setItem("trellis-replica", replica);
}
$("replica").textContent = replica;
// The tab's key, as on the dashboard: it proves itself to the server and names
// the replica (`<did>.<incarnation>`, new at every load).
const identity = await loadBrowserIdentity(`lb-${replica}`);
const incarnation = identity.replicaId();

await init(new URL("trellis.wasm", location.href));
const rt = new Runtime({ replica: incarnation, onError: (e) => console.error(e) });
const store = await openBrowserStore(`trellis-lb-${replica}`);
const durable = await persist(rt, store, { snapshotEvery: 64 });
rt.declare("presence", LWWRegister);
rt.declareDynamic("lb/local", TopK.of(K));
// Every load: the store brings lb/global back, but the bind from lb/local
// into it lives in the runtime only.
rt.foldDynamic("lb/global", "lb/local");

const trust = await openTrust(rt, identity, store);
const sync = syncWhileOnline(trust.hub, () => render());

// A game: a random player and score, into this tab's local top-K.
const games = [];
var uiReady = false; // `var`: render() may run from connect() before the end of this module
var lit = new Map();
async function play() {
  const game = { player: PLAYERS[Math.floor(Math.random() * PLAYERS.length)], score: Math.floor(Math.random() * 1000) };
  rt.update("lb/local", { add: [game.player, game.score] });
  games.push(game);
  await durable.flushed();
  return game;
}
$("play").addEventListener("click", () => { play(); });
setInterval(() => { if ($("auto").checked) play(); }, 300);
rt.subscribe("lb/local", () => lit.set("local", Date.now()));
rt.subscribe("lb/global", () => lit.set("global", Date.now()));
rt.onDelta((id, _d, origin) => { if (id === "lb/global" && origin === "remote") lit.set("others", Date.now()); });

const board = (list, mine) => {
  const top = list[0]?.score || 1;
  return list.map((e, i) => {
    const own = mine.some((m) => m.id === e.id && m.score === e.score);
    return `<tr class="${own ? "mine" : ""}" data-player="${esc(e.id)}" data-score="${e.score}"><td>${i + 1}</td><td>${esc(e.id)}</td>` +
      `<td class="score">${e.score}</td><td style="width:45%"><svg viewBox="0 0 100 10" preserveAspectRatio="none" class="meter-svg">` +
      `<rect width="100" height="10" class="track"/><rect width="${((100 * e.score) / top).toFixed(1)}" height="10" class="fill"/></svg></td></tr>`;
  }).join("");
};

function render() {
  if (!uiReady) return;
  const now = Date.now();
  const online = sync.online();
  showStatus($("status"), online);
  // The server lists its peers by their proven key (did), so this tab is its did here.
  $("replicas").innerHTML = presenceList({ me: identity.did, online, presence: rt.query("presence"), label: shortDid });
  const local = rt.query("lb/local"), global = rt.query("lb/global");
  $("local").tBodies[0].innerHTML = board(local, []);
  $("global").tBodies[0].innerHTML = board(global, local);
  $("games").textContent = `${games.length} games played in this tab` + (games.length ? `; last: ${games.at(-1).player} ${games.at(-1).score}` : "");
  const on = (id) => now - (lit.get(id) ?? 0) < 900;
  const nodes = [
    { id: "games", x: 10, y: 20, title: "games in this tab", kind: "proc", value: `${games.length} played` },
    { id: "local", x: 270, y: 20, title: "lb/local · TopK", kind: "var", value: `dynamic: ${local.length}, this tab` },
    { id: "global", x: 530, y: 20, title: "lb/global · TopK", kind: "var", value: `replicated: ${global.length}` },
    { id: "others", x: 530, y: 110, title: "other tabs + server", kind: "once", value: `${Math.max(0, (rt.query("presence")?.count ?? 1) - 1)} other tabs online` },
  ].map((n) => ({ ...n, lit: on(n.id) }));
  const edges = [
    { from: "games", to: "local", label: "add" },
    { from: "local", to: "global", label: "foldDynamic" },
    { from: "others", to: "global", label: "deltas", path: "M610,110 L610,72", labelAt: [645, 98] },
  ];
  $("graph").innerHTML = flowGraph(nodes, edges, { width: 700, height: 170 });
}

uiReady = true;
sync.connect();
rt.onDelta(() => queueMicrotask(render));
setInterval(render, 500);
render();

// For tests and the console.
globalThis.trellis = {
  rt, replica, incarnation, identity, did: identity.did, play, render,
  games: () => games.slice(),
  online: sync.online,
  flushed: () => durable.flushed(),
};
