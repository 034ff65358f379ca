/**
 * What a role touches: the part of a Raft replica that the role step functions (`stepLeader` in
 * `leader.ts`, `stepFollower` / `stepCandidate` in `follower.ts`) may read and call.
 *
 * A map for the tour. `raft.ts` holds the state and the rules every role shares (terms, become*,
 * tick, voting) and dispatches each message to its role's step function; the role files hold the
 * rest. The role files depend on this interface only, never on `raft.ts` or on each other, so the
 * imports run one way: `raft.ts` → `leader.ts` / `follower.ts` → `core.ts`. `class Raft` in
 * `raft.ts` implements it; the invariants of each field are stated there, beside the field.
 */
import type { ResolvedRaftConfig } from './config.ts';
import type { RaftLog } from './log.ts';
import type { ReadOnly } from './readonly.ts';
import type { ProgressTracker, TrackerConfig } from './tracker.ts';
import type { Entry, Message, MessageType, NodeId, ReadState, StateRole } from './types.ts';

/** How a campaign starts: with a pre-vote round, directly, or forced by a leadership transfer. */
export type CampaignType = 'preElection' | 'election' | 'transfer';

/** The replica as its role step functions see it; implemented by `class Raft` (`raft.ts`). */
export interface RaftCore {
  // --- what every role reads ---------------------------------------------------------------------

  readonly id: NodeId;
  readonly cfg: ResolvedRaftConfig;
  readonly term: number;
  readonly state: StateRole;
  /** The log: entries, commit and apply indexes, the unstable tail. */
  readonly raftLog: RaftLog;
  /** Every member's replication progress and the votes of the current election. */
  readonly trk: ProgressTracker;
  /** ReadIndex requests waiting for a quorum of heartbeat acknowledgements (leader). */
  readonly readOnly: ReadOnly;

  // --- what roles change in place ---------------------------------------------------------------

  /** The leader this node follows (or itself), or NONE. */
  lead: NodeId;
  /** Messages to send after the next Ready is persisted; a role adds to it only through {@link send}. */
  readonly msgs: Message[];
  /** Answered reads, handed to the application with the next Ready. */
  readonly readStates: ReadState[];
  leadTransferee: NodeId;
  timeoutNowSent: boolean;
  pendingReadIndexMessages: Message[];
  uncommitted: Array<{ index: number; bytes: number }>;
  uncommittedBytes: number;
  electionElapsed: number;
  transferElapsed: number;
  readonly heartbeatElapsed: number;
  /** Ticks since this node started: the clock of lease accounting. */
  readonly tickCount: number;
  quiesced: boolean;

  // --- what roles call ----------------------------------------------------------------------------

  /** Queues a message, stamping `from` and (except for votes and forwarded requests) our term. */
  send(m: Message): void;
  /** Appends entries as leader; false if over the uncommitted-size limit. */
  appendEntries(es: Entry[]): boolean;
  /** Fans out appends to every follower (the leader's `bcastAppend`, for roles that just won). */
  broadcastAppend(): void;
  becomeFollower(term: number, lead: NodeId): void;
  becomeLeader(): void;
  /** Starts a campaign if this node may (a voter, not the leader). */
  hup(t: CampaignType): void;
  campaign(t: CampaignType): void;
  /** Records a vote and returns the election's state. */
  poll(id: NodeId, type: MessageType, granted: boolean): 'pending' | 'lost' | 'won';
  /** The membership in effect. */
  config(): TrackerConfig;
  /** Index of the newest uncommitted configuration entry, or 0. */
  pendingConfIndex(): number;
  /** Moves committed configuration entries into the base configuration. */
  foldCommittedConfig(): void;
  /** Resets the membership to the one a snapshot carries. */
  restoreConfig(config: TrackerConfig): void;
}
