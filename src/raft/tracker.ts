/**
 * The leader's bookkeeping for a whole group: the current membership (possibly joint), one
 * {@link Progress} per member, and the votes of an ongoing election.
 */
import { Progress } from './progress.ts';
import type { VoteResult } from './quorum.ts';
import { jointCommitted, jointVoteResult } from './quorum.ts';
import type { ConfState, NodeId } from './types.ts';

/** A membership: voters (two sets while joint), learners, and learners-to-be. */
export interface TrackerConfig {
  voters: NodeId[];
  /** The old voters while joint. Invariant: empty iff not joint. */
  votersOutgoing: NodeId[];
  /** Invariant: disjoint from voters and votersOutgoing. */
  learners: NodeId[];
  /** Outgoing voters that become learners when the joint config is left. */
  learnersNext: NodeId[];
  autoLeave: boolean;
}

export function configFromConfState(cs: ConfState): TrackerConfig {
  return {
    voters: [...cs.voters].sort((a, b) => a - b),
    votersOutgoing: [...cs.votersOutgoing].sort((a, b) => a - b),
    learners: [...cs.learners].sort((a, b) => a - b),
    learnersNext: [...cs.learnersNext].sort((a, b) => a - b),
    autoLeave: cs.autoLeave,
  };
}

export function confStateFromConfig(c: TrackerConfig): ConfState {
  return {
    voters: [...c.voters],
    learners: [...c.learners],
    votersOutgoing: [...c.votersOutgoing],
    learnersNext: [...c.learnersNext],
    autoLeave: c.autoLeave,
  };
}

/** A readable form such as `voters=(1 2 3)&&(1 2) learners=(4)`, used in transcripts. */
export function describeConfig(c: TrackerConfig): string {
  let s = `voters=(${c.voters.join(' ')})`;
  if (c.votersOutgoing.length > 0) s += `&&(${c.votersOutgoing.join(' ')})`;
  if (c.learners.length > 0) s += ` learners=(${c.learners.join(' ')})`;
  if (c.learnersNext.length > 0) s += ` learners_next=(${c.learnersNext.join(' ')})`;
  if (c.autoLeave) s += ' autoleave';
  return s;
}

export class ProgressTracker {
  config: TrackerConfig;
  progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();
  readonly inflightMax: number;
  readonly inflightBytesMax: number;

  constructor(inflightMax: number, inflightBytesMax: number) {
    this.inflightMax = inflightMax;
    this.inflightBytesMax = inflightBytesMax;
    this.config = { voters: [], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false };
  }

  isJoint(): boolean {
    return this.config.votersOutgoing.length > 0;
  }

  /** Every voter of either half, deduplicated and sorted. */
  voterIds(): NodeId[] {
    const s = new Set([...this.config.voters, ...this.config.votersOutgoing]);
    return [...s].sort((a, b) => a - b);
  }

  /** Every member (voters, learners, learners-to-be), sorted. */
  memberIds(): NodeId[] {
    const s = new Set([...this.config.voters, ...this.config.votersOutgoing, ...this.config.learners, ...this.config.learnersNext]);
    return [...s].sort((a, b) => a - b);
  }

  isVoter(id: NodeId): boolean {
    return this.config.voters.includes(id) || this.config.votersOutgoing.includes(id);
  }

  isMember(id: NodeId): boolean {
    return this.progress.has(id);
  }

  /** Replaces the membership, keeping the progress of members that stay and creating it for new ones at `nextIndex`. */
  applyConfig(config: TrackerConfig, nextIndex: number): void {
    this.config = config;
    const members = new Set(this.memberIds());
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) {
      const isLearner = !this.isVoter(id);
      const pr = this.progress.get(id);
      if (pr) pr.isLearner = isLearner;
      else {
        const p = new Progress(nextIndex, this.inflightMax, this.inflightBytesMax, isLearner);
        // A new member counts as active so that adding it cannot trip check-quorum at once.
        p.recentActive = true;
        this.progress.set(id, p);
      }
    }
  }

  /** The highest index replicated on a quorum (joint-aware). */
  committed(): number {
    const matchOf = (id: NodeId) => this.progress.get(id)?.match ?? 0;
    return jointCommitted(this.config.voters, this.config.votersOutgoing, matchOf);
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  /** Records a vote (only the first vote of each voter counts). */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voterIds()) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return { granted, rejected, result: jointVoteResult(this.config.voters, this.config.votersOutgoing, this.votes) };
  }

  /** Whether the voters marked recently active form a quorum (check-quorum). */
  quorumActive(): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const [id, pr] of this.progress) if (!pr.isLearner) votes.set(id, pr.recentActive);
    return jointVoteResult(this.config.voters, this.config.votersOutgoing, votes) === 'won';
  }

  /** Whether the voters in `acks` form a quorum. */
  quorumOf(acks: ReadonlySet<NodeId>): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const id of this.voterIds()) votes.set(id, acks.has(id));
    return jointVoteResult(this.config.voters, this.config.votersOutgoing, votes) === 'won';
  }
}
