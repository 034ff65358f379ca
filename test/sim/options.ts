/**
 * What one simulation run looks like, and how a seed picks it. Everything is derived from the
 * seed alone, so `--seed N` replays exactly the run that failed.
 */

/** How hostile the world is during the fault phase. Probabilities are per message or per tick. */
export interface FaultProfile {
  name: string;
  /** A message is lost. */
  dropP: number;
  /** A message is delivered twice. */
  dupP: number;
  /** A message is delivered 0..maxDelayTicks ticks after it was sent (random order within a tick). */
  maxDelayTicks: number;
  /** A message is held back for up to five election timeouts (a stale straggler). */
  lateP: number;
  /** Per tick: the partition changes (a new one, or healed). */
  partitionP: number;
  /** Per tick: a running replica crashes. */
  crashP: number;
  /** Per tick and crashed replica: it restarts. */
  restartP: number;
}

export const PROFILES: readonly FaultProfile[] = [
  { name: 'calm', dropP: 0, dupP: 0, maxDelayTicks: 1, lateP: 0, partitionP: 0, crashP: 0, restartP: 0 },
  { name: 'lossy', dropP: 0.1, dupP: 0.05, maxDelayTicks: 3, lateP: 0.005, partitionP: 0, crashP: 0, restartP: 0 },
  { name: 'partitions', dropP: 0.02, dupP: 0.01, maxDelayTicks: 2, lateP: 0, partitionP: 0.04, crashP: 0, restartP: 0 },
  { name: 'crashes', dropP: 0.02, dupP: 0.02, maxDelayTicks: 2, lateP: 0, partitionP: 0, crashP: 0.015, restartP: 0.08 },
  { name: 'chaos', dropP: 0.05, dupP: 0.03, maxDelayTicks: 3, lateP: 0.005, partitionP: 0.03, crashP: 0.01, restartP: 0.08 },
];

export interface SimOptions {
  seed: number;
  /** Initial voters, ids 1..voters. */
  voters: number;
  /** Extra ids, not members at first, that membership changes may add. */
  spares: number;
  profile: FaultProfile;
  preVote: boolean;
  checkQuorum: boolean;
  /** Reads confirmed by the leader lease (only with checkQuorum). */
  leaseReads: boolean;
  /**
   * Replica clocks drift by missing a tick, at most once per election timeout (the drift lease
   * reads tolerate with the default leaseDriftTicks of 1): `some` now and then on any replica,
   * `slowLeaders` on every leader as often as allowed and never elsewhere (the worst case for a
   * lease, which the leader measures on its own clock).
   */
  clockDrift: 'none' | 'some' | 'slowLeaders';
  /** Probability that a Ready's write stays in flight across scheduler steps (an asynchronous disk). */
  asyncWriteP: number;
  electionTick: number;
  heartbeatTick: number;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  /** Bytes of committed entries per Ready (small: entries are applied in several Readies). */
  maxCommittedSizePerReady: number;
  /** Payload bytes in flight per follower (0: no limit). */
  maxInflightBytes: number;
  /** Uncommitted bytes a leader accepts before refusing proposals (0: no limit). */
  maxUncommittedEntriesSize: number;
  /** Every read is a lease read (`readOnlyOption: 'leaseBased'`); needs leaseReads. */
  leaseBasedReadOnly: boolean;
  /** Followers refuse to forward proposals. */
  disableProposalForwarding: boolean;
  /**
   * 0: every replica starts with the initial voters and an empty log. Otherwise the voters start
   * from a snapshot at this index and spares start empty (they join through a snapshot).
   */
  bootstrapIndex: number;
  /** Applied entries between snapshots (0: never compact). */
  snapshotEvery: number;
  /** Ticks of workload under faults. */
  faultTicks: number;
  /** After the faults heal: a leader exists and a new proposal commits within this many ticks. */
  livenessBoundTicks: number;
  /** At heal time, crash and restart every replica at once (a cold start of the whole group). */
  coldRestart: boolean;
  proposeP: number;
  readP: number;
  transferP: number;
  confChangeP: number;
}

/** splitmix32 step: a well-mixed 32-bit value from a seed, to pick options independently of the run's Rand. */
function mix(seed: number, salt: number): number {
  let t = (seed ^ Math.imul(salt, 0x9e3779b9)) >>> 0;
  t = Math.imul(t ^ (t >>> 16), 0x21f0aaad);
  t = Math.imul(t ^ (t >>> 15), 0x735a2d97);
  return (t ^ (t >>> 15)) >>> 0;
}

/** The run that `seed` names: group size, fault profile and features alternate across seeds. */
export function optionsForSeed(seed: number): SimOptions {
  const pick = (salt: number, n: number) => mix(seed, salt) % n;
  const voters = seed % 2 === 0 ? 3 : 5;
  const profile = PROFILES[Math.floor(seed / 2) % PROFILES.length];
  const checkQuorum = pick(1, 2) === 0;
  const preVote = pick(2, 2) === 0;
  const leaseReads = checkQuorum && pick(3, 3) === 0;
  const maxSizePerMsg = [64, 256, 4096][pick(5, 3)];
  const electionTick = 10;
  return {
    seed,
    voters,
    spares: 2,
    profile,
    preVote,
    checkQuorum,
    leaseReads,
    clockDrift: leaseReads && pick(11, 2) === 0 ? 'some' : 'none',
    asyncWriteP: [0, 0.3, 0.7][pick(4, 3)],
    electionTick,
    heartbeatTick: 2,
    maxSizePerMsg,
    maxInflightMsgs: [1, 4, 64][pick(6, 3)],
    maxCommittedSizePerReady: [64, 1024 * 1024][pick(12, 2)],
    maxInflightBytes: pick(14, 3) === 0 ? 2 * maxSizePerMsg : 0,
    maxUncommittedEntriesSize: pick(15, 3) === 0 ? 24 : 0,
    leaseBasedReadOnly: leaseReads && pick(16, 2) === 0,
    disableProposalForwarding: pick(17, 4) === 0,
    snapshotEvery: [0, 8, 25][pick(7, 3)],
    bootstrapIndex: pick(13, 2) === 0 ? 5 : 0,
    faultTicks: 200 + pick(8, 400),
    // Of 40,000 seeds the slowest recovery took 11 election timeouts with pre-vote and 75
    // without: there a voter whose log and configuration are stale (it cannot reach the others)
    // keeps campaigning, each campaign moves the term, and the up-to-date candidate must time
    // out first, a race whose odds drift against it (the disruption pre-vote exists for).
    // A livelock (for example timers that are not randomized) never ends.
    livenessBoundTicks: (preVote ? 30 : 150) * electionTick,
    coldRestart: pick(9, 4) === 0,
    proposeP: 0.3,
    readP: 0.1,
    transferP: 0.01,
    confChangeP: pick(10, 2) === 0 ? 0.03 : 0,
  };
}
