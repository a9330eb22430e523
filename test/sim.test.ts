import { describe, expect, it } from "vitest";
import { SimNetwork, type TraceEvent } from "../dist/host/transport/sim.js";

const bytes = (n: number) => new Uint8Array([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff]);
const num = (m: Uint8Array) => m[0] | (m[1] << 8) | (m[2] << 16);
const ids = (n: number, p = "n") => Array.from({ length: n }, (_, i) => `${p}${i}`);

// A small gossip workload with every fault, a partition and a crash; returns the
// trace plus what the nodes themselves observed.
function scenario(seed: number): string[] {
  const net = new SimNetwork({ seed, latency: [1, 20], loss: 0.1, duplicate: 0.1, reorder: 0.2 });
  const out: string[] = [];
  net.onTrace((e) => out.push(JSON.stringify(e)));
  const names = ids(6);
  net.topology("partialMesh", names, { degree: 3 });
  const wire = (id: string) => {
    const tr = net.transport(id);
    let n = 0;
    tr.onMessage((from, m) => out.push(`${net.now} ${id}<-${from} ${num(m)}`));
    tr.onNeighbour((p, up) => out.push(`${net.now} ${id} ${p} ${up}`));
    const tick = () => { for (const p of tr.neighbours()) tr.send(p, bytes(n++)); tr.clock.setTimeout(tick, 10); };
    tr.clock.setTimeout(tick, 1);
  };
  names.forEach(wire);
  net.clock.setTimeout(() => net.partition([["n0", "n1", "n2"]]), 50);
  net.clock.setTimeout(() => net.heal(), 120);
  net.clock.setTimeout(() => net.crash("n3"), 150);
  net.clock.setTimeout(() => { net.restart("n3"); wire("n3"); }, 200);
  net.run({ until: 300 });
  return out;
}

describe("determinism", () => {
  it("the same seed gives the same trace; another seed a different one", () => {
    const a = scenario(42), b = scenario(42), c = scenario(43);
    expect(a.length).toBeGreaterThan(500);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    // Every kind of event happened, so the comparison covered them.
    const kinds = new Set(a.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l).kind));
    expect([...kinds].sort()).toEqual(["crash", "deliver", "down", "drop", "duplicate", "restart", "send", "timer", "up"]);
  });

  it("building a topology does not shift message randomness", () => {
    const times = (extra: boolean) => {
      const net = new SimNetwork({ seed: 5, latency: [1, 100] });
      if (extra) net.topology("randomRegular", ids(20, "x"), { degree: 3 });
      const a = net.add("a"); net.add("b"); net.link("a", "b");
      const got: number[] = [];
      net.transport("b").onMessage(() => got.push(net.now));
      for (let i = 0; i < 20; i++) a.send("b", bytes(i));
      net.run();
      return got;
    };
    expect(times(true)).toEqual(times(false));
  });
});

// Two linked nodes; a sends `count` numbered messages, b records arrivals.
function pair(opts: ConstructorParameters<typeof SimNetwork>[0], count: number, gap = 0) {
  const net = new SimNetwork(opts);
  const a = net.add("a"), b = net.add("b");
  net.link("a", "b");
  const got: { n: number; t: number; sent: number }[] = [];
  const sentAt: number[] = [];
  const froms = new Set<string>();
  b.onMessage((from, m) => { froms.add(from); got.push({ n: num(m), t: net.now, sent: sentAt[num(m)] }); });
  if (gap === 0) for (let i = 0; i < count; i++) { sentAt.push(net.now); a.send("b", bytes(i)); }
  else for (let i = 0; i < count; i++) net.clock.setTimeout(() => { sentAt.push(net.now); a.send("b", bytes(i)); }, i * gap);
  net.run();
  if (got.length) expect([...froms]).toEqual(["a"]);
  return { net, got };
}

describe("faults on a link", () => {
  it("loss and duplication happen at close to the configured rates", () => {
    const N = 20000;
    const { net, got } = pair({ seed: 1, loss: 0.2, duplicate: 0.1 }, N);
    const t = net.totals();
    expect(t.sent).toBe(N);
    expect(t.dropped / N).toBeGreaterThan(0.18); expect(t.dropped / N).toBeLessThan(0.22);
    expect(t.duplicated / (N - t.dropped)).toBeGreaterThan(0.09); expect(t.duplicated / (N - t.dropped)).toBeLessThan(0.11);
    // Conservation: every message (and copy) was delivered or dropped.
    expect(t.sent + t.duplicated).toBe(t.delivered + t.dropped);
    expect(got.length).toBe(t.delivered);
    expect(new Set(got.map((g) => g.n)).size).toBe(N - t.dropped);
    expect(t.sentBytes).toBe(3 * N);
    expect(net.stats("b").delivered).toBe(t.delivered);
    expect(net.stats("a").delivered).toBe(0);
  });

  it("no faults: every message arrives exactly once", () => {
    const { net, got } = pair({ seed: 2 }, 1000);
    expect(got.map((g) => g.n)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(net.totals()).toMatchObject({ sent: 1000, delivered: 1000, dropped: 0, duplicated: 0 });
  });

  it("latency is within [min, max] and FIFO per link when reorder = 0", () => {
    const { got } = pair({ seed: 3, latency: [5, 50], duplicate: 0.2 }, 2000, 1);
    const firsts = got.filter((g, i) => got.findIndex((h) => h.n === g.n) === i);
    expect(firsts.map((g) => g.n)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    for (const g of firsts) { expect(g.t - g.sent).toBeGreaterThanOrEqual(5); expect(g.t - g.sent).toBeLessThanOrEqual(50); }
    expect(got.length).toBeGreaterThan(2000); // duplicates came later, out of order
  });

  it("a fixed latency delivers at exactly send time + latency", () => {
    const { got } = pair({ seed: 4, latency: 7 }, 50, 3);
    expect(got.map((g) => g.t)).toEqual(Array.from({ length: 50 }, (_, i) => i * 3 + 7));
  });

  it("reorder > 0 lets later messages overtake held-back ones", () => {
    const { got } = pair({ seed: 5, latency: [5, 10], reorder: 0.1 }, 2000, 1);
    let inversions = 0;
    for (let i = 1; i < got.length; i++) if (got[i].n < got[i - 1].n) inversions++;
    expect(got.length).toBe(2000);
    expect(inversions).toBeGreaterThan(50);
    expect(inversions).toBeLessThan(400);
  });

  it("per-link options override the defaults, and configure() changes defaults at run time", () => {
    const net = new SimNetwork({ seed: 6, loss: 1 });
    const a = net.add("a"); net.add("b"); net.add("c");
    net.link("a", "b"); net.link("a", "c", { loss: 0 });
    for (let i = 0; i < 100; i++) { a.send("b", bytes(i)); a.send("c", bytes(i)); }
    net.run();
    expect(net.stats("b").delivered).toBe(0);
    expect(net.stats("c").delivered).toBe(100);
    net.configure({ loss: 0 });
    a.send("b", bytes(0));
    net.run();
    expect(net.stats("b").delivered).toBe(1);
    expect(() => new SimNetwork({ loss: 1.5 })).toThrow();
  });

  it("sending to a non-neighbour drops the message without throwing", () => {
    const net = new SimNetwork({ seed: 7 });
    const a = net.add("a"); net.add("b");
    expect(() => a.send("b", bytes(1))).not.toThrow();
    expect(() => a.send("nobody", bytes(1))).not.toThrow();
    expect(net.stats("a")).toMatchObject({ sent: 2, dropped: 2, droppedBytes: 6 });
    expect(net.idle()).toBe(true);
  });
});

describe("partitions", () => {
  it("cut cross-group links (in flight too), fire down events, and heal", () => {
    const net = new SimNetwork({ seed: 8, latency: 10 });
    const names = ["a", "b", "c", "d"];
    net.topology("fullMesh", names);
    const events: string[] = [];
    const got: string[] = [];
    for (const id of names) {
      const tr = net.transport(id);
      tr.onNeighbour((p, up) => events.push(`${id}${up ? "+" : "-"}${p}`));
      tr.onMessage((from, m) => got.push(`${from}>${id}:${num(m)}`));
    }
    const a = net.transport("a");
    a.send("c", bytes(1)); // in flight when the partition starts
    a.send("b", bytes(2));
    net.run({ until: 5 });
    net.partition([["a", "b"], ["c", "d"]]);
    expect(events.sort()).toEqual(["a-c", "a-d", "b-c", "b-d", "c-a", "c-b", "d-a", "d-b"]);
    expect(a.neighbours()).toEqual(["b"]);
    expect(net.transport("c").neighbours()).toEqual(["d"]);
    a.send("d", bytes(3));
    net.run();
    expect(got).toEqual(["a>b:2"]);
    expect(net.stats("a")).toMatchObject({ sent: 3, delivered: 0, dropped: 2 });

    events.length = 0;
    net.heal();
    expect(events.sort()).toEqual(["a+c", "a+d", "b+c", "b+d", "c+a", "c+b", "d+a", "d+b"]);
    expect(a.neighbours().sort()).toEqual(["b", "c", "d"]);
    a.send("d", bytes(4));
    net.run();
    expect(got).toEqual(["a>b:2", "a>d:4"]);
  });

  it("nodes in no group form one more group; a new partition replaces the old", () => {
    const net = new SimNetwork({ seed: 9 });
    net.topology("ring", ["a", "b", "c", "d"]);
    net.partition([["a"]]);
    expect(net.transport("a").neighbours()).toEqual([]);
    expect(net.transport("c").neighbours().sort()).toEqual(["b", "d"]);
    net.partition([["a", "b"]]);
    expect(net.transport("a").neighbours()).toEqual(["b"]);
    expect(net.transport("c").neighbours()).toEqual(["d"]);
    expect(() => net.partition([["a"], ["a"]])).toThrow();
  });
});

describe("crash and restart", () => {
  it("a crash drops in-flight messages and timers and detaches handlers; restart gives a fresh transport", () => {
    const net = new SimNetwork({ seed: 10, latency: 10 });
    net.topology("line", ["a", "b", "c"]);
    const a = net.transport("a"), b = net.transport("b");
    const log: string[] = [];
    a.onMessage((from, m) => log.push(`old a<-${from}:${num(m)}`));
    b.onNeighbour((p, up) => log.push(`b sees ${p} ${up ? "up" : "down"}`));
    b.onMessage((from, m) => log.push(`b<-${from}:${num(m)}`));
    a.clock.setTimeout(() => log.push("old a timer"), 20);
    net.clock.setTimeout(() => log.push("net timer"), 20);
    b.send("a", bytes(1));
    a.send("b", bytes(2));
    net.run({ until: 5 });
    net.crash("a");
    expect(a.alive).toBe(false);
    expect(net.isUp("a")).toBe(false);
    expect(b.neighbours()).toEqual(["c"]);
    a.send("b", bytes(3)); // ignored: the old transport is detached
    expect(a.clock.setTimeout(() => log.push("late timer"), 1)).toBeTypeOf("function");
    net.run();
    expect(log).toEqual(["b sees a down", "net timer"]);
    expect(net.stats("b")).toMatchObject({ dropped: 1 });
    expect(net.stats("a")).toMatchObject({ sent: 1, dropped: 1 });
    expect(() => net.crash("a")).toThrow();

    log.length = 0;
    const a2 = net.restart("a");
    expect(a2).not.toBe(a);
    expect(a2.alive).toBe(true);
    expect(net.transport("a")).toBe(a2);
    expect(a2.neighbours()).toEqual(["b"]);
    expect(log).toEqual(["b sees a up"]);
    a2.onMessage((from, m) => log.push(`new a<-${from}:${num(m)}`));
    a2.clock.setTimeout(() => log.push("new a timer"), 1);
    b.send("a", bytes(4));
    a2.send("b", bytes(5));
    net.run();
    expect(log).toEqual(["b sees a up", "new a timer", "new a<-b:4", "b<-a:5"]);
    expect(() => net.restart("a")).toThrow();
  });

  it("a timer set before a crash never fires, even after a quick restart", () => {
    const net = new SimNetwork({ seed: 16 });
    const a = net.add("a");
    const fired: string[] = [];
    a.clock.setTimeout(() => fired.push("old"), 10);
    net.crash("a");
    const a2 = net.restart("a");
    a2.clock.setTimeout(() => fired.push("new"), 10);
    net.run();
    expect(fired).toEqual(["new"]);
  });

  it("unlink drops in-flight messages and fires down; link fires up", () => {
    const net = new SimNetwork({ seed: 11, latency: 10 });
    const a = net.add("a"), b = net.add("b");
    const ev: string[] = [];
    a.onNeighbour((p, up) => ev.push(`${p}${up}`));
    net.link("a", "b");
    b.send("a", bytes(1));
    net.unlink("a", "b");
    expect(net.inFlight).toBe(0);
    expect(net.idle()).toBe(true);
    net.link("a", "b");
    net.run();
    expect(ev).toEqual(["btrue", "bfalse", "btrue"]);
    expect(net.stats("a").delivered).toBe(0);
    expect(net.edges()).toEqual([["a", "b"]]);
  });
});

describe("clock", () => {
  it("timers fire at their virtual times, ties in scheduling order, cancel works", () => {
    const net = new SimNetwork({ seed: 12 });
    const tr = net.add("a");
    const fired: string[] = [];
    tr.clock.setTimeout(() => fired.push(`x@${net.now}`), 30);
    net.clock.setTimeout(() => fired.push(`y@${tr.clock.now()}`), 10);
    tr.clock.setTimeout(() => fired.push(`z@${net.clock.now()}`), 10);
    const cancel = tr.clock.setTimeout(() => fired.push("cancelled"), 20);
    tr.clock.setTimeout(() => {
      fired.push(`w@${net.now}`);
      tr.clock.setTimeout(() => fired.push(`v@${net.now}`), 0);
    }, 25);
    cancel();
    expect(net.run({ until: 26 })).toEqual({ events: 4, reason: "until" });
    expect(net.now).toBe(26);
    expect(fired).toEqual(["y@10", "z@10", "w@25", "v@25"]);
    expect(net.step()).toBe(true);
    expect(fired.at(-1)).toBe("x@30");
    expect(net.step()).toBe(false);
    expect(net.run({ until: 100 }).reason).toBe("until");
    expect(net.now).toBe(100);
  });

  it("run stops at maxEvents and at stop(); periodic timers never leave the queue empty", () => {
    const net = new SimNetwork({ seed: 13 });
    let ticks = 0;
    const tick = () => { ticks++; net.clock.setTimeout(tick, 5); };
    net.clock.setTimeout(tick, 5);
    expect(net.run({ maxEvents: 10 })).toEqual({ events: 10, reason: "maxEvents" });
    expect(net.now).toBe(50);
    expect(net.run({ stop: () => ticks === 15 })).toEqual({ events: 5, reason: "stop" });
    expect(net.idle()).toBe(true);
  });
});

// Independent checks of a graph: degrees, edge count, simple, connected.
function shape(edges: [string, string][], names: string[]) {
  const adj = new Map(names.map((n) => [n, new Set<string>()]));
  for (const [a, b] of edges) {
    expect(a).not.toBe(b);
    expect(adj.get(a)!.has(b)).toBe(false); // no repeated edge
    adj.get(a)!.add(b); adj.get(b)!.add(a);
  }
  const seen = new Set([names[0]]), stack = [names[0]];
  while (stack.length) for (const w of adj.get(stack.pop()!)!) if (!seen.has(w)) { seen.add(w); stack.push(w); }
  const degs = names.map((n) => adj.get(n)!.size);
  return { connected: seen.size === names.length, degs, min: Math.min(...degs), max: Math.max(...degs), edges: edges.length };
}

describe("topologies", () => {
  const build = (kind: Parameters<SimNetwork["topology"]>[0], n: number, opts = {}, seed = 1) => {
    const net = new SimNetwork({ seed });
    const names = ids(n);
    const edges = net.topology(kind, names, opts);
    // The network's links match the returned edges, and neighbours() agrees.
    expect(net.edges()).toEqual(edges);
    const s = shape(edges, names);
    names.forEach((id, i) => expect(net.transport(id).neighbours().length).toBe(s.degs[i]));
    return { ...s, edgeList: edges };
  };

  it("line", () => {
    const s = build("line", 10);
    expect(s).toMatchObject({ connected: true, edges: 9, min: 1, max: 2 });
    expect(s.degs.filter((d) => d === 1).length).toBe(2);
  });

  it("ring", () => {
    expect(build("ring", 10)).toMatchObject({ connected: true, edges: 10, min: 2, max: 2 });
  });

  it("tree: binary and k-ary", () => {
    const b = build("tree", 15);
    expect(b).toMatchObject({ connected: true, edges: 14, min: 1, max: 3 });
    expect(b.degs[0]).toBe(2); // root
    expect(b.degs.filter((d) => d === 1).length).toBe(8); // leaves of a complete binary tree
    const t = build("tree", 13, { fanout: 3 });
    expect(t).toMatchObject({ connected: true, edges: 12, min: 1, max: 4 });
    expect(t.degs.filter((d) => d === 1).length).toBe(9);
  });

  it("fullMesh", () => {
    expect(build("fullMesh", 15)).toMatchObject({ connected: true, edges: 105, min: 14, max: 14 });
  });

  it("partialMesh: connected, every degree >= k, almost all exactly k", () => {
    for (const [n, k, seed] of [[15, 4, 1], [15, 4, 2], [16, 3, 3], [100, 5, 4], [6, 4, 5], [9, 2, 6]]) {
      const s = build("partialMesh", n, { degree: k }, seed);
      expect(s.connected).toBe(true);
      expect(s.min).toBeGreaterThanOrEqual(k);
      expect(s.max).toBeLessThanOrEqual(k + 1);
      expect(s.degs.filter((d) => d === k).length).toBeGreaterThanOrEqual(n - 2);
    }
  });

  it("randomRegular: connected, every degree exactly k", () => {
    for (const [n, k, seed] of [[15, 4, 1], [16, 3, 2], [20, 2, 3], [50, 6, 4], [12, 9, 5], [10, 7, 6], [2, 1, 7]]) {
      const s = build("randomRegular", n, { degree: k }, seed);
      expect(s).toMatchObject({ connected: true, min: k, max: k, edges: (n * k) / 2 });
    }
    expect(() => build("randomRegular", 15, { degree: 3 })).toThrow(); // n*k odd
    expect(() => build("randomRegular", 5, { degree: 5 })).toThrow();
  });

  it("random shapes follow the seed", () => {
    const a = build("randomRegular", 30, { degree: 3 }, 1).edgeList;
    expect(build("randomRegular", 30, { degree: 3 }, 1).edgeList).toEqual(a);
    expect(build("randomRegular", 30, { degree: 3 }, 2).edgeList).not.toEqual(a);
    const p = build("partialMesh", 30, { degree: 3 }, 1).edgeList;
    expect(build("partialMesh", 30, { degree: 3 }, 1).edgeList).toEqual(p);
    expect(build("partialMesh", 30, { degree: 3 }, 2).edgeList).not.toEqual(p);
  });
});

describe("scale", () => {
  it("a 1,024-node partial mesh builds and floods a rumour to every node quickly", () => {
    const t0 = performance.now();
    const net = new SimNetwork({ seed: 14, latency: [5, 50], duplicate: 0.05, reorder: 0.05 });
    const names = ids(1024);
    const s = shape(net.topology("partialMesh", names, { degree: 4 }), names);
    expect(s.connected).toBe(true);
    expect(s.min).toBe(4);
    const heard = new Set<string>();
    const msg = new Uint8Array(64);
    for (const id of names) {
      const tr = net.transport(id);
      tr.onMessage(() => {
        if (heard.has(id)) return;
        heard.add(id);
        for (const p of tr.neighbours()) tr.send(p, msg);
      });
      // Background chatter: every node pings its neighbours every 100 ms.
      const tick = () => { for (const p of tr.neighbours()) tr.send(p, new Uint8Array(8)); tr.clock.setTimeout(tick, 100); };
      tr.clock.setTimeout(tick, 1);
    }
    net.transport("n0").send(net.transport("n0").neighbours()[0], msg);
    const r = net.run({ until: 5_000 });
    expect(heard.size).toBe(1024);
    expect(r.events).toBeGreaterThan(200_000);
    const t = net.totals();
    expect(t.sent + t.duplicated).toBe(t.delivered + t.dropped + net.inFlight);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});

describe("trace", () => {
  it("reports drops with their reason and can be removed", () => {
    const net = new SimNetwork({ seed: 15, loss: 1 });
    const seen: TraceEvent[] = [];
    const off = net.onTrace((e) => seen.push(e));
    const a = net.add("a"); net.add("b"); net.link("a", "b");
    a.send("b", bytes(1)); a.send("zz", bytes(1));
    off();
    a.send("b", bytes(1));
    expect(seen.filter((e) => e.kind === "drop").map((e) => e.reason)).toEqual(["loss", "nolink"]);
    expect(seen.filter((e) => e.kind === "send").length).toBe(2);
  });
});
