/**
 * Snapshots of the IndexedDB engine. IndexedDB cannot hold a read transaction open across
 * awaits, so a snapshot is the live database plus an undo map: every batch written while a
 * snapshot is alive first records, inside its own transaction, the value each key it touches had
 * before the first change since the snapshot (or its absence). A snapshot read takes the live
 * value unless the undo map, consulted after the read, holds the older one.
 */
import type { IDBPCursorWithValue, IDBPDatabase } from 'idb';
import type { KeyValue, StorageSnapshot, WriteOp } from '../../src/ports.ts';
import { compareBytes, inRange, isEmptyRange, toHex } from '../../src/storage/bytes.ts';
import { StorageClosedError } from '../../src/storage/errors.ts';
import { type StorageLimits, validateKey, validateScan } from '../../src/storage/validate.ts';

/** Hex key → the key and its value when the snapshot was taken (undefined: it did not exist). */
export type SnapshotUndo = Map<string, { key: Uint8Array; value: Uint8Array | undefined }>;

/** The one object store in each database. */
export const STORE = 'kv';

/** The part of an `idb` object store handle (of any transaction mode) that the engine uses. */
export interface Store {
  get(key: IDBValidKey): Promise<unknown>;
  getAll(range?: IDBKeyRange, count?: number): Promise<unknown[]>;
  getAllKeys(range?: IDBKeyRange, count?: number): Promise<IDBValidKey[]>;
  openCursor(range?: IDBKeyRange, direction?: IDBCursorDirection): Promise<IDBPCursorWithValue<unknown, string[], string, unknown, 'readonly' | 'readwrite'> | null>;
  put(value: unknown, key: IDBValidKey): Promise<IDBValidKey>;
  delete(key: IDBValidKey | IDBKeyRange): Promise<void>;
  clear(): Promise<void>;
}

/** A byte key as IndexedDB takes it (a binary key; the DOM typings want an ArrayBuffer-backed view). */
export function asKey(key: Uint8Array): IDBValidKey {
  return key as unknown as IDBValidKey;
}

/** The IDBKeyRange for `[start, end)`: undefined when unbounded, 'empty' when it holds nothing. */
export function idbRange(start: Uint8Array | undefined, end: Uint8Array | undefined): IDBKeyRange | undefined | 'empty' {
  // An empty byte string is below every key, so as a start bound it is no bound at all.
  const lo = start !== undefined && start.length > 0 ? start : undefined;
  if (end !== undefined && (end.length === 0 || isEmptyRange(lo, end))) return 'empty';
  if (lo !== undefined && end !== undefined) return IDBKeyRange.bound(asKey(lo), asKey(end), false, true);
  if (lo !== undefined) return IDBKeyRange.lowerBound(asKey(lo));
  if (end !== undefined) return IDBKeyRange.upperBound(asKey(end), true);
  return undefined;
}

/** Reads `[start, end)` in order or reverse, at most `limit` pairs, within one transaction's store. */
export async function scanStore(store: Store, a: ReturnType<typeof validateScan>): Promise<KeyValue[]> {
  const range = idbRange(a.start, a.end);
  if (range === 'empty' || a.limit === 0) return [];
  const count = a.limit === Number.POSITIVE_INFINITY ? undefined : Math.min(a.limit, 2 ** 32 - 1);
  if (!a.reverse) {
    const [keys, values] = await Promise.all([store.getAllKeys(range, count), store.getAll(range, count)]);
    return keys.map((k, i) => ({ key: new Uint8Array(k as ArrayBuffer), value: values[i] as Uint8Array }));
  }
  const out: KeyValue[] = [];
  let cursor = await store.openCursor(range, 'prev');
  while (cursor && out.length < a.limit) {
    out.push({ key: new Uint8Array(cursor.key as ArrayBuffer), value: cursor.value as Uint8Array });
    cursor = await cursor.continue();
  }
  return out;
}


function remember(targets: SnapshotUndo[], key: Uint8Array, value: Uint8Array | undefined): void {
  const hex = toHex(key);
  for (const undo of targets) if (!undo.has(hex)) undo.set(hex, { key, value });
}

/**
 * Records in each of `targets` the current value of every key `op` is about to change. Runs in
 * the batch's transaction before the op, so what it reads is exactly the pre-op state.
 */
export async function recordUndo(store: Store, op: WriteOp, targets: SnapshotUndo[]): Promise<void> {
  if (op.type !== 'deleteRange') {
    remember(targets, op.key, (await store.get(asKey(op.key))) as Uint8Array | undefined);
    return;
  }
  const range = idbRange(op.start, op.end);
  if (range === 'empty') return;
  let cursor = await store.openCursor(range);
  while (cursor) {
    remember(targets, new Uint8Array(cursor.key as ArrayBuffer), cursor.value as Uint8Array);
    cursor = await cursor.continue();
  }
}

/**
 * The read-only view of a snapshot.
 * @param db - the live database (throws when the engine is closed)
 * @param undo - the snapshot's undo map, filled by later writes
 * @param limits - for validating keys
 * @param onRelease - unregisters the undo map
 */
export function snapshotView(db: () => IDBPDatabase, undo: SnapshotUndo, limits: StorageLimits, onRelease: () => void): StorageSnapshot {
  let released = false;
  const open = () => {
    if (released) throw new StorageClosedError('snapshot');
    return db();
  };
  return {
    async get(key) {
      const k = validateKey(key, limits);
      const live = (await open().get(STORE, asKey(k))) as Uint8Array | undefined;
      const old = undo.get(toHex(k));
      return old ? old.value?.slice() : live;
    },
    async scan(options) {
      const a = validateScan(options);
      if (a.limit === 0) return [];
      let want = a.limit === Number.POSITIVE_INFINITY ? a.limit : a.limit + undo.size;
      for (;;) {
        const rows = await scanStore(open().transaction(STORE, 'readonly').store as unknown as Store, { ...a, limit: want });
        // Rows the undo map overrides may be dropped below; make sure enough remain, or all were read.
        const needed = a.limit === Number.POSITIVE_INFINITY ? want : a.limit + undo.size;
        if (rows.length >= want && needed > want) {
          want = needed;
          continue;
        }
        return overlay(rows, undo, a);
      }
    },
    release() {
      released = true;
      onRelease();
    },
  };
}

function overlay(rows: KeyValue[], undo: SnapshotUndo, a: ReturnType<typeof validateScan>): KeyValue[] {
  const out = rows.filter((r) => !undo.has(toHex(r.key)));
  for (const { key, value } of undo.values()) {
    if (value !== undefined && inRange(key, a.start, a.end)) out.push({ key: key.slice(), value: value.slice() });
  }
  out.sort((x, y) => (a.reverse ? compareBytes(y.key, x.key) : compareBytes(x.key, y.key)));
  // When the live scan was cut, at least `limit` live rows survived the filter, so every unread
  // live row sorts after the first `limit` rows here.
  return out.length > a.limit ? out.slice(0, a.limit) : out;
}
