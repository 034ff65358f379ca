/**
 * The deterministic simulator: one seeded Rand drives the scheduler, the network, the faults,
 * the workload and every replica's election timer. No real time, no Math.random: the same seed
 * gives the same trace (and trace hash) in every runtime.
 *
 * A run has two phases. Under faults, the workload runs while messages are lost, duplicated,
 * delayed and reordered, the network partitions (symmetric, one-way, bridge, isolated leader)
 * and replicas crash and restart. Then the faults heal: within `livenessBoundTicks` a leader must
 * exist and a new proposal must commit, and then every running member must apply it. Safety
 * invariants (`checker.ts`, and the checks in `replica.ts` and `afterStep`) hold after every step.
 */
import { checkOneLeader, InvariantViolation, newGlobalState, violation } from './checker.ts';
import type { SimCore } from './core.ts';
import { FNV_OFFSET, hex32 } from './hash.ts';
import { heal, newNetwork, partition, takeDue } from './network.ts';
import type { SimOptions } from './options.ts';
import { optionsForSeed } from './options.ts';
import type { Replica, Sim } from './replica.ts';
import { completeReady, crashReplica, describeMessage, drainReadies, event, newReplica, reportToSender, startReplica } from './replica.ts';
import { changeMembership, currentLeader, issueRead, propose, transfer } from './workload.ts';

export interface SimResult {
  seed: number;
  ok: boolean;
  /** The broken invariant or the core's exception, if any. */
  error?: string;
  /** FNV-1a over every event of the run, as 8 hex digits. */
  hash: string;
  steps: number;
  ticks: number;
  /** Ticks from the heal to the first commit of a new proposal. */
  recoveryTicks: number;
  /** The command that replays this run. */
  replay: string;
  stats: Sim['stats'];
}

/** Each run stops after this many steps, whatever happens: a bound on everything. */
const STEP_LIMIT = 200_000;
/**
 * Steps within one tick (a healthy group needs a few dozen): more means messages breed
 * messages without time passing, a livelock that no tick-based bound would catch.
 */
const STEPS_PER_TICK_MAX = 5_000;

export function replayCommand(seed: number, scenario?: string): string {
  return `npm run soak -- ${scenario ? `--scenario ${scenario} ` : ''}--seed ${seed} --verbose`;
}

export function newSim(core: SimCore, opts: SimOptions, trace: ((line: string) => void) | null): Sim {
  const ids: number[] = [];
  for (let i = 1; i <= opts.voters + opts.spares; i++) ids.push(i);
  const initialVoters = ids.slice(0, opts.voters);
  const sim: Sim = {
    core,
    opts,
    rand: core.createSeededRand(opts.seed),
    now: 0,
    steps: 0,
    hash: FNV_OFFSET,
    g: newGlobalState(opts.bootstrapIndex),
    net: newNetwork(opts.profile.dropP, opts.profile.dupP, opts.profile.maxDelayTicks, opts.profile.lateP, 5 * opts.electionTick),
    replicas: new Map(),
    ids,
    globalConf: { voters: initialVoters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    everMember: new Set(initialVoters),
    retired: new Set(),
    reads: new Map(),
    seq: 0,
    markerApplied: null,
    markerIndex: 0,
    leaderSince: new Map(),
    lastHeard: new Map(),
    onStep: null,
    trace,
    stats: { delivered: 0, dropped: 0, crashes: 0, proposals: 0, readsServed: 0, snapshots: 0, leaders: 0, confChanges: 0 },
  };
  for (const id of ids) sim.replicas.set(id, newReplica(sim, id, initialVoters));
  for (const rep of sim.replicas.values()) startReplica(sim, rep);
  return sim;
}

/** The checks that run after every step (the others run as Readies are taken). */
export function afterStep(sim: Sim): void {
  drainReadies(sim);
  if (++sim.steps > STEP_LIMIT) violation(`step limit ${STEP_LIMIT} reached at tick ${sim.now}`);
  for (const rep of sim.replicas.values()) {
    if (rep.status !== 'up') continue;
    const raft = rep.node!.raft;
    if (raft.state === 'leader') {
      checkOneLeader(sim.g, raft.term, rep.id);
      checkQuorumStepDown(sim, rep);
    }
    const { committed, applied } = raft.raftLog;
    if (committed < rep.lastCommit) violation(`node ${rep.id}: commit went back from ${rep.lastCommit} to ${committed}`);
    if (applied < rep.lastApplied) violation(`node ${rep.id}: applied went back from ${rep.lastApplied} to ${applied}`);
    if (applied > committed) violation(`node ${rep.id}: applied ${applied} beyond commit ${committed}`);
    rep.lastCommit = committed;
    rep.lastApplied = applied;
  }
  sim.onStep?.();
}

/**
 * Check-quorum: a leader that has heard from no other replica for a few election timeouts has
 * stepped down. (It checks every election timeout; a configuration change may add a member
 * that counts as active once, hence three timeouts and not two.)
 */
function checkQuorumStepDown(sim: Sim, rep: Replica): void {
  const raft = rep.node!.raft;
  const since = sim.leaderSince.get(rep.id);
  if (!since || since.term !== raft.term || since.incarnation !== rep.incarnation) {
    sim.leaderSince.set(rep.id, { term: raft.term, incarnation: rep.incarnation, tick: sim.now });
    return;
  }
  if (!sim.opts.checkQuorum) return;
  const cs = rep.node!.confState();
  const voters = new Set([...cs.voters, ...cs.votersOutgoing]);
  voters.delete(rep.id);
  if (voters.size === 0) return; // a quorum of one is always active
  const quiet = sim.now - Math.max(since.tick, sim.lastHeard.get(rep.id) ?? Number.NEGATIVE_INFINITY);
  const bound = 3 * sim.opts.electionTick + 2;
  if (quiet > bound) violation(`check-quorum: leader ${rep.id} of term ${raft.term} heard from no replica for ${quiet} ticks and is still leader`);
}

function deliver(sim: Sim): boolean {
  const m = takeDue(sim.net, sim.rand, sim.now);
  if (!m) return false;
  const to = sim.replicas.get(m.to)!;
  const up = to.status === 'up' && !sim.net.blocked.has(`${m.from}>${m.to}`);
  if (!up) {
    sim.stats.dropped++;
    event(sim, `lost ${describeMessage(m)}`);
    if (m.type === 'MsgSnap') reportToSender(sim, m, 'snapshot-failed');
    else if (m.type === 'MsgApp') reportToSender(sim, m, 'unreachable');
  } else {
    sim.stats.delivered++;
    event(sim, `deliver ${describeMessage(m)}`);
    if (m.type === 'MsgAppResp' || m.type === 'MsgHeartbeatResp') sim.lastHeard.set(m.to, sim.now);
    to.node!.step(m);
    if (m.type === 'MsgSnap') reportToSender(sim, m, 'snapshot-ok');
  }
  afterStep(sim);
  return true;
}

/** Completes each in-flight write with probability `p` (1: all of them). */
function completeWrites(sim: Sim, p: number): void {
  for (const rep of sim.replicas.values()) {
    if (rep.status !== 'up' || rep.pending === null) continue;
    if (p < 1 && sim.rand.next() >= p) continue;
    completeReady(sim, rep, rep.pending);
    afterStep(sim);
  }
}

export function faults(sim: Sim): void {
  const p = sim.opts.profile;
  if (p.partitionP > 0 && sim.rand.next() < p.partitionP) {
    const leader = currentLeader(sim);
    if (sim.net.partition !== 'none' && sim.rand.next() < 0.4) heal(sim.net);
    else if (leader && sim.rand.next() < 0.3) isolate(sim, leader.id);
    else partition(sim.net, sim.rand, sim.ids);
    event(sim, `partition ${sim.net.partition}`);
  }
  // Leaders fail more often than the average replica: their failures are the interesting ones
  // (Figure 8 needs a leader to fail right after replicating an entry of an older term).
  const leader = currentLeader(sim);
  if (leader && p.crashP > 0 && sim.rand.next() < 2 * p.crashP) crashReplica(sim, leader);
  for (const rep of sim.replicas.values()) {
    if (rep.status === 'up' && p.crashP > 0 && sim.rand.next() < p.crashP) crashReplica(sim, rep);
    else if (rep.status === 'down' && sim.rand.next() < p.restartP) startReplica(sim, rep);
  }
}

/** Cuts one replica off from every other. */
export function isolate(sim: Sim, id: number): void {
  heal(sim.net);
  for (const other of sim.ids) {
    if (other === id) continue;
    sim.net.blocked.add(`${id}>${other}`);
    sim.net.blocked.add(`${other}>${id}`);
  }
  sim.net.partition = `isolate ${id}`;
}

export function workload(sim: Sim): void {
  const o = sim.opts;
  if (sim.rand.next() < o.proposeP) propose(sim, `v${++sim.seq}`);
  if (sim.rand.next() < o.readP) issueRead(sim);
  if (sim.rand.next() < o.transferP) transfer(sim);
  if (sim.rand.next() < o.confChangeP) changeMembership(sim);
}

/** Whether a replica's clock misses this tick (see {@link SimOptions.clockDrift}). */
function missesTick(sim: Sim, rep: Replica): boolean {
  const drift = sim.opts.clockDrift;
  if (drift === 'none' || sim.now - rep.lastMissedTick <= sim.opts.electionTick) return false;
  if (drift === 'slowLeaders') return rep.node!.raft.state === 'leader';
  return sim.rand.next() < 0.05;
}

/** One tick: actions, then every running replica ticks, then the messages due are delivered. */
export function tick(sim: Sim, actions: () => void): void {
  sim.now++;
  actions();
  for (const rep of sim.replicas.values()) {
    if (rep.status !== 'up') continue;
    if (missesTick(sim, rep)) {
      rep.lastMissedTick = sim.now;
      event(sim, `clock ${rep.id} misses a tick`);
      continue;
    }
    rep.node!.tick();
  }
  afterStep(sim);
  const first = sim.steps;
  for (;;) {
    if (sim.rand.next() < 0.1) completeWrites(sim, 0.5);
    if (!deliver(sim)) break;
    if (sim.steps - first > STEPS_PER_TICK_MAX) violation(`message storm: over ${STEPS_PER_TICK_MAX} steps in tick ${sim.now} without the group settling`);
  }
  completeWrites(sim, 0.5);
}

/** The faults stop: the network is made reliable and immediate, every replica runs again. */
export function healAll(sim: Sim): void {
  heal(sim.net);
  sim.net.dropP = 0;
  sim.net.dupP = 0;
  sim.net.maxDelayTicks = 0;
  sim.net.lateP = 0;
  event(sim, `heal${sim.opts.coldRestart ? ' with a cold restart of every replica' : ''}`);
  if (sim.opts.coldRestart) {
    for (const rep of sim.replicas.values()) if (rep.status === 'up') crashReplica(sim, rep);
  }
  for (const rep of sim.replicas.values()) if (rep.status === 'down') startReplica(sim, rep);
  afterStep(sim);
}

/** After the heal: a leader must emerge and commit a new proposal within the bound. */
export function recover(sim: Sim): number {
  const healedAt = sim.now;
  const bound = sim.opts.livenessBoundTicks;
  let lastTry = Number.NEGATIVE_INFINITY;
  let k = 0;
  while (sim.markerApplied === null) {
    if (sim.now - healedAt >= bound) {
      const leader = currentLeader(sim);
      violation(
        `liveness: ${bound} ticks after the heal, ${leader ? `leader ${leader.id} has not committed a new proposal` : 'there is no leader'}`,
      );
    }
    tick(sim, () => {
      const leader = currentLeader(sim);
      // Retry now and then: a proposal may be lost with a leader that is deposed.
      if (leader && sim.now - lastTry >= sim.opts.electionTick) {
        lastTry = sim.now;
        propose(sim, `marker${++k}`, leader);
      }
    });
  }
  return sim.now - healedAt;
}

/**
 * After the recovery every running member (voter or learner of the applied configuration)
 * applies the new proposal too, within a bound: no follower is left stalled behind.
 */
export function catchUp(sim: Sim): void {
  const bound = 20 * sim.opts.electionTick;
  const members = () => {
    const cs = sim.globalConf;
    return [...cs.voters, ...cs.learners, ...cs.votersOutgoing, ...cs.learnersNext];
  };
  for (let t = 0; ; t++) {
    const behind = members().filter((id) => {
      const rep = sim.replicas.get(id)!;
      return rep.status === 'up' && rep.sm.index < sim.markerIndex;
    });
    if (behind.length === 0) return;
    if (t >= bound) {
      const r = sim.replicas.get(behind[0])!;
      violation(`catch-up: ${bound} ticks after ${sim.markerApplied} committed at ${sim.markerIndex}, member ${r.id} has applied only up to ${r.sm.index}`);
    }
    tick(sim, () => {});
  }
}

/**
 * Runs `body` over a fresh simulation and packs the outcome. Never throws: a broken invariant
 * or an exception of the core ends up in the result, with the command that replays it.
 */
export function runWith(
  core: SimCore,
  opts: SimOptions,
  trace: ((line: string) => void) | null,
  replay: string,
  body: (sim: Sim) => number,
): SimResult {
  let sim: Sim | undefined;
  let error: string | undefined;
  let recoveryTicks = -1;
  try {
    sim = newSim(core, opts, trace);
    recoveryTicks = body(sim);
  } catch (err) {
    const e = err as Error;
    error = err instanceof InvariantViolation ? e.message : `core threw ${e?.name}: ${e?.message}\n${e?.stack ?? ''}`;
    if (sim) error = `${error} (tick ${sim.now}, step ${sim.steps})`;
  }
  return {
    seed: opts.seed,
    ok: error === undefined,
    error,
    hash: sim ? hex32(sim.hash) : '',
    steps: sim?.steps ?? 0,
    ticks: sim?.now ?? 0,
    recoveryTicks,
    replay,
    stats: sim?.stats ?? { delivered: 0, dropped: 0, crashes: 0, proposals: 0, readsServed: 0, snapshots: 0, leaders: 0, confChanges: 0 },
  };
}

/** Runs one randomized simulation: workload under faults, then heal and recover. */
export function runSimulation(core: SimCore, opts: SimOptions, trace: ((line: string) => void) | null = null): SimResult {
  return runWith(core, opts, trace, replayCommand(opts.seed), (sim) => {
    for (let t = 0; t < opts.faultTicks; t++) {
      tick(sim, () => {
        faults(sim);
        workload(sim);
      });
    }
    healAll(sim);
    const recoveryTicks = recover(sim);
    catchUp(sim);
    return recoveryTicks;
  });
}

/** Runs the simulation `seed` names (see {@link optionsForSeed}). */
export function runSeed(core: SimCore, seed: number, trace: ((line: string) => void) | null = null): SimResult {
  return runSimulation(core, optionsForSeed(seed), trace);
}

/** Runs seeds [from, from+count) and returns every result. */
export function runSeeds(core: SimCore, from: number, count: number): SimResult[] {
  const out: SimResult[] = [];
  for (let s = from; s < from + count; s++) out.push(runSeed(core, s));
  return out;
}

