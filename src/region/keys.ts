/**
 * Byte-key helpers of region ranges. Keys order as unsigned bytes; a range is `[start, end)` where
 * an empty `start` is -∞ and an empty `end` is +∞ (so `end` compares with {@link compareEndKeys}).
 */
import { compareBytes } from '../storage/bytes.ts';

/**
 * Compares two keys in unsigned byte order; negative, zero or positive like a sort comparator.
 * @param a - a key.
 * @param b - another key.
 */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  return compareBytes(a, b);
}

/**
 * True when both byte strings hold the same bytes.
 * @param a - bytes.
 * @param b - bytes.
 */
export function keysEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Compares two range ends, where an empty end is +∞ (greater than every key).
 * @param a - an end key (empty = +∞).
 * @param b - another end key (empty = +∞).
 */
export function compareEndKeys(a: Uint8Array, b: Uint8Array): number {
  if (a.length === 0) return b.length === 0 ? 0 : 1;
  if (b.length === 0) return -1;
  return compareBytes(a, b);
}

/**
 * True when `key` lies in `[start, end)` (empty start = -∞, empty end = +∞).
 * @param key - the key to test.
 * @param start - inclusive lower bound.
 * @param end - exclusive upper bound; empty is +∞.
 */
export function keyInRange(key: Uint8Array, start: Uint8Array, end: Uint8Array): boolean {
  return compareBytes(key, start) >= 0 && (end.length === 0 || compareBytes(key, end) < 0);
}

/**
 * True when `key` lies in the region's range `[startKey, endKey)`.
 * @param key - the key to test.
 * @param region - anything with `startKey` and `endKey`.
 */
export function keyInRegion(key: Uint8Array, region: { startKey: Uint8Array; endKey: Uint8Array }): boolean {
  return keyInRange(key, region.startKey, region.endKey);
}

/**
 * True when `[start, end)` holds at least one key: `end` is empty (+∞) or greater than `start`.
 * @param start - inclusive lower bound.
 * @param end - exclusive upper bound; empty is +∞.
 */
export function isValidRange(start: Uint8Array, end: Uint8Array): boolean {
  return end.length === 0 || compareBytes(start, end) < 0;
}

/**
 * The intersection of two ranges, or undefined when they share no key.
 * @param aStart - first range's start.
 * @param aEnd - first range's end (empty = +∞).
 * @param bStart - second range's start.
 * @param bEnd - second range's end (empty = +∞).
 */
export function intersectRanges(aStart: Uint8Array, aEnd: Uint8Array, bStart: Uint8Array, bEnd: Uint8Array): { start: Uint8Array; end: Uint8Array } | undefined {
  const start = compareBytes(aStart, bStart) >= 0 ? aStart : bStart;
  const end = compareEndKeys(aEnd, bEnd) <= 0 ? aEnd : bEnd;
  return isValidRange(start, end) ? { start, end } : undefined;
}

/**
 * True when the two ranges share at least one key.
 * @param aStart - first range's start.
 * @param aEnd - first range's end (empty = +∞).
 * @param bStart - second range's start.
 * @param bEnd - second range's end (empty = +∞).
 */
export function rangesOverlap(aStart: Uint8Array, aEnd: Uint8Array, bStart: Uint8Array, bEnd: Uint8Array): boolean {
  return intersectRanges(aStart, aEnd, bStart, bEnd) !== undefined;
}

/**
 * True when every key of `[start, end)` lies in `[outerStart, outerEnd)`.
 * @param start - inner range's start.
 * @param end - inner range's end (empty = +∞).
 * @param outerStart - outer range's start.
 * @param outerEnd - outer range's end (empty = +∞).
 */
export function rangeWithin(start: Uint8Array, end: Uint8Array, outerStart: Uint8Array, outerEnd: Uint8Array): boolean {
  return compareBytes(start, outerStart) >= 0 && compareEndKeys(end, outerEnd) <= 0;
}

/**
 * The smallest key greater than `key`, which is `key + 0x00`. Used to resume a scan just after a key.
 * @param key - a key.
 */
export function nextKey(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}
