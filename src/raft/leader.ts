/**
 * The leader's side of Raft: proposals, replication with flow control, the commit rule,
 * heartbeats, check-quorum, ReadIndex and lease reads, and leadership transfer.
 */
import { applyConfChange, decodeConfChange, encodeConfChange } from './confchange.ts';
import type { RaftCore } from './core.ts';
import { ConfChangePendingError, ProposalDroppedError, RaftError, TransferTargetError } from './errors.ts';
import type { Progress } from './progress.ts';
import { jointCommitted } from './quorum.ts';
import { entrySize } from './storage.ts';
import type { Entry, Message, NodeId } from './types.ts';
import { EMPTY_BYTES, isLocalRequest, makeMessage, NONE } from './types.ts';

/** MsgReadIndex `index` value asking for a lease read instead of a heartbeat round. */
export const READ_LEASE = 1;

export function stepLeader(r: RaftCore, m: Message): void {
  switch (m.type) {
    case 'MsgBeat':
      bcastHeartbeat(r);
      return;
    case 'MsgCheckQuorum':
      if (!r.trk.quorumActive()) {
        r.cfg.logger.info('stepping down: no quorum heard from within an election timeout', { id: r.id, term: r.term });
        r.becomeFollower(r.term, NONE);
        return;
      }
      for (const [id, pr] of r.trk.progress) pr.recentActive = id === r.id;
      return;
    case 'MsgProp':
      handlePropose(r, m);
      return;
    case 'MsgReadIndex':
      handleReadIndex(r, m);
      return;
  }
  const pr = r.trk.progress.get(m.from);
  if (!pr) return; // not (or no longer) a member
  switch (m.type) {
    case 'MsgAppResp':
      handleAppendResponse(r, m, pr);
      return;
    case 'MsgHeartbeatResp':
      handleHeartbeatResponse(r, m, pr);
      return;
    case 'MsgSnapStatus':
      if (pr.state !== 'snapshot') return;
      if (m.reject) pr.pendingSnapshot = 0;
      pr.becomeProbe();
      // Wait for the next heartbeat response before probing, whether it got through or not.
      pr.msgAppFlowPaused = true;
      return;
    case 'MsgUnreachable':
      if (pr.state === 'replicate') pr.becomeProbe();
      return;
    case 'MsgTransferLeader':
      handleTransferLeader(r, m, pr);
      return;
  }
}

function dropProposal(m: Message, err: RaftError): void {
  // Only the local caller can be told; a forwarded proposal is dropped and its client retries.
  if (isLocalRequest(m)) throw err;
}

function handlePropose(r: RaftCore, m: Message): void {
  const refusal = proposalRefusal(r, m);
  if (refusal) {
    dropProposal(m, refusal);
    return;
  }
  if (!r.appendEntries(m.entries.map((e) => ({ term: 0, index: 0, type: e.type, data: e.data })))) {
    dropProposal(m, new ProposalDroppedError('tooLarge', 'too many uncommitted bytes; wait for commits'));
    return;
  }
  // Committing may have removed this leader (a single-voter group applying its own removal).
  if (r.state === 'leader') bcastAppend(r);
}

/** Why the leader cannot append this proposal now, or undefined if it can. */
function proposalRefusal(r: RaftCore, m: Message): RaftError | undefined {
  if (m.entries.length === 0) return new RaftError('ProposalDropped', 'empty proposal');
  if (!r.trk.progress.has(r.id)) return new ProposalDroppedError('notMember', `leader ${r.id} was removed from the group`);
  if (r.leadTransferee !== NONE) {
    return new ProposalDroppedError('transferring', `leadership is moving to ${r.leadTransferee}`);
  }
  for (const e of m.entries) {
    if (e.type !== 'confChange') continue;
    const refusal = checkConfChange(r, e);
    if (refusal) return refusal;
  }
  return undefined;
}

/** Why a configuration change may not be appended now, or undefined if it may. */
function checkConfChange(r: RaftCore, e: Entry): RaftError | undefined {
  const pending = r.pendingConfIndex();
  if (pending > 0) return new ConfChangePendingError(`the change at index ${pending} is not committed yet`);
  if (!committedEntryInCurrentTerm(r)) {
    // The single-server-change rule: a new leader's inherited, uncommitted change could
    // otherwise be overridden by a conflicting one whose majorities do not overlap.
    return new ConfChangePendingError(`leader has not committed an entry of term ${r.term} yet`);
  }
  try {
    const cc = decodeConfChange(e.data);
    const joint = r.trk.isJoint();
    if (joint && cc.changes.length > 0) return new ConfChangePendingError('in a joint configuration; leave it first');
    applyConfChange(r.config(), cc); // validates; throws InvalidConfChangeError
  } catch (err) {
    if (err instanceof RaftError) return err;
    throw err;
  }
  return undefined;
}

export function committedEntryInCurrentTerm(r: RaftCore): boolean {
  return r.raftLog.termOrZero(r.raftLog.committed) === r.term;
}

// --- replication -----------------------------------------------------------------------------------

/** Sends an append (or a snapshot) to `to` if flow control allows. Returns whether a message was sent. */
export function maybeSendAppend(r: RaftCore, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = r.trk.progress.get(to);
  if (!pr || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  const log = r.raftLog;
  if (prevIndex < log.firstIndex() - 1) return sendSnapshot(r, to, pr);
  const prevTerm = log.term(prevIndex);
  let maxBytes = r.cfg.maxSizePerMsg;
  if (pr.state === 'replicate' && r.cfg.maxInflightBytes > 0) {
    maxBytes = Math.min(maxBytes, Math.max(1, r.cfg.maxInflightBytes - pr.inflights.bytes));
  }
  // In probe state send at most one entry: the probe is about finding the match, not throughput.
  const ents = pr.state === 'probe' ? log.entries(pr.next, 1) : log.entries(pr.next, maxBytes);
  if (ents.length === 0 && !sendIfEmpty) return false;
  let bytes = 0;
  for (const e of ents) bytes += entrySize(e);
  r.send(makeMessage({ type: 'MsgApp', to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: log.committed }));
  pr.sentEntries(prevIndex + ents.length, ents.length, bytes);
  return true;
}

function sendSnapshot(r: RaftCore, to: NodeId, pr: Progress): boolean {
  if (!pr.recentActive) return false; // do not ship a snapshot to a node that may be down
  const snapshot = r.raftLog.snapshot();
  if (snapshot.metadata.index === 0) throw new Error('need a snapshot but none is available');
  r.send(makeMessage({ type: 'MsgSnap', to, snapshot }));
  pr.becomeSnapshot(snapshot.metadata.index);
  return true;
}

export function sendAppend(r: RaftCore, to: NodeId): void {
  maybeSendAppend(r, to, true);
}

export function bcastAppend(r: RaftCore): void {
  for (const id of r.trk.progress.keys()) if (id !== r.id) sendAppend(r, id);
}

function sendHeartbeat(r: RaftCore, to: NodeId, ctx: Uint8Array): void {
  const pr = r.trk.progress.get(to);
  if (!pr) return;
  // Never tell a follower to commit beyond what it is known to hold.
  const commit = Math.min(pr.match, r.raftLog.committed);
  r.send(makeMessage({ type: 'MsgHeartbeat', to, commit, index: r.tickCount, context: ctx }));
}

export function bcastHeartbeat(r: RaftCore, ctx?: Uint8Array): void {
  const c = ctx ?? r.readOnly.lastPendingRequestCtx() ?? EMPTY_BYTES;
  for (const id of r.trk.progress.keys()) if (id !== r.id) sendHeartbeat(r, id, c);
}

/**
 * Advances the commit index to what a quorum holds, but only through an entry of this leader's
 * term (Figure 8): counting replicas of an older term's entry proves nothing.
 */
export function maybeCommit(r: RaftCore): boolean {
  const mci = r.trk.committed();
  if (!Number.isFinite(mci)) return false;
  if (!r.raftLog.maybeCommit(mci, r.term)) return false;
  afterCommit(r);
  return true;
}

function afterCommit(r: RaftCore): void {
  const committed = r.raftLog.committed;
  while (r.uncommitted.length > 0 && r.uncommitted[0].index <= committed) {
    r.uncommittedBytes -= r.uncommitted.shift()!.bytes;
  }
  r.foldCommittedConfig();
  if (committedEntryInCurrentTerm(r) && r.pendingReadIndexMessages.length > 0) {
    const pending = r.pendingReadIndexMessages;
    r.pendingReadIndexMessages = [];
    for (const m of pending) respondToReadIndex(r, m);
  }
  const cfg = r.config();
  if (!cfg.voters.includes(r.id) && r.pendingConfIndex() === 0 && cfg.votersOutgoing.length === 0) {
    // The configuration that removed (or demoted) this leader is committed: step down and let the
    // remaining voters elect one of their own (Raft thesis §4.2.2).
    r.becomeFollower(r.term, NONE);
    return;
  }
  if (cfg.autoLeave && cfg.votersOutgoing.length > 0 && r.pendingConfIndex() === 0) {
    // The joint configuration is committed: leave it.
    const data = encodeConfChange({ transition: 'auto', changes: [] });
    if (r.appendEntries([{ term: 0, index: 0, type: 'confChange', data }])) bcastAppend(r);
  }
}

function handleAppendResponse(r: RaftCore, m: Message, pr: Progress): void {
  pr.recentActive = true;
  if (m.reject) {
    // A rejection whose hint is below what the follower has acknowledged since is stale (reordered
    // or duplicated): acknowledged entries are never lost. Acting on it restarts the pipeline for
    // nothing, and under reordering each restart's burst breeds more stale rejections.
    if (pr.state === 'replicate' && m.rejectHint < pr.match) return;
    let nextProbe = m.rejectHint;
    if (m.logTerm > 0) {
      // Fast back-off: skip every entry of ours whose term is above the follower's term there.
      nextProbe = r.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
    }
    if (pr.maybeDecrTo(m.index, nextProbe)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      sendAppend(r, m.from);
    }
    return;
  }
  const oldPaused = pr.isPaused();
  if (!pr.maybeUpdate(m.index) && !(pr.match === m.index && pr.state === 'probe')) return;
  if (pr.state === 'probe') pr.becomeReplicate();
  else if (pr.state === 'snapshot' && pr.match + 1 >= r.raftLog.firstIndex()) {
    pr.becomeProbe();
    pr.becomeReplicate();
  } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);

  if (maybeCommit(r)) {
    if (r.state !== 'leader') return;
    bcastAppend(r);
  } else if (oldPaused) {
    sendAppend(r, m.from);
  }
  // Keep the pipeline full: send whatever else the window allows.
  while (r.state === 'leader' && maybeSendAppend(r, m.from, false)) {}
  if (r.state === 'leader' && m.from === r.leadTransferee && pr.match === r.raftLog.lastIndex()) {
    sendTimeoutNow(r, m.from);
  }
}

function handleHeartbeatResponse(r: RaftCore, m: Message, pr: Progress): void {
  pr.recentActive = true;
  pr.msgAppFlowPaused = false;
  if (m.index > pr.heartbeatAckTick && m.index <= r.tickCount) pr.heartbeatAckTick = m.index;
  if (pr.state === 'replicate' && pr.inflights.full()) sendEmptyAppend(r, m.from, pr);
  else if (pr.match < r.raftLog.lastIndex()) sendAppend(r, m.from);
  if (m.context.length === 0) return;
  const acks = r.readOnly.recvAck(m.from, m.context);
  if (!acks || !r.trk.quorumOf(acks)) return;
  for (const rs of r.readOnly.advance(m.context)) answerRead(r, rs.req, rs.index);
}

/**
 * Every append in flight to a follower with a full window may have been lost, and then nothing
 * would ever free the window: an empty append at `next - 1` makes the follower say where it is
 * (acknowledged: the window frees; rejected: back to probing). etcd-io/raft does the same.
 */
function sendEmptyAppend(r: RaftCore, to: NodeId, pr: Progress): void {
  const prevIndex = pr.next - 1;
  if (prevIndex < r.raftLog.firstIndex() - 1) {
    // What it lacks is compacted: start over from a probe, which sends the snapshot.
    pr.becomeProbe();
    sendAppend(r, to);
    return;
  }
  r.send(makeMessage({ type: 'MsgApp', to, index: prevIndex, logTerm: r.raftLog.term(prevIndex), commit: r.raftLog.committed }));
}

// --- reads ---------------------------------------------------------------------------------------

function handleReadIndex(r: RaftCore, m: Message): void {
  const voters = r.trk.voterIds();
  if (voters.length === 1 && voters[0] === r.id) {
    answerRead(r, m, r.raftLog.committed);
    return;
  }
  if (!committedEntryInCurrentTerm(r)) {
    // Until the no-op of this term commits, our commit index may lag the true one.
    r.pendingReadIndexMessages.push(m);
    return;
  }
  respondToReadIndex(r, m);
}

/** The tick until which no other node can have been elected (exclusive), from quorum-acked heartbeats. */
export function leaseExpiry(r: RaftCore): number {
  const ackTick = (id: NodeId) => (id === r.id ? r.tickCount : (r.trk.progress.get(id)?.heartbeatAckTick ?? Number.NEGATIVE_INFINITY));
  const start = jointCommitted(r.config().voters, r.config().votersOutgoing, ackTick);
  return start + r.cfg.electionTick - r.cfg.leaseDriftTicks;
}

export function leaseValid(r: RaftCore): boolean {
  return r.cfg.checkQuorum && r.leadTransferee === NONE && !r.timeoutNowSent && r.tickCount < leaseExpiry(r);
}

function respondToReadIndex(r: RaftCore, m: Message): void {
  const wantsLease = m.index === READ_LEASE || r.cfg.readOnlyOption === 'leaseBased';
  if (wantsLease && leaseValid(r)) {
    answerRead(r, m, r.raftLog.committed);
    return;
  }
  // Confirm leadership with a heartbeat round that carries the request's context.
  r.readOnly.addRequest(r.raftLog.committed, m);
  const acks = r.readOnly.recvAck(r.id, m.context);
  if (acks && r.trk.quorumOf(acks)) {
    for (const rs of r.readOnly.advance(m.context)) answerRead(r, rs.req, rs.index);
    return;
  }
  bcastHeartbeat(r, m.context);
}

function answerRead(r: RaftCore, req: Message, index: number): void {
  if (req.from === NONE || req.from === r.id) {
    r.readStates.push({ index, requestCtx: req.context });
  } else {
    r.send(makeMessage({ type: 'MsgReadIndexResp', to: req.from, index, context: req.context }));
  }
}

// --- quiescence -----------------------------------------------------------------------------------

/**
 * Whether this leader's group is idle and fully replicated, so that it may quiesce: everything is
 * committed, applied and held by every member, every member acknowledged the latest heartbeat, and
 * nothing is under way (reads, a configuration change, a transfer).
 */
export function quiescable(r: RaftCore): boolean {
  if (r.state !== 'leader' || r.quiesced || r.leadTransferee !== NONE || r.timeoutNowSent) return false;
  const log = r.raftLog;
  const last = log.lastIndex();
  if (log.committed !== last || log.applied !== last || log.unstable.snapshot || log.unstableEntries().length > 0) return false;
  if (!committedEntryInCurrentTerm(r) || r.pendingConfIndex() > 0 || r.trk.isJoint()) return false;
  if (r.msgs.length > 0 || r.readStates.length > 0 || r.pendingReadIndexMessages.length > 0 || r.readOnly.size > 0) return false;
  const lastBeat = r.tickCount - r.heartbeatElapsed;
  for (const [id, pr] of r.trk.progress) {
    if (id === r.id) continue;
    if (pr.match !== last || pr.state !== 'replicate' || pr.inflights.count > 0 || pr.heartbeatAckTick < lastBeat) return false;
  }
  return true;
}

/**
 * Quiesces an idle group (CockroachDB's quiescence, TiKV's hibernate regions): tells every member
 * to stop its election timer and stops heartbeating. Returns whether it did. A member whose log
 * does not end where the leader's does answers as to a heartbeat, which wakes the leader again.
 */
export function quiesce(r: RaftCore): boolean {
  if (!quiescable(r)) return false;
  r.quiesced = true;
  const logTerm = r.raftLog.lastTerm();
  for (const id of r.trk.progress.keys()) {
    if (id !== r.id) r.send(makeMessage({ type: 'MsgQuiesce', to: id, index: r.tickCount, logTerm, commit: r.raftLog.committed }));
  }
  return true;
}

// --- leadership transfer -------------------------------------------------------------------------

function handleTransferLeader(r: RaftCore, m: Message, pr: Progress): void {
  const transferee = m.from;
  if (pr.isLearner) {
    if (m.term === 0 && m.to === r.id) throw new TransferTargetError(`node ${transferee} is a learner`);
    return;
  }
  if (r.leadTransferee !== NONE) {
    if (r.leadTransferee === transferee) return; // already under way
    r.leadTransferee = NONE;
  }
  if (transferee === r.id) return; // already the leader
  // The transfer must finish within an election timeout or it is abandoned.
  r.transferElapsed = 0;
  r.leadTransferee = transferee;
  if (pr.match === r.raftLog.lastIndex()) sendTimeoutNow(r, transferee);
  else sendAppend(r, transferee);
}

function sendTimeoutNow(r: RaftCore, to: NodeId): void {
  r.timeoutNowSent = true;
  r.send(makeMessage({ type: 'MsgTimeoutNow', to }));
}
