/**
 * What clients do to the group: proposals with unique payloads, ReadIndex reads, leader
 * transfers and membership changes. Refusals (no leader, a change pending ...) are expected and
 * recorded in the trace; anything else the core throws fails the run.
 */
import type { ConfChange, ConfChangeSingle, RawNode } from './core.ts';
import type { Replica, Sim } from './replica.ts';
import { event } from './replica.ts';

const enc = new TextEncoder();

function upReplicas(sim: Sim): Replica[] {
  return [...sim.replicas.values()].filter((r) => r.status === 'up');
}

/** The running leader of the highest term, if any. */
export function currentLeader(sim: Sim): Replica | undefined {
  let best: Replica | undefined;
  for (const r of sim.replicas.values()) {
    if (r.status !== 'up' || r.node!.raft.state !== 'leader') continue;
    if (!best || r.node!.raft.term > best.node!.raft.term) best = r;
  }
  return best;
}

/** Runs `fn`, turning the core's typed refusals into a trace line. */
function attempt(sim: Sim, what: string, fn: () => void): boolean {
  try {
    fn();
    event(sim, `${what} ok`);
    return true;
  } catch (err) {
    if (err instanceof sim.core.RaftError) {
      const reason = (err as { reason?: string }).reason;
      event(sim, `${what} refused ${err.code}${reason ? `/${reason}` : ''}`);
      return false;
    }
    throw err;
  }
}

/**
 * A replica for a client request: with probability `leaderBias` one that believes it leads (a
 * deposed leader that does not know it yet is the interesting one), else any running replica.
 */
function pickTarget(sim: Sim, leaderBias: number): Replica | undefined {
  const up = upReplicas(sim);
  const leaders = up.filter((r) => r.node!.raft.state === 'leader');
  if (leaders.length > 0 && sim.rand.next() < leaderBias) return leaders[sim.rand.int(leaders.length)];
  return up.length > 0 ? up[sim.rand.int(up.length)] : undefined;
}

export function propose(sim: Sim, payload: string, target?: Replica): boolean {
  const rep = target ?? pickTarget(sim, 0.7);
  if (!rep) return false;
  sim.stats.proposals++;
  return attempt(sim, `propose ${payload} on ${rep.id}`, () => rep.node!.propose(enc.encode(payload)));
}

/** Issues a read on `target` (default: a random replica, leaders preferred); lease mode when `lease` or by chance. */
export function issueRead(sim: Sim, target?: Replica, lease?: boolean): void {
  const rep = target ?? pickTarget(sim, 0.5);
  if (!rep) return;
  const ctx = `r${++sim.seq}`;
  lease ??= sim.opts.leaseReads && sim.rand.next() < 0.5;
  sim.reads.set(ctx, { id: rep.id, minIndex: sim.g.maxCommitted, issuedTick: sim.now });
  attempt(sim, `read ${ctx} on ${rep.id}${lease ? ' (lease)' : ''}`, () => rep.node!.readIndex(enc.encode(ctx), lease ? 'lease' : 'safe'));
}

export function transfer(sim: Sim): void {
  const leader = currentLeader(sim);
  if (!leader) return;
  const voters = leader.node!.confState().voters.filter((id) => id !== leader.id);
  if (voters.length === 0) return;
  const to = voters[sim.rand.int(voters.length)];
  attempt(sim, `transfer ${leader.id}->${to}`, () => leader.node!.transferLeader(to));
}

/** A random membership change the leader's configuration allows (some are refused anyway; that is tested too). */
function randomChange(sim: Sim, node: RawNode): ConfChange | undefined {
  const cs = node.confState();
  if (cs.votersOutgoing.length > 0) return cs.autoLeave ? undefined : { transition: 'auto', changes: [] };
  const members = new Set([...cs.voters, ...cs.learners]);
  const spares = sim.ids.filter((id) => !members.has(id) && !sim.retired.has(id) && sim.replicas.get(id)!.status !== 'decommissioned');
  const options: ConfChangeSingle[][] = [];
  for (const id of spares) options.push([{ type: 'addLearner', nodeId: id }]);
  for (const id of cs.learners) options.push([{ type: 'addNode', nodeId: id }], [{ type: 'removeNode', nodeId: id }]);
  if (cs.voters.length >= 3) {
    for (const id of cs.voters) options.push([{ type: 'removeNode', nodeId: id }], [{ type: 'addLearner', nodeId: id }]);
    for (const add of [...spares, ...cs.learners]) {
      for (const rm of cs.voters) options.push([{ type: 'addNode', nodeId: add }, { type: 'removeNode', nodeId: rm }]);
    }
  }
  if (options.length === 0) return undefined;
  const changes = options[sim.rand.int(options.length)];
  const transition = changes.length > 1 || sim.rand.next() < 0.2 ? (['auto', 'joint', 'jointExplicit'] as const)[sim.rand.int(3)] : 'auto';
  return { transition, changes };
}

export function changeMembership(sim: Sim): void {
  const leader = currentLeader(sim);
  if (!leader) return;
  const cc = randomChange(sim, leader.node!);
  if (!cc) return;
  for (const c of cc.changes) if (c.type === 'removeNode') sim.retired.add(c.nodeId);
  const desc = cc.changes.length === 0 ? 'leave-joint' : cc.changes.map((c) => `${c.type}(${c.nodeId})`).join('+');
  if (attempt(sim, `confchange ${desc} ${cc.transition} on ${leader.id}`, () => leader.node!.proposeConfChange(cc))) sim.stats.confChanges++;
}
