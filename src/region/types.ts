/**
 * The vocabulary of Multi-Raft placement (DESIGN §3): a {@link Region} is a key range
 * `[startKey, endKey)` replicated by one Raft group whose members are {@link Peer}s on stores.
 * Names follow TiKV's metapb and RheaKV's metadata so a reader of either recognises them.
 */

/**
 * The version of a region's shape. `confVer` rises on every membership change, `version` on every
 * split and merge. A request routed by an older epoch is refused with `EpochNotMatch`.
 */
export interface RegionEpoch {
  /** Invariant: >= 1; rises by one per applied membership change. */
  confVer: number;
  /** Invariant: >= 1; rises on split (both halves) and merge (above both sources). */
  version: number;
}

/** What a peer does in its group: votes, or only receives the log. */
export type PeerRole = 'voter' | 'learner';

/**
 * One replica of a region. `id` is unique per replica incarnation: a replica removed from a store
 * and added again gets a new id, so stale messages to the old incarnation are dropped.
 */
export interface Peer {
  /** The Raft node id of this replica; positive, unique across the cluster. */
  id: number;
  /** The store hosting the replica; positive. */
  storeId: number;
  role: PeerRole;
  /**
   * The incarnation of the store's data the replica was added for (stamped by the leader that
   * added it); absent for replicas a cluster was bootstrapped with. A message from this replica
   * counts only when its store still runs that incarnation (store-ident.ts).
   */
  incarnation?: string;
}

/**
 * A key range `[startKey, endKey)` and the group replicating it. An empty `startKey` is -∞, an
 * empty `endKey` is +∞ (so the first region of a cluster is `['', '')`).
 */
export interface Region {
  /** Positive, unique across the cluster and never reused. */
  id: number;
  startKey: Uint8Array;
  /** Invariant: empty, or greater than `startKey`. */
  endKey: Uint8Array;
  epoch: RegionEpoch;
  /** Invariant: at most one peer per store; peer ids unique. */
  peers: Peer[];
}

/**
 * A deep copy of `region` that shares no buffers or arrays with it, so a table can keep it safely.
 * @param region - the region to copy.
 */
export function cloneRegion(region: Region): Region {
  return {
    id: region.id,
    startKey: region.startKey.slice(),
    endKey: region.endKey.slice(),
    epoch: { confVer: region.epoch.confVer, version: region.epoch.version },
    peers: region.peers.map((p) => (p.incarnation === undefined ? { id: p.id, storeId: p.storeId, role: p.role } : { id: p.id, storeId: p.storeId, role: p.role, incarnation: p.incarnation })),
  };
}
