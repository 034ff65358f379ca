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
import { crashReplica, event, startReplica } from './replica.ts';
import type { SimResult } from './simulation.ts';
import { healAll, isolate, recover, replayCommand, runWith, tick, workload } from './simulation.ts';
import { currentLeader, issueRead, propose } from './workload.ts';

/**
 * Pre-vote keeps a rejoining replica from disrupting the group: a follower is cut off for several
 * election timeouts while the leader keeps committing, so its log falls behind; then it hears
 * every replica but the leader (so it keeps campaigning), then everyone. Throughout, the leader
 * and the term must stay as they were.
 */
export function runPreVoteScenario(core: SimCore, seed: number, trace: ((line: string) => void) | null = null): SimResult {
  const base = optionsForSeed(seed);
  const opts: SimOptions = {
    ...base,
    profile: PROFILES[0],
    preVote: true,
    checkQuorum: false,
    leaseReads: false,
    leaseBasedReadOnly: false,
    transferP: 0,
    confChangeP: 0,
    coldRestart: false,
    // A slow disk delays the leader's heartbeats and may cause a legitimate election.
    asyncWriteP: 0,
  };
  return runWith(core, opts, trace, replayCommand(seed, 'prevote'), (sim) => {
    const e = opts.electionTick;
    const leader = runUntilLeaderCommits(sim, 30 * e);
    const followers = sim.ids.filter((id) => id <= opts.voters && id !== leader);
    const cut = followers[sim.rand.int(followers.length)];
    isolate(sim, cut);
    event(sim, `partition ${sim.net.partition}`);
    for (let t = 0; t < 6 * e; t++) tick(sim, () => workload(sim));
    const l = currentLeader(sim);
    if (!l) violation('no leader before the isolated replica rejoined');
    const term = l.node!.raft.term;
    // Rejoin in two steps: first it hears everyone but the leader (so it keeps campaigning),
    // then the partition heals completely.
    heal(sim.net);
    sim.net.blocked.add(`${l.id}>${cut}`);
    sim.net.partition = `one-way ${l.id}>${cut}`;
    event(sim, `partition ${sim.net.partition}`);
    for (let t = 0; t < 8 * e; t++) {
      if (t === 4 * e) {
        heal(sim.net);
        event(sim, 'partition none');
      }
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

/**
 * Lease reads stay linearizable when the leader is cut off: the old leader is asked for lease
 * reads every tick while the others elect a new leader and commit writes. It may answer only
 * while no other leader can have been elected (the read check then finds nothing stale).
 */
export function runLeaseScenario(core: SimCore, seed: number, trace: ((line: string) => void) | null = null): SimResult {
  const base = optionsForSeed(seed);
  const opts: SimOptions = {
    ...base,
    profile: PROFILES[0],
    checkQuorum: true,
    leaseReads: true,
    clockDrift: seed % 2 === 1 ? 'slowLeaders' : 'none',
    transferP: 0,
    confChangeP: 0,
    coldRestart: false,
  };
  return runWith(core, opts, trace, replayCommand(seed, 'lease'), (sim) => {
    const e = opts.electionTick;
    const old = sim.replicas.get(runUntilLeaderCommits(sim, 30 * e))!;
    isolate(sim, old.id);
    event(sim, `partition ${sim.net.partition}`);
    for (let t = 0; t < 4 * e; t++) {
      tick(sim, () => {
        workload(sim);
        if (old.status === 'up' && old.node!.raft.state === 'leader') issueRead(sim, old, true);
      });
    }
    heal(sim.net);
    event(sim, 'partition none');
    for (let t = 0; t < 2 * e; t++) tick(sim, () => workload(sim));
    return 0;
  });
}

/**
 * Leader churn (the shape of Figure 8): five voters, small appends sent one entry at a time, and
 * leaders that crash or are cut off soon after they start replicating, so that entries of older
 * terms are often held by a majority without being committed. Whatever a leader counts as
 * committed must survive every later election.
 */
export function runChurnScenario(core: SimCore, seed: number, trace: ((line: string) => void) | null = null): SimResult {
  const base = optionsForSeed(seed);
  const opts: SimOptions = {
    ...base,
    voters: 5,
    profile: { name: 'churn', dropP: 0.05, dupP: 0.02, maxDelayTicks: 2, lateP: 0.005, partitionP: 0, crashP: 0, restartP: 0.3 },
    maxSizePerMsg: 1,
    maxInflightMsgs: 1,
    transferP: 0,
    confChangeP: 0,
    coldRestart: false,
    faultTicks: 300,
  };
  return runWith(core, opts, trace, replayCommand(seed, 'churn'), (sim) => {
    for (let t = 0; t < opts.faultTicks; t++) {
      tick(sim, () => {
        const leader = currentLeader(sim);
        const r = sim.rand.next();
        const since = leader ? sim.leaderSince.get(leader.id) : undefined;
        // A new leader often fails before its no-op reaches a majority.
        const fresh = since !== undefined && since.term === leader!.node!.raft.term && sim.now - since.tick <= 2;
        if (leader && (r < 0.06 || (fresh && r < 0.4))) crashReplica(sim, leader);
        else if (leader && r < 0.1) {
          isolate(sim, leader.id);
          event(sim, `partition ${sim.net.partition}`);
        } else if (sim.net.partition !== 'none' && r < 0.2) {
          heal(sim.net);
          event(sim, 'partition none');
        }
        for (const rep of sim.replicas.values()) if (rep.status === 'down' && sim.rand.next() < opts.profile.restartP) startReplica(sim, rep);
        workload(sim);
      });
    }
    healAll(sim);
    return recover(sim);
  });
}

/**
 * Figure 8 of the Raft paper, scripted over five voters (which replica plays which part is drawn
 * from the seed): an entry X of an old term reaches a majority only after a newer leader E wrote
 * a conflicting entry at the same index; the leader replicating X is cut off before its own
 * no-op reaches a majority; then E returns and wins. X was never committed, so E may overwrite
 * it — unless the core counted replicas of an old-term entry, which the leader-completeness check
 * then reports.
 */
export function runFigure8Scenario(core: SimCore, seed: number, trace: ((line: string) => void) | null = null): SimResult {
  const base = optionsForSeed(seed);
  const opts: SimOptions = {
    ...base,
    voters: 5,
    profile: { name: 'figure8', dropP: 0, dupP: 0, maxDelayTicks: 0, lateP: 0, partitionP: 0, crashP: 0, restartP: 0 },
    preVote: false,
    checkQuorum: false,
    leaseReads: false,
    leaseBasedReadOnly: false,
    clockDrift: 'none',
    asyncWriteP: 0,
    maxSizePerMsg: 1,
    maxInflightMsgs: 1,
    maxInflightBytes: 0,
    maxUncommittedEntriesSize: 0,
    disableProposalForwarding: false,
    snapshotEvery: 0,
    bootstrapIndex: 0,
    proposeP: 0,
    readP: 0,
    transferP: 0,
    confChangeP: 0,
    coldRestart: false,
  };
  return runWith(core, opts, trace, replayCommand(seed, 'figure8'), (sim) => {
    const idle = (n: number) => {
      for (let t = 0; t < n; t++) tick(sim, () => {});
    };
    const node = (id: number) => sim.replicas.get(id)!.node!;
    const cutOff = (ids: number[]) => {
      heal(sim.net);
      for (const x of ids) for (const y of sim.ids) if (x !== y) for (const k of [`${x}>${y}`, `${y}>${x}`]) sim.net.blocked.add(k);
      sim.net.partition = `cut off ${ids.join(',')}`;
      event(sim, `partition ${sim.net.partition}`);
    };
    const a = runUntilLeaderCommits(sim, 30 * opts.electionTick);
    const rest = sim.ids.filter((id) => id !== a && id <= opts.voters);
    for (let i = rest.length - 1; i > 0; i--) {
      const j = sim.rand.int(i + 1);
      [rest[i], rest[j]] = [rest[j], rest[i]];
    }
    const [b, c, d, e] = rest;
    // 1. X reaches only b.
    cutOff([c, d, e]);
    sim.net.blocked.clear();
    for (const x of [a, b]) for (const y of [c, d, e]) for (const k of [`${x}>${y}`, `${y}>${x}`]) sim.net.blocked.add(k);
    propose(sim, 'X', sim.replicas.get(a)!);
    idle(2);
    const k = node(a).raft.raftLog.lastIndex();
    // 2. e leads c and d, but what it appends reaches nobody.
    sim.onStep = () => {
      if (sim.replicas.get(e)!.node?.raft.state === 'leader' && sim.net.partition !== `cut off ${e}`) cutOff([e]);
    };
    tick(sim, () => node(e).campaign());
    idle(2);
    if (node(e).raft.raftLog.lastIndex() < k) violation(`figure8: replica ${e} did not append at index ${k}`);
    // 3. a restarts, leads again (b, c, d vote) and is cut off as soon as X reached c or d.
    const restart = (id: number) => {
      crashReplica(sim, sim.replicas.get(id)!);
      startReplica(sim, sim.replicas.get(id)!);
    };
    restart(a);
    sim.onStep = () => {
      const r = sim.replicas.get(a)!;
      if (r.node?.raft.state !== 'leader' || sim.net.partition === `cut off ${a}`) return;
      const p = r.node.status().progress;
      if ((p.get(c)?.match ?? 0) >= k || (p.get(d)?.match ?? 0) >= k) cutOff([a]);
    };
    for (let attempt = 0; attempt < 5 && node(a).raft.state !== 'leader'; attempt++) {
      tick(sim, () => node(a).campaign());
      idle(1);
    }
    idle(3);
    // 4. e restarts and campaigns while a is cut off.
    sim.onStep = null;
    cutOff([a]);
    restart(e);
    for (let attempt = 0; attempt < 5 && node(e).raft.state !== 'leader'; attempt++) {
      tick(sim, () => node(e).campaign());
      idle(1);
    }
    idle(5);
    healAll(sim);
    return recover(sim);
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
  lease: runLeaseScenario,
  churn: runChurnScenario,
  figure8: runFigure8Scenario,
};
