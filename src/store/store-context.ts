/**
 * The state the stages of one store share, in one object ({@link StoreContext}) so that it is
 * plain who owns what. StoreEngine (`store-engine.ts`) builds it and hands it to every stage; the
 * stages never import each other in a circle: what one stage asks of another it cannot import
 * without one (the loop asks the ticker for the time, the ticker asks the loop for a turn) goes
 * through the few verbs at the end of {@link StoreContext}, which StoreEngine wires to the stage
 * that does it.
 *
 * A tour of the store, in the order a request or a Raft frame meets the files:
 * - `store-engine.ts`: the facade. Opens the store, checks requests (`replicas.ts: peerFor`) and
 *   proposes them to their region's replica.
 * - `inbound.ts`: a Raft frame from another store arrives; it is routed to its replica, which may
 *   first have to be created (or is refused: tombstones, withheld votes, the incarnation guard).
 * - `ticker.ts`: the store clock becomes ticks for every replica; quiesce and store liveness.
 * - `ready-loop.ts`: one turn over every replica with work: collect the Readies, persist them in
 *   ONE write batch (`PersistWork`), send (`outbox.ts`), apply (`apply.ts`), advance.
 * - `region-ops.ts`: split, merge, leader transfer and membership changes, proposed through Raft.
 * - `pd-worker.ts`: the placement driver's side of the store: heartbeats and instructions.
 * - `replicas.ts`: creating, finding and retiring replicas, used by all of the above.
 */

import type { AuthCache } from '../auth/cache.ts';
import { ServerBusyError } from '../errors.ts';
import type { KvStateMachine } from '../kv/state-machine.ts';
import type { StorageEngine } from '../ports.ts';
import type { ConfState, Ready } from '../raft/types.ts';
import type { Region } from '../region/types.ts';
import type { IncarnationGuard } from './incarnation-guard.ts';
import type { PdService } from './pd-service.ts';
import type { WriteOverlay } from '../kv/overlay.ts';
import type { ComputeHashCommand } from './admin.ts';
import type { HashReport } from './consistency-types.ts';
import { PD_GROUP_ID } from './pd-state.ts';
import type { RegionPeer } from './region-peer.ts';
import type { StreamReceiver } from './snapshot-receive.ts';
import type { SnapshotStreamStats } from './snapshot-stream.ts';
import type { RaftItem, ResolvedStoreOptions, RoleListener } from './store-options.ts';

/** Counters for metrics, status pages and tests; each stage counts what it does. */
export interface StoreCounters {
  merges: number;
  tombstonesSent: number;
  peersCreated: number;
  peersDestroyed: number;
  splits: number;
  badSnapshots: number;
  turns: number;
  raftBatches: number;
  applyBatches: number;
  entriesApplied: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
  messagesSent: number;
  quiesces: number;
  livenessWakes: number;
  clockGaps: number;
  votesWithheld: number;
  /** Consistency checks this store compared (as the leader that proposed them). */
  consistencyChecks: number;
  /** Replicas those checks found divergent. */
  consistencyDivergences: number;
}

/** Every counter at zero. */
export function newStoreCounters(): StoreCounters {
  return { merges: 0, tombstonesSent: 0, peersCreated: 0, peersDestroyed: 0, splits: 0, badSnapshots: 0, turns: 0, raftBatches: 0, applyBatches: 0, entriesApplied: 0, snapshotsSent: 0, snapshotsInstalled: 0, messagesSent: 0, quiesces: 0, livenessWakes: 0, clockGaps: 0, votesWithheld: 0, consistencyChecks: 0, consistencyDivergences: 0 };
}

/** What a store remembers of a replica it destroyed or retired. */
export interface Tombstone {
  peerId: number;
  confVer: number;
  region: Region;
}

/** The tombstone of the replica `peerId` of `region`. */
export function tombstoneOf(region: Region, peerId: number): Tombstone {
  return { peerId, confVer: region.epoch.confVer, region };
}

/** Whether a replica belongs to PD's group (which serves no keys). */
export function isPdGroup(peer: RegionPeer): boolean {
  return peer.regionId === PD_GROUP_ID;
}

/** The Raft membership a region's peer list describes. */
export function confStateOf(region: Region): ConfState {
  return {
    voters: region.peers.filter((p) => p.role === 'voter').map((p) => p.id),
    learners: region.peers.filter((p) => p.role === 'learner').map((p) => p.id),
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  };
}

/**
 * One replica's Ready, taken in a loop turn. Produced by the collect step of `ready-loop.ts`;
 * consumed in order by the persist step (entries, hard state, snapshot), `outbox.ts` (messages),
 * `apply.ts` (committed entries) and the advance step (read states, soft state).
 */
export interface PeerReady {
  peer: RegionPeer;
  rd: Ready;
}

/**
 * The state of one store that more than one stage reads or writes. Each field says which stage
 * writes it; a stage's own state (the ticker's clock, the loop's running flag, the outbox's
 * streams) stays private to that stage.
 */
export interface StoreContext {
  readonly storeId: number;
  readonly opts: ResolvedStoreOptions;
  readonly engine: StorageEngine;
  /** The KV state machine every region's replica applies into (stateless between calls). */
  readonly sm: KvStateMachine;
  /**
   * The replicas hosted here, by region id. Added and removed only by `replicas.ts` (on open, from
   * a message, for a split's child; destroyed, retired by a merge or a superseding snapshot).
   */
  readonly peers: Map<number, RegionPeer>;
  /** Replicas that may have work for the loop: stepped, ticked while awake, proposed to, read from. Taken by `ready-loop.ts`. */
  readonly dirty: Set<RegionPeer>;
  /** Set when anything may have touched any replica: the next turn looks at every one. */
  scanAll: boolean;
  /** Set by close or a storage failure; every stage stops starting work once it is. */
  closed: boolean;
  /** The storage failure that stopped the loop (`ready-loop.ts`); requests are refused with it. */
  failure: Error | undefined;
  /** Refuses replicas whose store came back with other data (a wiped data directory); replaced once by open. */
  guard: IncarnationGuard;
  /** The auth table this store enforces (loaded by open, kept current through PD by `pd-worker.ts`). */
  auth: AuthCache;
  /** The placement driver's part on this store, set once by StoreEngine's constructor. */
  pd: PdService | undefined;
  /** Replicas destroyed here: messages to them (or older memberships) must not recreate them. */
  readonly tombstones: Map<number, Tombstone>;
  /** Targets holding back a CommitMerge until this store's replica of the source caught up (`apply.ts`). */
  readonly mergeWaiters: Set<RegionPeer>;
  /** Merge sources whose CommitMerge this store is proposing (`region-ops.ts`). */
  readonly finishing: Set<number>;
  /** Regions whose streamed snapshot is being moved into place (`ready-loop.ts`): no stream may open for them. */
  readonly applying: Set<number>;
  /** Snapshot streams this store receives (with a snapshot link). */
  readonly receiver: StreamReceiver | undefined;
  /** Sizes and counts of the snapshot streams, for tests (memory bounds) and metrics. */
  readonly snapshotStats: SnapshotStreamStats;
  readonly counters: StoreCounters;
  /** Told of leadership changes (`ready-loop.ts` after a Ready with a soft state). */
  readonly listeners: Set<RoleListener>;
  /** Stores not heard from for an election timeout (written by `ticker.ts`): the followers of their leaders wake. */
  readonly silentStores: Set<number>;
  /** When each peer (of regions led here) was last seen active, for PD's down-peer reports (`pd-worker.ts`; shifted by a clock gap). */
  readonly peerSeenMs: Map<number, number>;

  // --- verbs: wired by StoreEngine to the stage that does each ---------------------------------

  /** Brings the store's ticks up to the store clock (`ticker.ts`). */
  catchUp(): void;
  /** Notes that a frame came from `storeId` (`ticker.ts`: store liveness). */
  heard(storeId: number): void;
  /** Cancels the tick timer (`ticker.ts`). */
  stopTicking(): void;
  /** Starts the loop unless it runs (`ready-loop.ts`). */
  runLoop(): void;
  /** Runs loop turns for `peer`, or for every replica when none is named (`ready-loop.ts`). */
  kick(peer?: RegionPeer): void;
  /** Steps Raft items as if they came from `fromStoreId` (`inbound.ts`): this store's messages to itself. */
  receiveRaft(fromStoreId: number, items: readonly RaftItem[]): void;
  /** A replica applies a `computeHash` entry at `index` (`consistency.ts`): take the view now, hash and report. */
  computeHash(peer: RegionPeer, cmd: ComputeHashCommand, index: number, overlay: WriteOverlay): Promise<void>;
  /** A replica's hash for a check this store proposed came in (`consistency.ts`). */
  hashReported(fromStoreId: number, report: HashReport): void;
}

/** Throws ServerBusy once the store stopped (a storage failure, or closed). */
export function checkOpen(ctx: StoreContext): void {
  if (ctx.failure) throw new ServerBusyError(`store ${ctx.storeId} stopped after a storage failure: ${ctx.failure.message}`);
  if (ctx.closed) throw new ServerBusyError(`store ${ctx.storeId} is closed`);
}
