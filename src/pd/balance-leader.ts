/**
 * The leader balance scheduler (TiKV's `balance-leader`, RheaKV's PD leader balancing): moves
 * leaders from the usable store with the most to one with the fewest, each to a store that holds
 * a healthy voter of the region, until the leader counts of the usable stores differ by at most
 * `leaderBalanceTolerance` or no move narrows the spread. Never to a down, offline or full store;
 * nothing moves until the view is warm (`isViewWarm`).
 */
import type { PdConfig } from './config.ts';
import { isPeerHealthy, isViewWarm, leaderCounts, regionsById, usableStoreIds } from './health.ts';
import type { Instruction } from './instructions.ts';
import type { ClusterView, PdRegionInfo } from './types.ts';

/**
 * `transferLeader` instructions that even out leaders, counting the transfers planned in this
 * pass; at most one per region, none for a region with an operator in flight. A transfer from S
 * to T is made only when S leads at least two more regions than T.
 * @param view - the cluster view.
 * @param config - the configuration.
 */
export function balanceLeaders(view: ClusterView, config: PdConfig): Instruction[] {
  // A view still filling up (a new PD leader) would count leaders short.
  if (!isViewWarm(view, config)) return [];
  const stores = usableStoreIds(view, config);
  if (stores.length < 2) return [];
  const usable = new Set(stores);
  const all = leaderCounts(view);
  const counts = new Map(stores.map((id) => [id, all.get(id) ?? 0]));
  const regions = regionsById(view).filter((info) => !view.operators.has(info.region.id) && usable.has(info.leader.storeId));
  const moved = new Set<number>();
  const out: Instruction[] = [];
  for (;;) {
    const order = [...stores].sort((a, b) => counts.get(a)! - counts.get(b)! || a - b);
    if (counts.get(order[order.length - 1])! - counts.get(order[0])! <= config.leaderBalanceTolerance) break;
    const move = findTransfer(view, config, order, counts, regions, moved);
    if (move === undefined) break;
    const { info, to } = move;
    moved.add(info.region.id);
    counts.set(info.leader.storeId, counts.get(info.leader.storeId)! - 1);
    counts.set(to.storeId, counts.get(to.storeId)! + 1);
    out.push({ type: 'transferLeader', regionId: info.region.id, epoch: { ...info.region.epoch }, toStoreId: to.storeId, toPeerId: to.id });
  }
  return out;
}

/** The transfer off the store with the most leaders (then the next) to the voter store with the fewest, if one narrows the spread. */
function findTransfer(view: ClusterView, config: PdConfig, order: number[], counts: Map<number, number>, regions: PdRegionInfo[], moved: Set<number>) {
  for (let hi = order.length - 1; hi > 0; hi--) {
    const from = order[hi];
    let best: { info: PdRegionInfo; to: { id: number; storeId: number } } | undefined;
    for (const info of regions) {
      if (moved.has(info.region.id) || info.leader.storeId !== from) continue;
      for (const p of info.region.peers) {
        if (p.role !== 'voter' || p.storeId === from || !counts.has(p.storeId) || !isPeerHealthy(view, info, p, config)) continue;
        if (counts.get(from)! - counts.get(p.storeId)! < 2) continue;
        if (best === undefined || counts.get(p.storeId)! < counts.get(best.to.storeId)!) best = { info, to: p };
      }
    }
    if (best !== undefined) return best;
  }
  return undefined;
}
