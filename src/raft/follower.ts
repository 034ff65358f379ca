/**
 * The follower's and candidate's side of Raft: accepting appends and snapshots from the leader,
 * counting votes, forwarding proposals and reads, and campaigning on TimeoutNow.
 */
import type { RaftCore } from './core.ts';
import { ProposalDroppedError } from './errors.ts';
import { configFromConfState } from './tracker.ts';
import type { Message, Snapshot } from './types.ts';
import { isLocalRequest, makeMessage, NONE } from './types.ts';

export function stepFollower(r: RaftCore, m: Message): void {
  switch (m.type) {
    case 'MsgProp':
      if (r.lead === NONE) {
        if (isLocalRequest(m)) throw new ProposalDroppedError('noLeader', `node ${r.id} knows no leader`);
        return;
      }
      if (r.cfg.disableProposalForwarding) {
        if (isLocalRequest(m)) {
          throw new ProposalDroppedError('forwardingDisabled', `node ${r.id} is not the leader (leader is ${r.lead})`);
        }
        return;
      }
      r.send(makeMessage({ ...m, to: r.lead }));
      return;
    case 'MsgApp':
      r.electionElapsed = 0;
      r.lead = m.from;
      handleAppendEntries(r, m);
      return;
    case 'MsgHeartbeat':
      r.electionElapsed = 0;
      r.lead = m.from;
      handleHeartbeat(r, m);
      return;
    case 'MsgSnap':
      r.electionElapsed = 0;
      r.lead = m.from;
      handleSnapshot(r, m);
      return;
    case 'MsgQuiesce':
      r.electionElapsed = 0;
      r.lead = m.from;
      handleQuiesce(r, m);
      return;
    case 'MsgTransferLeader':
      if (r.lead === NONE) return;
      r.send(makeMessage({ ...m, to: r.lead }));
      return;
    case 'MsgTimeoutNow':
      // The leader asks us to campaign at once, skipping pre-vote and past any leases.
      r.hup('transfer');
      return;
    case 'MsgReadIndex':
      if (r.lead === NONE) {
        if (isLocalRequest(m)) throw new ProposalDroppedError('noLeader', `node ${r.id} knows no leader for a read`);
        return;
      }
      r.send(makeMessage({ ...m, to: r.lead }));
      return;
    case 'MsgReadIndexResp':
      r.readStates.push({ index: m.index, requestCtx: m.context });
      return;
  }
}

export function stepCandidate(r: RaftCore, m: Message): void {
  const myVoteResp = r.state === 'preCandidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
  switch (m.type) {
    case 'MsgProp':
    case 'MsgReadIndex':
      if (isLocalRequest(m)) throw new ProposalDroppedError('noLeader', `node ${r.id} is campaigning`);
      return;
    case 'MsgApp':
      r.becomeFollower(m.term, m.from);
      handleAppendEntries(r, m);
      return;
    case 'MsgHeartbeat':
      r.becomeFollower(m.term, m.from);
      handleHeartbeat(r, m);
      return;
    case 'MsgSnap':
      r.becomeFollower(m.term, m.from);
      handleSnapshot(r, m);
      return;
    case 'MsgQuiesce':
      r.becomeFollower(m.term, m.from);
      handleQuiesce(r, m);
      return;
    case myVoteResp: {
      const result = r.poll(m.from, m.type, !m.reject);
      if (result === 'won') {
        if (r.state === 'preCandidate') r.campaign('election');
        else {
          r.becomeLeader();
          r.broadcastAppend();
        }
      } else if (result === 'lost') {
        // Lost: back to follower in the same term; a pre-candidate never left its term.
        r.becomeFollower(r.term, NONE);
      }
      return;
    }
  }
}

function handleAppendEntries(r: RaftCore, m: Message): void {
  const log = r.raftLog;
  if (m.index < log.committed) {
    // A stale or reordered append below our commit: tell the leader where we really are.
    r.send(makeMessage({ type: 'MsgAppResp', to: m.from, index: log.committed }));
    return;
  }
  const lastNew = log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (lastNew >= 0) {
    r.foldCommittedConfig();
    r.send(makeMessage({ type: 'MsgAppResp', to: m.from, index: lastNew }));
    return;
  }
  // Reject, with a hint that lets the leader skip a whole term of mismatched entries.
  const hintIndex = Math.min(m.index, log.lastIndex());
  const hint = log.findConflictByTerm(hintIndex, m.logTerm);
  r.send(
    makeMessage({ type: 'MsgAppResp', to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term }),
  );
}

function handleHeartbeat(r: RaftCore, m: Message): void {
  // The leader caps m.commit at our match index, so everything up to it is the leader's.
  r.raftLog.commitTo(Math.min(m.commit, r.raftLog.lastIndex()));
  r.foldCommittedConfig();
  r.send(makeMessage({ type: 'MsgHeartbeatResp', to: m.from, index: m.index, context: m.context }));
}

/**
 * The leader asks the group to quiesce. Only a follower whose log ends exactly where the leader's
 * does (same last index and term, all of it committed) stops its election timer, silently; any
 * other answers as to a heartbeat, and that answer wakes the leader.
 */
function handleQuiesce(r: RaftCore, m: Message): void {
  const log = r.raftLog;
  log.commitTo(Math.min(m.commit, log.lastIndex()));
  r.foldCommittedConfig();
  if (log.lastIndex() === m.commit && log.lastTerm() === m.logTerm && log.committed === m.commit) {
    r.quiesced = true;
    return;
  }
  r.quiesced = false;
  r.send(makeMessage({ type: 'MsgHeartbeatResp', to: m.from, index: m.index }));
}

function handleSnapshot(r: RaftCore, m: Message): void {
  const s = m.snapshot;
  if (s && restore(r, s)) {
    r.send(makeMessage({ type: 'MsgAppResp', to: m.from, index: r.raftLog.lastIndex() }));
  } else {
    r.send(makeMessage({ type: 'MsgAppResp', to: m.from, index: r.raftLog.committed }));
  }
}

/** Installs a snapshot from the leader. Returns false if it is stale (nothing changed but maybe the commit index). */
function restore(r: RaftCore, s: Snapshot): boolean {
  const { index, term, confState } = s.metadata;
  if (index <= r.raftLog.committed) return false; // stale: we already have all of it
  // The snapshot may predate this node's own addition (configurations take effect when appended,
  // and the leader sends the latest snapshot it has); the entries after it will add us again.
  if (r.raftLog.matchTerm(index, term)) {
    // We hold the snapshot's last entry: just fast-forward the commit index.
    r.raftLog.commitTo(index);
    r.foldCommittedConfig();
    return false;
  }
  r.raftLog.restore(s);
  r.restoreConfig(configFromConfState(confState));
  return true;
}
