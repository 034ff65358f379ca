/**
 * The region balance scheduler (TiKV's `balance-region`): evens out replicas over the usable
 * stores, so that a store that joins takes its share. A move starts by adding a learner on the
 * store with the fewest replicas for a region on the store with the most; the replica checker
 * then promotes the learner once it caught up and removes the surplus voter from the most loaded
 * store. Only settled regions move: exactly `replicationFactor` voters, no learner, no down or
 * pending peer and no operator in flight. Nothing moves until the view is warm (`isViewWarm`).
 */
import type { PdConfig } from './config.ts';
import { incarnationOf, isPeerLost, isViewWarm, regionsById, replicaCounts, usableStoreIds } from './health.ts';
import type { IdAllocator, Instruction } from './instructions.ts';
import type { ClusterView, PdRegionInfo } from './types.ts';

function isMovable(view: ClusterView, info: PdRegionInfo, config: PdConfig): boolean {
  const { peers } = info.region;
  return (
    !view.operators.has(info.region.id) &&
    info.downPeers.length === 0 &&
    info.pendingPeers.length === 0 &&
    peers.length === config.replicationFactor &&
    peers.every((p) => p.role === 'voter' && !isPeerLost(view, info, p, config))
  );
}

/**
 * `addLearner` instructions that start moving replicas from the most to the least loaded usable
 * stores until their replica counts differ by at most `replicaBalanceTolerance` (counting the
 * moves planned in this pass), or no region can move. A move from S to T is made only when S
 * holds at least two more replicas than T, so that it always narrows the spread.
 * @param view - the cluster view.
 * @param config - the configuration.
 * @param allocId - allocates the peer id of each added learner.
 */
export function balanceReplicas(view: ClusterView, config: PdConfig, allocId: IdAllocator): Instruction[] {
  // A view still filling up (a new PD leader) would count replicas short.
  if (!isViewWarm(view, config)) return [];
  const stores = usableStoreIds(view, config);
  if (stores.length < 2) return [];
  const all = replicaCounts(view);
  const counts = new Map(stores.map((id) => [id, all.get(id) ?? 0]));
  const regions = regionsById(view).filter((info) => isMovable(view, info, config));
  const moved = new Set<number>();
  const out: Instruction[] = [];
  for (;;) {
    const order = [...stores].sort((a, b) => counts.get(a)! - counts.get(b)! || a - b);
    if (counts.get(order[order.length - 1])! - counts.get(order[0])! <= config.replicaBalanceTolerance) break;
    const move = findMove(order, counts, regions, moved);
    if (move === undefined) break;
    const { info, from, to } = move;
    moved.add(info.region.id);
    counts.set(from, counts.get(from)! - 1);
    counts.set(to, counts.get(to)! + 1);
    out.push({ type: 'addLearner', regionId: info.region.id, epoch: { ...info.region.epoch }, storeId: to, peerId: allocId(), ...incarnationOf(view, to) });
  }
  return out;
}

/** The first region (by id) on the most loaded store that can move to the least loaded store, trying pairs from the widest gap inwards. */
function findMove(order: number[], counts: Map<number, number>, regions: PdRegionInfo[], moved: Set<number>): { info: PdRegionInfo; from: number; to: number } | undefined {
  for (let hi = order.length - 1; hi > 0; hi--) {
    for (let lo = 0; lo < hi; lo++) {
      const from = order[hi];
      const to = order[lo];
      if (counts.get(from)! - counts.get(to)! < 2) break;
      const info = regions.find((r) => !moved.has(r.region.id) && r.region.peers.some((p) => p.storeId === from) && !r.region.peers.some((p) => p.storeId === to));
      if (info !== undefined) return { info, from, to };
    }
  }
  return undefined;
}
