/**
 * The public face of the Raft core, in the manner of etcd-io/raft's RawNode: the driver calls
 * `tick()` on a timer, `step()` with every inbound message, and loops on
 * `hasReady()` / `ready()` / `advance()`:
 *
 * ```ts
 * while (node.hasReady()) {
 *   const rd = node.ready();
 *   await persist(rd.hardState, rd.entries, rd.snapshot, { sync: rd.mustSync }); // 1. durable first
 *   send(rd.messages);                                                            // 2. then talk
 *   apply(rd.committedEntries); serve(rd.readStates);                             // 3. then apply
 *   node.advance(rd);                                                             // 4. and say so
 * }
 * ```
 * Between `ready()` and `advance()` the node may still be stepped and ticked, but `ready()` may not
 * be called again.
 */
import type { RaftConfig } from './config.ts';
import { resolveConfig } from './config.ts';
import { encodeConfChange } from './confchange.ts';
import { ProposalDroppedError, RaftError, TransferTargetError } from './errors.ts';
import { committedEntryInCurrentTerm, leaseExpiry, leaseValid, quiescable, quiesce, READ_LEASE } from './leader.ts';
import { Raft } from './raft.ts';
import type { TrackerConfig } from './tracker.ts';
import { confStateFromConfig, describeConfig } from './tracker.ts';
import type { ConfChange, ConfState, HardState, Message, NodeId, Ready, SoftState, StateRole } from './types.ts';
import { isLocalMessage, makeMessage, NONE } from './types.ts';

/** A follower's replication state as the leader sees it. */
export interface ProgressStatus {
  match: number;
  next: number;
  state: 'probe' | 'replicate' | 'snapshot';
  isLearner: boolean;
  recentActive: boolean;
  inflight: number;
  paused: boolean;
  /** Ticks since the follower last acknowledged a heartbeat (Infinity if it never did since this leader's election). */
  ticksSinceHeard: number;
}

/** A snapshot of a node's state for status pages, tests and the playground. */
export interface RaftStatus {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  firstIndex: number;
  lead: NodeId;
  role: StateRole;
  leadTransferee: NodeId;
  config: TrackerConfig;
  configDescription: string;
  electionElapsed: number;
  randomizedElectionTimeout: number;
  /** Whether the node is quiesced. */
  quiesced: boolean;
  /** Only on the leader: every member's progress. */
  progress: Map<NodeId, ProgressStatus>;
}

/** How a read is confirmed: a heartbeat round to a quorum, or the leader's lease. */
export type ReadMode = 'safe' | 'lease';

export class RawNode {
  /** The state machine; exposed read-only for status and tests. Drive it through the methods. */
  readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  /** The Ready handed out and not yet advanced. */
  private pending: Ready | null = null;

  constructor(config: RaftConfig) {
    this.raft = new Raft(resolveConfig(config));
    this.prevSoft = this.softState();
    this.prevHard = this.raft.hardState();
  }

  /** Advances logical time by one tick (election and heartbeat timers). */
  tick(): void {
    this.raft.tick();
  }

  /**
   * Advances logical time by `ticks` at once, for a driver whose clock says that much time passed
   * since its last tick (a stopped process, a blocked loop): the lease clock moves by all of it, so
   * a lease that ran out in real time is void before the next message or read is handled; the last
   * two election timeouts of it run as ticks on a leader (timers fire, a leader that heard from no
   * quorum steps down); a follower's or candidate's election timer fires on no tick of the gap but
   * a few ticks after it, once the messages that waited meanwhile were read. `elapse(1)` is `tick()`. Throws {@link RaftError} `InvalidConfig` for a negative or
   * fractional count.
   * @param ticks - whole ticks that passed, at least 0.
   */
  elapse(ticks: number): void {
    if (!Number.isSafeInteger(ticks) || ticks < 0) throw new RaftError('InvalidConfig', `elapse: ticks must be a non-negative integer, got ${ticks}`);
    this.raft.elapse(ticks);
  }

  /**
   * Postpones this node's next election timeout by `ticks` (a follower or candidate; a leader
   * ignores it). For a driver that knows another replica is meant to win the first election
   * (regions bootstrapped together: one chosen voter per region campaigns, the others wait
   * longer): timing only, never safety. Throws {@link RaftError} `InvalidConfig` for a negative or
   * fractional count.
   */
  deferElection(ticks: number): void {
    if (!Number.isSafeInteger(ticks) || ticks < 0) throw new RaftError('InvalidConfig', `deferElection: ticks must be a non-negative integer, got ${ticks}`);
    if (this.raft.state !== 'leader') this.raft.randomizedElectionTimeout += ticks;
  }

  /** Starts an election now (pre-vote first if enabled). */
  campaign(): void {
    this.raft.stepLocal('MsgHup');
  }

  /**
   * Proposes a command to be appended to the log. Throws {@link ProposalDroppedError} when it cannot
   * be (no leader known, a transfer in progress, over the uncommitted-size limit); nothing changes then.
   */
  propose(data: Uint8Array): void {
    this.raft.propose([{ term: 0, index: 0, type: 'normal', data }]);
  }

  /**
   * Proposes a membership change. It takes effect on every replica when appended to its log.
   * Throws `ConfChangePendingError` while another change is uncommitted (or before this leader
   * committed an entry of its term), `InvalidConfChangeError` for a change the current
   * configuration does not allow, and {@link ProposalDroppedError} when not leader.
   */
  proposeConfChange(cc: ConfChange): void {
    if (this.raft.state !== 'leader') {
      const lead = this.raft.lead;
      throw new ProposalDroppedError(
        lead === NONE ? 'noLeader' : 'notLeader',
        lead === NONE ? 'no leader is known; retry once one is elected' : `configuration changes must be proposed on the leader (node ${lead})`,
      );
    }
    this.raft.propose([{ term: 0, index: 0, type: 'confChange', data: encodeConfChange(cc) }]);
  }

  /** Steps a message received from a peer. Local-only message types are refused. */
  step(m: Message): void {
    if (isLocalMessage(m.type)) {
      if (m.type === 'MsgUnreachable' || m.type === 'MsgSnapStatus') {
        this.raft.step(m);
        return;
      }
      Raft.assertNotLocal(m);
    }
    // Only forwarded requests travel without a term; anything else without one is malformed.
    if (m.term === 0 && m.type !== 'MsgProp' && m.type !== 'MsgReadIndex' && !isLocalMessage(m.type)) return;
    // Responses from nodes that are not members are dropped: they would create progress entries.
    if (m.type.endsWith('Resp') && m.type !== 'MsgReadIndexResp' && !this.raft.trk.progress.has(m.from)) return;
    this.raft.step(m);
  }

  /**
   * Requests a linearizable read: a ReadState with `ctx` appears in a later Ready once it is safe
   * to serve reads at its index (after the application applied that index). `ctx` must be unique
   * among outstanding requests. `mode: 'lease'` answers at once while the leader lease holds and
   * requires check-quorum.
   */
  readIndex(ctx: Uint8Array, mode: ReadMode = 'safe'): void {
    if (mode === 'lease' && !this.raft.cfg.checkQuorum) {
      throw new RaftError('LeaseReadDisabled', 'lease reads need checkQuorum: true (a lease is only safe with check-quorum)');
    }
    if (ctx.length === 0) throw new RaftError('ReadIndexNotReady', 'a read request needs a non-empty context');
    this.raft.step(makeMessage({ type: 'MsgReadIndex', from: this.raft.id, context: ctx, index: mode === 'lease' ? READ_LEASE : 0 }));
  }

  /** Hands leadership to `to` once it has caught up (TimeoutNow); proposals are refused meanwhile. */
  transferLeader(to: NodeId): void {
    const r = this.raft;
    const pr = r.trk.progress.get(to);
    if (!pr) throw new TransferTargetError(`node ${to} is not a member of the group`);
    if (pr.isLearner) throw new TransferTargetError(`node ${to} is a learner and cannot lead`);
    if (r.state !== 'leader' && r.lead === NONE) throw new ProposalDroppedError('noLeader', 'no leader to transfer from');
    r.step(makeMessage({ type: 'MsgTransferLeader', from: to, to: r.state === 'leader' ? r.id : r.lead }));
  }

  /** Whether this node is quiesced (see {@link quiesce}). */
  get quiesced(): boolean {
    return this.raft.quiesced;
  }

  /**
   * Whether this leader's group is idle and fully replicated: everything committed, applied and
   * held by every member, the latest heartbeat acknowledged by all, no read, configuration change
   * or transfer under way.
   */
  quiescable(): boolean {
    return quiescable(this.raft);
  }

  /**
   * Quiesces an idle group (leader only): sends MsgQuiesce to every member and stops heartbeats and
   * check-quorum. Returns false, changing nothing, unless {@link quiescable}. Any message, proposal,
   * read, transfer or campaign wakes the node again; a quiesced leader's lease runs out as usual,
   * so a lease read after a while takes a heartbeat round.
   */
  quiesce(): boolean {
    return quiesce(this.raft);
  }

  /**
   * Wakes a quiesced node. `leaderLost`: the application knows this follower's leader cannot be
   * reached and has not been for at least an election timeout (say its store stopped answering):
   * the follower, quiesced or not, counts its election timer as expired (it no longer refuses votes
   * for that leader) and campaigns within one randomized timeout. Call it once per loss.
   */
  wake(leaderLost = false): void {
    this.raft.wake(leaderLost);
  }

  /** Tells the leader that `id` could not be reached (it stops pipelining to it). */
  reportUnreachable(id: NodeId): void {
    this.raft.step(makeMessage({ type: 'MsgUnreachable', from: id }));
  }

  /** Tells the leader whether the snapshot sent to `id` was delivered. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step(makeMessage({ type: 'MsgSnapStatus', from: id, reject: !ok }));
  }

  private softState(): SoftState {
    return { lead: this.raft.lead, role: this.raft.state };
  }

  /** Whether there is anything to persist, send or apply. */
  hasReady(): boolean {
    if (this.pending) return false;
    const r = this.raft;
    // Field by field, allocating nothing: the store asks this of every replica it looks at.
    if (r.lead !== this.prevSoft.lead || r.state !== this.prevSoft.role) return true;
    const prev = this.prevHard;
    if (r.term !== prev.term || r.vote !== prev.vote || r.raftLog.committed !== prev.commit) return true;
    if (r.raftLog.unstable.snapshot) return true;
    if (r.msgs.length > 0 || r.raftLog.unstableEntries().length > 0 || r.raftLog.hasNextCommittedEnts()) return true;
    return r.readStates.length > 0;
  }

  /** What to persist, send and apply now. Call {@link advance} with it when done. */
  ready(): Ready {
    if (this.pending) throw new Error('ready() called again before advance()');
    const r = this.raft;
    const soft = this.softState();
    const hs = r.hardState();
    const entries = r.raftLog.unstableEntries().slice();
    const snapshot = r.raftLog.unstable.snapshot;
    const committedEntries = r.raftLog.nextCommittedEnts();
    const hardChanged = !hardStateEqual(hs, this.prevHard);
    const rd: Ready = {
      softState: soft.lead !== this.prevSoft.lead || soft.role !== this.prevSoft.role ? soft : null,
      hardState: hardChanged ? hs : null,
      entries,
      snapshot,
      committedEntries,
      messages: r.msgs,
      readStates: r.readStates,
      // A changed commit index alone need not be synced: it can be recovered from the leader.
      mustSync: entries.length > 0 || snapshot !== null || hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote,
    };
    r.msgs = [];
    r.readStates = [];
    if (rd.softState) this.prevSoft = soft;
    if (rd.hardState) this.prevHard = hs;
    if (committedEntries.length > 0) r.raftLog.applying = committedEntries[committedEntries.length - 1].index;
    this.pending = rd;
    return rd;
  }

  /**
   * Acknowledges that `rd` was persisted and sent, and its committed entries applied — all of
   * them, or only those up to `appliedUpTo` when the application had to stop early (the rest are
   * handed out again by a later Ready; see {@link setApplyLimit} to hold them back meanwhile).
   */
  advance(rd: Ready, appliedUpTo?: number): void {
    if (rd !== this.pending) throw new Error('advance() must be called with the Ready last returned by ready()');
    this.pending = null;
    const log = this.raft.raftLog;
    if (rd.snapshot) {
      log.stableSnapTo(rd.snapshot.metadata.index);
      if (log.applied < rd.snapshot.metadata.index) {
        log.applied = rd.snapshot.metadata.index;
        log.applying = Math.max(log.applying, log.applied);
      }
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      log.stableTo(last.index, last.term);
    }
    if (rd.committedEntries.length === 0) return;
    const last = rd.committedEntries[rd.committedEntries.length - 1].index;
    if (appliedUpTo !== undefined && appliedUpTo < last) {
      // The application stopped early: what it did not apply is handed out again later.
      if (appliedUpTo < rd.committedEntries[0].index - 1) throw new Error(`appliedUpTo ${appliedUpTo} is below what was applied before`);
      log.appliedTo(appliedUpTo);
      log.applying = appliedUpTo;
      return;
    }
    log.appliedTo(last);
  }

  /**
   * Tells the node that the entry at `index` with `term` is known to be committed (the application
   * learned it elsewhere, e.g. from another group's log, as a merge does). By the log matching
   * property, if this node holds that very entry, everything up to it is committed here too.
   * Returns whether the commit index moved.
   */
  commitTo(index: number, term: number): boolean {
    const log = this.raft.raftLog;
    if (index <= log.committed || term === 0 || !log.matchTerm(index, term)) return false;
    log.commitTo(index);
    this.raft.foldCommittedConfig();
    return true;
  }

  /**
   * Holds back committed entries above `index` from Ready (apply flow control: an application
   * that must wait before applying an entry). `Infinity` lifts the limit.
   */
  setApplyLimit(index: number): void {
    this.raft.raftLog.applyLimit = index;
  }

  /** The membership in effect, as a ConfState (for snapshots). */
  confState(): ConfState {
    return confStateFromConfig(this.raft.config());
  }

  /** Whether this leader may serve a lease read right now. */
  leaseValid(): boolean {
    return this.raft.state === 'leader' && leaseValid(this.raft);
  }

  /**
   * The index a lease read may be served at right now, with no message and no Ready: what
   * `readIndex(ctx, 'lease')` would answer at once (the commit index, while the lease holds and an
   * entry of this term is committed). Undefined when the read must go through `readIndex`.
   */
  leaseReadIndex(): number | undefined {
    const r = this.raft;
    if (r.state !== 'leader' || !committedEntryInCurrentTerm(r) || !leaseValid(r)) return undefined;
    return r.raftLog.committed;
  }

  /** The tick until which the lease holds (for status displays). */
  leaseExpiry(): number {
    return this.raft.state === 'leader' ? leaseExpiry(this.raft) : 0;
  }

  status(): RaftStatus {
    const r = this.raft;
    const progress = new Map<NodeId, ProgressStatus>();
    if (r.state === 'leader') {
      for (const [id, pr] of r.trk.progress) {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
          recentActive: pr.recentActive,
          inflight: pr.inflights.count,
          paused: pr.isPaused(),
          ticksSinceHeard: id === r.id ? 0 : r.tickCount - pr.heartbeatAckTick,
        });
      }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.raftLog.committed,
      applied: r.raftLog.applied,
      lastIndex: r.raftLog.lastIndex(),
      firstIndex: r.raftLog.firstIndex(),
      lead: r.lead,
      role: r.state,
      leadTransferee: r.leadTransferee,
      config: r.config(),
      configDescription: describeConfig(r.config()),
      electionElapsed: r.electionElapsed,
      randomizedElectionTimeout: r.randomizedElectionTimeout,
      quiesced: r.quiesced,
      progress,
    };
  }
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
