/**
 * The vocabulary of the Raft core: entries, messages, hard state, snapshots and configurations.
 *
 * Names follow the Raft paper and etcd-io/raft so that a reader of either recognises them.
 * Everything here is plain data: it can be encoded on the wire (msgpackr) and checked (zod)
 * at the edges without knowing anything of the state machine that produced it.
 */

/** Identifies a replica (a peer) within one Raft group. 0 means "none". */
export type NodeId = number;
export const NONE: NodeId = 0;

/** What an entry carries: an opaque command for the state machine, or a configuration change. */
export type EntryType = 'normal' | 'confChange';

/** One slot of the replicated log. */
export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  /** Opaque to Raft. Empty for the no-op entry a new leader appends. For `confChange`, an encoded {@link ConfChange}. */
  data: Uint8Array;
}

/** What must be on stable storage before any message that depends on it leaves the node. */
export interface HardState {
  term: number;
  /** The candidate voted for in `term`, or NONE. */
  vote: NodeId;
  commit: number;
}

/**
 * A group's membership. When `votersOutgoing` is non-empty the group is in a joint
 * configuration and every decision needs a majority of `voters` AND of `votersOutgoing`.
 */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
  /** The old voters while in a joint configuration; empty otherwise. */
  votersOutgoing: NodeId[];
  /** Voters of the outgoing config that become learners when the joint config is left. */
  learnersNext: NodeId[];
  /** Leave the joint configuration automatically once it is committed. */
  autoLeave: boolean;
}

/** Where a snapshot stands in the log and which configuration it carries. */
export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

/** The state machine's image at `metadata.index`; replaces the log prefix up to that index. */
export interface Snapshot {
  metadata: SnapshotMetadata;
  data: Uint8Array;
}

/** One step of a membership change. */
export type ConfChangeType = 'addNode' | 'addLearner' | 'removeNode';

export interface ConfChangeSingle {
  type: ConfChangeType;
  nodeId: NodeId;
}

/**
 * How a change is carried out.
 * - `auto`: a single change is applied directly (one voter at a time is safe); several changes go
 *   through a joint configuration that is left automatically.
 * - `joint`: always enter a joint configuration and leave it automatically once committed.
 * - `jointExplicit`: enter a joint configuration; the application leaves it with an empty change.
 */
export type ConfChangeTransition = 'auto' | 'joint' | 'jointExplicit';

/**
 * A membership change request. An empty `changes` list leaves the current joint configuration.
 */
export interface ConfChange {
  transition: ConfChangeTransition;
  changes: ConfChangeSingle[];
  /** Opaque application context carried with the change (for example the new peer's store). */
  context?: Uint8Array;
}

/** The kinds of messages. Local ones (MsgHup, MsgBeat, MsgProp ...) never cross the network except MsgProp/MsgReadIndex forwarded to a leader. */
export type MessageType =
  | 'MsgHup' // local: start an election
  | 'MsgBeat' // local: leader sends heartbeats
  | 'MsgProp' // propose entries (forwarded from follower to leader)
  | 'MsgApp'
  | 'MsgAppResp'
  | 'MsgVote'
  | 'MsgVoteResp'
  | 'MsgPreVote'
  | 'MsgPreVoteResp'
  | 'MsgSnap'
  | 'MsgHeartbeat'
  | 'MsgHeartbeatResp'
  | 'MsgUnreachable' // local: transport reports a peer unreachable
  | 'MsgSnapStatus' // local: transport reports whether a snapshot got through
  | 'MsgCheckQuorum' // local: leader checks that a quorum is active
  | 'MsgTransferLeader'
  | 'MsgTimeoutNow'
  | 'MsgReadIndex'
  | 'MsgReadIndexResp'
  | 'MsgQuiesce'; // leader -> followers of an idle, fully replicated group: stop the election timer

/**
 * A Raft message. All fields are always present (monomorphic shape); unused ones are 0 / empty.
 *
 * Field use by type:
 * - MsgApp: `index`/`logTerm` = the entry preceding `entries`; `commit` = leader's commit.
 * - MsgAppResp: `index` = highest index the follower now matches (or the rejected index);
 *   `reject`/`rejectHint`/`logTerm` = where the leader should probe next.
 * - MsgVote/MsgPreVote: `index`/`logTerm` = candidate's last entry; `context` non-empty on a
 *   transfer-forced campaign.
 * - MsgHeartbeat: `commit` = min(leader commit, follower match); `index` = the leader's tick
 *   at send time, echoed in MsgHeartbeatResp for lease accounting; `context` = ReadIndex round.
 * - MsgReadIndex/MsgReadIndexResp: `context` = the request id; `index` = the read index.
 * - MsgQuiesce: `index` = the leader's tick (as a heartbeat's); `commit` = the leader's commit
 *   index, which is also its last index; `logTerm` = the term of that last entry.
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  rejectHint: number;
  snapshot: Snapshot | null;
  context: Uint8Array;
}

/** The role a replica plays in its group. */
export type StateRole = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Volatile state worth reporting to the application (not persisted). */
export interface SoftState {
  lead: NodeId;
  role: StateRole;
}

/** A linearizable read that may be served once the state machine has applied `index`. */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

/**
 * What the node asks its driver to do, in this order:
 * 1. persist `hardState`, `entries` and `snapshot` (synchronously durable when `mustSync`);
 * 2. send `messages` (they may depend on what step 1 persisted);
 * 3. apply `committedEntries` and serve `readStates` once applied;
 * 4. call `advance(ready)`.
 */
export interface Ready {
  softState: SoftState | null;
  hardState: HardState | null;
  entries: Entry[];
  snapshot: Snapshot | null;
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
  /** Whether step 1 must reach the medium before step 2 (false only when nothing durable changed). */
  mustSync: boolean;
}

/** A fresh message with every field defaulted; `fields` overrides. */
export function makeMessage(fields: Partial<Message> & Pick<Message, 'type'>): Message {
  return {
    type: fields.type,
    from: fields.from ?? NONE,
    to: fields.to ?? NONE,
    term: fields.term ?? 0,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? EMPTY_ENTRIES,
    commit: fields.commit ?? 0,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
    snapshot: fields.snapshot ?? null,
    context: fields.context ?? EMPTY_BYTES,
  };
}

export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);
const EMPTY_ENTRIES: Entry[] = [];

/** An empty configuration. */
export function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

/**
 * True for a proposal or read stepped by this node's own caller (it has no recipient), as opposed
 * to one that came over the network: a forwarded request keeps its originator as `from`, so a
 * request forwarded back to its originator must not be mistaken for a local call (that throws).
 */
export function isLocalRequest(m: Message): boolean {
  return m.to === NONE;
}

/** True for messages that only make sense inside the node that produced them. */
export function isLocalMessage(type: MessageType): boolean {
  return (
    type === 'MsgHup' ||
    type === 'MsgBeat' ||
    type === 'MsgUnreachable' ||
    type === 'MsgSnapStatus' ||
    type === 'MsgCheckQuorum'
  );
}

/** True for the responses whose sender is identified by `from` and carry no new term requirement. */
export function isResponseMessage(type: MessageType): boolean {
  return (
    type === 'MsgAppResp' ||
    type === 'MsgVoteResp' ||
    type === 'MsgHeartbeatResp' ||
    type === 'MsgUnreachable' ||
    type === 'MsgPreVoteResp'
  );
}
