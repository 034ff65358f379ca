/**
 * The split and merge checkers: a region grown over a threshold is split, and small adjacent
 * regions are merged, so that regions stay between the merge and the split sizes.
 *
 * Split (RheaKV's `leastKeysOnSplit`, TiKV's `region-split-keys`/`region-max-size`): a region
 * whose leader reports at least `splitKeys` keys or `splitBytes` bytes is told to split. PD
 * allocates the right half's region id and peer ids; the leader picks the middle key.
 *
 * Merge (TiKV's `MergeChecker`): a small region merges into a small adjacent neighbour when both
 * have their peers on the same stores with the same roles and both are settled (no operator in
 * flight, no learner, no down or pending peer). Regions pair up in key order, each with its right
 * neighbour, which is the target and survives with the union of the ranges. Two small regions
 * stay below the split thresholds together, since `resolvePdConfig` keeps the merge thresholds at
 * most half the split ones, so a split never undoes a merge.
 */
import { compareKeys, keysEqual } from '../region/keys.ts';
import type { Region } from '../region/types.ts';
import type { PdConfig } from './config.ts';
import { regionsById } from './health.ts';
import type { IdAllocator, Instruction } from './instructions.ts';
import type { ClusterView, PdRegionInfo } from './types.ts';

/**
 * True when the region is over a split threshold.
 * @param info - the region with its latest statistics.
 * @param config - the configuration (`splitKeys`, `splitBytes`).
 */
export function needsSplit(info: PdRegionInfo, config: PdConfig): boolean {
  return info.approximateKeys >= config.splitKeys || info.approximateBytes >= config.splitBytes;
}

/**
 * A `splitRegion` instruction for every region over a threshold without an operator in flight,
 * by ascending region id. No split key is given: the leader splits at the middle key by count.
 * @param view - the cluster view.
 * @param config - the configuration.
 * @param allocId - allocates the right half's region id, then one peer id per peer.
 */
export function checkSplit(view: ClusterView, config: PdConfig, allocId: IdAllocator): Instruction[] {
  const out: Instruction[] = [];
  for (const info of regionsById(view)) {
    if (view.operators.has(info.region.id) || !needsSplit(info, config)) continue;
    const newRegionId = allocId();
    out.push({
      type: 'splitRegion',
      regionId: info.region.id,
      epoch: { ...info.region.epoch },
      newRegionId,
      newPeerIds: info.region.peers.map(() => allocId()),
    });
  }
  return out;
}

/**
 * True when the region is below both merge thresholds.
 * @param info - the region with its latest statistics.
 * @param config - the configuration (`mergeKeys`, `mergeBytes`).
 */
export function isSmallRegion(info: PdRegionInfo, config: PdConfig): boolean {
  return info.approximateKeys < config.mergeKeys && info.approximateBytes < config.mergeBytes;
}

function placement(region: Region): string {
  return region.peers
    .map((p) => `${p.storeId}:${p.role}`)
    .sort()
    .join(',');
}

function isSettled(view: ClusterView, info: PdRegionInfo): boolean {
  return (
    !view.operators.has(info.region.id) &&
    info.downPeers.length === 0 &&
    info.pendingPeers.length === 0 &&
    info.region.peers.every((p) => p.role === 'voter')
  );
}

/**
 * `mergeRegions` instructions for pairs of small, settled, adjacent regions on the same stores;
 * each region in at most one pair, paired in key order with its right neighbour.
 * @param view - the cluster view.
 * @param config - the configuration.
 */
export function checkMerge(view: ClusterView, config: PdConfig): Instruction[] {
  const sorted = [...view.regions.values()].sort((a, b) => compareKeys(a.region.startKey, b.region.startKey));
  const out: Instruction[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const source = sorted[i];
    const target = sorted[i + 1];
    if (!isSmallRegion(source, config) || !isSettled(view, source) || !isSmallRegion(target, config) || !isSettled(view, target)) continue;
    if (!keysEqual(source.region.endKey, target.region.startKey)) continue;
    if (placement(source.region) !== placement(target.region)) continue;
    i++; // the target is taken
    out.push({
      type: 'mergeRegions',
      sourceId: source.region.id,
      targetId: target.region.id,
      epochs: { source: { ...source.region.epoch }, target: { ...target.region.epoch } },
    });
  }
  return out;
}
