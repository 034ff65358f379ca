/**
 * The IndexedDB storage engine, through `idb`: one database per store name holding one object
 * store of binary keys (IndexedDB orders binary keys by unsigned bytes, as the port requires),
 * one transaction per batch.
 *
 * Durability: `write(batch, { sync: true })` commits with `durability: 'strict'` and resolves on
 * the transaction's `complete` event, i.e. once the browser reports the data flushed to disk.
 * `sync: false` uses `durability: 'relaxed'`: it resolves once committed and visible to every
 * reader, but the browser may still lose it if the OS or machine crashes.
 *
 * `idb` needs the IndexedDB classes as globals (a browser, or `import 'fake-indexeddb/auto'` in
 * Node); the factory itself can be passed in.
 *
 * @example
 * ```ts
 * import { createIndexedDbStorage } from 'flotilla/storage/indexeddb';
 * const db = await createIndexedDbStorage({ name: 'flotilla-store-1' });
 * await db.write([{ type: 'put', key: new Uint8Array([1]), value: new Uint8Array([42]) }], { sync: true });
 * ```
 */
import { type IDBPDatabase, wrap } from 'idb';
import type { StorageEngine, WriteOp } from '../../src/ports.ts';
import { StorageClosedError, StorageError, StorageIOError, UnsupportedError } from '../../src/storage/errors.ts';
import { resolveLimits, type StorageLimits, validateBatch, validateKey, validateRange, validateScan } from '../../src/storage/validate.ts';
import { asKey, idbRange, recordUndo, STORE, type SnapshotUndo, scanStore, snapshotView, type Store } from './indexeddb-snapshot.ts';

/** The typed storage errors, re-exported so that callers can test `instanceof` without another import. */
export * from '../../src/storage/errors.ts';
export { defaultStorageLimits, type StorageLimits } from '../../src/storage/validate.ts';

/** Options of {@link createIndexedDbStorage}. */
export interface IndexedDbStorageOptions {
  /** The database name; one database per store. */
  name: string;
  /** The IndexedDB factory; default `globalThis.indexedDB`. */
  indexedDB?: IDBFactory;
  /** Size limits; see `defaultStorageLimits` for the defaults. */
  limits?: Partial<StorageLimits>;
}

async function openDatabase(factory: IDBFactory, name: string): Promise<IDBPDatabase> {
  const req = factory.open(name, 1);
  req.onupgradeneeded = () => {
    if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
  };
  const db = await wrap(req);
  if (db === undefined) throw new StorageIOError(`cannot open IndexedDB database ${name}`);
  return db;
}

function applyOp(store: Store, op: WriteOp): Promise<unknown> {
  if (op.type === 'put') return store.put(op.value, asKey(op.key));
  if (op.type === 'delete') return store.delete(asKey(op.key));
  const range = idbRange(op.start, op.end);
  return range === 'empty' ? Promise.resolve() : range === undefined ? store.clear() : store.delete(range);
}

/** Keys and bytes in `[start, end)`, read in pages within one transaction so memory stays bounded. */
async function sizeOf(store: Store, start: Uint8Array | undefined, end: Uint8Array | undefined): Promise<{ keys: number; bytes: number }> {
  const PAGE = 1000;
  let keys = 0;
  let bytes = 0;
  for (let from = start; ; ) {
    const page = await scanStore(store, { start: from, end, limit: PAGE, reverse: false });
    for (const row of page) bytes += row.key.length + row.value.length;
    keys += page.length;
    if (page.length < PAGE) return { keys, bytes };
    // The smallest key after the last one read: the last key with a 0x00 byte appended.
    const last = page[page.length - 1].key;
    from = new Uint8Array(last.length + 1);
    from.set(last);
  }
}

/**
 * Opens (or creates) the IndexedDB database `options.name` as a {@link StorageEngine}.
 * @param options - database name, optional factory and size limits
 */
export async function createIndexedDbStorage(options: IndexedDbStorageOptions): Promise<StorageEngine> {
  const limits = resolveLimits(options.limits);
  const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (factory === undefined) throw new UnsupportedError('no IndexedDB here: pass options.indexedDB (e.g. from fake-indexeddb in Node)');
  const db = await openDatabase(factory, options.name);
  // Another tab deleting or upgrading the database: let it, and fail our calls from then on.
  db.addEventListener('versionchange', () => {
    closed = true;
    db.close();
  });
  let closed = false;
  const inflight = new Set<Promise<void>>();
  const snapshots = new Set<SnapshotUndo>();
  const live = (): IDBPDatabase => {
    if (closed) throw new StorageClosedError();
    return db;
  };
  const io = (what: string) => (e: unknown) => {
    throw e instanceof StorageError ? e : new StorageIOError(`${what} in IndexedDB ${options.name}: ${String(e)}`, { cause: e });
  };

  async function writeBatch(batch: readonly WriteOp[], sync: boolean): Promise<void> {
    const d = live();
    validateBatch(batch, limits);
    // The snapshots alive now must see this batch as "after"; those taken later wait for it.
    const undoTargets = [...snapshots];
    const tx = d.transaction(STORE, 'readwrite', { durability: sync ? 'strict' : 'relaxed' });
    const store = tx.store as unknown as Store;
    const ops = (async () => {
      for (const op of batch) {
        if (undoTargets.length > 0) await recordUndo(store, op, undoTargets);
        // Without snapshots the requests are pipelined; the transaction keeps their order.
        if (undoTargets.length > 0) await applyOp(store, op);
        else void applyOp(store, op).catch(() => {});
      }
    })();
    ops.catch(() => tx.abort());
    const done = Promise.all([ops, tx.done]).then(() => undefined, io('write failed'));
    inflight.add(done);
    done.then(
      () => inflight.delete(done),
      () => inflight.delete(done),
    );
    return done;
  }

  return {
    async get(key) {
      const k = validateKey(key, limits);
      return (await live().get(STORE, asKey(k)).catch(io('get failed'))) as Uint8Array | undefined;
    },
    async scan(scanOptions) {
      const a = validateScan(scanOptions);
      return scanStore(live().transaction(STORE, 'readonly').store as unknown as Store, a).catch(io('scan failed'));
    },
    write(batch, writeOptions) {
      return writeBatch(batch, writeOptions?.sync === true);
    },
    async approximateSize(range) {
      const r = validateRange(range);
      return sizeOf(live().transaction(STORE, 'readonly').store as unknown as Store, r.start, r.end).catch(io('size failed'));
    },
    async snapshot() {
      live();
      const undo: SnapshotUndo = new Map();
      snapshots.add(undo);
      await Promise.allSettled([...inflight]);
      return snapshotView(() => live(), undo, limits, () => snapshots.delete(undo));
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...inflight]);
      db.close();
    },
  };
}
