/**
 * Pieces shared by the engines that serve reads from an {@link OrderedMap} (memory, fs, faulty):
 * guarded reads that copy out, and snapshots built on the map's O(1) clone.
 */
import type { KeyRange, KeyValue, ScanOptions, StorageSnapshot, WriteOp } from '../../src/ports.ts';
import { copyBytes } from '../../src/storage/bytes.ts';
import { StorageClosedError } from '../../src/storage/errors.ts';
import { type StorageLimits, validateKey, validateRange, validateScan } from '../../src/storage/validate.ts';
import type { OrderedMap } from './ordered-map.ts';

/** Copies the keys and values of a validated batch so the caller's buffers stay the caller's. */
export function copyBatch(batch: readonly WriteOp[]): WriteOp[] {
  return batch.map((op): WriteOp => {
    if (op.type === 'put') return { type: 'put', key: copyBytes(op.key), value: copyBytes(op.value) };
    if (op.type === 'delete') return { type: 'delete', key: copyBytes(op.key) };
    return { type: 'deleteRange', start: copyBytes(op.start), end: copyBytes(op.end) };
  });
}

/** Copies every pair of a scan result, so callers can never mutate what the map holds. */
export function copyOut(rows: KeyValue[]): KeyValue[] {
  for (let i = 0; i < rows.length; i++) rows[i] = { key: copyBytes(rows[i].key), value: copyBytes(rows[i].value) };
  return rows;
}

/** Validated `get` on a map; the value is copied out. */
export function mapGet(map: OrderedMap, key: Uint8Array, limits: StorageLimits): Uint8Array | undefined {
  const v = map.get(validateKey(key, limits));
  return v === undefined ? undefined : copyBytes(v);
}

/** Validated `scan` on a map; pairs are copied out. */
export function mapScan(map: OrderedMap, options: ScanOptions | undefined): KeyValue[] {
  return copyOut(map.scan(validateScan(options)));
}

/** Validated `approximateSize` on a map (exact, in fact). */
export function mapSize(map: OrderedMap, range: KeyRange | undefined): { keys: number; bytes: number } {
  const r = validateRange(range);
  return map.size(r.start, r.end);
}

/**
 * A snapshot over a clone of `map`. The clone shares nodes with the live map until either side
 * changes, so taking one is O(1) and holding one costs only the nodes written since.
 * @param map - the live map; cloned now
 * @param limits - for validating keys
 * @param isEngineOpen - reads reject with StorageClosedError once this says false
 */
export function mapSnapshot(map: OrderedMap, limits: StorageLimits, isEngineOpen: () => boolean): StorageSnapshot {
  let view: OrderedMap | undefined = map.clone();
  const open = (): OrderedMap => {
    if (view === undefined) throw new StorageClosedError('snapshot');
    if (!isEngineOpen()) throw new StorageClosedError();
    return view;
  };
  return {
    async get(key) {
      return mapGet(open(), key, limits);
    },
    async scan(options) {
      return mapScan(open(), options);
    },
    release() {
      view = undefined;
    },
  };
}
