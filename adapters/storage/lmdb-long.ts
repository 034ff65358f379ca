/**
 * Keys longer than LMDB allows (1978 bytes at the 4 KiB page size) in an order-preserving side
 * table, so that the lmdb engine takes the same 8 KiB keys as every other engine. A long key K
 * lives in a bucket under its first {@link LMDB_KEY_BYTES_MAX} bytes P; the bucket holds every
 * long key with that prefix as (suffix, value) pairs sorted by suffix. Scans merge the short-key
 * table and the expanded buckets by full key, which is plain byte order: a key with prefix P sorts
 * after P itself and after every shorter key that is not above P, so the merge is exact.
 * Long keys are rare (the KV layer's user keys are at most 4 KiB), so buckets stay tiny.
 */
import type { KeyValue } from '../../src/ports.ts';
import { compareBytes, inRange } from '../../src/storage/bytes.ts';

/** The longest key LMDB stores directly with 4 KiB pages (lmdb-js reports it in its error). */
export const LMDB_KEY_BYTES_MAX = 1978;

/** One long key's entry in a bucket: the bytes after the prefix, and the value. */
export interface BucketEntry {
  suffix: Uint8Array;
  value: Uint8Array;
}

/** Encodes a bucket: u32 count, then per entry u32 length + suffix, u32 length + value (big-endian). */
export function encodeBucket(entries: readonly BucketEntry[]): Uint8Array {
  let n = 4;
  for (const e of entries) n += 8 + e.suffix.length + e.value.length;
  const out = new Uint8Array(n);
  const view = new DataView(out.buffer);
  view.setUint32(0, entries.length);
  let at = 4;
  for (const e of entries) {
    for (const part of [e.suffix, e.value]) {
      view.setUint32(at, part.length);
      out.set(part, at + 4);
      at += 4 + part.length;
    }
  }
  return out;
}

/** Decodes what {@link encodeBucket} wrote; the entries are views into `bytes`. */
export function decodeBucket(bytes: Uint8Array): BucketEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(0);
  const out: BucketEntry[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    const sl = view.getUint32(at);
    const suffix = bytes.subarray(at + 4, at + 4 + sl);
    at += 4 + sl;
    const vl = view.getUint32(at);
    const value = bytes.subarray(at + 4, at + 4 + vl);
    at += 4 + vl;
    out.push({ suffix, value });
  }
  return out;
}

/** The full key of a bucket entry. */
export function joinKey(prefix: Uint8Array, suffix: Uint8Array): Uint8Array {
  const k = new Uint8Array(prefix.length + suffix.length);
  k.set(prefix);
  k.set(suffix, prefix.length);
  return k;
}

/** The index of `suffix` in a sorted bucket, or -(insertion point) - 1. */
export function findSuffix(entries: readonly BucketEntry[], suffix: Uint8Array): number {
  let lo = 0;
  let hi = entries.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareBytes(entries[mid].suffix, suffix);
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

/** The pairs of one bucket inside `[start, end)`, in key order (reversed on request). */
export function bucketPairs(prefix: Uint8Array, bucket: Uint8Array, start: Uint8Array | undefined, end: Uint8Array | undefined, reverse: boolean): KeyValue[] {
  const out: KeyValue[] = [];
  for (const e of decodeBucket(bucket)) {
    const key = joinKey(prefix, e.suffix);
    if (inRange(key, start, end)) out.push({ key, value: e.value });
  }
  return reverse ? out.reverse() : out;
}

/**
 * Merges two key-ordered streams of pairs (the same direction) up to `limit` pairs.
 * @param a - one stream
 * @param b - the other; keys never occur in both
 * @param reverse - whether both are in descending order
 * @param limit - most pairs taken
 */
export function* mergePairs(a: Iterator<KeyValue>, b: Iterator<KeyValue>, reverse: boolean, limit: number): Generator<KeyValue> {
  let x = a.next();
  let y = b.next();
  for (let n = 0; n < limit && !(x.done && y.done); n++) {
    const takeX = y.done || (!x.done && (reverse ? compareBytes(x.value.key, y.value.key) > 0 : compareBytes(x.value.key, y.value.key) < 0));
    if (takeX) {
      yield x.value as KeyValue;
      x = a.next();
    } else {
      yield y.value as KeyValue;
      y = b.next();
    }
  }
}
