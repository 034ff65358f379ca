/**
 * Quorum arithmetic: which index a majority has reached and whether an election is won.
 * A joint configuration needs a majority of both its halves for every decision.
 */
import type { NodeId } from './types.ts';

/** The outcome of counting votes. */
export type VoteResult = 'pending' | 'lost' | 'won';

/**
 * The largest index that a majority of `voters` has acknowledged, given each voter's match index.
 * An empty voter set commits "everything" (Infinity) so that it never restricts a joint config.
 */
export function majorityCommitted(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  const n = voters.length;
  if (n === 0) return Number.POSITIVE_INFINITY;
  const matched: number[] = new Array(n);
  for (let i = 0; i < n; i++) matched[i] = matchOf(voters[i]);
  matched.sort((a, b) => b - a);
  // With n voters sorted descending, the (n/2)-th (0-based, floor) is held by a majority.
  return matched[Math.floor(n / 2)];
}

/** The result of a vote in one majority configuration; `votes` maps voter to granted or not. */
export function majorityVoteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = Math.floor(voters.length / 2) + 1;
  if (granted >= q) return 'won';
  if (granted + missing >= q) return 'pending';
  return 'lost';
}

/** The commit index of a joint configuration: the smaller of its two majorities. */
export function jointCommitted(
  incoming: readonly NodeId[],
  outgoing: readonly NodeId[],
  matchOf: (id: NodeId) => number,
): number {
  return Math.min(majorityCommitted(incoming, matchOf), majorityCommitted(outgoing, matchOf));
}

/** The vote result of a joint configuration: won only if both halves are won. */
export function jointVoteResult(
  incoming: readonly NodeId[],
  outgoing: readonly NodeId[],
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  const a = majorityVoteResult(incoming, votes);
  const b = majorityVoteResult(outgoing, votes);
  if (a === b) return a;
  if (a === 'lost' || b === 'lost') return 'lost';
  return 'pending';
}
