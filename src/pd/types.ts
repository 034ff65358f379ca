/**
 * What the placement driver knows (DESIGN §6): the heartbeats stores and region leaders send
 * (RheaKV's StoreHeartbeat / RegionHeartbeat, TiKV's StoreStats / RegionHeartbeatRequest) and the
 * {@link ClusterView} built from them, which every scheduling rule reads. All of it is plain,
 * immutable data: a handler returns a new view and never changes the one it was given.
 */
import type { Peer, Region, RegionEpoch } from '../region/types.ts';
import type { PdConfig } from './config.ts';
import type { Instruction } from './instructions.ts';

/**
 * A store's lifecycle as PD sees it (TiKV's `StoreState`). `offline` is being drained: it stays
 * a healthy member of its groups but PD moves every replica off it. `tombstone` is gone for good.
 * States only move forward: up → offline → tombstone.
 */
export type StoreState = 'up' | 'offline' | 'tombstone';

/** A store's periodic report (RheaKV `StoreStats`). Counters cover the interval since the last one. */
export interface StoreHeartbeat {
  /** Positive. */
  storeId: number;
  /** Where other stores and clients reach it, when it has an address (a WebSocket URL). */
  address?: string;
  /** Total bytes the store may use; 0 when unknown (then it is never judged short of space). */
  capacityBytes: number;
  /** Bytes still free; at most `capacityBytes` when that is known. */
  availableBytes: number;
  /** Replicas the store hosts, by its own count (PD counts from region heartbeats). */
  regionCount: number;
  /** Replicas the store leads, by its own count. */
  leaderCount: number;
  bytesWritten: number;
  keysWritten: number;
  bytesRead: number;
  keysRead: number;
  /** When the store sent it, in PD time (ms). */
  timestampMs: number;
  /** The state the store believes it is in; PD never moves a store backwards (see {@link StoreState}). */
  state: StoreState;
  /**
   * The incarnation of the store's data (a wiped store runs a new one): what replicas PD adds
   * there are stamped with (`incarnation-guard.ts`). Absent on stores run without one.
   */
  incarnation?: string;
}

/** A follower the leader has not heard from (TiKV `PeerStats`). */
export interface DownPeer {
  peer: Peer;
  /** How long the leader has not heard from it. */
  downSeconds: number;
}

/** A region leader's periodic report (RheaKV `RegionStats` with the region, TiKV `RegionHeartbeatRequest`). */
export interface RegionHeartbeat {
  /** The region as the leader has applied it: range, epoch and peers. */
  region: Region;
  /** The reporting leader; one of `region.peers`, a voter. */
  leader: Peer;
  /** Peers the leader has not heard from lately. */
  downPeers: DownPeer[];
  /** Peers that are behind: learners still catching up and lagging voters. */
  pendingPeers: Peer[];
  approximateKeys: number;
  approximateBytes: number;
  bytesWritten: number;
  keysWritten: number;
  bytesRead: number;
  keysRead: number;
  /** The leader's Raft term; a report of an older term for the same epoch is stale. */
  term: number;
}

/** A store in the view: its last heartbeat and when PD received it. */
export interface PdStoreInfo {
  heartbeat: StoreHeartbeat;
  /** PD time (ms) of the last heartbeat; a store silent for `storeDownMs` after it is down. */
  lastHeartbeatMs: number;
  /** PD's state of the store: the furthest of what the store reported and what PD decided. */
  state: StoreState;
}

/** A region in the view: its last accepted heartbeat and when PD received it. */
export interface PdRegionInfo extends RegionHeartbeat {
  /** PD time (ms) of the heartbeat. */
  lastHeartbeatMs: number;
  /** For each of `pendingPeers` (by peer id), the PD time it was first reported pending without a break. */
  pendingSinceMs: ReadonlyMap<number, number>;
}

/**
 * An instruction PD issued and has not seen finish (TiKV's running operator). It blocks other
 * instructions for its regions until a heartbeat shows it done or `operatorTimeoutMs` passes.
 */
export interface OperatorRecord {
  instruction: Instruction;
  /** The region the record is kept under (a merge is kept under both of its regions). */
  regionId: number;
  /** The epoch of `regionId` the instruction was computed from; a heartbeat with another epoch finishes it. */
  epoch: RegionEpoch;
  /** PD time (ms) it was issued. */
  issuedMs: number;
}

/**
 * Everything PD decides from: stores, regions by id, operators in flight, the clock and the
 * configuration the view is kept with. Immutable; handlers return a new view.
 */
export interface ClusterView {
  /** PD time (ms) the view was last brought to; down-store and timeout checks measure from it. */
  readonly nowMs: number;
  /**
   * PD time (ms) the view was created (this PD leader started collecting heartbeats). A store
   * never heard from counts as down only `storeDownMs` after it, and the balance rules wait that
   * long, so a new PD leader does not act on a half-filled view (TiKV's prepare checker).
   */
  readonly startedMs: number;
  /** The configuration the view is kept with (the rules take theirs as an argument). */
  readonly config: PdConfig;
  readonly stores: ReadonlyMap<number, PdStoreInfo>;
  /** Invariant: no two regions overlap; every region passed the epoch checks of `handleRegionHeartbeat`. */
  readonly regions: ReadonlyMap<number, PdRegionInfo>;
  /** Operators in flight, by region id. Invariant: at most one per region. */
  readonly operators: ReadonlyMap<number, OperatorRecord>;
}
