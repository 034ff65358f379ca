/**
 * The Multi-Raft store: StoreEngine hosts region replicas over one storage engine.
 */
export type { ReadConsistency } from './region-peer.ts';
export { type RaftItem, type RegionInfo, type RoleListener, StoreEngine, type StoreEngineOptions, type StoreRaftOptions } from './store-engine.ts';
