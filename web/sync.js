// Sync for a tab: a WebSocket client (proving the tab's key) and a replicator,
// torn down when the browser goes offline and rebuilt when it is back (the
// digest exchange catches up). Shared by the dashboard and the leaderboard.
import { replicate } from "../dist/host/index.browser.js";
import { WsClient } from "../dist/host/transport/ws-client.js";

export function syncWhileOnline(rt, identity, render) {
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
  return { connect, online: () => !!link && link.client.connected };
}
