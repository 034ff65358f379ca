/**
 * RegionRouteTable: the client's (and a store's) cache of which region serves which keys, as in
 * RheaKV. Regions are kept sorted by start key; lookups are binary searches.
 *
 * The table never holds two overlapping regions. When a newer region arrives (from an
 * `EpochNotMatch` answer, a store or PD), {@link RegionRouteTable.addOrUpdate} evicts every
 * overlapping entry whose epoch `version` is not newer, so a split's halves replace their parent
 * and a merged region replaces its sources, in whatever order the news arrives.
 */
import { epochEquals, isEpochStale, validateRegion } from './epoch.ts';
import { compareEndKeys, compareKeys, intersectRanges, keyInRegion, rangesOverlap } from './keys.ts';
import { cloneRegion, type Region } from './types.ts';

/** A group of keys that one region serves, from {@link RegionRouteTable.findRegionsByKeys}. */
export interface RegionKeys {
  region: Region;
  /** The keys in the order they were given. */
  keys: Uint8Array[];
  /** For each of `keys`, its index in the list passed in (to stitch per-region answers back together). */
  indexes: number[];
}

/** The result of {@link RegionRouteTable.findRegionsByKeys}. */
export interface RegionKeysLookup {
  /** One group per region that serves at least one key, in key order of the regions. */
  groups: RegionKeys[];
  /** Indexes (into the keys passed in) of keys that no known region serves: refresh routes for them. */
  unrouted: number[];
}

/** The sorted, non-overlapping set of known regions. Every region returned is a copy the caller may keep. */
export class RegionRouteTable {
  // Invariant: sorted by startKey; ranges pairwise disjoint; ids unique.
  #regions: Region[] = [];

  /** How many regions the table holds. */
  get size(): number {
    return this.#regions.length;
  }

  /** Every region, in key order. */
  list(): Region[] {
    return this.#regions.map(cloneRegion);
  }

  /**
   * The region with this id, or undefined.
   * @param regionId - a region id.
   */
  getRegionById(regionId: number): Region | undefined {
    const r = this.#regions.find((x) => x.id === regionId);
    return r === undefined ? undefined : cloneRegion(r);
  }

  /**
   * Adds `region` or replaces older knowledge of it. Returns false (and changes nothing) when the
   * table already knows something newer: the same id with a stale-or-equal epoch that differs, or
   * an overlapping region with a greater epoch `version`. Otherwise removes the same id and every
   * overlapping region, inserts a copy of `region` and returns true.
   * @param region - a region as a store or PD reported it; checked with `validateRegion`.
   */
  addOrUpdate(region: Region): boolean {
    validateRegion(region);
    const same = this.#regions.find((x) => x.id === region.id);
    if (same !== undefined && isEpochStale(region.epoch, same.epoch)) return false;
    // The same epoch cannot describe two ranges; one report is corrupt or mixed up, so keep what is known.
    if (same !== undefined && epochEquals(region.epoch, same.epoch) && !sameRange(same, region)) return false;
    const overlapping = this.#regions.filter((x) => x.id !== region.id && rangesOverlap(x.startKey, x.endKey, region.startKey, region.endKey));
    if (overlapping.some((x) => x.epoch.version > region.epoch.version)) return false;
    const drop = new Set(overlapping.map((x) => x.id));
    drop.add(region.id);
    const kept = this.#regions.filter((x) => !drop.has(x.id));
    const at = upperBound(kept, region.startKey);
    kept.splice(at, 0, cloneRegion(region));
    this.#regions = kept;
    return true;
  }

  /**
   * Removes the region with this id. Returns whether it was there.
   * @param regionId - a region id.
   */
  remove(regionId: number): boolean {
    const i = this.#regions.findIndex((x) => x.id === regionId);
    if (i < 0) return false;
    this.#regions.splice(i, 1);
    return true;
  }

  /** Forgets every region. */
  clear(): void {
    this.#regions = [];
  }

  /**
   * The region whose range holds `key`, or undefined when no known region does.
   * @param key - a user key (the empty key is the smallest key).
   */
  findRegionByKey(key: Uint8Array): Region | undefined {
    const r = this.#find(key);
    return r === undefined ? undefined : cloneRegion(r);
  }

  /**
   * Groups `keys` by the region serving each, as RheaKV's `findRegionsByKeys` does; keys that no
   * known region serves are listed in `unrouted`.
   * @param keys - user keys, in any order; duplicates are kept.
   */
  findRegionsByKeys(keys: readonly Uint8Array[]): RegionKeysLookup {
    const byId = new Map<number, RegionKeys>();
    const unrouted: number[] = [];
    keys.forEach((key, index) => {
      const r = this.#find(key);
      if (r === undefined) {
        unrouted.push(index);
        return;
      }
      let group = byId.get(r.id);
      if (group === undefined) {
        group = { region: cloneRegion(r), keys: [], indexes: [] };
        byId.set(r.id, group);
      }
      group.keys.push(key);
      group.indexes.push(index);
    });
    const groups = [...byId.values()].sort((a, b) => compareKeys(a.region.startKey, b.region.startKey));
    return { groups, unrouted };
  }

  /**
   * The known regions that intersect `[start, end)`, in key order. Holes in the table's knowledge
   * are skipped silently; {@link RegionRouteTable.findUncoveredRange} finds them.
   * @param start - inclusive start (empty = -∞).
   * @param end - exclusive end (empty = +∞).
   */
  findRegionsByRange(start: Uint8Array, end: Uint8Array): Region[] {
    const out: Region[] = [];
    const first = Math.max(0, upperBound(this.#regions, start) - 1);
    for (let i = first; i < this.#regions.length; i++) {
      const r = this.#regions[i];
      if (end.length > 0 && compareKeys(r.startKey, end) >= 0) break;
      if (intersectRanges(r.startKey, r.endKey, start, end) !== undefined) out.push(cloneRegion(r));
    }
    return out;
  }

  /**
   * The first part of `[start, end)` that no known region covers, or undefined when the table
   * covers all of it. The client refreshes its routes for that part before a scan crosses it.
   * @param start - inclusive start (empty = -∞).
   * @param end - exclusive end (empty = +∞).
   */
  findUncoveredRange(start: Uint8Array, end: Uint8Array): { start: Uint8Array; end: Uint8Array } | undefined {
    let cursor = start;
    for (const r of this.findRegionsByRange(start, end)) {
      if (compareKeys(r.startKey, cursor) > 0) return { start: cursor, end: r.startKey };
      if (r.endKey.length === 0) return undefined;
      cursor = r.endKey;
      if (end.length > 0 && compareKeys(cursor, end) >= 0) return undefined;
    }
    return { start: cursor, end };
  }

  #find(key: Uint8Array): Region | undefined {
    const i = upperBound(this.#regions, key) - 1;
    if (i < 0) return undefined;
    const r = this.#regions[i];
    return keyInRegion(key, r) ? r : undefined;
  }
}

/** Index of the first region whose startKey is greater than `key`. */
function upperBound(regions: readonly Region[], key: Uint8Array): number {
  let lo = 0;
  let hi = regions.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(regions[mid].startKey, key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sameRange(a: Region, b: Region): boolean {
  return compareKeys(a.startKey, b.startKey) === 0 && compareEndKeys(a.endKey, b.endKey) === 0;
}
