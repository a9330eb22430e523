// Tracks every trellis instance a test creates so all are disposed, even when
// an assertion throws half way: `withScope((s) => { const x = s.track(make()); ... })`.
import type { Crdt } from "../../dist/host/index.node.js";

export class Scope {
  private items: Crdt<unknown>[] = [];

  track<T extends Crdt<unknown>>(x: T): T { this.items.push(x); return x; }
  trackAll<T extends Crdt<unknown>>(xs: T[]): T[] { for (const x of xs) this.items.push(x); return xs; }

  dispose(): void {
    const xs = this.items;
    this.items = [];
    for (const x of xs) x.dispose();
  }

  get size(): number { return this.items.length; }
}

export function withScope<R>(fn: (s: Scope) => R): R {
  const s = new Scope();
  try { return fn(s); } finally { s.dispose(); }
}
