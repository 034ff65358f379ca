/**
 * Byte-key range helpers and epoch rules: unsigned order, empty start = -inf, empty end = +inf,
 * keys with 0x00 and 0xFF bytes.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.ts';
import {
  compareEndKeys,
  compareKeys,
  epochEquals,
  intersectRanges,
  isEpochStale,
  isValidRange,
  keyInRange,
  keyInRegion,
  nextKey,
  rangesOverlap,
  rangeWithin,
  validateRegion,
} from '../../src/region/index.ts';

const k = (...bytes: number[]) => Uint8Array.from(bytes);
const INF = k();

describe('key order and ranges', () => {
  it('orders keys as unsigned bytes, a prefix before its extensions', () => {
    const sorted = [k(), k(0x00), k(0x00, 0x00), k(0x00, 0xff), k(0x01), k(0x7f), k(0x80), k(0xff), k(0xff, 0x00)];
    const shuffled = [...sorted].reverse();
    expect(shuffled.sort(compareKeys)).toEqual(sorted);
    expect(compareKeys(nextKey(k(0x10)), k(0x10))).toBeGreaterThan(0);
    expect(compareKeys(nextKey(k(0x10)), k(0x10, 0x00, 0x00))).toBeLessThan(0);
  });

  it('treats an empty end as +inf and an empty start as -inf', () => {
    expect(compareEndKeys(INF, k(0xff, 0xff))).toBeGreaterThan(0);
    expect(compareEndKeys(k(0xff), INF)).toBeLessThan(0);
    expect(compareEndKeys(INF, INF)).toBe(0);
    expect(keyInRange(k(0x00), INF, INF)).toBe(true);
    expect(keyInRange(k(0xff, 0xff, 0xff), k(0xff), INF)).toBe(true);
    expect(keyInRange(k(0xff), k(0x00), k(0xff))).toBe(false);
    expect(keyInRange(k(0xfe, 0xff), k(0x00), k(0xff))).toBe(true);
    expect(keyInRegion(k(0x00), { startKey: k(0x00), endKey: k(0x00, 0x00) })).toBe(true);
    expect(keyInRegion(k(0x00, 0x00), { startKey: k(0x00), endKey: k(0x00, 0x00) })).toBe(false);
  });

  it('validates, intersects and nests ranges', () => {
    expect(isValidRange(k(0x05), INF)).toBe(true);
    expect(isValidRange(INF, INF)).toBe(true);
    expect(isValidRange(k(0x05), k(0x05))).toBe(false);
    expect(intersectRanges(INF, k(0x10), k(0x05), INF)).toEqual({ start: k(0x05), end: k(0x10) });
    expect(intersectRanges(k(0x01), k(0x05), k(0x05), INF)).toBeUndefined();
    expect(rangesOverlap(k(0x01), k(0x05, 0x00), k(0x05), INF)).toBe(true);
    expect(rangeWithin(k(0x02), k(0x03), INF, INF)).toBe(true);
    expect(rangeWithin(k(0x02), INF, k(0x01), k(0xff))).toBe(false);
    expect(rangeWithin(k(0x02), k(0xff), k(0x01), k(0xff))).toBe(true);
  });
});

describe('epochs and region shape', () => {
  it('an epoch is stale when either dimension is behind', () => {
    expect(isEpochStale({ confVer: 1, version: 1 }, { confVer: 1, version: 2 })).toBe(true);
    expect(isEpochStale({ confVer: 1, version: 3 }, { confVer: 2, version: 2 })).toBe(true);
    expect(isEpochStale({ confVer: 2, version: 2 }, { confVer: 2, version: 2 })).toBe(false);
    expect(isEpochStale({ confVer: 3, version: 3 }, { confVer: 2, version: 2 })).toBe(false);
    expect(epochEquals({ confVer: 2, version: 5 }, { confVer: 2, version: 5 })).toBe(true);
    expect(epochEquals({ confVer: 2, version: 5 }, { confVer: 5, version: 2 })).toBe(false);
  });

  it('validateRegion refuses bad ids, ranges, epochs and duplicate peers or stores', () => {
    const good = { id: 1, startKey: k(1), endKey: k(2), epoch: { confVer: 1, version: 1 }, peers: [{ id: 1, storeId: 1, role: 'voter' as const }] };
    expect(() => validateRegion(good)).not.toThrow();
    const bad = [
      { ...good, id: 0 },
      { ...good, endKey: k(1) },
      { ...good, epoch: { confVer: 0, version: 1 } },
      { ...good, peers: [...good.peers, { id: 1, storeId: 2, role: 'voter' as const }] },
      { ...good, peers: [...good.peers, { id: 2, storeId: 1, role: 'learner' as const }] },
      { ...good, peers: [{ id: 1, storeId: 1, role: 'witness' as never }] },
    ];
    for (const r of bad) expect(() => validateRegion(r)).toThrow(InvalidArgumentError);
  });
});
