/**
 * The fs storage engine: an append-only log of checksummed batch records with group commit, a
 * periodic checkpoint that bounds start-up time and disk use, and a lock file. It uses `node:fs`
 * only, so the same file runs in Node and in Deno. Reads are served from an in-memory B+ tree
 * rebuilt from the checkpoint and log at open.
 *
 * Durability: `write(batch, { sync: true })` resolves after the batch's record was written and
 * `fdatasync`ed, so it survives a crash of the process or the machine. `sync: false` resolves
 * after the record was handed to the OS with `write(2)`: it survives a crash of the process, not
 * of the machine. Batches reach the log in the order `write` was called, so a crash keeps a prefix
 * of them (a synced batch that survived implies every earlier batch survived).
 *
 * @example
 * ```ts
 * import { createFsStorage } from 'flotilla/storage/fs';
 * const db = await createFsStorage({ dir: './data/store-1' });
 * await db.write([{ type: 'put', key: new Uint8Array([1]), value: new Uint8Array([42]) }], { sync: true });
 * await db.close();
 * ```
 */
import * as fs from 'node:fs';
import { type Logger, nullLogger, type StorageEngine } from '../../src/ports.ts';
import { encodeBatchRecord } from '../../src/storage/batch-codec.ts';
import { StorageClosedError, StorageError, StorageIOError } from '../../src/storage/errors.ts';
import { resolveLimits, type StorageLimits, validateBatch } from '../../src/storage/validate.ts';
import { writeCheckpoint } from './fs-checkpoint.ts';
import { acquireLock, call, fsyncDir, logName, writeAll } from './fs-files.ts';
import { type OnCorruption, recover } from './fs-recovery.ts';
import { copyBatch, mapGet, mapScan, mapSize, mapSnapshot } from './map-engine.ts';

/** The typed storage errors, re-exported so that callers can test `instanceof` without another import. */
export * from '../../src/storage/errors.ts';
export { defaultStorageLimits, type StorageLimits } from '../../src/storage/validate.ts';

export type { OnCorruption } from './fs-recovery.ts';

/** Options of {@link createFsStorage}. */
export interface FsStorageOptions {
  /** The store directory; created when missing. One engine per directory (a lock file enforces it). */
  dir: string;
  /** Size limits; see `defaultStorageLimits` for the defaults. */
  limits?: Partial<StorageLimits>;
  /**
   * A checkpoint is written once the active log holds at least this many bytes and at least as
   * many as the live data. With L = max(this, live bytes), the active log stays under 2L plus one
   * group (writes wait for a checkpoint in progress beyond that), the directory under about
   * 2 checkpoints + 3L, and start-up reads one checkpoint and at most about 3L of log. Default 64 MiB.
   */
  checkpointLogBytes?: number;
  /** Most bytes written by one group commit (one writev + one fdatasync). Default 8 MiB. */
  groupBytesMax?: number;
  /**
   * Damage in the newest log followed by valid records: 'throw' (default) refuses to open with a
   * `CorruptionError`; 'truncate' drops everything from the damage on (use only to salvage).
   */
  onCorruption?: OnCorruption;
  /** Where warnings (a dropped torn tail, a failed checkpoint) go. */
  logger?: Logger;
  /** Called after each group commit with its size: for metrics and for tests of the grouping. */
  onGroupCommit?: (group: { batches: number; bytes: number; synced: boolean }) => void;
}

interface Pending {
  record: Uint8Array;
  sync: boolean;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Opens (or creates) the fs engine in `options.dir`: takes the lock, recovers the checkpoint and
 * logs, and drops a torn tail of the newest log. Rejects with `CorruptionError` on damage that is
 * not a torn tail and with `LockedError` when another live engine holds the directory.
 * @param options - directory, limits, checkpoint and group-commit sizes
 */
export async function createFsStorage(options: FsStorageOptions): Promise<StorageEngine> {
  const { dir } = options;
  const limits = resolveLimits(options.limits);
  const logger = options.logger ?? nullLogger;
  const checkpointLogBytes = options.checkpointLogBytes ?? 64 * 1024 * 1024;
  const groupBytesMax = options.groupBytesMax ?? 8 * 1024 * 1024;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const releaseLock = acquireLock(dir);
  let recovered: ReturnType<typeof recover>;
  let fd: number;
  try {
    recovered = recover(dir, options.onCorruption ?? 'throw', logger);
    fd = fs.openSync(`${dir}/${logName(recovered.activeGen)}`, 'a', 0o600);
    await fsyncDir(dir);
  } catch (e) {
    releaseLock();
    throw e instanceof StorageError ? e : new StorageIOError(`cannot open ${dir}`, { cause: e });
  }
  const map = recovered.map;
  let gen = recovered.activeGen;
  let logBytes = recovered.activeLogBytes;
  let queue: Pending[] = [];
  let flushing: Promise<void> | undefined;
  let checkpointing: Promise<void> | undefined;
  let failed: StorageIOError | undefined;
  let closed = false;

  const live = () => {
    if (closed) throw new StorageClosedError();
    if (failed) throw failed;
    return map;
  };

  // Rotation: the whole queue goes to the old log, which is then fdatasynced, so the clone taken
  // here holds exactly that log's batches and a newer log never gets ahead of an older one.
  async function rotate(group: Pending[]): Promise<void> {
    const snapshot = map.clone();
    await writeAll(fd, group.map((p) => p.record));
    await call<void>((cb) => fs.fdatasync(fd, (e) => cb(e, undefined)));
    const nextGen = gen + 1;
    const nextFd = await call<number>((cb) => fs.open(`${dir}/${logName(nextGen)}`, 'a', 0o600, cb));
    await fsyncDir(dir);
    const oldFd = fd;
    fd = nextFd;
    gen = nextGen;
    logBytes = 0;
    fs.close(oldFd, () => {});
    checkpointing = writeCheckpoint(dir, nextGen, snapshot)
      .catch((e) => logger.warn('storage: checkpoint failed; the log keeps everything, will retry', { dir, error: String(e) }))
      .finally(() => {
        checkpointing = undefined;
      });
  }

  // One group per turn: every batch queued while the previous group was on disk goes in one writev
  // and, if any of them asked for sync, one fdatasync. That is the group commit.
  async function flushLoop(): Promise<void> {
    while (queue.length > 0 && !failed) {
      // Back-pressure: while a checkpoint is being written the log may grow to twice its bound, no more.
      if (checkpointing && logBytes >= 2 * Math.max(checkpointLogBytes, map.byteCount)) await checkpointing;
      const rotating = checkpointing === undefined && logBytes >= checkpointLogBytes && logBytes >= map.byteCount;
      let n = 0;
      let bytes = 0;
      while (n < queue.length && (rotating || n === 0 || bytes + queue[n].record.length <= groupBytesMax)) bytes += queue[n++].record.length;
      const group = queue.slice(0, n);
      queue = queue.slice(n);
      try {
        if (rotating) await rotate(group);
        else {
          await writeAll(fd, group.map((p) => p.record));
          const synced = group.some((p) => p.sync);
          if (synced) await call<void>((cb) => fs.fdatasync(fd, (e) => cb(e, undefined)));
          logBytes += bytes;
          // A throwing observer must not look like a failed write.
          try {
            options.onGroupCommit?.({ batches: group.length, bytes, synced });
          } catch (e) {
            logger.warn('storage: onGroupCommit threw', { error: String(e) });
          }
        }
        for (const p of group) p.resolve();
      } catch (e) {
        // Memory is now ahead of the log, and a failed fdatasync may have dropped dirty pages:
        // refuse everything from here on, as a database must after a write error.
        failed = new StorageIOError(`writing the log in ${dir} failed; close and reopen the engine`, { cause: e });
        for (const p of [...group, ...queue]) p.reject(failed);
        queue = [];
      }
    }
    flushing = undefined;
  }

  return {
    async get(key) {
      return mapGet(live(), key, limits);
    },
    async scan(scanOptions) {
      return mapScan(live(), scanOptions);
    },
    write(batch, writeOptions) {
      try {
        const m = live();
        validateBatch(batch, limits);
        const ops = writeOptions?.handOver === true ? batch : copyBatch(batch);
        const record = encodeBatchRecord(ops);
        m.apply(ops);
        const done = new Promise<void>((resolve, reject) => queue.push({ record, sync: writeOptions?.sync === true, resolve, reject }));
        flushing ??= flushLoop();
        return done;
      } catch (e) {
        return Promise.reject(e);
      }
    },
    async approximateSize(range) {
      return mapSize(live(), range);
    },
    async snapshot() {
      return mapSnapshot(live(), limits, () => !closed);
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await flushing;
        await checkpointing;
        if (!failed) await call<void>((cb) => fs.fdatasync(fd, (e) => cb(e, undefined)));
      } finally {
        fs.closeSync(fd);
        releaseLock();
      }
    },
  };
}
