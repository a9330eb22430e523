// What replication needs from a network and a clock, and nothing more: a
// transport delivers opaque messages between named peers (best effort: a
// message may be lost, duplicated, delayed or reordered) and says who is a
// neighbour. The simulated network (host/transport/sim.ts), WebSocket and
// libp2p each implement it; the protocol never sees a socket.

export interface Transport {
  // This node's id (unique in the network; used as the replica id).
  readonly self: string;
  // The peers this node can currently send to.
  neighbours(): string[];
  // Best effort, never throws for a peer that is down: the message is dropped.
  send(to: string, message: Uint8Array): void;
  // Returns a function that removes the handler.
  onMessage(handler: (from: string, message: Uint8Array) => void): () => void;
  // up = true when `peer` becomes a neighbour, false when it is lost.
  onNeighbour(handler: (peer: string, up: boolean) => void): () => void;
  // Optional: false when a send to `peer` would be dropped for backpressure
  // (its link holds more than its budget). The replicator then skips it for
  // the round instead of computing what it lacks.
  canSend?(peer: string): boolean;
}

// Optional: broadcast of opaque bytes to every subscribed node (libp2p's
// gossipsub). The replication layer (gossip.ts) decides what is published and
// what arriving bytes do; the transport only moves and relays them.
export interface PubSub {
  // Best effort, never throws; false if nothing was published.
  publish(data: Uint8Array): boolean;
  // handler(the peer it came from, or "" if unknown, data) for every message that passed the validator.
  onGossip(handler: (from: string, data: Uint8Array) => void): () => void;
  // Runs on every message before it is delivered or relayed; throwing refuses it.
  setGossipValidator(fn: ((data: Uint8Array) => void) | null): void;
  // True while the transport hands received bytes (gossip or sync) to handlers:
  // what changes then is not published again.
  readonly delivering: boolean;
}

// Time as the protocol sees it: real timers in production, a virtual clock in
// the simulator (so a run is a pure function of its seed).
export interface Clock {
  now(): number; // milliseconds
  setTimeout(fn: () => void, ms: number): () => void; // returns a cancel function
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    (t as { unref?: () => void }).unref?.();
    return () => clearTimeout(t);
  },
};
