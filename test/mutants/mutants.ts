/**
 * Deliberately wrong variants of the Raft core (and of the store driver), each a small textual patch of `src/`. Every
 * `search` must occur exactly once in its file, so that a refactor that moves the code makes the
 * runner fail loudly instead of silently testing an unmutated core.
 */

export interface Patch {
  /** Path under `src/`. */
  file: string;
  search: string;
  replace: string;
}

export interface Mutant {
  name: string;
  /**
   * What judges it: `core` (default), the transcripts and the Raft simulation against a patched
   * `src/raft`; `kv-stall`, the kv simulation's stall seeds against a patched store (kv-runner.ts).
   */
  judge?: 'core' | 'kv-stall';
  /** What is wrong, and which check is expected to notice. */
  description: string;
  patches: Patch[];
}

export const MUTANTS: readonly Mutant[] = [
  {
    name: 'ack-before-persist',
    description: 'new entries do not make the Ready mustSync, so a replica acknowledges entries a crash can still lose',
    patches: [
      {
        file: 'raft/rawnode.ts',
        search: 'mustSync: entries.length > 0 || snapshot !== null ||',
        replace: 'mustSync: snapshot !== null ||',
      },
    ],
  },
  {
    name: 'commit-old-term-by-counting',
    description: 'the leader commits any index a quorum holds, not only one of its own term (Figure 8)',
    patches: [
      {
        file: 'raft/log.ts',
        search: 'if (index > this.committed && this.termOrZero(index) === term) {',
        replace: 'if (index > this.committed && this.termOrZero(index) <= term) {',
      },
    ],
  },
  {
    name: 'truncate-on-stale-append',
    description: 'a follower truncates from the first uncommitted entry of every append instead of the first conflict, so a stale or reordered append drops acknowledged entries',
    patches: [
      {
        file: 'raft/log.ts',
        search: 'const ci = this.findConflict(ents);',
        replace: 'const ci = ents.length > 0 && ents[ents.length - 1].index > this.committed ? Math.max(ents[0].index, this.committed + 1) : 0;',
      },
    ],
  },
  {
    name: 'readindex-before-own-term-commit',
    description: 'a new leader answers ReadIndex before it committed an entry of its term, with a commit index that may lag',
    patches: [
      {
        file: 'raft/leader.ts',
        search: '  if (!committedEntryInCurrentTerm(r)) {\n    // Until the no-op of this term commits',
        replace: '  if (false) {\n    // Until the no-op of this term commits',
      },
    ],
  },
  {
    name: 'prevote-without-checks',
    description: 'pre-votes are granted without the log check, and even for an older term',
    patches: [
      {
        file: 'raft/raft.ts',
        search: 'if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {',
        replace: "if (m.type === 'MsgPreVote' || (canVote && this.raftLog.isUpToDate(m.index, m.logTerm))) {",
      },
      {
        file: 'raft/raft.ts',
        search: "this.send(makeMessage({ type: 'MsgPreVoteResp', to: m.from, term: this.term, reject: true }));\n      } else if (m.type === 'MsgVote')",
        replace: "this.send(makeMessage({ type: 'MsgPreVoteResp', to: m.from, term: m.term }));\n      } else if (m.type === 'MsgVote')",
      },
    ],
  },
  {
    name: 'confchange-on-commit',
    description: 'a configuration takes effect when committed instead of when appended',
    patches: [
      {
        file: 'raft/raft.ts',
        search: 'const cfg = this.confEntries.length > 0 ? this.confEntries[this.confEntries.length - 1].config : this.baseConfig;',
        replace: 'const cfg = this.baseConfig;',
      },
      {
        file: 'raft/raft.ts',
        search: '      this.baseConfig = this.confEntries[0].config;\n      this.confEntries.shift();\n    }\n',
        replace: '      this.baseConfig = this.confEntries[0].config;\n      this.confEntries.shift();\n      this.applyEffectiveConfig();\n    }\n',
      },
    ],
  },
  {
    name: 'follower-commit-uncapped',
    description: "a follower's commit index is capped by its last index instead of the last index the append verified",
    patches: [
      {
        file: 'raft/log.ts',
        search: 'this.commitTo(Math.min(committed, lastNew));',
        replace: 'this.commitTo(Math.min(committed, this.lastIndex()));',
      },
    ],
  },
  {
    name: 'election-timer-not-randomized',
    description: 'every replica times out after exactly electionTick ticks, so simultaneous candidates split the vote forever',
    patches: [
      {
        file: 'raft/raft.ts',
        search: 'this.randomizedElectionTimeout = this.cfg.electionTick + this.cfg.rand.int(this.cfg.electionTick);',
        replace: 'this.randomizedElectionTimeout = this.cfg.electionTick;',
      },
    ],
  },
  {
    name: 'vote-not-restored',
    description: 'a restarted replica forgets whom it voted for in its current term (as if the vote were never persisted)',
    patches: [{ file: 'raft/raft.ts', search: 'this.vote = hs.vote;', replace: 'this.vote = NONE;' }],
  },
  {
    name: 'checkquorum-never-steps-down',
    description: 'a leader that has not heard from a quorum keeps leading',
    patches: [{ file: 'raft/leader.ts', search: 'if (!r.trk.quorumActive()) {', replace: 'if (false) {' }],
  },
  {
    name: 'heartbeat-commit-uncapped',
    description: "heartbeats carry the leader's commit index instead of min(commit, follower's match)",
    patches: [
      {
        file: 'raft/leader.ts',
        search: 'const commit = Math.min(pr.match, r.raftLog.committed);',
        replace: 'const commit = r.raftLog.committed;',
      },
    ],
  },
  {
    name: 'lease-read-without-lease',
    description: 'a lease read is answered without checking that the lease still holds',
    patches: [{ file: 'raft/leader.ts', search: 'if (wantsLease && leaseValid(r)) {', replace: 'if (wantsLease) {' }],
  },
  {
    name: 'quiesced-leader-stops-lease-clock',
    description: 'a quiesced node stops counting ticks, so a leader that fell asleep keeps its lease forever (quiesce-lease.txt)',
    patches: [{ file: 'raft/raft.ts', search: '    this.tickCount++;\n    if (this.quiesced) return;', replace: '    if (this.quiesced) return;\n    this.tickCount++;' }],
  },
  {
    name: 'follower-quiesces-behind',
    description: 'a follower quiesces on any MsgQuiesce, even with a log that does not end where the leader\'s does (quiesce-refused.txt)',
    patches: [
      {
        file: 'raft/follower.ts',
        search: 'if (log.lastIndex() === m.commit && log.lastTerm() === m.logTerm && log.committed === m.commit) {',
        replace: 'if (log.committed >= 0) {',
      },
    ],
  },
  {
    name: 'store-drops-clock-gap',
    judge: 'kv-stall',
    description:
      'a store whose clock is ahead by a gap (its process was stopped) does not hand the gap to its replicas, so a resumed leader judges its lease as if no time had passed (issue 21: the kv stall seeds, clock-gap.test.ts)',
    patches: [{ file: 'store/ticker.ts', search: '      peer.node.elapse(ticks);\n', replace: '' }],
  },
];
