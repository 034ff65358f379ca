/**
 * A fault-injecting wrapper around any storage engine, for tests and the simulator. Unsynced
 * batches live only in the wrapper (visible to reads, as in a page cache) until a synced batch
 * flushes them, in order, to the inner engine, which plays the medium. `crash()` then models a
 * power loss: a random prefix of the unsynced batches reaches the medium, the batch after that
 * prefix may be torn, the rest is lost. Every choice comes from the seeded `Rand`, so a run replays.
 */
import type { Rand, StorageEngine, WriteOp } from '../../src/ports.ts';
import { StorageClosedError, StorageIOError } from '../../src/storage/errors.ts';
import { resolveLimits, type StorageLimits, validateBatch } from '../../src/storage/validate.ts';
import { copyBatch, mapGet, mapScan, mapSize, mapSnapshot } from './map-engine.ts';
import { OrderedMap } from './ordered-map.ts';

/** Options of {@link createFaultyStorage}. */
export interface FaultyStorageOptions {
  /** The seeded source of every fault decision. */
  rand: Rand;
  /** Chance that the unsynced batch after the surviving prefix is torn by a crash. Default 0.5. */
  tearProbability?: number;
  /**
   * How a torn batch ends up. false (default): it is dropped, as the real engines' checksums do.
   * true: a prefix of its ops is kept, which models a medium that breaks batch atomicity (a
   * contract violation, for testing that a layer above would notice).
   */
  partialTear?: boolean;
  /** Chance that a `write` fails with `StorageIOError` and applies nothing. Default 0. */
  writeErrorProbability?: number;
  /** Size limits; see `defaultStorageLimits` for the defaults. */
  limits?: Partial<StorageLimits>;
}

/** What a simulated crash did. */
export interface CrashReport {
  /** Unsynced batches at the time of the crash. */
  unsynced: number;
  /** How many of them reached the medium intact (always a prefix). */
  kept: number;
  /** Whether the next one was torn (dropped, or partly kept with `partialTear`). */
  torn: boolean;
}

/** A {@link StorageEngine} that can be crashed. */
export interface FaultyStorage extends StorageEngine {
  /**
   * Simulates a crash and restart: waits for writes already handed to the medium, loses unsynced
   * batches as described above, and rebuilds the visible state from the medium. Snapshots taken
   * before the crash are closed.
   */
  crash(): Promise<CrashReport>;
  /** Number of batches written without sync and not yet flushed by a synced one. */
  readonly unsyncedBatches: number;
}

/**
 * Wraps `inner` (the medium) in a fault-injecting engine whose visible state starts as `inner`'s.
 * @param inner - the engine playing the durable medium; the wrapper owns it from now on
 * @param options - the seeded Rand and fault probabilities
 */
export async function createFaultyStorage(inner: StorageEngine, options: FaultyStorageOptions): Promise<FaultyStorage> {
  const limits = resolveLimits(options.limits);
  const { rand } = options;
  const tearProbability = options.tearProbability ?? 0.5;
  let visible = await load(inner);
  let unsynced: WriteOp[][] = [];
  // Writes to the medium, chained so that they reach it in order.
  let medium: Promise<void> = Promise.resolve();
  let epoch = 0;
  let closed = false;
  const live = () => {
    if (closed) throw new StorageClosedError();
    return visible;
  };

  const engine: FaultyStorage = {
    get unsyncedBatches() {
      return unsynced.length;
    },
    async get(key) {
      return mapGet(live(), key, limits);
    },
    async scan(scanOptions) {
      return mapScan(live(), scanOptions);
    },
    async write(batch, writeOptions) {
      const v = live();
      validateBatch(batch, limits);
      if (options.writeErrorProbability && rand.next() < options.writeErrorProbability) {
        throw new StorageIOError('injected write error (nothing was applied)');
      }
      const ops = copyBatch(batch);
      v.apply(ops);
      unsynced.push(ops);
      if (writeOptions?.sync !== true) return;
      const flush = unsynced;
      unsynced = [];
      const done = medium.then(() => persist(inner, flush));
      medium = done.catch(() => {});
      await done;
    },
    async approximateSize(range) {
      return mapSize(live(), range);
    },
    async snapshot() {
      const at = epoch;
      return mapSnapshot(live(), limits, () => !closed && epoch === at);
    },
    async crash() {
      live();
      await medium;
      const lost = unsynced;
      unsynced = [];
      const kept = rand.int(lost.length + 1);
      const torn = kept < lost.length && rand.next() < tearProbability;
      const reach = lost.slice(0, kept);
      if (torn && options.partialTear) {
        const ops = lost[kept];
        reach.push(ops.slice(0, rand.int(ops.length)));
      }
      await persist(inner, reach);
      epoch++;
      visible = await load(inner);
      return { unsynced: lost.length, kept, torn };
    },
    async close() {
      if (closed) return;
      closed = true;
      await medium;
      // A clean shutdown flushes, as a real engine's close does.
      await persist(inner, unsynced);
      unsynced = [];
      await inner.close();
    },
  };
  return engine;
}

async function persist(inner: StorageEngine, batches: WriteOp[][]): Promise<void> {
  for (let i = 0; i < batches.length; i++) {
    if (batches[i].length > 0 || i === batches.length - 1) await inner.write(batches[i], { sync: i === batches.length - 1 });
  }
}

async function load(inner: StorageEngine): Promise<OrderedMap> {
  const map = new OrderedMap();
  const rows = await inner.scan();
  map.apply(rows.map((r) => ({ type: 'put', key: r.key, value: r.value })));
  return map;
}
