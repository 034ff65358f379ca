/** Byte-string helpers shared by the storage engines: unsigned order and range tests. */

/** Compares two byte strings in unsigned lexicographic order; negative, zero or positive like a sort comparator. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** True when `key` lies in `[start, end)`; an absent bound is unbounded. */
export function inRange(key: Uint8Array, start: Uint8Array | undefined, end: Uint8Array | undefined): boolean {
  return (start === undefined || compareBytes(key, start) >= 0) && (end === undefined || compareBytes(key, end) < 0);
}

/** True when `[start, end)` holds no key at all (both bounds given and start >= end). */
export function isEmptyRange(start: Uint8Array | undefined, end: Uint8Array | undefined): boolean {
  return start !== undefined && end !== undefined && compareBytes(start, end) >= 0;
}

/**
 * A plain `Uint8Array` copy of `bytes` that owns its memory, so later changes by the caller cannot
 * reach the store. (A Node `Buffer`'s own `slice` is a view, so subclasses are copied by hand.)
 */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.constructor === Uint8Array) return bytes.slice();
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out;
}

/** Lower-case hex of `bytes`, used as a map key and in messages. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
  return s;
}
