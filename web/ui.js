// Drawing for the dashboard pages: inline SVG made from strings (no chart
// library: the page stays small), and the presence list. Nothing here knows
// about trellis; the pages pass plain values in.

export const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const COLOURS = ["#4f7cff", "#e8793a", "#2aa876", "#b04fd6", "#d64f6f", "#8a8f2a"];

// Impressions over time. series: [{ id, label, points: [[t, v], …] }]; limit:
// a dashed line; now: the right edge (the last value is drawn up to it).
export function lineChart(series, { limit = 0, now = Date.now(), width = 760, height = 220 } = {}) {
  const pad = { l: 40, r: 92, t: 12, b: 26 };
  const w = width - pad.l - pad.r, h = height - pad.t - pad.b;
  const t0 = Math.min(now - 10_000, ...series.flatMap((s) => (s.points.length ? [s.points[0][0]] : [])));
  const vmax = Math.max(limit * 1.15, 5, ...series.flatMap((s) => s.points.map((p) => p[1])));
  const x = (t) => pad.l + ((t - t0) / Math.max(1, now - t0)) * w;
  const y = (v) => pad.t + h - (v / vmax) * h;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="impressions over time">`];
  // Axes: a few round values, and the elapsed time.
  const step = niceStep(vmax / 4);
  for (let v = 0; v <= vmax; v += step) {
    out.push(`<line x1="${pad.l}" x2="${pad.l + w}" y1="${y(v)}" y2="${y(v)}" class="grid"/><text x="${pad.l - 6}" y="${y(v) + 4}" class="tick" text-anchor="end">${v}</text>`);
  }
  out.push(`<text x="${pad.l}" y="${height - 6}" class="tick">${fmtAgo(now - t0)} ago</text><text x="${pad.l + w}" y="${height - 6}" class="tick" text-anchor="end">now</text>`);
  if (limit) out.push(`<line x1="${pad.l}" x2="${pad.l + w}" y1="${y(limit)}" y2="${y(limit)}" class="limit"/><text x="${pad.l + 4}" y="${y(limit) - 4}" class="tick limit-label">limit ${limit}</text>`);
  // Labels at the right end, nudged apart so they do not overlap.
  const ends = series.map((s, i) => ({ s, i, v: s.points.length ? s.points[s.points.length - 1][1] : 0 })).sort((a, b) => b.v - a.v);
  let lastY = -Infinity;
  for (const e of ends) { e.ly = Math.max(y(e.v) + 4, lastY + 13); lastY = e.ly; }
  // Pushed past the bottom: move them back up, still 13 px apart.
  let nextY = height - pad.b + 13;
  for (let j = ends.length - 1; j >= 0; j--) { ends[j].ly = Math.min(ends[j].ly, nextY - 13); nextY = ends[j].ly; }
  for (const e of ends.sort((a, b) => a.i - b.i)) {
    const { s, i, v } = e;
    const colour = COLOURS[i % COLOURS.length];
    const pts = s.points.map(([t, val]) => [x(t), y(val)]);
    if (pts.length) pts.push([x(now), y(v)]);
    // Steps, not slopes: a counter jumps when a delta arrives.
    const d = pts.map(([px, py], j) => (j === 0 ? `M${px.toFixed(1)},${py.toFixed(1)}` : `H${px.toFixed(1)}V${py.toFixed(1)}`)).join("");
    out.push(`<path d="${d}" class="series" stroke="${colour}" data-ad="${esc(s.id)}" data-last="${v}" data-points="${s.points.length}"/>`);
    out.push(`<text x="${pad.l + w + 6}" y="${e.ly}" class="label" fill="${colour}">${esc(s.label)} ${v}</text>`);
  }
  out.push("</svg>");
  return out.join("");
}

function niceStep(x) {
  const p = 10 ** Math.floor(Math.log10(Math.max(1, x)));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= x) ?? 10 * p;
}
const fmtAgo = (ms) => (ms < 90_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);

// A dataflow graph. nodes: [{ id, x, y, title, kind, value, lit }], edges:
// [{ from, to, label, path? }] (boxes are 160×50; a path overrides the line).
export function flowGraph(nodes, edges, { width = 780, height = 250 } = {}) {
  const W = 160, H = 50;
  const at = new Map(nodes.map((n) => [n.id, n]));
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" style="max-width:${width}px" role="img" aria-label="dataflow graph">`,
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#889"/></marker></defs>`];
  for (const e of edges) {
    const a = at.get(e.from), b = at.get(e.to);
    let d = e.path, mid;
    if (!d) {
      // Side to side when the boxes are in a row, else bottom to top.
      const [x1, y1, x2, y2] = Math.abs(a.y - b.y) < H ? (b.x > a.x ? [a.x + W, a.y + H / 2, b.x, b.y + H / 2] : [a.x, a.y + H / 2, b.x + W + 4, b.y + H / 2])
        : a.x === b.x ? [a.x + W / 2, a.y + H, b.x + W / 2, b.y] : [a.x + W, a.y + H / 2, b.x, b.y + H / 2];
      d = `M${x1},${y1}L${x2 - 2},${y2}`;
      mid = [(x1 + x2) / 2, (y1 + y2) / 2];
    }
    out.push(`<path d="${d}" class="edge${b.lit ? " lit" : ""}" marker-end="url(#arrow)"/>`);
    if (e.label) {
      const [lx, ly] = e.labelAt ?? mid;
      out.push(`<text x="${lx}" y="${ly - 5}" class="edge-label" text-anchor="middle">${esc(e.label)}</text>`);
    }
  }
  for (const n of nodes) {
    out.push(`<g class="node ${n.kind}${n.lit ? " lit" : ""}" data-var="${esc(n.id)}" transform="translate(${n.x},${n.y})">` +
      `<rect width="${W}" height="${H}" rx="8"/><text x="10" y="18" class="title">${esc(n.title)}</text>` +
      `<text x="10" y="38" class="value">${esc(n.value)}</text></g>`);
  }
  out.push("</svg>");
  return out.join("");
}

// Replicas: this one, the server, and the others the server last reported.
export function presenceList({ me, online, presence, label = (id) => id }) {
  const items = [`<li class="replica ${online ? "online" : "offline"}" data-replica="server"><b>server</b> ${esc(presence?.server ?? "")}<small>${online ? "connected" : "unreachable"}</small></li>`,
    `<li class="replica ${online ? "online" : "stale"} me" data-replica="${esc(me)}"><b>this tab</b> ${esc(label(me))}<small>${online ? "online" : "offline, counting locally"}</small></li>`];
  const others = (Array.isArray(presence?.peers) ? presence.peers : []).filter((p) => typeof p === "string" && p !== me);
  for (const p of others) {
    items.push(`<li class="replica ${online ? "online" : "stale"}" data-replica="${esc(p)}"><b>tab</b> ${esc(label(p))}<small>${online ? "online" : "last seen by the server"}</small></li>`);
  }
  const hidden = (presence?.count ?? 0) - (presence?.peers?.length ?? 0);
  if (hidden > 0) items.push(`<li class="replica muted">and ${hidden} more</li>`);
  return items.join("");
}

// Each replica's share of a total, as one stacked bar with a legend.
// parts: [[who, n], …], largest first; me: highlighted.
// A did:key is long; its head and tail are enough to tell tabs apart.
export const shortDid = (who) => (who.length > 28 ? `${who.slice(0, 14)}…${who.slice(-6)}` : who);

export function shares(parts, me, { width = 760 } = {}) {
  const total = parts.reduce((t, [, n]) => t + n, 0);
  if (total === 0) return `<p class="muted">No impressions counted yet.</p>`;
  let x = 0;
  const bars = [], legend = [];
  parts.forEach(([who, n], i) => {
    const w = (n / total) * width, colour = COLOURS[(i + 2) % COLOURS.length];
    bars.push(`<rect x="${x.toFixed(1)}" width="${Math.max(0, w - 1).toFixed(1)}" height="18" fill="${colour}"${who === me ? ' class="me"' : ""}><title>${esc(who)}: ${n}</title></rect>`);
    legend.push(`<li data-replica="${esc(who)}" data-count="${n}"><i style="background:${colour}"></i>${esc(shortDid(who))}${who === me ? " (this tab)" : ""} <b>${n}</b></li>`);
    x += w;
  });
  return `<svg viewBox="0 0 ${width} 18" preserveAspectRatio="none" class="shares">${bars.join("")}</svg><ul class="legend">${legend.join("")}</ul>`;
}

// The online/offline badge in a page's header.
export function showStatus(el, online) {
  el.textContent = online ? "online" : "offline";
  el.className = "status " + (online ? "online" : "offline");
}
