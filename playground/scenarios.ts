/**
 * Guided scenarios: each builds a cluster for its situation, then performs a few actions at set
 * virtual times (decided from the cluster's state at that moment, then recorded like a click), and
 * explains what to watch.
 */
import type { Action, Session } from './session.ts';
import { DEFAULT_CONFIG, type PlaygroundConfig } from './sim.ts';

export interface ScenarioStep {
  /** Virtual ms after the scenario starts. */
  atMs: number;
  /** The action to perform then (from the cluster's state at that moment), if any. */
  action: (s: Session) => Action | undefined;
}

export interface Scenario {
  id: string;
  title: string;
  config: Partial<PlaygroundConfig>;
  text: string;
  steps: ScenarioStep[];
}

const others = (s: Session, store: number) => s.sim.cluster.storeIds.filter((id) => id !== store);
const leader1 = (s: Session) => s.leaderOf(1);
/** The leader of region 1 and one follower on one side of a partition, the others on the other. */
const leaderAndOneCutOff = (s: Session): Action => {
  const l = leader1(s);
  const f = others(s, l)[0];
  return { type: 'partition', groups: [[l, f], others(s, l).filter((id) => id !== f)] };
};
/** Store 3 alone on one side of a partition from 3 s to 11 s. */
const isolateStore3: ScenarioStep[] = [
  { atMs: 3000, action: (s) => ({ type: 'partition', groups: [[3], others(s, 3)] }) },
  { atMs: 11000, action: () => ({ type: 'heal' }) },
];

export const SCENARIOS: Scenario[] = [
  {
    id: 'leader-crash',
    title: 'Leader crash',
    config: { stores: 3, pd: false },
    text: 'Three stores, one region. At 3 s the leader\'s store crashes. Its followers stop hearing heartbeats; the first whose election timer runs out becomes a pre-candidate, then a candidate in a higher term, and wins with the other follower\'s vote. At 9 s the old leader restarts and joins as a follower.',
    steps: [
      { atMs: 3000, action: () => ({ type: 'crashLeader', regionId: 1 }) },
      { atMs: 3100, action: () => ({ type: 'put', key: 'after-crash', value: 'still writable' }) },
      { atMs: 9000, action: (s) => { const down = s.sim.cluster.storeIds.find((id) => !s.sim.cluster.store(id)); return down ? { type: 'restart', store: down } : undefined; } },
    ],
  },
  {
    id: 'split-vote',
    title: 'Split vote',
    config: { stores: 4, replicas: 4, pd: false, preVote: false, checkQuorum: false, delayMs: { min: 250, max: 350 } },
    text: 'Four stores, slow links (250–350 ms, close to the election timeout spread), no pre-vote. Elections start at once on several stores: each votes for itself, votes cross on the wire, and a term may end with nobody holding 3 of 4 votes. Randomized timeouts make one candidate start the next term first, and it wins. Watch the terms climb on the cards and the timeline.',
    steps: [{ atMs: 4000, action: () => ({ type: 'crashLeader', regionId: 1 }) }],
  },
  {
    id: 'minority',
    title: 'Minority partition cannot commit',
    config: { stores: 5, replicas: 5, pd: false, splitKeys: 0 },
    text: 'Five stores, one region replicated on all five. At 3 s the leader and one follower are cut from the other three, and writes start. The old leader keeps appending (its log grows) but nothing commits: two of five is no quorum. With check-quorum it steps down after an election timeout. The three on the other side elect a leader in a higher term and commit the workload. At 14 s the network heals; the minority\'s uncommitted entries are overwritten.',
    steps: [
      { atMs: 3000, action: leaderAndOneCutOff },
      { atMs: 3050, action: () => ({ type: 'workload', on: true }) },
      { atMs: 14000, action: () => ({ type: 'heal' }) },
      { atMs: 18000, action: () => ({ type: 'workload', on: false }) },
    ],
  },
  {
    id: 'figure-8',
    title: 'Figure 8: an old-term entry is not committed by counting',
    config: { stores: 5, replicas: 5, pd: false, splitKeys: 0 },
    text: 'Raft paper, Figure 8, staged. At 3 s the leader is cut off with one follower (call it A) and a write appends an entry of its term on those two only: faded, not committed (2 of 5). At 4 s the leader crashes and the network heals. If a store without the entry wins the next election (it can: three of the four live stores lack it), its log overwrites the entry on A — Figure 8 (d). If A wins, it replicates the old entry to a majority, but a leader never commits an old-term entry by counting replicas: it turns solid only together with the entry A appends in its own term, above it — Figure 8 (e). Watch the strips: the old term\'s colour, then the new term\'s. At 9 s the crashed store restarts and its log is made to match. (The client retries the write through the new leader; the session table keeps it from applying twice.)',
    steps: [
      { atMs: 3000, action: leaderAndOneCutOff },
      { atMs: 3050, action: () => ({ type: 'put', key: 'fig8', value: 'old-term' }) },
      { atMs: 4000, action: () => ({ type: 'crashLeader', regionId: 1 }) },
      { atMs: 4050, action: () => ({ type: 'heal' }) },
      { atMs: 9000, action: (s) => { const down = s.sim.cluster.storeIds.find((id) => !s.sim.cluster.store(id)); return down ? { type: 'restart', store: down } : undefined; } },
    ],
  },
  {
    id: 'prevote',
    title: 'Pre-vote stops a disruptive node',
    config: { stores: 3, pd: false, preVote: true },
    text: 'Store 3 is cut off for 8 s. Alone, its election timer keeps running out; with pre-vote it only becomes a pre-candidate and asks "would you vote for me?" — nobody answers, so its term does not rise. When the network heals it rejoins without disturbing the leader. Run "…without pre-vote" to compare: there its term climbs every timeout and on healing it forces the leader to step down.',
    steps: isolateStore3,
  },
  {
    id: 'no-prevote',
    title: '…without pre-vote (disruptive node)',
    config: { stores: 3, pd: false, preVote: false, checkQuorum: false },
    text: 'As before, with pre-vote and check-quorum off. Store 3, cut off, becomes a candidate again and again, raising its term. When the network heals its higher term makes the leader step down and a new election follows: the disruption pre-vote prevents.',
    steps: isolateStore3,
  },
  {
    id: 'split-load',
    title: 'Region split under load',
    config: { stores: 3, pd: true },
    text: 'A steady workload writes keys across the alphabet. The placement driver (its own Raft group, "PD" on the cards) hears each region\'s size in heartbeats and tells a leader to split a region past 24 keys. The split is a log entry: every replica applies it at the same point, the key bar cuts the region in two, and the new region elects its own leader.',
    steps: [{ atMs: 2000, action: () => ({ type: 'workload', on: true }) }],
  },
];

export const scenarioConfig = (sc: Scenario, seed: number): PlaygroundConfig => ({ ...DEFAULT_CONFIG, seed, ...sc.config, storage: 'memory' });
