/**
 * Queries over a {@link ClusterView} that every scheduling rule shares: which stores are down or
 * may take new replicas, which peers are healthy or lost, replica and leader counts per store, and
 * the quorum check that keeps any membership change from costing a region its healthy majority.
 */
import type { Peer } from '../region/types.ts';
import type { PdConfig } from './config.ts';
import type { ClusterView, PdRegionInfo } from './types.ts';

/**
 * True when the store is tombstone or silent for longer than `storeDownMs`. A store the view has
 * never heard from is silent since the view started ({@link isViewWarm}).
 * @param view - the cluster view.
 * @param storeId - a store id.
 * @param config - the configuration giving `storeDownMs`.
 */
export function isStoreDown(view: ClusterView, storeId: number, config: PdConfig): boolean {
  const store = view.stores.get(storeId);
  if (store === undefined) return isViewWarm(view, config);
  return store.state === 'tombstone' || view.nowMs - store.lastHeartbeatMs > config.storeDownMs;
}

/**
 * True once the view has collected heartbeats for longer than `storeDownMs`: every live store has
 * reported by then, so a silent one is down and counts per store are complete enough to balance.
 * @param view - the cluster view.
 * @param config - the configuration giving `storeDownMs`.
 */
export function isViewWarm(view: ClusterView, config: PdConfig): boolean {
  return view.nowMs - view.startedMs > config.storeDownMs;
}

/**
 * True when the store may receive new replicas and leaders: it is `up`, not down, and not short of
 * space (used share of a known capacity at most `lowSpaceRatio`).
 * @param view - the cluster view.
 * @param storeId - a store id.
 * @param config - the configuration.
 */
export function isStoreUsable(view: ClusterView, storeId: number, config: PdConfig): boolean {
  const store = view.stores.get(storeId);
  if (store === undefined || store.state !== 'up' || isStoreDown(view, storeId, config)) return false;
  const { capacityBytes, availableBytes } = store.heartbeat;
  return capacityBytes <= 0 || (capacityBytes - availableBytes) / capacityBytes <= config.lowSpaceRatio;
}

/**
 * The stores that may take new replicas and leaders, by ascending id.
 * @param view - the cluster view.
 * @param config - the configuration.
 */
export function usableStoreIds(view: ClusterView, config: PdConfig): number[] {
  return [...view.stores.keys()].filter((id) => isStoreUsable(view, id, config)).sort((a, b) => a - b);
}

/**
 * True when the peer is gone for scheduling purposes and should be replaced: its store is down,
 * or its leader has not heard from it for `storeDownMs`.
 * @param view - the cluster view.
 * @param info - the peer's region.
 * @param peer - one of `info.region.peers`.
 * @param config - the configuration.
 */
export function isPeerLost(view: ClusterView, info: PdRegionInfo, peer: Peer, config: PdConfig): boolean {
  if (isStoreDown(view, peer.storeId, config)) return true;
  return info.downPeers.some((d) => d.peer.id === peer.id && d.downSeconds * 1000 >= config.storeDownMs);
}

/**
 * True when the peer is working now: its store is not down and its leader reports it neither down
 * (for any time) nor pending. Only healthy voters count towards a safe quorum or take leadership.
 * @param view - the cluster view.
 * @param info - the peer's region.
 * @param peer - one of `info.region.peers`.
 * @param config - the configuration.
 */
export function isPeerHealthy(view: ClusterView, info: PdRegionInfo, peer: Peer, config: PdConfig): boolean {
  if (isStoreDown(view, peer.storeId, config)) return false;
  if (info.downPeers.some((d) => d.peer.id === peer.id)) return false;
  return !info.pendingPeers.some((p) => p.id === peer.id);
}

/**
 * True when the region's healthy voters would still be a majority of its voters after removing
 * `removePeerId` and promoting `promotePeerId` (either may be absent). Raft needs that majority
 * to commit anything, including the change after this one.
 * @param view - the cluster view.
 * @param info - the region.
 * @param change - the peer to remove and/or the learner to promote.
 * @param config - the configuration.
 */
export function keepsHealthyMajority(view: ClusterView, info: PdRegionInfo, change: { removePeerId?: number; promotePeerId?: number }, config: PdConfig): boolean {
  const voters = info.region.peers.filter((p) => p.id !== change.removePeerId && (p.role === 'voter' || p.id === change.promotePeerId));
  const healthy = voters.filter((p) => isPeerHealthy(view, info, p, config)).length;
  return voters.length > 0 && healthy >= Math.floor(voters.length / 2) + 1;
}

/**
 * Replicas (voters and learners) per store over every region in the view; every store of the
 * view appears, with 0 when it hosts none.
 * @param view - the cluster view.
 */
export function replicaCounts(view: ClusterView): Map<number, number> {
  const counts = new Map<number, number>();
  for (const id of view.stores.keys()) counts.set(id, 0);
  for (const info of view.regions.values()) for (const p of info.region.peers) counts.set(p.storeId, (counts.get(p.storeId) ?? 0) + 1);
  return counts;
}

/**
 * Region leaders per store, from the region heartbeats (store heartbeats lag behind them); every
 * store of the view appears, with 0 when it leads none.
 * @param view - the cluster view.
 */
export function leaderCounts(view: ClusterView): Map<number, number> {
  const counts = new Map<number, number>();
  for (const id of view.stores.keys()) counts.set(id, 0);
  for (const info of view.regions.values()) counts.set(info.leader.storeId, (counts.get(info.leader.storeId) ?? 0) + 1);
  return counts;
}

/**
 * The regions of the view by ascending id: the order every rule visits them in, so a decision
 * never depends on map insertion order.
 * @param view - the cluster view.
 */
export function regionsById(view: ClusterView): PdRegionInfo[] {
  return [...view.regions.values()].sort((a, b) => a.region.id - b.region.id);
}

/**
 * The view with `gapMs` of PD's own time struck out: every heartbeat, pending-since and operator
 * time moves forward by the gap, as does the view's start. For a PD leader whose process was
 * stopped (or whose loop was blocked) that long: the stores did not fall silent, it did — their
 * heartbeats wait unread in its sockets — so the pause must not make them look down, nor time out
 * operators that were running fine.
 * @param view - the cluster view.
 * @param gapMs - the length of the pause, in PD time (ms), at least 0.
 */
export function discountPause(view: ClusterView, gapMs: number): ClusterView {
  if (!(gapMs > 0)) return view;
  const stores = new Map([...view.stores].map(([id, s]) => [id, { ...s, lastHeartbeatMs: s.lastHeartbeatMs + gapMs }]));
  const regions = new Map(
    [...view.regions].map(([id, r]) => [id, { ...r, lastHeartbeatMs: r.lastHeartbeatMs + gapMs, pendingSinceMs: new Map([...r.pendingSinceMs].map(([p, ms]) => [p, ms + gapMs])) }]),
  );
  const operators = new Map([...view.operators].map(([id, o]) => [id, { ...o, issuedMs: o.issuedMs + gapMs }]));
  return { ...view, startedMs: view.startedMs + gapMs, stores, regions, operators };
}

/** The target store's incarnation as its latest heartbeat gave it, for an `addLearner` instruction. */
export function incarnationOf(view: ClusterView, storeId: number): { incarnation?: string } {
  const incarnation = view.stores.get(storeId)?.heartbeat.incarnation;
  return incarnation === undefined ? {} : { incarnation };
}
