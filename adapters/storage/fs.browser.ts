/**
 * The `browser` build of `flotilla/storage/fs`: browsers have no file system that `node:fs` can
 * reach, so the factory rejects with a clear error instead of failing at import time.
 */
import type { Logger, StorageEngine } from '../../src/ports.ts';
import { UnsupportedError } from '../../src/storage/errors.ts';
import type { StorageLimits } from '../../src/storage/validate.ts';

/** The typed storage errors, re-exported so that callers can test `instanceof` without another import. */
export * from '../../src/storage/errors.ts';
export { defaultStorageLimits, type StorageLimits } from '../../src/storage/validate.ts';

/** The same options as the Node/Deno build, so code type-checks against either. */
export interface FsStorageOptions {
  dir: string;
  limits?: Partial<StorageLimits>;
  checkpointLogBytes?: number;
  groupBytesMax?: number;
  onCorruption?: 'throw' | 'truncate';
  logger?: Logger;
  onGroupCommit?: (group: { batches: number; bytes: number; synced: boolean }) => void;
}

/**
 * Always rejects with `UnsupportedError`: use `flotilla/storage/indexeddb` (persistent) or
 * `flotilla/storage/memory` in a browser.
 * @param options - ignored
 */
export async function createFsStorage(options: FsStorageOptions): Promise<StorageEngine> {
  throw new UnsupportedError(
    `flotilla/storage/fs cannot run in a browser (asked to open ${JSON.stringify(options?.dir)}); ` +
      'use flotilla/storage/indexeddb for persistent storage or flotilla/storage/memory',
  );
}
