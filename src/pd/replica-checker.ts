/**
 * The replica checker (TiKV's `ReplicaChecker`/rule checker): brings each region back to
 * `replicationFactor` healthy voters on `up` stores, one membership step at a time, and carries
 * every multi-step move (a balance move, a repair) through its later steps. The steps are read
 * off the region's shape, so a move survives a PD restart or a lost operator:
 *
 * 1. a learner on a lost or unusable store, or pending for over `learnerCatchUpMs`, is removed;
 * 2. a caught-up learner (not pending) is promoted; a pending one is waited for;
 * 3. too few good voters (healthy enough to keep, on an `up` store): a learner is added on the
 *    usable store without a replica of the region that has the fewest replicas;
 * 4. with more voters than `replicationFactor`, one is removed: a lost voter first, then one on
 *    a store that is not `up`, then the one on the store with the most replicas. A leader is never
 *    removed; its leadership is transferred first.
 *
 * No step is taken that would leave the region's healthy voters short of a majority.
 */
import type { Peer } from '../region/types.ts';
import type { PdConfig } from './config.ts';
import { incarnationOf, isPeerHealthy, isPeerLost, isStoreUsable, keepsHealthyMajority, leaderCounts, regionsById, replicaCounts, usableStoreIds } from './health.ts';
import type { IdAllocator, Instruction } from './instructions.ts';
import type { ClusterView, PdRegionInfo, StoreState } from './types.ts';

/** A store's state, `up` for one not heard from yet (isPeerLost judges those: down once the view is warm). */
function stateOf(view: ClusterView, storeId: number): StoreState {
  return view.stores.get(storeId)?.state ?? 'up';
}

/** Counts shared by every region of one pass, so that the choices of one region inform the next. */
interface PassCounts {
  replicas: Map<number, number>;
  leaders: Map<number, number>;
}

/**
 * Replica repair and move continuation for every region without an operator in flight: at most
 * one instruction per region, by ascending region id.
 * @param view - the cluster view.
 * @param config - the configuration (`replicationFactor`, `storeDownMs`, `lowSpaceRatio`).
 * @param allocId - allocates the peer id of an added learner.
 */
export function checkReplicas(view: ClusterView, config: PdConfig, allocId: IdAllocator): Instruction[] {
  const counts: PassCounts = { replicas: replicaCounts(view), leaders: leaderCounts(view) };
  const out: Instruction[] = [];
  for (const info of regionsById(view)) {
    if (view.operators.has(info.region.id)) continue;
    const instruction = checkRegionReplicas(view, info, config, allocId, counts);
    if (instruction !== undefined) out.push(instruction);
  }
  return out;
}

/**
 * The next replica step of one region, or undefined when it needs none (or none is safe now).
 * @param view - the cluster view.
 * @param info - the region.
 * @param config - the configuration.
 * @param allocId - allocates the peer id of an added learner.
 * @param counts - replica and leader counts per store; updated with the step chosen.
 */
function checkRegionReplicas(view: ClusterView, info: PdRegionInfo, config: PdConfig, allocId: IdAllocator, counts: PassCounts): Instruction | undefined {
  const { region } = info;
  const base = { regionId: region.id, epoch: { ...region.epoch } };
  const learners = region.peers.filter((p) => p.role === 'learner');
  for (const learner of learners) {
    const stuck = view.nowMs - (info.pendingSinceMs.get(learner.id) ?? view.nowMs) > config.learnerCatchUpMs;
    // A store not heard from yet is judged by isPeerLost alone (down once the view is warm).
    const unusable = view.stores.has(learner.storeId) && !isStoreUsable(view, learner.storeId, config);
    if (stuck || unusable || isPeerLost(view, info, learner, config)) {
      return { type: 'removePeer', ...base, peerId: learner.id };
    }
  }
  if (learners.length > 0) {
    const ready = learners.find((l) => !info.pendingPeers.some((p) => p.id === l.id));
    if (ready === undefined || !keepsHealthyMajority(view, info, { promotePeerId: ready.id }, config)) return undefined;
    return { type: 'promoteLearner', ...base, peerId: ready.id };
  }
  const voters = region.peers.filter((p) => p.role === 'voter');
  const isGood = (p: Peer) => !isPeerLost(view, info, p, config) && stateOf(view, p.storeId) === 'up';
  const good = voters.filter(isGood);
  if (good.length < config.replicationFactor) {
    const storeId = pickStoreForReplica(view, config, new Set(region.peers.map((p) => p.storeId)), counts.replicas);
    if (storeId !== undefined) {
      counts.replicas.set(storeId, (counts.replicas.get(storeId) ?? 0) + 1);
      return { type: 'addLearner', ...base, storeId, peerId: allocId(), ...incarnationOf(view, storeId) };
    }
  }
  // With no surplus there is nothing to remove: a bad voter waits for its replacement (above).
  if (voters.length <= config.replicationFactor) return undefined;
  const victim = pickVoterToRemove(view, info, config, voters, counts.replicas);
  if (victim.id === info.leader.id) return transferLeaderAway(view, info, config, counts.leaders);
  if (!keepsHealthyMajority(view, info, { removePeerId: victim.id }, config)) return undefined;
  counts.replicas.set(victim.storeId, (counts.replicas.get(victim.storeId) ?? 1) - 1);
  return { type: 'removePeer', ...base, peerId: victim.id };
}

/**
 * The usable store outside `exclude` with the fewest replicas (lowest id on a tie), or undefined.
 * @param view - the cluster view.
 * @param config - the configuration.
 * @param exclude - stores that must not be chosen (those already hosting the region).
 * @param replicas - replicas per store.
 */
export function pickStoreForReplica(view: ClusterView, config: PdConfig, exclude: ReadonlySet<number>, replicas: ReadonlyMap<number, number>): number | undefined {
  let best: number | undefined;
  for (const id of usableStoreIds(view, config)) {
    if (exclude.has(id)) continue;
    if (best === undefined || (replicas.get(id) ?? 0) < (replicas.get(best) ?? 0)) best = id;
  }
  return best;
}

/** The voter to remove among `candidates`: lost first, then on a non-`up` store, then on the store with the most replicas (highest id on a tie). */
function pickVoterToRemove(view: ClusterView, info: PdRegionInfo, config: PdConfig, candidates: Peer[], replicas: ReadonlyMap<number, number>): Peer {
  const rank = (p: Peer) => (isPeerLost(view, info, p, config) ? 0 : stateOf(view, p.storeId) !== 'up' ? 1 : 2);
  return [...candidates].sort((a, b) => rank(a) - rank(b) || (replicas.get(b.storeId) ?? 0) - (replicas.get(a.storeId) ?? 0) || b.storeId - a.storeId)[0];
}

/**
 * A transfer of the region's leadership to its healthy voter on a usable store with the fewest
 * leaders (lowest store id on a tie), or undefined when it has none.
 * @param view - the cluster view.
 * @param info - the region.
 * @param config - the configuration.
 * @param leaders - leaders per store; updated with the transfer chosen.
 */
export function transferLeaderAway(view: ClusterView, info: PdRegionInfo, config: PdConfig, leaders: Map<number, number>): Instruction | undefined {
  const targets = info.region.peers.filter(
    (p) => p.role === 'voter' && p.id !== info.leader.id && isPeerHealthy(view, info, p, config) && isStoreUsable(view, p.storeId, config),
  );
  if (targets.length === 0) return undefined;
  const to = targets.sort((a, b) => (leaders.get(a.storeId) ?? 0) - (leaders.get(b.storeId) ?? 0) || a.storeId - b.storeId)[0];
  leaders.set(to.storeId, (leaders.get(to.storeId) ?? 0) + 1);
  leaders.set(info.leader.storeId, (leaders.get(info.leader.storeId) ?? 1) - 1);
  return { type: 'transferLeader', regionId: info.region.id, epoch: { ...info.region.epoch }, toStoreId: to.storeId, toPeerId: to.id };
}

