/**
 * The `browser` build of `flotilla/storage/lmdb`: LMDB is a native library a browser cannot load,
 * so the factory rejects with a clear error instead of pulling `node:fs` into a bundle.
 */
import type { Logger, StorageEngine } from '../../src/ports.ts';
import { UnsupportedError } from '../../src/storage/errors.ts';
import type { StorageLimits } from '../../src/storage/validate.ts';

/** The typed storage errors, re-exported so that callers can test `instanceof` without another import. */
export * from '../../src/storage/errors.ts';
export { defaultStorageLimits, type StorageLimits } from '../../src/storage/validate.ts';

/** The same options as the Node/Deno build, so code type-checks against either. */
export interface LmdbStorageOptions {
  dir: string;
  limits?: Partial<StorageLimits>;
  lmdb?: unknown;
  logger?: Logger;
}

/**
 * Always rejects with `UnsupportedError`: use `flotilla/storage/indexeddb` (persistent) or
 * `flotilla/storage/memory` in a browser.
 * @param options - ignored
 */
export async function createLmdbStorage(options: LmdbStorageOptions): Promise<StorageEngine> {
  throw new UnsupportedError(
    `flotilla/storage/lmdb cannot run in a browser (asked to open ${JSON.stringify(options?.dir)}); ` +
      'use flotilla/storage/indexeddb for persistent storage or flotilla/storage/memory',
  );
}
