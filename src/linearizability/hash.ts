/**
 * Small hashing and byte helpers for models: 32-bit hashes of strings and bytes for memoisation,
 * byte equality, and UTF-8 encoding without `TextEncoder` (the core compiles with no ambient types).
 */
import { encodeUtf8 } from '../codec/utf8.ts';

/** Strings and byte arrays longer than this are hashed from a sample, so a step stays cheap. */
const hashSampleMax = 64;

/**
 * Mixes a 32-bit integer into a well-spread 32-bit hash (murmur3's finaliser).
 *
 * @param h - any number; it is truncated to 32 bits.
 */
export function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Combines two 32-bit hashes into one; the order of the arguments matters.
 *
 * @param a - the running hash.
 * @param b - the hash to fold in.
 */
export function combineHash(a: number, b: number): number {
  return mix32(Math.imul(a ^ 0x9e3779b9, 31) + b);
}

/**
 * Hashes a string to 32 bits. Long strings are hashed from their length, head and tail only:
 * equal strings still hash equally, and the checker compares states with `equal` on a collision.
 *
 * @param s - the string to hash.
 */
export function hashString(s: string): number {
  let h = 0x811c9dc5 ^ s.length;
  const n = s.length;
  if (n <= hashSampleMax) {
    for (let i = 0; i < n; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  } else {
    const half = hashSampleMax / 2;
    for (let i = 0; i < half; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    for (let i = n - half; i < n; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  }
  return mix32(h);
}

/**
 * Hashes bytes to 32 bits, sampling long arrays the way {@link hashString} does.
 *
 * @param b - the bytes to hash.
 */
export function hashBytes(b: Uint8Array): number {
  let h = 0x811c9dc5 ^ b.length;
  const n = b.length;
  if (n <= hashSampleMax) {
    for (let i = 0; i < n; i++) h = Math.imul(h ^ b[i], 0x01000193);
  } else {
    const half = hashSampleMax / 2;
    for (let i = 0; i < half; i++) h = Math.imul(h ^ b[i], 0x01000193);
    for (let i = n - half; i < n; i++) h = Math.imul(h ^ b[i], 0x01000193);
  }
  return mix32(h);
}

/**
 * Says whether two byte arrays hold the same bytes; `null` equals only `null`.
 *
 * @param a - bytes or null (absent).
 * @param b - bytes or null (absent).
 */
export function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Encodes a string as UTF-8 (lone surrogates become U+FFFD, as `TextEncoder` does); the codec's
 * encoder, re-exported under the checker's name.
 */
export const utf8Encode: (s: string) => Uint8Array = encodeUtf8;

/**
 * Renders bytes for an error message: as a quoted string when they are printable ASCII,
 * otherwise as hex, shortened when long.
 *
 * @param b - bytes or null (absent).
 */
export function describeBytes(b: Uint8Array | null): string {
  if (b === null) return 'null';
  const shown = b.length > 48 ? b.subarray(0, 48) : b;
  const more = b.length > 48 ? `…(${b.length} bytes)` : '';
  if (shown.every((x) => x >= 0x20 && x < 0x7f)) return JSON.stringify(String.fromCharCode(...shown)) + more;
  return `0x${Array.from(shown, (x) => x.toString(16).padStart(2, '0')).join('')}${more}`;
}
