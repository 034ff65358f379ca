/**
 * The initial regions of a new cluster: the key space cut at the given keys, each region placed
 * on `replicas` stores (rotating, so that regions spread evenly), with fresh region and peer ids.
 */
import { encodeUtf8 } from '../src/codec/utf8.ts';
import { InvalidArgumentError } from '../src/errors.ts';
import { compareKeys } from '../src/region/keys.ts';
import type { Region } from '../src/region/types.ts';

/**
 * Builds the initial regions.
 * @param storeIds - the stores of the cluster.
 * @param splitKeys - where to cut the key space (any order; duplicates and empty keys refused).
 * @param replicas - replicas per region (at most the number of stores).
 */
export function initialRegions(storeIds: readonly number[], splitKeys: ReadonlyArray<string | Uint8Array>, replicas: number): Region[] {
  if (!Number.isSafeInteger(replicas) || replicas < 1 || replicas > storeIds.length) {
    throw new InvalidArgumentError('replicas', `must be between 1 and the number of stores (${storeIds.length}), got ${replicas}`);
  }
  const keys = splitKeys.map((k) => (typeof k === 'string' ? encodeUtf8(k) : k)).sort(compareKeys);
  for (let i = 0; i < keys.length; i++) {
    if (keys[i].length === 0) throw new InvalidArgumentError('initialSplitKeys', 'a split key may not be empty');
    if (i > 0 && compareKeys(keys[i - 1], keys[i]) === 0) throw new InvalidArgumentError('initialSplitKeys', 'split keys must be distinct');
  }
  const bounds = [new Uint8Array(0), ...keys, new Uint8Array(0)];
  let peerId = 0;
  const regions: Region[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const stores = Array.from({ length: replicas }, (_, k) => storeIds[(i + k) % storeIds.length]).sort((a, b) => a - b);
    regions.push({
      id: i + 1,
      startKey: bounds[i],
      endKey: bounds[i + 1],
      epoch: { confVer: 1, version: 1 },
      peers: stores.map((storeId) => ({ id: ++peerId, storeId, role: 'voter' as const })),
    });
  }
  return regions;
}
