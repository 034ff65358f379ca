/**
 * What a store is configured with and what it exchanges with its surroundings: the options of
 * {@link StoreEngineOptions} (resolved to their defaults once, in {@link resolveStoreOptions}),
 * the Raft items stores send each other, and what a client routes by. `store-engine.ts`
 * re-exports all of it; the stage files read the resolved options through `StoreContext`.
 */

import type { RaftRegionMeta } from '../codec/schema.ts';
import type { KvLimits } from '../kv/limits.ts';
import { DEFAULT_SESSION_IDLE_MS } from '../kv/sessions.ts';
import type { Clock, Logger, Rand, StorageEngine } from '../ports.ts';
import { nullLogger } from '../ports.ts';
import type { Message } from '../raft/types.ts';
import { DEFAULT_MIN_KEYS_TO_SPLIT } from '../region/split.ts';
import type { Region } from '../region/types.ts';
import type { PdServiceOptions } from './pd-service.ts';
import type { SnapshotChunkLink } from './snapshot-stream.ts';

/** A Raft message of one region, as stores exchange them, with the sender's view of the region. */
export interface RaftItem {
  regionId: number;
  message: Message;
  region?: RaftRegionMeta;
}

/** Raft timing and limits of every replica on the store. */
export interface StoreRaftOptions {
  electionTick?: number;
  heartbeatTick?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /**
   * Ticks cut off the leader lease for clock rate differences and tick rounding; default 2. The
   * lease lasts electionTick - leaseDriftTicks ticks from the confirming heartbeat (docs/lease-reads.md).
   */
  leaseDriftTicks?: number;
  maxInflightMsgs?: number;
  maxSizePerMsg?: number;
}

/** How a store is opened: its id, its ports, and its limits and timing (defaults in {@link resolveStoreOptions}). */
export interface StoreEngineOptions {
  storeId: number;
  engine: StorageEngine;
  clock: Clock;
  rand: Rand;
  /** Delivers the messages of one loop turn to one store. */
  sendRaft: (toStoreId: number, items: RaftItem[]) => void;
  /** Milliseconds per Raft tick; default 50. */
  tickMs?: number;
  /**
   * Ticks a region must stay idle and fully replicated before its leader quiesces it (no
   * heartbeats, no election timers until something happens); 0 never quiesces. Default: the
   * election timeout in ticks.
   */
  quiesceTicks?: number;
  raft?: StoreRaftOptions;
  /** Proposals waiting to apply per region before new writes get ServerBusy; default 4096. */
  maxPendingProposals?: number;
  /** Log entries kept behind the applied index before the log is compacted; default 1000. */
  logGcThreshold?: number;
  /** Fewer data keys than this and a region refuses to split; default 2. */
  minKeysToSplit?: number;
  /** Split a region automatically once it holds this many keys (0: never); default 0 (the PD decides). */
  splitKeys?: number;
  /** Split a region automatically once its keys and values take this many bytes (0: never); default 0. */
  splitBytes?: number;
  /** How often leaders check their regions' size for an automatic split; default 1 000 ms. */
  splitCheckIntervalMs?: number;
  /** Allocates ids for new regions and peers (the PD's allocator); default 52 random bits. */
  allocId?: () => number;
  /** Runs the placement driver: the stores hosting its group, its rules' configuration, timing. */
  pd?: PdServiceOptions;
  /** Delivers a PD message to a store (required with `pd`). */
  sendPd?: (toStoreId: number, payload: Uint8Array) => void;
  /** How often a leader proposes forgetting idle client sessions; default 60 000 ms. */
  sessionGcIntervalMs?: number;
  /** Sessions idle this long are forgotten; default 10 minutes. Clients must give up on a write well before. */
  sessionIdleMs?: number;
  kvLimits?: Partial<KvLimits>;
  logger?: Logger;
  /**
   * This store's incarnation (`ensureStoreIdent`). Stamped on replicas this store adds to itself;
   * the incarnations of other stores come with their frames (`receiveRaft`).
   */
  incarnation?: string;
  /**
   * Streams region snapshots to other stores in bounded chunks (`snapshot-stream.ts`); chunks
   * from them come in through `StoreEngine.receiveSnapshotChunk`. Without it a snapshot
   * travels whole inside its `MsgSnap` (and is held whole in memory on both sides).
   */
  snapshotLink?: SnapshotChunkLink;
  /** Payload bytes per snapshot chunk, and per batch when installing one; default 256 KiB. */
  snapshotChunkBytes?: number;
  /** Give up a snapshot stream after this long without an acknowledgement; default 10 000 ms. */
  snapshotStallMs?: number;
  /**
   * Told once when the loop stops on a storage failure (disk full, EIO on flush). The store then
   * refuses every request; its owner must restart it (a server process exits non-zero).
   */
  onFailure?: (error: Error) => void;
}

/** A region as a client routes by it, with the leader this store believes in. */
export interface RegionInfo {
  region: Region;
  /** 0 when unknown. */
  leaderStoreId: number;
}

/** A listener of leadership changes of the store's replicas. */
export type RoleListener = (event: { regionId: number; storeId: number; role: string; leaderStoreId: number }) => void;

/** The options that are optional in {@link StoreEngineOptions} and have no default. */
type Undefaulted = 'raft' | 'kvLimits' | 'pd' | 'sendPd' | 'incarnation' | 'onFailure' | 'snapshotLink';

/** {@link StoreEngineOptions} with every default filled in (what the stages read). */
export type ResolvedStoreOptions = Required<Omit<StoreEngineOptions, Undefaulted>> & Pick<StoreEngineOptions, Undefaulted>;

/** Fills in the defaults of `opts`. */
export function resolveStoreOptions(opts: StoreEngineOptions): ResolvedStoreOptions {
  return {
    tickMs: 50,
    quiesceTicks: opts.raft?.electionTick ?? 10,
    maxPendingProposals: 4096,
    logGcThreshold: 1000,
    sessionGcIntervalMs: 60_000,
    minKeysToSplit: DEFAULT_MIN_KEYS_TO_SPLIT,
    splitKeys: 0,
    splitBytes: 0,
    splitCheckIntervalMs: 1000,
    snapshotChunkBytes: 256 * 1024,
    snapshotStallMs: 10_000,
    allocId: undefined as unknown as () => number,
    sessionIdleMs: DEFAULT_SESSION_IDLE_MS,
    logger: nullLogger,
    ...opts,
  };
}

