/**
 * The memory storage engine: the default, an ordered B+ tree in this process's heap. Nothing
 * survives the process; `sync` changes nothing.
 *
 * @example
 * ```ts
 * import { createMemoryStorage } from 'flotilla/storage/memory';
 * const db = createMemoryStorage();
 * await db.write([{ type: 'put', key: new Uint8Array([1]), value: new Uint8Array([42]) }]);
 * ```
 */
import type { StorageEngine } from '../../src/ports.ts';
import { StorageClosedError } from '../../src/storage/errors.ts';
import { resolveLimits, type StorageLimits, validateBatch } from '../../src/storage/validate.ts';
import { copyBatch, mapGet, mapScan, mapSize, mapSnapshot } from './map-engine.ts';
import { OrderedMap } from './ordered-map.ts';

/** The typed storage errors, re-exported so that callers can test `instanceof` without another import. */
export * from '../../src/storage/errors.ts';

export type { StorageLimits } from '../../src/storage/validate.ts';
export { defaultStorageLimits } from '../../src/storage/validate.ts';

/** Options of {@link createMemoryStorage}. */
export interface MemoryStorageOptions {
  /** Size limits; see `defaultStorageLimits` for the defaults. */
  limits?: Partial<StorageLimits>;
}

/**
 * Creates an empty in-memory {@link StorageEngine}. A `write` resolves once the batch is visible
 * to reads; since nothing is persisted, `sync: true` promises nothing more than `sync: false`.
 * @param options - size limits
 */
export function createMemoryStorage(options: MemoryStorageOptions = {}): StorageEngine {
  const limits = resolveLimits(options.limits);
  let map: OrderedMap | undefined = new OrderedMap();
  const live = (): OrderedMap => {
    if (map === undefined) throw new StorageClosedError();
    return map;
  };
  return {
    async get(key) {
      return mapGet(live(), key, limits);
    },
    async scan(scanOptions) {
      return mapScan(live(), scanOptions);
    },
    async write(batch, writeOptions) {
      const m = live();
      validateBatch(batch, limits);
      m.apply(writeOptions?.handOver === true ? batch : copyBatch(batch));
    },
    async approximateSize(range) {
      return mapSize(live(), range);
    },
    async snapshot() {
      return mapSnapshot(live(), limits, () => map !== undefined);
    },
    async close() {
      map = undefined;
    },
  };
}
