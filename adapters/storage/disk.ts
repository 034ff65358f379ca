/**
 * Picks the storage engine of a server's data directory: the lmdb engine by default, the fs engine
 * where lmdb cannot load (a runtime without its prebuilt binary) or where asked for. A directory
 * that already holds one engine's files is opened with that engine, whatever the default, so that
 * an upgrade or a missing optional package never starts a store on an empty engine next to its data.
 */
import * as fs from 'node:fs';
import type { Logger, StorageEngine } from '../../src/ports.ts';
import { InvalidArgumentError, UnsupportedError } from '../../src/storage/errors.ts';
import type { StorageLimits } from '../../src/storage/validate.ts';
import { createFsStorage } from './fs.ts';
import { parseName } from './fs-files.ts';
import { createLmdbStorage, type LmdbModule, loadLmdb } from './lmdb.ts';

/** The engines a data directory can use. */
export type DiskEngineKind = 'lmdb' | 'fs';

/** The engine names {@link openDiskStorage} accepts. */
export const DISK_ENGINES: readonly DiskEngineKind[] = ['lmdb', 'fs'];

/** Options of {@link openDiskStorage}. */
export interface DiskStorageOptions {
  /** The data directory; created when missing. */
  dir: string;
  /** The engine wanted; absent: whatever the directory holds, else lmdb, else fs. */
  engine?: DiskEngineKind;
  /** Size limits, for either engine. */
  limits?: Partial<StorageLimits>;
  /** Gets the one-line warning when lmdb cannot load, and the engines' own warnings. */
  logger?: Logger;
  /** Loads the lmdb module (default `import('lmdb')`); for tests of the fallback. */
  loadLmdb?: () => Promise<LmdbModule>;
}

/** What the directory holds: one engine's files, or nothing yet. */
export function detectDiskEngine(dir: string): DiskEngineKind | undefined {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  if (names.includes('data.mdb')) return 'lmdb';
  if (names.some((n) => parseName(n) !== undefined)) return 'fs';
  return undefined;
}

/**
 * Opens the storage engine of a data directory (see the file comment for the choice).
 * Rejects with `InvalidArgumentError` when `engine` names another engine than the one whose files
 * the directory holds, and with `UnsupportedError` when the directory holds lmdb data but lmdb
 * cannot load here.
 * @param options - directory, wanted engine, limits, logger
 */
export async function openDiskStorage(options: DiskStorageOptions): Promise<{ engine: StorageEngine; kind: DiskEngineKind }> {
  const { dir, logger } = options;
  const found = detectDiskEngine(dir);
  if (options.engine !== undefined && found !== undefined && options.engine !== found) {
    throw new InvalidArgumentError('engine', `${dir} holds ${found} data; open it with --engine ${found} (or move the data away)`);
  }
  const want = options.engine ?? found ?? 'lmdb';
  if (want === 'fs') return { engine: await createFsStorage({ dir, limits: options.limits, logger }), kind: 'fs' };
  let lmdb: LmdbModule;
  try {
    lmdb = await (options.loadLmdb ?? loadLmdb)();
  } catch (e) {
    // Only a directory without lmdb data may fall back: its data would otherwise look lost.
    if (options.engine === 'lmdb' || found === 'lmdb') throw e;
    const why = e instanceof UnsupportedError ? e.message : String(e);
    logger?.warn(`storage: ${why}; using the fs engine (all keys in memory, log replay at start)`);
    return { engine: await createFsStorage({ dir, limits: options.limits, logger }), kind: 'fs' };
  }
  return { engine: await createLmdbStorage({ dir, limits: options.limits, logger, lmdb }), kind: 'lmdb' };
}
