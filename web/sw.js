// Offline app shell: the dashboard's files are cached on install and served
// cache-first, so a tab can be reloaded with no network; its data comes back
// from its IndexedDB store and syncs when the network returns.
const CACHE = "trellis-app-v2";
const SHELL = ["./", "./index.html", "./app.js", "./leaderboard.html", "./leaderboard.js", "./style.css", "./trellis.wasm"];

self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (e) => { e.waitUntil(self.clients.claim()); });
self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== location.origin || !url.pathname.startsWith("/app/")) return;
  // Network first while online (fresh builds), the cache when that fails.
  e.respondWith(fetch(e.request).then((res) => {
    const copy = res.clone();
    caches.open(CACHE).then((c) => c.put(e.request, copy));
    return res;
  }).catch(() => caches.match(e.request, { ignoreSearch: true }).then((r) => r ?? Response.error())));
});
