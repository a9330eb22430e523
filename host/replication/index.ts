// Replication: the protocol over any Transport (docs/replication.md).
export { Replicator, replicate } from "./replicator.js";
export type { ReplicatorOptions, ReplicationMode, ReplicationStats, ReplicationMemory, KindStats } from "./replicator.js";
export { ReplicationError, decodeMessage, encodeMessage, hash64, WIRE_VERSION } from "./wire.js";
export type { ReplicationErrorCode, Message, MessageKind, Entry, VarHash, VarParts } from "./wire.js";
export { realClock } from "./transport.js";
export type { Transport, Clock, PubSub } from "./transport.js";
export { gossipDeltas } from "./gossip.js";
export type { GossipOptions } from "./gossip.js";
export { admitEntries } from "./admission.js";
export { mintsOf, mintsByReplica } from "./mint.js";
export type { Mint, PathSegment, ReplicaMints } from "./mint.js";
