// Sync for a tab: a WebSocket client (proving the tab's key) and, over it,
// trustless replication (web/trust.js: signed envelopes through the tab's
// TrustHub), torn down when the browser goes offline and rebuilt when it is
// back (the frontier exchange catches up). Shared by the dashboard and the
// leaderboard.
import { WsClient } from "../dist/host/transport/ws-client.js";

export function syncWhileOnline(hub, render) {
  let link = null;
  const connect = () => {
    if (link || !navigator.onLine) return;
    const url = new URL("/sync", location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const client = new WsClient({ url: url.href, identity: hub.identity, reconnect: { initial: 200, max: 5000 } });
    const rep = hub.attach(client, { interval: 250 }).start();
    client.onNeighbour((_, up) => { if (up) rep.sync(); render(); });
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
  return {
    connect, online: () => !!link && link.client.connected,
    // For tests: the connected link (transport and server peer).
    link: () => (link ? { client: link.client, rep: link.rep, server: link.client.neighbours()[0] } : null),
  };
}
