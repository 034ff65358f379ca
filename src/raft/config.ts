/**
 * Configuration of one Raft replica. Every limit is explicit, with a safe default.
 */
import type { Logger, Rand } from '../ports.ts';
import { nullLogger } from '../ports.ts';
import { InvalidConfigError } from './errors.ts';
import type { RaftStorage } from './storage.ts';
import type { NodeId } from './types.ts';

/** How ReadIndex requests are answered. */
export type ReadOnlyOption =
  /** Confirm leadership with a heartbeat round to a quorum (always safe). */
  | 'safe'
  /** Trust the leader lease (needs check-quorum; safe under bounded clock drift). */
  | 'leaseBased';

export interface RaftConfig {
  /** This replica's id; never 0. */
  id: NodeId;
  storage: RaftStorage;
  /** Seeded randomness for the election timeout. */
  rand: Rand;
  /** Ticks without hearing from a leader before a follower campaigns; randomized in [electionTick, 2*electionTick). */
  electionTick?: number;
  /** Ticks between leader heartbeats; must be less than electionTick. */
  heartbeatTick?: number;
  /** The last applied index when restarting (entries up to it are not handed out again). */
  applied?: number;
  /** Payload bytes per MsgApp (at least one entry is always sent). */
  maxSizePerMsg?: number;
  /** Appends in flight per follower in replicate state. */
  maxInflightMsgs?: number;
  /** Payload bytes in flight per follower; 0 means no byte limit. */
  maxInflightBytes?: number;
  /** Bytes of uncommitted entries a leader accepts before dropping proposals; 0 means no limit. */
  maxUncommittedEntriesSize?: number;
  /** Bytes of committed entries handed out per Ready. */
  maxCommittedSizePerReady?: number;
  /** A leader that has not heard from a quorum for an election timeout steps down. */
  checkQuorum?: boolean;
  /** Run a pre-vote round before disrupting the cluster with a real election. */
  preVote?: boolean;
  readOnlyOption?: ReadOnlyOption;
  /**
   * Ticks of clock drift tolerated by lease reads: the lease lasts electionTick - leaseDriftTicks
   * ticks from the moment the confirming heartbeat was sent.
   */
  leaseDriftTicks?: number;
  /**
   * Ticks a leader waits for a snapshot to be reported (`reportSnapshot`) or acknowledged before it
   * assumes the snapshot was lost and tries again; default 5 × electionTick.
   */
  snapshotTimeoutTicks?: number;
  /**
   * Whether this replica may have followed a leader before this start (so it may have granted a
   * lease it must honour for one election timeout). Default: its hard state has a term. A driver
   * that creates a replica fresh (bootstrap at a non-zero initial term, a split) passes false.
   */
  restarted?: boolean;
  /** Followers refuse to forward proposals to the leader when true. */
  disableProposalForwarding?: boolean;
  logger?: Logger;
}

/** A config with every default filled in. */
export type ResolvedRaftConfig = Required<RaftConfig>;

/** Fills in defaults and validates; throws {@link InvalidConfigError} naming the bad field. */
export function resolveConfig(c: RaftConfig): ResolvedRaftConfig {
  const r: ResolvedRaftConfig = {
    id: c.id,
    storage: c.storage,
    rand: c.rand,
    electionTick: c.electionTick ?? 10,
    heartbeatTick: c.heartbeatTick ?? 1,
    applied: c.applied ?? 0,
    maxSizePerMsg: c.maxSizePerMsg ?? 1024 * 1024,
    maxInflightMsgs: c.maxInflightMsgs ?? 256,
    maxInflightBytes: c.maxInflightBytes ?? 0,
    maxUncommittedEntriesSize: c.maxUncommittedEntriesSize ?? 0,
    maxCommittedSizePerReady: c.maxCommittedSizePerReady ?? 4 * 1024 * 1024,
    checkQuorum: c.checkQuorum ?? false,
    preVote: c.preVote ?? false,
    readOnlyOption: c.readOnlyOption ?? 'safe',
    leaseDriftTicks: c.leaseDriftTicks ?? 1,
    snapshotTimeoutTicks: c.snapshotTimeoutTicks ?? 5 * (c.electionTick ?? 10),
    restarted: c.restarted ?? c.storage.initialState().hardState.term > 0,
    disableProposalForwarding: c.disableProposalForwarding ?? false,
    logger: c.logger ?? nullLogger,
  };
  const positiveInt = (name: keyof ResolvedRaftConfig, v: number) => {
    if (!Number.isSafeInteger(v) || v <= 0) throw new InvalidConfigError(`${name} must be a positive integer, got ${v}`);
  };
  const nonNegativeInt = (name: keyof ResolvedRaftConfig, v: number) => {
    if (!Number.isSafeInteger(v) || v < 0) throw new InvalidConfigError(`${name} must be a non-negative integer, got ${v}`);
  };
  positiveInt('id', r.id);
  positiveInt('electionTick', r.electionTick);
  positiveInt('heartbeatTick', r.heartbeatTick);
  positiveInt('maxSizePerMsg', r.maxSizePerMsg);
  positiveInt('maxInflightMsgs', r.maxInflightMsgs);
  positiveInt('maxCommittedSizePerReady', r.maxCommittedSizePerReady);
  positiveInt('snapshotTimeoutTicks', r.snapshotTimeoutTicks);
  nonNegativeInt('applied', r.applied);
  nonNegativeInt('maxInflightBytes', r.maxInflightBytes);
  nonNegativeInt('maxUncommittedEntriesSize', r.maxUncommittedEntriesSize);
  nonNegativeInt('leaseDriftTicks', r.leaseDriftTicks);
  if (r.electionTick <= r.heartbeatTick) {
    throw new InvalidConfigError(`electionTick (${r.electionTick}) must be greater than heartbeatTick (${r.heartbeatTick})`);
  }
  if (r.maxInflightBytes > 0 && r.maxInflightBytes < r.maxSizePerMsg) {
    throw new InvalidConfigError(`maxInflightBytes (${r.maxInflightBytes}) must be at least maxSizePerMsg (${r.maxSizePerMsg})`);
  }
  if (r.readOnlyOption !== 'safe' && r.readOnlyOption !== 'leaseBased') {
    throw new InvalidConfigError(`readOnlyOption must be 'safe' or 'leaseBased', got ${String(r.readOnlyOption)}`);
  }
  if (r.readOnlyOption === 'leaseBased' && !r.checkQuorum) {
    // Without check-quorum a deposed leader never learns it lost its followers, so its lease
    // would outlive its leadership and serve stale reads.
    throw new InvalidConfigError(`readOnlyOption 'leaseBased' requires checkQuorum: true`);
  }
  if (r.leaseDriftTicks >= r.electionTick) {
    throw new InvalidConfigError(`leaseDriftTicks (${r.leaseDriftTicks}) must be less than electionTick (${r.electionTick})`);
  }
  if (!r.storage) throw new InvalidConfigError('storage is required');
  if (!r.rand) throw new InvalidConfigError('rand is required (a seeded source in tests)');
  return r;
}
