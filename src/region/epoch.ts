/**
 * Region epoch comparison (TiKV's `is_epoch_stale`) and region validation.
 */
import { InvalidArgumentError } from '../errors.ts';
import { isValidRange } from './keys.ts';
import type { Region, RegionEpoch } from './types.ts';

/**
 * True when `epoch` is older than `current` in either dimension: a request or route carrying it
 * was made before a split, merge or membership change that `current` has seen.
 * @param epoch - the epoch to judge (from a request or a cached route).
 * @param current - the epoch known to be current.
 */
export function isEpochStale(epoch: RegionEpoch, current: RegionEpoch): boolean {
  return epoch.version < current.version || epoch.confVer < current.confVer;
}

/**
 * True when both epochs are the same in both dimensions.
 * @param a - an epoch.
 * @param b - another epoch.
 */
export function epochEquals(a: RegionEpoch, b: RegionEpoch): boolean {
  return a.version === b.version && a.confVer === b.confVer;
}

function positiveInt(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

/**
 * Checks a region's shape: positive ids and epoch, a non-empty range, at most one peer per store
 * and unique peer ids. Throws {@link InvalidArgumentError} naming what is wrong.
 * @param region - the region to check.
 * @param argument - the name to use in the error, e.g. `region` or `regions[2]`.
 */
export function validateRegion(region: Region, argument = 'region'): void {
  if (!positiveInt(region.id)) throw new InvalidArgumentError(`${argument}.id`, `must be a positive safe integer, got ${String(region.id)}`);
  if (!(region.startKey instanceof Uint8Array) || !(region.endKey instanceof Uint8Array)) {
    throw new InvalidArgumentError(`${argument}.startKey/endKey`, 'must be Uint8Arrays');
  }
  if (!isValidRange(region.startKey, region.endKey)) throw new InvalidArgumentError(`${argument}.endKey`, 'must be empty (+inf) or greater than startKey');
  if (!positiveInt(region.epoch?.confVer) || !positiveInt(region.epoch?.version)) {
    throw new InvalidArgumentError(`${argument}.epoch`, 'confVer and version must be positive safe integers');
  }
  const ids = new Set<number>();
  const stores = new Set<number>();
  for (const [i, p] of region.peers.entries()) {
    if (!positiveInt(p.id) || !positiveInt(p.storeId)) throw new InvalidArgumentError(`${argument}.peers[${i}]`, 'id and storeId must be positive safe integers');
    if (p.role !== 'voter' && p.role !== 'learner') throw new InvalidArgumentError(`${argument}.peers[${i}].role`, `must be 'voter' or 'learner', got ${String(p.role)}`);
    if (ids.has(p.id)) throw new InvalidArgumentError(`${argument}.peers[${i}].id`, `peer id ${p.id} appears twice`);
    if (stores.has(p.storeId)) throw new InvalidArgumentError(`${argument}.peers[${i}].storeId`, `store ${p.storeId} hosts two peers of the region`);
    ids.add(p.id);
    stores.add(p.storeId);
  }
}
