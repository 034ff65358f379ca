/**
 * The lmdb storage engine, for servers: data lives on disk in an LMDB environment (through the
 * `lmdb` package, an optional dependency with prebuilt binaries), so a store holds more than its
 * heap and opening takes the same few milliseconds whatever the data size (LMDB maps the file;
 * nothing is replayed). Chosen over LevelDB and SQLite by measurement: see BENCHMARKS.md.
 *
 * Durability: batches written while one LMDB transaction commits are gathered into the next one
 * (group commit), and each transaction is committed and flushed (fdatasync) on lmdb-js's write
 * thread, so the event loop serves the network while the disk works. A `write` resolves once its
 * transaction is flushed, whatever `sync` says: lmdb-js cannot skip the flush per transaction, and
 * its `overlappingSync` mode measured slower here (BENCHMARKS.md). Reads wait for the batches
 * written before them, so they see them. The store writes one Raft batch and one apply batch per
 * loop turn for all its regions. A crash keeps every batch whose `write` resolved. Snapshots are
 * LMDB read transactions: a consistent view that costs nothing to take, read in pages by `scan`
 * with `limit`.
 *
 * After a failed commit (disk full, EIO on flush) the engine refuses every call with
 * `StorageIOError`: a flush error may have dropped pages the process already saw as written, so
 * only closing and reopening (a restart) gives a view that matches the disk.
 *
 * @example
 * ```ts
 * import { createLmdbStorage } from 'flotilla/storage/lmdb';
 * const db = await createLmdbStorage({ dir: './data/store-1' });
 * await db.write([{ type: 'put', key: new Uint8Array([1]), value: new Uint8Array([42]) }], { sync: true });
 * await db.close();
 * ```
 */
import * as fs from 'node:fs';
import { type KeyValue, type Logger, nullLogger, type StorageEngine, type StorageSnapshot, type WriteOp } from '../../src/ports.ts';
import { compareBytes, copyBytes, inRange } from '../../src/storage/bytes.ts';
import { StorageClosedError, StorageError, StorageIOError, UnsupportedError } from '../../src/storage/errors.ts';
import { resolveLimits, type StorageLimits, validateBatch, validateKey, validateRange, validateScan } from '../../src/storage/validate.ts';
import { acquireLock } from './fs-files.ts';
import { copyBatch } from './map-engine.ts';
import { bucketPairs, decodeBucket, encodeBucket, findSuffix, joinKey, LMDB_KEY_BYTES_MAX, mergePairs } from './lmdb-long.ts';

/** The typed storage errors, re-exported so that callers can test `instanceof` without another import. */
export * from '../../src/storage/errors.ts';
export { defaultStorageLimits, type StorageLimits } from '../../src/storage/validate.ts';

/** The part of an lmdb-js database this engine uses (kept here so that the types do not need the optional package). */
export interface LmdbDatabase {
  getBinary(key: Uint8Array, options?: { transaction?: unknown }): Uint8Array | undefined;
  getRange(options: { start?: Uint8Array; end?: Uint8Array; reverse?: boolean; inclusiveEnd?: boolean; exclusiveStart?: boolean; transaction?: unknown }): Iterable<{ key: Uint8Array; value: Uint8Array }>;
  getKeys(options: { start?: Uint8Array; end?: Uint8Array; limit?: number; inclusiveEnd?: boolean; exclusiveStart?: boolean }): Iterable<Uint8Array>;
  getStats(): { entryCount: number };
  putSync(key: Uint8Array, value: Uint8Array): void;
  removeSync(key: Uint8Array): void;
}

/** The lmdb-js root environment. */
export interface LmdbRoot {
  openDB(name: string, options: Record<string, unknown>): LmdbDatabase;
  /** Runs `fn` in a nested transaction of the next asynchronous write transaction (aborted alone if `fn` throws); settles once that commits. */
  childTransaction<T>(fn: () => T): Promise<T>;
  useReadTransaction(): { done(): void };
  readonly flushed: PromiseLike<unknown>;
  close(): Promise<void>;
}

/** The `lmdb` module, as far as this engine needs it. */
export interface LmdbModule {
  open(options: Record<string, unknown>): LmdbRoot;
}

/** Options of {@link createLmdbStorage}. */
export interface LmdbStorageOptions {
  /** The store directory; created when missing. One engine per directory (a lock file enforces it). */
  dir: string;
  /** Size limits; see `defaultStorageLimits` for the defaults. */
  limits?: Partial<StorageLimits>;
  /** The `lmdb` module; loaded with `import('lmdb')` when absent. For tests and bundlers. */
  lmdb?: LmdbModule;
  /** Where warnings go. */
  logger?: Logger;
  /**
   * Let the OS read ahead around each page fault of the mapped file (LMDB's own default). Default
   * false (MDB_NORDAHEAD): a store's reads are random point lookups, and with read-ahead each one
   * mapped (and counted in RSS) a whole window of the file around it: 52k random gets on 10M
   * keys mapped 1.28 GB with read-ahead, 224 MB without (BENCHMARKS.md, issue 17).
   */
  readAhead?: boolean;
}

// Keys removed per step of a deleteRange, so that a range delete never lists a region in memory.
const DELETE_STEP = 4096;
// approximateSize is exact up to this many pairs and extrapolates beyond.
const SIZE_SAMPLE = 4096;

/**
 * Where `key` lies between `lo` and `hi` (keys of the range) as a fraction in (0, 1], reading the
 * bytes after their common prefix as a base-256 fraction (six bytes: a double holds them exactly).
 */
function keyFraction(key: Uint8Array, lo: Uint8Array, hi: Uint8Array): number {
  let p = 0;
  while (p < lo.length && p < hi.length && lo[p] === hi[p]) p++;
  const num = (x: Uint8Array) => {
    let v = 0;
    for (let i = 0; i < 6; i++) v += (x[p + i] ?? 0) / 256 ** (i + 1);
    return v;
  };
  const f = (num(key) - num(lo)) / (num(hi) - num(lo));
  return Number.isFinite(f) && f > 0 ? Math.min(1, f) : 1;
}

/** Loads the optional `lmdb` package; rejects with `UnsupportedError` saying why where it cannot load. */
export async function loadLmdb(): Promise<LmdbModule> {
  try {
    const name = 'lmdb';
    return (await import(/* @vite-ignore */ name)) as LmdbModule;
  } catch (e) {
    throw new UnsupportedError(`the lmdb package cannot be loaded here (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
}

/**
 * Opens (or creates) the lmdb engine in `options.dir`. Rejects with `LockedError` when another
 * live engine holds the directory, `UnsupportedError` when the lmdb package cannot load.
 * @param options - directory, limits, and optionally the lmdb module
 */
export async function createLmdbStorage(options: LmdbStorageOptions): Promise<StorageEngine> {
  const limits = resolveLimits(options.limits);
  const lmdb = options.lmdb ?? (await loadLmdb());
  const logger = options.logger ?? nullLogger;
  fs.mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const releaseLock = acquireLock(options.dir);
  let root: LmdbRoot;
  let data: LmdbDatabase;
  let long: LmdbDatabase;
  try {
    root = lmdb.open({ path: `${options.dir}/data.mdb`, noSubdir: true, maxDbs: 4, overlappingSync: false, compression: false, encoding: 'binary', keyEncoding: 'binary', cache: false, noReadAhead: options.readAhead !== true });
    data = root.openDB('data', { encoding: 'binary', keyEncoding: 'binary', compression: false, cache: false });
    long = root.openDB('long', { encoding: 'binary', keyEncoding: 'binary', compression: false, cache: false });
    // lmdb creates its files 0644 (less the umask) and takes no mode: only the owner may read them.
    for (const f of ['data.mdb', 'data.mdb-lock']) if (fs.existsSync(`${options.dir}/${f}`)) fs.chmodSync(`${options.dir}/${f}`, 0o600);
  } catch (e) {
    releaseLock();
    throw e instanceof StorageError ? e : new StorageIOError(`cannot open ${options.dir}`, { cause: e });
  }
  const reader = createReader(data, long);
  let hasLong = firstOf(long.getKeys({ limit: 1 })) !== undefined;
  let failed: StorageIOError | undefined;
  let closed = false;
  const live = () => {
    if (closed) throw new StorageClosedError();
    if (failed) throw failed;
  };

  const apply = (batch: readonly WriteOp[]) => {
    for (const op of batch) {
      if (op.type === 'put') {
        if (op.key.length <= LMDB_KEY_BYTES_MAX) data.putSync(op.key, op.value);
        else {
          putLong(long, op.key, op.value);
          hasLong = true;
        }
      } else if (op.type === 'delete') {
        if (op.key.length <= LMDB_KEY_BYTES_MAX) data.removeSync(op.key);
        else if (hasLong) putLong(long, op.key, undefined);
      } else if (compareBytes(op.start, op.end) < 0) {
        deleteRange(data, op.start, op.end);
        if (hasLong) deleteLongRange(long, op.start, op.end);
      }
    }
  };

  // Group commit, off the event loop: the batches written while one LMDB transaction commits are
  // gathered into the next one, so concurrent writers share a commit and its flush. The commit
  // and its fdatasync run on lmdb-js's write thread; this thread only applies the ops, in a child
  // transaction (aborted whole if applying throws, so a batch is never half written). At most one
  // transaction is in flight: `tail` settles once every batch written so far is committed (or
  // refused), and a read waits for it, so it sees every batch whose `write` was called before.
  interface Group {
    batches: Array<readonly WriteOp[]>;
    waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }>;
  }
  let gathering: Group | undefined;
  let tail: Promise<void> = Promise.resolve();
  const commitGroup = async (g: Group) => {
    if (gathering === g) gathering = undefined;
    if (failed === undefined) {
      try {
        await root.childTransaction(() => {
          for (const b of g.batches) apply(b);
        });
      } catch (e) {
        failed = new StorageIOError(`committing to ${options.dir} failed (${String(e)}); restart the store`, { cause: e });
        logger.error('storage: lmdb commit failed; the engine refuses every call until it is reopened', { dir: options.dir, error: String(e) });
      }
    }
    for (const w of g.waiters) {
      if (failed === undefined) w.resolve();
      else w.reject(failed);
    }
  };
  /** Waits until every batch written before this call is committed, then checks the engine is usable. */
  const settled = async () => {
    live();
    await tail;
    live();
  };

  return {
    async get(key) {
      await settled();
      return reader.get(validateKey(key, limits), undefined, hasLong);
    },
    async scan(scanOptions) {
      await settled();
      return reader.scan(validateScan(scanOptions), undefined, hasLong);
    },
    async write(batch, writeOptions) {
      live();
      validateBatch(batch, limits);
      if (batch.length === 0) return;
      // Committed in a later microtask: copy unless the caller handed its buffers over.
      const ops = writeOptions?.handOver === true ? batch : copyBatch(batch);
      return new Promise<void>((resolve, reject) => {
        let g = gathering;
        if (g === undefined) {
          const group: Group = { batches: [], waiters: [] };
          g = gathering = group;
          tail = tail.then(() => commitGroup(group));
        }
        g.batches.push(ops);
        g.waiters.push({ resolve, reject });
      });
    },
    async approximateSize(range) {
      await settled();
      const r = validateRange(range);
      return reader.size(r.start, r.end, undefined, hasLong);
    },
    async snapshot(): Promise<StorageSnapshot> {
      live();
      // The view is taken once every earlier batch is committed and before any later one is
      // (later writes start a new group, which commits after this view).
      const view = tail.then(() => {
        live();
        return root.useReadTransaction();
      });
      gathering = undefined;
      tail = view.then(
        () => undefined,
        () => undefined,
      );
      let txn: { done(): void } | undefined = await view;
      const withLong = hasLong;
      const open = () => {
        if (txn === undefined) throw new StorageClosedError('snapshot');
        if (closed) throw new StorageClosedError();
        return txn;
      };
      return {
        async get(key) {
          return reader.get(validateKey(key, limits), open(), withLong);
        },
        async scan(o) {
          return reader.scan(validateScan(o), open(), withLong);
        },
        release() {
          txn?.done();
          txn = undefined;
        },
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      // Every batch written before close commits first; later calls are refused.
      await tail;
      try {
        if (!failed) await root.flushed;
        await root.close();
      } finally {
        releaseLock();
      }
    },
  };
}

const EMPTY = new Uint8Array(0);

/**
 * lmdb-js options of an ascending scan of the short-key table over `[start, end)`. A bound longer
 * than LMDB's keys becomes its prefix P: short keys below a long key K are those <= P, and those
 * at or above it are those > P (P itself sorts before K).
 */
function forwardRange(start: Uint8Array | undefined, end: Uint8Array | undefined) {
  const longStart = start !== undefined && start.length > LMDB_KEY_BYTES_MAX;
  const longEnd = end !== undefined && end.length > LMDB_KEY_BYTES_MAX;
  return {
    start: longStart ? start.subarray(0, LMDB_KEY_BYTES_MAX) : start,
    end: longEnd ? end.subarray(0, LMDB_KEY_BYTES_MAX) : end,
    exclusiveStart: longStart,
    inclusiveEnd: longEnd,
  };
}

/**
 * lmdb-js options of a descending scan of `[start, end)`: lmdb-js runs from its `start` down to
 * its `end`, and stops above its own lowest key (0x00) without an end, so the empty key stands in.
 */
function reverseRange(start: Uint8Array | undefined, end: Uint8Array | undefined) {
  const longStart = start !== undefined && start.length > LMDB_KEY_BYTES_MAX;
  const longEnd = end !== undefined && end.length > LMDB_KEY_BYTES_MAX;
  return {
    start: longEnd ? end.subarray(0, LMDB_KEY_BYTES_MAX) : end,
    end: longStart ? start.subarray(0, LMDB_KEY_BYTES_MAX) : (start ?? EMPTY),
    reverse: true,
    exclusiveStart: end !== undefined && !longEnd,
    inclusiveEnd: !longStart,
  };
}

function firstOf<T>(it: Iterable<T>): T | undefined {
  for (const x of it) return x;
  return undefined;
}

const copyPair = (e: { key: Uint8Array; value: Uint8Array }): KeyValue => ({ key: copyBytes(e.key), value: copyBytes(e.value) });

/** Reads over the live database (transaction undefined) or a snapshot's read transaction. */
function createReader(data: LmdbDatabase, long: LmdbDatabase) {
  const at = (transaction: unknown) => (transaction === undefined ? {} : { transaction });

  function* shortPairs(start: Uint8Array | undefined, end: Uint8Array | undefined, reverse: boolean, transaction: unknown): Generator<KeyValue> {
    if (!reverse) {
      for (const e of data.getRange({ ...forwardRange(start, end), ...at(transaction) })) yield e;
      return;
    }
    // lmdb-js reverse ranges run from `start` down to `end`; the flags make them [start, end).
    // Without an explicit end it stops above its own lowest key (0x00), so pass the empty key.
    for (const e of data.getRange({ ...reverseRange(start, end), ...at(transaction) })) yield e;
  }

  // Buckets whose prefix P can hold keys in [start, end): P >= start's first bytes and P <= end's.
  function* longPairs(start: Uint8Array | undefined, end: Uint8Array | undefined, reverse: boolean, transaction: unknown): Generator<KeyValue> {
    const lo = start?.subarray(0, LMDB_KEY_BYTES_MAX);
    const hi = end?.subarray(0, LMDB_KEY_BYTES_MAX);
    const buckets = reverse
      ? long.getRange({ start: hi, end: lo ?? EMPTY, reverse: true, inclusiveEnd: true, ...at(transaction) })
      : long.getRange({ start: lo, ...at(transaction) });
    for (const e of buckets) {
      if (!reverse && hi !== undefined && compareBytes(e.key, hi) > 0) return;
      yield* bucketPairs(e.key, e.value, start, end, reverse);
    }
  }

  return {
    get(key: Uint8Array, transaction: unknown, withLong: boolean): Uint8Array | undefined {
      if (key.length <= LMDB_KEY_BYTES_MAX) {
        const v = data.getBinary(key, at(transaction));
        return v === undefined ? undefined : copyBytes(v);
      }
      if (!withLong) return undefined;
      const bucket = long.getBinary(key.subarray(0, LMDB_KEY_BYTES_MAX), at(transaction));
      if (bucket === undefined) return undefined;
      const entries = decodeBucket(bucket);
      const i = findSuffix(entries, key.subarray(LMDB_KEY_BYTES_MAX));
      return i < 0 ? undefined : copyBytes(entries[i].value);
    },
    scan(o: ReturnType<typeof validateScan>, transaction: unknown, withLong: boolean): KeyValue[] {
      const start = o.start !== undefined && o.start.length === 0 ? undefined : o.start;
      const { end, reverse, limit } = o;
      const out: KeyValue[] = [];
      if (limit === 0 || (end !== undefined && (end.length === 0 || (start !== undefined && compareBytes(start, end) >= 0)))) return out;
      const shorts = shortPairs(start, end, reverse, transaction);
      const longs = withLong ? longPairs(start, end, reverse, transaction) : [][Symbol.iterator]();
      for (const e of mergePairs(shorts, longs, reverse, limit)) out.push(copyPair(e));
      return out;
    },
    size(start: Uint8Array | undefined, end: Uint8Array | undefined, transaction: unknown, withLong: boolean): { keys: number; bytes: number } {
      const s = start !== undefined && start.length === 0 ? undefined : start;
      if (end !== undefined && (end.length === 0 || (s !== undefined && compareBytes(s, end) >= 0))) return { keys: 0, bytes: 0 };
      // Exact up to SIZE_SAMPLE pairs. Beyond, counting would walk the whole range (seconds for
      // millions of keys, on every region heartbeat), so the count is extrapolated from where the
      // last sampled key lies in the range's key space, and capped by the table's entry count.
      let keys = 0;
      let bytes = 0;
      let first: Uint8Array | undefined;
      let next: Uint8Array | undefined;
      for (const e of data.getRange({ ...forwardRange(s, end), ...at(transaction) })) {
        if (keys >= SIZE_SAMPLE) {
          next = copyBytes(e.key);
          break;
        }
        first ??= copyBytes(e.key);
        bytes += e.key.length + e.value.length;
        keys++;
      }
      if (next !== undefined && first !== undefined) {
        // The range's last key (one seek) bounds the interpolation to where keys actually are.
        const lastKey = firstOf(data.getRange({ ...reverseRange(s, end), ...at(transaction) }))?.key ?? next;
        const total = data.getStats().entryCount;
        const estimate = Math.min(total, Math.round(keys / Math.max(keyFraction(next, first, lastKey), keys / total)));
        bytes = Math.round((bytes / keys) * Math.max(estimate, keys + 1));
        keys = Math.max(estimate, keys + 1);
      }
      if (withLong) {
        for (const kv of longPairs(s, end, false, transaction)) {
          keys++;
          bytes += kv.key.length + kv.value.length;
        }
      }
      return { keys, bytes };
    },
  };
}

/** Removes `[start, end)` from the short-key table in steps, inside the caller's write transaction. */
function deleteRange(data: LmdbDatabase, start: Uint8Array, end: Uint8Array): void {
  let range = forwardRange(start.length === 0 ? undefined : start, end);
  for (;;) {
    const keys = [...data.getKeys({ ...range, limit: DELETE_STEP })].map(copyBytes);
    for (const k of keys) data.removeSync(k);
    if (keys.length < DELETE_STEP) return;
    range = { ...range, start: keys[keys.length - 1], exclusiveStart: true };
  }
}

/** Sets (value) or removes (undefined) one long key in its bucket, inside the caller's write transaction. */
function putLong(long: LmdbDatabase, key: Uint8Array, value: Uint8Array | undefined): void {
  const prefix = key.subarray(0, LMDB_KEY_BYTES_MAX);
  const suffix = key.subarray(LMDB_KEY_BYTES_MAX);
  const old = long.getBinary(prefix);
  const entries = old === undefined ? [] : decodeBucket(copyBytes(old));
  const i = findSuffix(entries, suffix);
  if (value === undefined) {
    if (i < 0) return;
    entries.splice(i, 1);
  } else if (i >= 0) entries[i] = { suffix, value };
  else entries.splice(-i - 1, 0, { suffix, value });
  if (entries.length === 0) long.removeSync(prefix);
  else long.putSync(prefix, encodeBucket(entries));
}

/** Removes the long keys in `[start, end)`, inside the caller's write transaction. */
function deleteLongRange(long: LmdbDatabase, start: Uint8Array, end: Uint8Array): void {
  const lo = start.subarray(0, LMDB_KEY_BYTES_MAX);
  const hi = end.subarray(0, LMDB_KEY_BYTES_MAX);
  const touched: Array<{ prefix: Uint8Array; bucket: Uint8Array }> = [];
  for (const e of long.getRange({ start: lo.length === 0 ? undefined : lo })) {
    if (compareBytes(e.key, hi) > 0) break;
    touched.push({ prefix: copyBytes(e.key), bucket: copyBytes(e.value) });
  }
  for (const { prefix, bucket } of touched) {
    const kept = decodeBucket(bucket).filter((x) => !inRange(joinKey(prefix, x.suffix), start, end));
    if (kept.length === 0) long.removeSync(prefix);
    else long.putSync(prefix, encodeBucket(kept));
  }
}

