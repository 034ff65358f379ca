/**
 * Regions (DESIGN §3): the types, byte-key range helpers, epoch rules, the route table and the
 * pure split/merge rules. Everything here is pure and synchronous.
 */
export { epochEquals, isEpochStale, validateRegion } from './epoch.ts';
export { compareEndKeys, compareKeys, intersectRanges, isValidRange, keyInRange, keyInRegion, keysEqual, nextKey, rangesOverlap, rangeWithin } from './keys.ts';
export { RegionRouteTable, type RegionKeys, type RegionKeysLookup } from './route-table.ts';
export { chooseSplitKey, DEFAULT_MIN_KEYS_TO_SPLIT, mergeRegions, type SplitResult, splitRegion } from './split.ts';
export { cloneRegion, type Peer, type PeerRole, type Region, type RegionEpoch } from './types.ts';
