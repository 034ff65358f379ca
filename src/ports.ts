/**
 * Ports: the only ways the pure core touches the world.
 *
 * Everything under `src/` is pure TypeScript that runs unchanged in Node, Deno and the browser.
 * Time, randomness, logging, storage and the network come in through these interfaces; the
 * implementations live in `adapters/`, one factory per file, each returning a plain object.
 *
 * This file imports nothing, so every layer may use it, the Raft core included. The one port that
 * speaks the wire format, `Transport`, lives above the codec in `src/transport/port.ts`.
 */
/** A monotonic clock in milliseconds. The real one reads `performance.now()`; the virtual one moves only when told. */
export interface Clock {
  /** Milliseconds since an arbitrary origin; never decreases. */
  now(): number;
  /**
   * Calls `fn` once after `delayMs`. Returns a function that cancels the call.
   * A virtual clock runs it when time is advanced past the deadline.
   */
  setTimer(delayMs: number, fn: () => void): () => void;
}

/** A source of uniformly distributed random numbers. Seeded in tests so that a run can be replayed. */
export interface Rand {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
}

/** Structured logging; the core never writes to a console itself. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops everything; the default wherever a logger is optional. */
export const nullLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

// ---------------------------------------------------------------------------------------------
// Storage
// ---------------------------------------------------------------------------------------------

/** One operation of an atomic write batch. Keys order by unsigned bytes. */
export type WriteOp =
  | { type: 'put'; key: Uint8Array; value: Uint8Array }
  | { type: 'delete'; key: Uint8Array }
  /** Deletes every key k with start <= k < end; a no-op when start >= end. */
  | { type: 'deleteRange'; start: Uint8Array; end: Uint8Array };

/** Options of {@link StorageEngine.write}. */
export interface WriteOptions {
  /**
   * `true`: the returned promise resolves only once the whole batch is durable on the medium
   * (it survives a crash of the process and of the machine, as far as the medium's flush allows).
   * `false` (default): it resolves once the batch is visible to reads in this process; a crash may
   * lose it, but never part of it, and never a batch written before a synced one that survived.
   */
  sync?: boolean;
  /**
   * `true`: the caller hands the batch's key and value buffers over to the engine and promises
   * never to change them again, so the engine may keep them as they are instead of copying them.
   * A kept view keeps its whole underlying `ArrayBuffer` alive, so hand over only views into
   * buffers that may stay in memory as long as the value (the store hands over views into one
   * private copy of each applied command). Engines may ignore the flag and copy anyway.
   * `false` (default): the engine copies whatever it keeps.
   */
  handOver?: boolean;
}

/** A range scan. `start` is inclusive, `end` exclusive; both optional (unbounded). */
export interface ScanOptions {
  start?: Uint8Array;
  end?: Uint8Array;
  /** At most this many pairs; unbounded when absent. */
  limit?: number;
  /** Newest-to-oldest order (largest key first) when true. */
  reverse?: boolean;
}

/** A key/value pair returned by a scan. */
export interface KeyValue {
  key: Uint8Array;
  value: Uint8Array;
}

/** A half-open key range `[start, end)`; absent bounds are unbounded. */
export interface KeyRange {
  start?: Uint8Array;
  end?: Uint8Array;
}

/** A consistent, read-only view of the engine as it was when the snapshot was taken. */
export interface StorageSnapshot {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  scan(options?: ScanOptions): Promise<KeyValue[]>;
  /** Releases whatever the snapshot holds. Using it afterwards throws `StorageClosedError`. */
  release(): void;
}

/**
 * An ordered map of byte keys to byte values with atomic write batches. All regions of a store
 * share one engine: Raft state and user data are keys under different prefixes.
 *
 * Keys are non-empty `Uint8Array`s, values any `Uint8Array` (empty included), both within the
 * engine's limits (defaults: key 8 KiB, value 8 MiB, batch 100 000 ops / 64 MiB). Bad input
 * rejects with a typed `StorageError` (see `src/storage/errors.ts`) and changes nothing. The
 * engine copies what it is given (unless the caller hands its buffers over, see
 * {@link WriteOptions.handOver}) and what it returns, so callers own their buffers.
 * Implementations: `flotilla/storage/memory`, `flotilla/storage/fs`, `flotilla/storage/indexeddb`.
 */
export interface StorageEngine {
  /** The value stored under `key`, or undefined. Sees every write whose `write` was called before. */
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Pairs in `[start, end)` in unsigned byte order (or reverse), at most `limit`. */
  scan(options?: ScanOptions): Promise<KeyValue[]>;
  /** Applies every op of the batch or none of them. See {@link WriteOptions} for `sync`. */
  write(batch: readonly WriteOp[], options?: WriteOptions): Promise<void>;
  /** Approximate number of keys and bytes (keys + values) in `[start, end)`, for split decisions. */
  approximateSize(range?: KeyRange): Promise<{ keys: number; bytes: number }>;
  /**
   * A consistent view for building Raft snapshots while writes go on. It holds every batch whose
   * `write` was called before `snapshot()` and none called after.
   */
  snapshot(): Promise<StorageSnapshot>;
  /** Flushes and releases the engine. Any later call rejects with `StorageClosedError`; closing again is a no-op. */
  close(): Promise<void>;
}
