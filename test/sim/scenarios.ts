/**
 * Targeted scenarios: seeded runs with a fixed plot, for properties the random workload checks
 * only by luck. Each returns a {@link SimResult} like the random runs and replays the same way.
 */
import { violation } from './checker.ts';
import type { SimCore } from './core.ts';
import { heal } from './network.ts';
import type { SimOptions } from './options.ts';
import { optionsForSeed, PROFILES } from './options.ts';
import type { Sim } from './replica.ts';
import { event } from './replica.ts';
import type { SimResult } from './simulation.ts';
import { replayCommand, runWith, tick, workload } from './simulation.ts';
import { currentLeader } from './workload.ts';

/**
 * Pre-vote keeps a rejoining replica from disrupting the group: a follower is cut off for several
 * election timeouts while the leader keeps committing, so its log falls behind; after the
 * partition heals the leader and the term must stay as they were.
 */
export function runPreVoteScenario(core: SimCore, seed: number, trace: ((line: string) => void) | null = null): SimResult {
  const base = optionsForSeed(seed);
  const opts: SimOptions = {
    ...base,
    profile: PROFILES[0],
    preVote: true,
    checkQuorum: false,
    leaseReads: false,
    transferP: 0,
    confChangeP: 0,
    coldRestart: false,
  };
  return runWith(core, opts, trace, replayCommand(seed, 'prevote'), (sim) => {
    const e = opts.electionTick;
    const leader = runUntilLeaderCommits(sim, 30 * e);
    const followers = sim.ids.filter((id) => id <= opts.voters && id !== leader);
    const cut = followers[sim.rand.int(followers.length)];
    for (const id of sim.ids) {
      if (id === cut) continue;
      sim.net.blocked.add(`${id}>${cut}`);
      sim.net.blocked.add(`${cut}>${id}`);
    }
    event(sim, `partition isolate ${cut}`);
    for (let t = 0; t < 6 * e; t++) tick(sim, () => workload(sim));
    heal(sim.net);
    event(sim, 'partition none');
    const l = currentLeader(sim);
    if (!l) violation('no leader before the isolated replica rejoined');
    const term = l.node!.raft.term;
    for (let t = 0; t < 6 * e; t++) {
      tick(sim, () => workload(sim));
      for (const rep of sim.replicas.values()) {
        if (rep.status !== 'up' || rep.id > opts.voters) continue; // spares never joined
        const raft = rep.node!.raft;
        if (raft.term > term) {
          violation(`pre-vote: replica ${cut} rejoined with a stale log and the term moved from ${term} to ${raft.term} (on ${rep.id})`);
        }
      }
      if (currentLeader(sim) !== l) violation(`pre-vote: leader ${l.id} lost its leadership after replica ${cut} rejoined`);
    }
    return 0;
  });
}

/** Ticks (with the workload) until a leader has committed an entry of its term; returns its id. */
function runUntilLeaderCommits(sim: Sim, bound: number): number {
  for (let t = 0; t < bound; t++) {
    tick(sim, () => workload(sim));
    const l = currentLeader(sim);
    if (l) {
      const log = l.node!.raft.raftLog;
      if (log.committed > 0 && log.term(log.committed) === l.node!.raft.term) return l.id;
    }
  }
  return violation(`liveness: no leader committed within ${bound} ticks of a fault-free start`);
}

/** The scenarios by name, for the soak CLI and the mutant runner. */
export const SCENARIOS: Record<string, (core: SimCore, seed: number, trace?: ((line: string) => void) | null) => SimResult> = {
  prevote: runPreVoteScenario,
};
