/**
 * The commands of the KV state machine: writes go through the Raft log as a {@link KvCommand},
 * reads are served from the applied state (after ReadIndex or under a lease) as a {@link KvReadOp}.
 * Names and semantics follow RheaKV's request types (`PutRequest`, `CompareAndPutRequest`, ...).
 *
 * Keys and values are bytes. In every range an empty `start` is -∞ and an empty `end` is +∞.
 */

import type { WatchResult } from './history-types.ts';
import type { TxnResult, TxnWriteOp } from './txn.ts';

/** One key/value pair of a `batchPut`. */
export interface KvEntry {
  key: Uint8Array;
  value: Uint8Array;
}

/** One comparison of a `batchCompareAndPut`: `expect` null means "the key is absent". */
export interface CasEntry {
  key: Uint8Array;
  expect: Uint8Array | null;
  update: Uint8Array;
}

/**
 * A write, as RheaKV names them. What each does, and its result:
 * - `put`: sets the value. → `true`.
 * - `getAndPut`: sets the value. → the previous value, or null.
 * - `compareAndPut`: sets `update` only if the current value equals `expect` (null: only if absent). → whether it did.
 * - `putIfAbsent`: sets the value only if the key is absent. → the previous value (null: it was absent and is now set).
 * - `merge`: appends `separator + value` to the current value, or sets `value` when absent. → `true`.
 * - `delete`: removes the key (absent is fine). → `true`.
 * - `deleteRange`: removes every key in `[start, end)`. → `true`.
 * - `batchPut` / `batchDelete`: all entries, atomically; a later entry for the same key wins. → `true`.
 * - `batchCompareAndPut`: every comparison is made against the state before the batch; if all hold,
 *   every update is written, otherwise nothing is (all-or-nothing). Keys must be distinct. → whether it did.
 * - `getSequence`: hands out `[startValue, startValue + step)` of the key's sequence (0 at first) and
 *   moves it on; step 0 only reads. → {@link SequenceRange}.
 * - `resetSequence`: the next `getSequence` starts at 0 again. → `true`.
 * - `tryLock`: takes the lock for `leaseMs` if it is free or expired (a new, higher fencing token), or
 *   re-enters it if `owner` holds it (same token, lease extended). → {@link LockResult}.
 * - `renewLock`: extends the lease of an unexpired lock that `owner` holds. → {@link LockResult}.
 * - `unlock`: releases one hold of `owner`'s lock (fully when the re-entry count reaches 0). → {@link UnlockResult}.
 * - `expireSessions`: store-internal; forgets sessions idle for `idleMs` or more (see `sessions.ts`). → the number forgotten.
 * - `txn`: etcd-style `if (compare) then (success) else (failure)` on keys of one region, applied
 *   whole or not at all (see `txn.ts`). → {@link TxnResult}.
 * - `leasePut`: sets the value and attaches the key to lease `lease` (PD's lease id; refused with
 *   `LeaseNotFound` if this region revoked it; see `leases.ts`). → `true`.
 * - `revokeLease`: store-internal, sent on PD's word; deletes every key of the lease in the region
 *   and refuses the lease from then on. → {@link LeaseRevokeResult}.
 * - `compact`: moves the region's history compaction point up to `revision` (see `history.ts`). → the point now in effect.
 */
export type KvWriteOp =
  | { type: 'put'; key: Uint8Array; value: Uint8Array }
  | { type: 'getAndPut'; key: Uint8Array; value: Uint8Array }
  | { type: 'compareAndPut'; key: Uint8Array; expect: Uint8Array | null; update: Uint8Array }
  | { type: 'putIfAbsent'; key: Uint8Array; value: Uint8Array }
  | { type: 'merge'; key: Uint8Array; value: Uint8Array; separator: Uint8Array }
  | { type: 'delete'; key: Uint8Array }
  | { type: 'deleteRange'; start: Uint8Array; end: Uint8Array }
  | { type: 'batchPut'; entries: KvEntry[] }
  | { type: 'batchDelete'; keys: Uint8Array[] }
  | { type: 'batchCompareAndPut'; entries: CasEntry[] }
  | { type: 'getSequence'; key: Uint8Array; step: number }
  | { type: 'resetSequence'; key: Uint8Array }
  | { type: 'tryLock'; key: Uint8Array; owner: string; leaseMs: number }
  | { type: 'renewLock'; key: Uint8Array; owner: string; leaseMs: number }
  | { type: 'unlock'; key: Uint8Array; owner: string }
  | { type: 'expireSessions'; idleMs: number; limit: number }
  | TxnWriteOp
  | { type: 'leasePut'; key: Uint8Array; value: Uint8Array; lease: number }
  | { type: 'revokeLease'; lease: number }
  | { type: 'compact'; revision: number };

/** The type tag of a write. */
export type KvWriteType = KvWriteOp['type'];

/**
 * A write as it goes through the Raft log: the op plus who sent it and when it was proposed.
 *
 * - `clientId`/`seq` identify the request for at-most-once application (Raft thesis §6.3): the
 *   client gives each write a `seq` higher than its previous one (one counter across regions),
 *   keeps at most one write in flight per region, and retries a write with the same `seq`. An
 *   empty `clientId` opts out of deduplication (store-internal commands such as `expireSessions`).
 * - `nowMs` is the leader's region time when it proposed the command. Replicas never read a clock:
 *   lock leases and session idleness are judged by `nowMs` alone, so every replica decides alike.
 *   The store stamps it with a `RegionClock`, which anchors the new leader's clock to the latest
 *   applied `nowMs` so region time neither runs backwards nor leaps ahead across leader changes.
 */
export interface KvCommand {
  clientId: string;
  /** Positive safe integer; ignored when `clientId` is empty. */
  seq: number;
  /** Non-negative safe integer, milliseconds of region time. */
  nowMs: number;
  op: KvWriteOp;
}

/** The numbers a `getSequence` handed out: `[startValue, endValue)`. */
export interface SequenceRange {
  startValue: number;
  endValue: number;
}

/** The outcome of `tryLock` and `renewLock`; on failure it describes the lock as it stands. */
export interface LockResult {
  /** Whether `owner` holds the lock now. */
  success: boolean;
  /** The holder after the command; empty when nobody holds it. */
  owner: string;
  /** The holder's fencing token (the last one handed out when nobody holds it); 0 when the lock was never taken. */
  fencingToken: number;
  /** When the holder's lease ends, in region time; 0 when nobody holds it. */
  deadlineMs: number;
  /** How many times the holder entered the lock; 0 when nobody holds it. */
  acquires: number;
}

/** What revoking a lease in a region did (`leases.ts`): how many keys it deleted and the range it covered. */
export interface LeaseRevokeResult {
  deleted: number;
  /** The region's range when the revoke applied: PD counts this range as cleared of the lease. */
  startKey: Uint8Array;
  endKey: Uint8Array;
}

/** The outcome of `unlock`. */
export interface UnlockResult {
  /** Whether `owner` held the lock (and one hold was released). */
  success: boolean;
  /** Holds left; 0 when the lock is now free. */
  acquires: number;
  /** The fencing token of the hold released (or of the current holder when `success` is false). */
  fencingToken: number;
}

/** The result of each write type. */
export interface KvWriteResults {
  put: true;
  getAndPut: Uint8Array | null;
  compareAndPut: boolean;
  putIfAbsent: Uint8Array | null;
  merge: true;
  delete: true;
  deleteRange: true;
  batchPut: true;
  batchDelete: true;
  batchCompareAndPut: boolean;
  getSequence: SequenceRange;
  resetSequence: true;
  tryLock: LockResult;
  renewLock: LockResult;
  unlock: UnlockResult;
  expireSessions: number;
  txn: TxnResult;
  leasePut: true;
  revokeLease: LeaseRevokeResult;
  compact: number;
}

/** The result of any write. */
export type KvWriteResult = KvWriteResults[KvWriteType];

/**
 * A read, served from applied state. A range read covers `[start, end)` in ascending key order
 * (`reverseScan`: the same range, descending), returns at most `limit` pairs (default and ceiling:
 * `scanLimitMax`), and leaves values out (null) when `returnValue` is false.
 *
 * History reads (`history.ts`): `watch` returns the changes of keys in `[start, end)` with a
 * revision above `after` (none and the current revision when `after` is absent), at most `limit`
 * events in whole revisions; `getAt` returns a key's value as of a past revision of its region.
 */
export type KvReadOp =
  | { type: 'get'; key: Uint8Array }
  | { type: 'multiGet'; keys: Uint8Array[] }
  | { type: 'containsKey'; key: Uint8Array }
  | { type: 'scan'; start: Uint8Array; end: Uint8Array; limit?: number; returnValue?: boolean }
  | { type: 'reverseScan'; start: Uint8Array; end: Uint8Array; limit?: number; returnValue?: boolean }
  | { type: 'getLatestSequence'; key: Uint8Array }
  | { type: 'watch'; start: Uint8Array; end: Uint8Array; after?: number; limit?: number; prevValue?: boolean }
  | { type: 'getAt'; key: Uint8Array; revision: number };

/** The type tag of a read. */
export type KvReadType = KvReadOp['type'];

/** A pair a scan returned; `value` is null when the scan asked for keys only. */
export interface ScanEntry {
  key: Uint8Array;
  value: Uint8Array | null;
}

/** The result of each read type. `multiGet` answers in the order of its keys. */
export interface KvReadResults {
  get: Uint8Array | null;
  multiGet: (Uint8Array | null)[];
  containsKey: boolean;
  scan: ScanEntry[];
  reverseScan: ScanEntry[];
  getLatestSequence: number;
  watch: WatchResult;
  getAt: Uint8Array | null;
}

/** The result of any read. */
export type KvReadResult = KvReadResults[KvReadType];
