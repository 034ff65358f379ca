/**
 * The Raft state machine of one replica: terms, roles, elections, and the membership that is in
 * effect. It does no I/O: `step` and `tick` change state and queue messages in `msgs`; the
 * {@link RawNode} turns them into a Ready for the driver.
 *
 * Role logic lives beside this file: `leader.ts` (stepLeader, replication, commit, reads),
 * `follower.ts` (stepFollower, stepCandidate, appends, snapshots). This file holds what all roles
 * share: the become* transitions, the tick, the term rules of `step`, voting and campaigning.
 * The role files see a replica only through {@link RaftCore} (`core.ts`), which this class implements.
 */
import type { ResolvedRaftConfig } from './config.ts';
import { applyConfChange, decodeConfChange } from './confchange.ts';
import type { CampaignType, RaftCore } from './core.ts';
import { ProposalDroppedError, RaftError, StepLocalMessageError } from './errors.ts';
import { stepCandidate, stepFollower } from './follower.ts';
import { bcastAppend, maybeCommit, stepLeader } from './leader.ts';
import { RaftLog } from './log.ts';
import { ReadOnly } from './readonly.ts';
import type { TrackerConfig } from './tracker.ts';
import { configFromConfState, ProgressTracker } from './tracker.ts';
import type { Entry, HardState, Message, MessageType, NodeId, ReadState, StateRole } from './types.ts';
import { EMPTY_BYTES, makeMessage, NONE } from './types.ts';

/** The context of a vote request forced by a leader transfer: it bypasses leases (etcd's campaignTransfer). */
export const TRANSFER_CONTEXT: Uint8Array = new Uint8Array([0x74]); // 't'

/**
 * Election timeouts of a long gap that {@link Raft.elapse} runs as ticks. Two: a leader's first
 * check-quorum round in them may still count followers heard before the gap, the second cannot,
 * so a leader that heard nobody since steps down before it steps any message.
 */
export const ELAPSE_REPLAY_ELECTIONS = 2;

/** A configuration-change entry in the log and the membership it established. */
interface ConfEntry {
  index: number;
  config: TrackerConfig;
}

export class Raft implements RaftCore {
  readonly id: NodeId;
  readonly cfg: ResolvedRaftConfig;
  term = 0;
  /** Whom we voted for in `term`. */
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  state: StateRole = 'follower';
  readonly raftLog: RaftLog;
  readonly trk: ProgressTracker;
  /** Messages to send after the next Ready is persisted. */
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  /** The node leadership is being handed to, or NONE. Invariant: NONE unless leader. */
  leadTransferee: NodeId = NONE;
  /**
   * Set once this leader sent MsgTimeoutNow: the target may win an election at any time from then
   * on (even after the transfer was abandoned here), so the lease is void for the rest of the term.
   */
  timeoutNowSent = false;
  readonly readOnly: ReadOnly = new ReadOnly();
  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  pendingReadIndexMessages: Message[] = [];
  /** Bytes of uncommitted entries this leader appended, by last index, for the proposal limit. */
  uncommitted: Array<{ index: number; bytes: number }> = [];
  uncommittedBytes = 0;

  /** Ticks since the last election timeout reset (leader: since the last check-quorum round). */
  electionElapsed = 0;
  /**
   * Leader: ticks since the transfer to `leadTransferee` began; it is abandoned at electionTick.
   * A timer of its own, so that transfer requests cannot postpone check-quorum.
   */
  transferElapsed = 0;
  heartbeatElapsed = 0;
  /** In [electionTick, 2*electionTick); drawn anew on every reset so that split votes resolve. */
  randomizedElectionTimeout = 0;
  /** A gap ran the election timer out and deferred it (`elapseElection`); cleared when the timer is reset. */
  private electionDeferredByGap = false;
  /** Ticks since this node started; also the clock of lease accounting. Only rises. */
  tickCount = 0;
  /** Whether this node started from a hard state with a term (it may have granted a lease before). */
  readonly restarted: boolean;
  /**
   * Set while the group is quiesced (idle and fully replicated, see `quiesce` in leader.ts): a
   * quiesced leader sends no heartbeats and runs no check-quorum, a quiesced follower runs no
   * election timer. Ticks still count `tickCount`, so a quiesced leader's lease runs out as usual.
   * Any message or request wakes the node ({@link wake}).
   */
  quiesced = false;

  /** The membership as of the last committed configuration entry (or the snapshot). */
  private baseConfig: TrackerConfig;
  /** Uncommitted configuration entries, oldest first. A change takes effect when appended. */
  private confEntries: ConfEntry[] = [];

  constructor(cfg: ResolvedRaftConfig) {
    this.id = cfg.id;
    this.cfg = cfg;
    this.raftLog = new RaftLog(cfg.storage, cfg.maxCommittedSizePerReady);
    this.trk = new ProgressTracker(cfg.maxInflightMsgs, cfg.maxInflightBytes);
    this.raftLog.onAppend = (ents) => this.onAppended(ents);
    const { hardState, confState } = cfg.storage.initialState();
    this.restarted = cfg.restarted;
    this.baseConfig = configFromConfState(confState);
    this.trk.applyConfig(this.baseConfig, this.raftLog.lastIndex() + 1);
    // A configuration takes effect when appended, so replay every change still in the log.
    this.onAppended(this.raftLog.slice(this.raftLog.firstIndex(), this.raftLog.lastIndex() + 1, Number.MAX_SAFE_INTEGER));
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.loadState(hardState);
    if (cfg.applied > 0) this.raftLog.appliedTo(cfg.applied);
    this.becomeFollower(this.term, NONE);
  }

  private loadState(hs: HardState): void {
    if (hs.commit < this.raftLog.committed || hs.commit > this.raftLog.lastIndex()) {
      throw new RaftError(
        'InvalidConfig',
        `stored commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
      );
    }
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
    this.foldCommittedConfig();
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  // --- membership ------------------------------------------------------------------------------

  /** The membership in effect (the latest configuration entry in the log). */
  config(): TrackerConfig {
    return this.trk.config;
  }

  /** Index of the newest configuration entry that is not yet committed, or 0. */
  pendingConfIndex(): number {
    const last = this.confEntries[this.confEntries.length - 1];
    return last && last.index > this.raftLog.committed ? last.index : 0;
  }

  /**
   * Called with every run of entries appended to the log. Appending at an index at or below the
   * last one truncates the suffix first, so configurations from the truncated entries are rolled
   * back before the new ones take effect.
   */
  onAppended(ents: readonly Entry[]): void {
    if (ents.length === 0) return;
    const from = ents[0].index;
    let changed = false;
    while (this.confEntries.length > 0 && this.confEntries[this.confEntries.length - 1].index >= from) {
      this.confEntries.pop();
      changed = true;
    }
    for (const e of ents) {
      if (e.type !== 'confChange') continue;
      const cur = this.confEntries.length > 0 ? this.confEntries[this.confEntries.length - 1].config : this.baseConfig;
      try {
        this.confEntries.push({ index: e.index, config: applyConfChange(cur, decodeConfChange(e.data)) });
        changed = true;
      } catch {
        // Every replica decodes and validates the same entry the same way, so an invalid change is
        // a no-op everywhere. The leader validates before appending, so this needs a buggy peer.
      }
    }
    if (changed) this.applyEffectiveConfig();
  }

  private applyEffectiveConfig(): void {
    const cfg = this.confEntries.length > 0 ? this.confEntries[this.confEntries.length - 1].config : this.baseConfig;
    this.trk.applyConfig(cfg, this.raftLog.lastIndex() + 1);
    if (this.state === 'leader') {
      const self = this.trk.progress.get(this.id);
      if (self) self.maybeUpdate(this.raftLog.lastIndex());
    }
  }

  /** Moves committed configuration entries into the base configuration. */
  foldCommittedConfig(): void {
    while (this.confEntries.length > 0 && this.confEntries[0].index <= this.raftLog.committed) {
      this.baseConfig = this.confEntries[0].config;
      this.confEntries.shift();
    }
  }

  /** Resets the membership to the one a snapshot carries. */
  restoreConfig(config: TrackerConfig): void {
    this.baseConfig = config;
    this.confEntries = [];
    this.trk.applyConfig(config, this.raftLog.lastIndex() + 1);
  }

  /** Whether this node may campaign: it is a voter of the configuration in effect. */
  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.unstable.snapshot;
  }

  // --- role transitions -------------------------------------------------------------------------

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.quiesced = false;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NONE;
    this.timeoutNowSent = false;
    this.trk.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      pr.match = id === this.id ? last : 0;
      pr.next = last + 1;
      pr.becomeProbe();
      pr.next = last + 1;
      pr.recentActive = id === this.id;
      pr.heartbeatAckTick = Number.NEGATIVE_INFINITY;
    }
    this.uncommitted = [];
    this.uncommittedBytes = 0;
    this.readOnly.reset();
    this.pendingReadIndexMessages = [];
  }

  resetRandomizedElectionTimeout(): void {
    this.electionDeferredByGap = false;
    this.randomizedElectionTimeout = this.cfg.electionTick + this.cfg.rand.int(this.cfg.electionTick);
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.state = 'follower';
  }

  becomeCandidate(): void {
    if (this.state === 'leader') throw new Error('invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = 'candidate';
  }

  becomePreCandidate(): void {
    if (this.state === 'leader') throw new Error('invalid transition [leader -> pre-candidate]');
    // A pre-candidate changes neither term nor vote: that is what makes pre-vote harmless.
    this.trk.resetVotes();
    this.lead = NONE;
    this.state = 'preCandidate';
  }

  becomeLeader(): void {
    if (this.state === 'follower') throw new Error('invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.state = 'leader';
    this.trk.progress.get(this.id)?.becomeReplicate();
    // The no-op entry of the new term: committing it commits every earlier entry (Figure 8) and
    // tells this leader its commit index is current, which ReadIndex needs.
    this.appendEntries([{ term: 0, index: 0, type: 'normal', data: EMPTY_BYTES }]);
  }

  /** Appends entries as leader (assigning term and index). Returns false if over the uncommitted-size limit. */
  appendEntries(es: Entry[]): boolean {
    let li = this.raftLog.lastIndex();
    let bytes = 0;
    for (const e of es) bytes += e.data.length;
    const limit = this.cfg.maxUncommittedEntriesSize;
    if (limit > 0 && bytes > 0 && this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > limit) return false;
    const stamped: Entry[] = es.map((e) => ({ term: this.term, index: ++li, type: e.type, data: e.data }));
    this.raftLog.append(stamped);
    if (bytes > 0) {
      this.uncommitted.push({ index: li, bytes });
      this.uncommittedBytes += bytes;
    }
    this.trk.progress.get(this.id)?.maybeUpdate(li);
    // A single-voter group commits at once.
    maybeCommit(this);
    return true;
  }

  // --- tick -------------------------------------------------------------------------------------

  tick(): void {
    this.tickCount++;
    if (this.quiesced) return;
    if (this.state === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  /**
   * Advances logical time by `ticks` at once: the driver's clock says that much time passed
   * without a tick (the process was stopped, its loop blocked). A lease confirmed before the gap
   * must be judged by the time that really passed, so `tickCount` moves by all of it. On a leader
   * (or a quiesced node) only the last {@link ELAPSE_REPLAY_ELECTIONS} election timeouts of it run
   * as ticks: by then every timer
   * (election, check-quorum, heartbeat, transfer) has fired, and earlier rounds would only have
   * been superseded by later ones (more heartbeats, more campaigns nobody hears). A follower or
   * candidate campaigns on no tick of the gap (see {@link elapseElection}).
   */
  elapse(ticks: number): void {
    if (this.state !== 'leader' && !this.quiesced && !this.electionDeferredByGap) {
      this.elapseElection(ticks);
      return;
    }
    const replay = Math.min(ticks, ELAPSE_REPLAY_ELECTIONS * this.cfg.electionTick);
    this.tickCount += ticks - replay;
    for (let i = 0; i < replay; i++) this.tick();
  }

  /**
   * A gap on a follower or candidate: its election timer takes the time (past an election timeout
   * it no longer refuses votes for its leader's lease), but does not fire within the gap. The
   * leader's messages sent meanwhile wait unread in this process's queue: firing now would make
   * every replica of a stopped process, or of one whose turn ran long, campaign at once before
   * reading them (an election storm that feeds itself, issue 18). A timer the gap ran out fires
   * a fresh random 2..electionTick+1 ticks later instead, so replicas that had expired together
   * campaign apart, and only those that still heard nothing by then.
   */
  private elapseElection(ticks: number): void {
    this.tickCount += ticks;
    const elapsed = this.electionElapsed + ticks;
    if (elapsed < this.randomizedElectionTimeout) {
      this.electionElapsed = elapsed;
      return;
    }
    this.electionElapsed = Math.max(this.electionElapsed, this.cfg.electionTick);
    // Once: if the next gap comes before the deferred timer fired (every turn of a loaded process
    // runs long), the timer fires in it, or a replica that never gets a short turn never campaigns.
    this.electionDeferredByGap = true;
    // At least two ticks on: a driver counting a gap usually ticks once right after it, in the
    // same call, before it read anything (the store's catchUp does).
    this.randomizedElectionTimeout = this.electionElapsed + 2 + this.cfg.rand.int(this.cfg.electionTick);
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(this.cfg.preVote ? 'preElection' : 'election');
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) this.stepLocal('MsgCheckQuorum');
    }
    if (this.state !== 'leader') return;
    // A transfer that did not finish within an election timeout is abandoned.
    if (this.leadTransferee !== NONE && ++this.transferElapsed >= this.cfg.electionTick) this.leadTransferee = NONE;
    for (const pr of this.trk.progress.values()) {
      if (pr.state === 'snapshot' && ++pr.snapshotElapsedTicks >= this.cfg.snapshotTimeoutTicks) {
        // Neither reported nor acknowledged: assume it was lost and start over from a probe.
        pr.pendingSnapshot = 0;
        pr.becomeProbe();
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.stepLocal('MsgBeat');
    }
  }

  /**
   * Ends quiescence. A leader starts a new check-quorum round (it must hear from a quorum within an
   * election timeout from now) and heartbeats at its next tick, so that its followers wake too (a
   * proposal's append or a read's heartbeat round wakes them sooner). A follower
   * restarts its election timer. `leaderLost` (asleep or not): the application knows the leader
   * has been unreachable for at least an election timeout (its store stopped answering), so the
   * follower's timer starts as expired: it neither waits a whole timeout more nor refuses votes for
   * a leader it cannot hear (whose lease ran out meanwhile).
   */
  wake(leaderLost: boolean): void {
    if (this.quiesced) {
      this.quiesced = false;
      if (this.state === 'leader') {
        this.electionElapsed = 0;
        this.heartbeatElapsed = Math.max(0, this.cfg.heartbeatTick - 1);
        for (const [id, pr] of this.trk.progress) pr.recentActive = id === this.id;
      } else {
        this.electionElapsed = 0;
      }
    }
    // Also for a follower already awake (woken by a message): it has not heard from the leader
    // for an election timeout either, whatever its timer says.
    if (leaderLost && this.state !== 'leader') this.electionElapsed = Math.max(this.electionElapsed, this.cfg.electionTick);
  }

  stepLocal(type: MessageType): void {
    this.step(makeMessage({ type, from: this.id }));
  }

  // --- elections --------------------------------------------------------------------------------

  hup(t: CampaignType): void {
    if (this.state === 'leader') return;
    if (!this.promotable()) return;
    this.campaign(t);
  }

  /**
   * Whether this node refuses to be disturbed by vote requests: with check-quorum, a follower that
   * heard from a leader within the election timeout keeps that leader. So does a node restarted
   * less than one timeout ago (its hard state has a term), so that a restart cannot cut short a
   * lease it granted before; a brand-new replica (term 0, as after bootstrap or a split) never
   * granted one and may vote at once.
   */
  inLease(): boolean {
    if (!this.cfg.checkQuorum || this.electionElapsed >= this.cfg.electionTick) return false;
    return this.lead !== NONE || (this.state === 'follower' && this.restarted && this.tickCount < this.cfg.electionTick);
  }

  campaign(t: CampaignType): void {
    let term: number;
    let voteType: 'MsgVote' | 'MsgPreVote';
    if (t === 'preElection') {
      this.becomePreCandidate();
      voteType = 'MsgPreVote';
      // Pre-vote asks for the next term without moving to it.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = 'MsgVote';
      term = this.term;
    }
    if (this.poll(this.id, voteType === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp', true) === 'won') {
      // A single-voter group wins at once.
      if (t === 'preElection') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.raftLog.lastIndex();
    const lastTerm = this.raftLog.lastTerm();
    for (const id of this.trk.voterIds()) {
      if (id === this.id) continue;
      this.send(
        makeMessage({
          type: voteType,
          to: id,
          term,
          index: lastIndex,
          logTerm: lastTerm,
          context: t === 'transfer' ? TRANSFER_CONTEXT : EMPTY_BYTES,
        }),
      );
    }
  }

  /** Records a vote and returns the election's state. */
  poll(id: NodeId, _type: MessageType, granted: boolean): 'pending' | 'lost' | 'won' {
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes().result;
  }

  // --- step -------------------------------------------------------------------------------------

  /**
   * Queues a message for sending. `from` defaults to this node (a forwarded request keeps its
   * originator); every message but a forwarded MsgProp / MsgReadIndex carries our term.
   */
  send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    if (m.type === 'MsgVote' || m.type === 'MsgVoteResp' || m.type === 'MsgPreVote' || m.type === 'MsgPreVoteResp') {
      // Vote messages carry the term they are about, set by the caller.
      if (m.term === 0) throw new Error(`${m.type} must carry a term`);
    } else if (m.type !== 'MsgProp' && m.type !== 'MsgReadIndex') {
      m.term = this.term;
    }
    this.msgs.push(m);
  }

  /**
   * Steps a message: first the rules about terms that apply in every role (Figure 2), then the
   * role's own handler. Local proposals that cannot be taken throw a typed error.
   */
  step(m: Message): void {
    // Anything but a leader's quiesce notice wakes a quiesced node (a follower decides on the notice).
    if (this.quiesced && !(m.type === 'MsgQuiesce' && this.state === 'follower')) this.wake(false);
    if (m.term === 0) {
      // A local message, or a forwarded MsgProp / MsgReadIndex (they carry no term).
    } else if (m.term > this.term) {
      if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
        const force = m.context.length === 1 && m.context[0] === TRANSFER_CONTEXT[0];
        if (!force && this.inLease()) return; // a disruptive candidate is ignored entirely
      }
      if (m.type === 'MsgPreVote') {
        // Never change our term in response to a pre-vote.
      } else if (m.type === 'MsgPreVoteResp' && !m.reject) {
        // The granted pre-vote carries the future term; we move there only when we campaign.
      } else if (m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap' || m.type === 'MsgQuiesce') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'MsgHeartbeat' || m.type === 'MsgApp' || m.type === 'MsgQuiesce')) {
        // A stale leader that cannot hear us would otherwise never learn it is deposed; with
        // pre-vote, this also frees a node whose term ran ahead of a leader that cannot elect it.
        this.send(makeMessage({ type: 'MsgAppResp', to: m.from }));
      } else if (m.type === 'MsgPreVote') {
        this.send(makeMessage({ type: 'MsgPreVoteResp', to: m.from, term: this.term, reject: true }));
      } else if (m.type === 'MsgVote') {
        // Tell a candidate of an older term about ours (Figure 2: the reply carries currentTerm).
        // Otherwise a voter whose term ran ahead but whose stale configuration does not list the
        // candidate is never heard of, and neither can win until terms cross by chance.
        this.send(makeMessage({ type: 'MsgVoteResp', to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    switch (m.type) {
      case 'MsgHup':
        this.hup(this.cfg.preVote ? 'preElection' : 'election');
        return;
      case 'MsgVote':
      case 'MsgPreVote':
        this.handleVoteRequest(m);
        return;
    }
    switch (this.state) {
      case 'leader':
        stepLeader(this, m);
        return;
      case 'candidate':
      case 'preCandidate':
        stepCandidate(this, m);
        return;
      case 'follower':
        stepFollower(this, m);
        return;
    }
  }

  private handleVoteRequest(m: Message): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      // A pre-vote for a future term may be granted even though we voted in this one.
      (m.type === 'MsgPreVote' && m.term > this.term);
    const respType = m.type === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp';
    if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
      // The granted response carries the candidate's term; the vote itself is only recorded for
      // a real vote, and only becomes visible to the candidate once persisted (Ready order).
      this.send(makeMessage({ type: respType, to: m.from, term: m.term }));
      if (m.type === 'MsgVote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(makeMessage({ type: respType, to: m.from, term: this.term, reject: true }));
    }
  }

  /** Steps a local proposal; throws {@link ProposalDroppedError} (or a conf-change error) if it cannot be appended. */
  propose(entries: Entry[]): void {
    if (this.state !== 'leader' && this.lead === NONE) {
      throw new ProposalDroppedError('noLeader', `node ${this.id} knows no leader in term ${this.term}`);
    }
    this.step(makeMessage({ type: 'MsgProp', from: this.id, entries }));
  }

  /** Fans out appends to every follower: `bcastAppend` for the role files, which do not import each other. */
  broadcastAppend(): void {
    bcastAppend(this);
  }

  /** Throws if a local-only message type was passed to the public `step`. */
  static assertNotLocal(m: Message): void {
    if (m.type === 'MsgHup' || m.type === 'MsgBeat' || m.type === 'MsgCheckQuorum') {
      throw new StepLocalMessageError(m.type);
    }
  }
}
