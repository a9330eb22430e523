// Graph shapes for the simulated network, as undirected edge lists over node
// indices 0..n-1. Pure functions of (n, parameters, rng): the same seed gives
// the same graph. Every shape is connected (for n >= 1); each builder documents
// its degrees, which test/sim.test.ts checks.

export type Edge = [number, number];

// The only randomness topologies need: a uniform integer in [0, n).
export interface Rng { int(n: number): number; }

export type TopologyKind = "line" | "ring" | "tree" | "partialMesh" | "randomRegular" | "fullMesh";

export interface TopologyOptions {
  fanout?: number; // tree: children per node (default 2)
  degree?: number; // partialMesh: minimum degree; randomRegular: exact degree (default 4)
}

export function buildTopology(kind: TopologyKind, n: number, rng: Rng, opts: TopologyOptions = {}): Edge[] {
  switch (kind) {
    case "line": return line(n);
    case "ring": return ring(n);
    case "tree": return tree(n, opts.fanout ?? 2);
    case "fullMesh": return fullMesh(n);
    case "partialMesh": return partialMesh(n, opts.degree ?? 4, rng);
    case "randomRegular": return randomRegular(n, opts.degree ?? 4, rng);
    default: throw new Error(`unknown topology ${String(kind)}`);
  }
}

// 0-1-2-...-(n-1): n-1 edges, ends of degree 1.
export function line(n: number): Edge[] {
  const e: Edge[] = [];
  for (let i = 1; i < n; i++) e.push([i - 1, i]);
  return e;
}

// A line closed into a cycle: every node of degree 2 (n >= 3).
export function ring(n: number): Edge[] {
  const e = line(n);
  if (n >= 3) e.push([n - 1, 0]);
  return e;
}

// Complete k-ary tree in breadth-first order: node i's parent is (i-1)/k.
export function tree(n: number, fanout: number): Edge[] {
  if (!(fanout >= 1)) throw new Error("tree fanout must be >= 1");
  const e: Edge[] = [];
  for (let i = 1; i < n; i++) e.push([Math.floor((i - 1) / fanout), i]);
  return e;
}

export function fullMesh(n: number): Edge[] {
  const e: Edge[] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) e.push([i, j]);
  return e;
}

// Connected, every degree >= min(k, n-1), and most nodes exactly k: a random
// spanning tree whose degrees are capped at k (always possible for k >= 2,
// since a tree on m nodes has fewer than 2m degree endpoints), then random
// extra edges between nodes still below k. A node ends above k only when no
// other node below k is left to pair with.
export function partialMesh(n: number, k: number, rng: Rng): Edge[] {
  if (n <= 1) return [];
  k = Math.min(k, n - 1);
  if (k < 2) { if (n === 2) return [[0, 1]]; throw new Error("partialMesh degree must be >= 2"); }
  if (k === n - 1) return fullMesh(n);
  const g = new Graph(n);
  const order = shuffled(n, rng);
  // Nodes already in the tree with degree < k; swap-removed when full.
  const open: number[] = [order[0]];
  const slot = new Int32Array(n).fill(-1);
  slot[order[0]] = 0;
  const close = (v: number) => {
    const i = slot[v], last = open.pop()!;
    if (last !== v) { open[i] = last; slot[last] = i; }
    slot[v] = -1;
  };
  for (let i = 1; i < n; i++) {
    const v = order[i], u = open[rng.int(open.length)];
    g.add(u, v);
    if (g.deg[u] >= k) close(u);
    slot[v] = open.length; open.push(v);
  }
  // Pair up the nodes still below k; retry a few random partners, then
  // scan for one, then let a full node take one more edge.
  while (open.length > 0) {
    const u = open[rng.int(open.length)];
    let v = -1;
    for (let t = 0; t < 8 && v < 0; t++) {
      const w = open[rng.int(open.length)];
      if (w !== u && !g.has(u, w)) v = w;
    }
    if (v < 0) for (const w of open) if (w !== u && !g.has(u, w)) { v = w; break; }
    if (v < 0) {
      const start = rng.int(n);
      for (let t = 0; t < n && v < 0; t++) { const w = (start + t) % n; if (w !== u && !g.has(u, w)) v = w; }
    }
    g.add(u, v);
    if (g.deg[u] >= k) close(u);
    if (slot[v] >= 0 && g.deg[v] >= k) close(v);
  }
  return g.edges;
}

// Connected, every node of degree exactly k (needs n*k even and k < n).
// k = 2 is a random Hamiltonian cycle (the only connected 2-regular graph);
// otherwise Steger-Wormald pairing (reject loops and repeated edges, restart
// when stuck), retried until connected. Dense k is built as the complement of
// a random (n-1-k)-regular graph, where pairing would stall.
export function randomRegular(n: number, k: number, rng: Rng): Edge[] {
  if (n <= 1) return [];
  if (k < 1 || k >= n || (n * k) % 2 !== 0) throw new Error(`no connected ${k}-regular graph on ${n} nodes`);
  if (k === n - 1) return fullMesh(n);
  if (k === 1) { if (n === 2) return [[0, 1]]; throw new Error(`no connected 1-regular graph on ${n} nodes`); }
  if (k === 2) {
    const p = shuffled(n, rng);
    return ring(n).map(([a, b]) => [p[a], p[b]] as Edge);
  }
  for (let attempt = 0; attempt < 1000; attempt++) {
    let g: Graph | null;
    if (2 * k > n && n - 1 - k >= 1) {
      const c = pairing(n, n - 1 - k, rng);
      g = c && complement(c);
    } else g = pairing(n, k, rng);
    if (g && connected(g)) return g.edges;
  }
  throw new Error(`could not build a connected ${k}-regular graph on ${n} nodes`);
}

function pairing(n: number, k: number, rng: Rng): Graph | null {
  const pts = new Int32Array(n * k);
  for (let i = 0; i < pts.length; i++) pts[i] = Math.floor(i / k);
  let left = pts.length;
  const g = new Graph(n);
  let fails = 0;
  while (left > 0) {
    const i = rng.int(left), j = rng.int(left);
    const u = pts[i], v = pts[j];
    if (i === j || u === v || g.has(u, v)) {
      if (++fails > 50 + left) return null; // stuck near the end: restart
      continue;
    }
    fails = 0;
    g.add(u, v);
    // Remove both points: swap each with the last live one (higher index first).
    const hi = Math.max(i, j), lo = Math.min(i, j);
    pts[hi] = pts[--left];
    pts[lo] = pts[--left];
  }
  return g;
}

function complement(c: Graph): Graph {
  const g = new Graph(c.n);
  for (let i = 0; i < c.n; i++) for (let j = i + 1; j < c.n; j++) if (!c.has(i, j)) g.add(i, j);
  return g;
}

function connected(g: Graph): boolean {
  const adj: number[][] = Array.from({ length: g.n }, () => []);
  for (const [a, b] of g.edges) { adj[a].push(b); adj[b].push(a); }
  const seen = new Uint8Array(g.n), stack = [0];
  seen[0] = 1;
  let count = 1;
  while (stack.length) for (const w of adj[stack.pop()!]) if (!seen[w]) { seen[w] = 1; count++; stack.push(w); }
  return count === g.n;
}

function shuffled(n: number, rng: Rng): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = rng.int(i + 1); const t = p[i]; p[i] = p[j]; p[j] = t; }
  return p;
}

class Graph {
  readonly edges: Edge[] = [];
  readonly deg: Int32Array;
  private readonly set = new Set<number>();
  constructor(readonly n: number) { this.deg = new Int32Array(n); }
  private key(a: number, b: number) { return a < b ? a * this.n + b : b * this.n + a; }
  has(a: number, b: number) { return this.set.has(this.key(a, b)); }
  add(a: number, b: number) {
    this.set.add(this.key(a, b));
    this.edges.push(a < b ? [a, b] : [b, a]);
    this.deg[a]++; this.deg[b]++;
  }
}
