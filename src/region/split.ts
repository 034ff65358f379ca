/**
 * The pure rules of region split and merge (TiKV's and RheaKV's). They compute the regions that a
 * split or merge log entry produces when applied; the store applies them and starts or retires
 * Raft groups. User data never moves: it lives once under the data prefix of the shared engine.
 */
import { InvalidArgumentError, TooSmallToSplitError } from '../errors.ts';
import { validateRegion } from './epoch.ts';
import { compareKeys, keyInRegion, keysEqual } from './keys.ts';
import { cloneRegion, type Region } from './types.ts';

/** The two regions a split produces. */
export interface SplitResult {
  /** The parent, shortened to `[startKey, splitKey)`: same id and peers, `version + 1`. */
  left: Region;
  /** The child `[splitKey, endKey)`: the new id, fresh peer ids on the same stores, `version + 1`. */
  right: Region;
}

function positiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

/**
 * Splits `region` at `splitKey`. The left half keeps the id, start and peers; the right half gets
 * `newRegionId` and one fresh peer id per existing peer (same store, same role, in the order of
 * `region.peers`). Both halves get `version + 1` and the parent's `confVer`: the child's epoch is
 * its own object but starts at the parent's new version, so that a route table holding the stale
 * parent evicts it when it learns of either half (eviction compares versions).
 * Throws {@link InvalidArgumentError} when the split key is empty or not strictly inside the
 * range, or the ids are not fresh positive integers.
 * @param region - the region as it is before the split.
 * @param splitKey - the first key of the right half; `startKey < splitKey < endKey`.
 * @param newRegionId - the id of the right half, allocated by PD (or the store in no-PD mode).
 * @param newPeerIds - one new peer id for each of `region.peers`, in the same order.
 */
export function splitRegion(region: Region, splitKey: Uint8Array, newRegionId: number, newPeerIds: readonly number[]): SplitResult {
  validateRegion(region);
  if (!(splitKey instanceof Uint8Array) || splitKey.length === 0) throw new InvalidArgumentError('splitKey', 'must be a non-empty Uint8Array');
  if (!keyInRegion(splitKey, region) || keysEqual(splitKey, region.startKey)) {
    throw new InvalidArgumentError('splitKey', `must lie strictly inside region ${region.id}'s range so that both halves are non-empty`);
  }
  if (!positiveInt(newRegionId) || newRegionId === region.id) throw new InvalidArgumentError('newRegionId', `must be a positive safe integer other than ${region.id}`);
  if (newPeerIds.length !== region.peers.length) {
    throw new InvalidArgumentError('newPeerIds', `must hold one id per peer (${region.peers.length}), got ${newPeerIds.length}`);
  }
  const taken = new Set(region.peers.map((p) => p.id));
  for (const [i, id] of newPeerIds.entries()) {
    if (!positiveInt(id) || taken.has(id)) throw new InvalidArgumentError(`newPeerIds[${i}]`, `must be a fresh positive safe integer, got ${String(id)}`);
    taken.add(id);
  }
  const version = region.epoch.version + 1;
  const left = cloneRegion(region);
  left.endKey = splitKey.slice();
  left.epoch.version = version;
  const right: Region = {
    id: newRegionId,
    startKey: splitKey.slice(),
    endKey: region.endKey.slice(),
    epoch: { confVer: region.epoch.confVer, version },
    // A child's replica is its parent's on the same store, so it keeps the parent's incarnation.
    peers: region.peers.map((p, i) => (p.incarnation === undefined ? { id: newPeerIds[i], storeId: p.storeId, role: p.role } : { id: newPeerIds[i], storeId: p.storeId, role: p.role, incarnation: p.incarnation })),
  };
  return { left, right };
}

/** The default of `minKeysToSplit` in {@link chooseSplitKey}: below this many keys a region is not split. */
export const DEFAULT_MIN_KEYS_TO_SPLIT = 2;

/**
 * Chooses the split key of a region at the middle of its keys by count (RheaKV's `jumpOver(start,
 * n/2)`): the key at index `floor(n / 2)` of the sorted sample. Throws
 * {@link TooSmallToSplitError} when the sample holds fewer than `minKeysToSplit` keys (and never
 * fewer than 2, since both halves must be non-empty), and {@link InvalidArgumentError} when the
 * sample is not strictly ascending or strays outside the region.
 * @param sortedKeys - user keys of the region in ascending order without duplicates (all of them, or an evenly spaced sample).
 * @param region - the region to split.
 * @param minKeysToSplit - the fewest keys worth a split; default {@link DEFAULT_MIN_KEYS_TO_SPLIT}.
 */
export function chooseSplitKey(sortedKeys: readonly Uint8Array[], region: Region, minKeysToSplit = DEFAULT_MIN_KEYS_TO_SPLIT): Uint8Array {
  if (!positiveInt(minKeysToSplit)) throw new InvalidArgumentError('minKeysToSplit', `must be a positive safe integer, got ${String(minKeysToSplit)}`);
  const keysMin = Math.max(2, minKeysToSplit);
  if (sortedKeys.length < keysMin) throw new TooSmallToSplitError(sortedKeys.length, keysMin);
  for (const [i, key] of sortedKeys.entries()) {
    if (!keyInRegion(key, region)) throw new InvalidArgumentError(`sortedKeys[${i}]`, `lies outside region ${region.id}`);
    if (i > 0 && compareKeys(sortedKeys[i - 1], key) >= 0) throw new InvalidArgumentError(`sortedKeys[${i}]`, 'keys must be strictly ascending');
  }
  // Index >= 1 with ascending keys, so the key is greater than the first key and than startKey.
  return sortedKeys[sortedKeys.length >>> 1].slice();
}

/**
 * Computes the region that merging two adjacent regions produces (TiKV's prepare/commit merge
 * outcome). The target (`left` unless `keep` says `'right'`) survives with its id, peers and
 * `confVer`; its range becomes the union; its `version` becomes `max(left, right) + 1`, above
 * both sources, so route tables evict both. The other region is retired by the store.
 * Throws {@link InvalidArgumentError} unless `left.endKey == right.startKey` and both have peers
 * on the same stores with the same roles (align them with membership changes first).
 * @param left - the region on the left; its `endKey` must be `right.startKey`.
 * @param right - the region on the right.
 * @param keep - which region's identity survives; default `'left'`.
 */
export function mergeRegions(left: Region, right: Region, keep: 'left' | 'right' = 'left'): Region {
  validateRegion(left, 'left');
  validateRegion(right, 'right');
  if (left.id === right.id) throw new InvalidArgumentError('right', `cannot merge region ${left.id} with itself`);
  if (left.endKey.length === 0 || !keysEqual(left.endKey, right.startKey)) {
    throw new InvalidArgumentError('right', `region ${right.id} does not start where region ${left.id} ends; only adjacent regions merge`);
  }
  const placement = (r: Region) =>
    r.peers
      .map((p) => `${p.storeId}:${p.role}`)
      .sort()
      .join(',');
  if (placement(left) !== placement(right)) {
    throw new InvalidArgumentError('right', `regions ${left.id} and ${right.id} have peers on different stores or roles; align their peers before merging`);
  }
  const merged = cloneRegion(keep === 'left' ? left : right);
  merged.startKey = left.startKey.slice();
  merged.endKey = right.endKey.slice();
  merged.epoch.version = Math.max(left.epoch.version, right.epoch.version) + 1;
  return merged;
}
