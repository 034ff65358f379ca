/**
 * Distributed locks with fencing tokens (RheaKV's `DistributedLock`, Kleppmann's fencing).
 *
 * A lock record lives under `l` + key and is never deleted, so its fencing token survives
 * releases: every new acquisition (a free or expired lock taken by anyone) gets the previous
 * token + 1, so tokens only rise, across owners, releases, expiries and leader changes (the
 * record is replicated state). A re-entry by the holder keeps its token and extends the lease.
 * Leases are judged by the command's `nowMs` (the leader's region time at proposal), never by a
 * replica's clock: a lock is expired when `nowMs >= deadlineMs`.
 *
 * A resource guarded by the lock should refuse writes carrying a token lower than the highest it
 * has seen; that keeps a holder whose lease ran out (GC pause, partition) from doing harm.
 */
import { packOwned } from '../codec/msgpack.ts';
import { CorruptCommandError } from '../errors.ts';
import { unpackRecord } from './codec.ts';
import type { LockResult, UnlockResult } from './commands.ts';
import { lockKey } from './keys.ts';
import type { WriteOverlay } from './overlay.ts';

/** The stored state of one lock. */
export interface LockRecord {
  /** The holder; empty when free. */
  owner: string;
  /** End of the holder's lease in region time; 0 when free. */
  deadlineMs: number;
  /** The last token handed out for this key (the holder's while held). Invariant: never decreases. */
  fencingToken: number;
  /** Re-entries of the holder; 0 when free. */
  acquires: number;
}

const FREE: LockRecord = { owner: '', deadlineMs: 0, fencingToken: 0, acquires: 0 };

/**
 * Encodes a lock record.
 * @param record - the record.
 */
export function encodeLockRecord(record: LockRecord): Uint8Array {
  return packOwned([record.owner, record.deadlineMs, record.fencingToken, record.acquires]);
}

/**
 * Decodes a lock record; throws {@link CorruptCommandError} when it is not one.
 * @param bytes - what {@link encodeLockRecord} produced.
 */
export function decodeLockRecord(bytes: Uint8Array): LockRecord {
  const raw = unpackRecord(bytes, 'lock record');
  if (!Array.isArray(raw) || raw.length !== 4 || typeof raw[0] !== 'string' || !raw.slice(1).every(Number.isSafeInteger)) {
    throw new CorruptCommandError('lock record must be [owner, deadlineMs, fencingToken, acquires]');
  }
  return { owner: raw[0], deadlineMs: raw[1], fencingToken: raw[2], acquires: raw[3] };
}

async function read(overlay: WriteOverlay, key: Uint8Array): Promise<LockRecord> {
  const bytes = await overlay.get(lockKey(key));
  return bytes === undefined ? FREE : decodeLockRecord(bytes);
}

function held(r: LockRecord, nowMs: number): boolean {
  return r.owner !== '' && nowMs < r.deadlineMs;
}

function describe(r: LockRecord, success: boolean, nowMs: number): LockResult {
  return held(r, nowMs)
    ? { success, owner: r.owner, fencingToken: r.fencingToken, deadlineMs: r.deadlineMs, acquires: r.acquires }
    : { success, owner: '', fencingToken: r.fencingToken, deadlineMs: 0, acquires: 0 };
}

/**
 * Applies `tryLock`: takes a free or expired lock with a new token, re-enters a lock `owner`
 * holds (same token, `acquires + 1`, lease extended to `nowMs + leaseMs`), or fails describing
 * the holder.
 * @param overlay - where to read and stage writes.
 * @param key - the lock's user key.
 * @param owner - who asks.
 * @param leaseMs - the lease, positive.
 * @param nowMs - the command's region time.
 */
export async function tryLock(overlay: WriteOverlay, key: Uint8Array, owner: string, leaseMs: number, nowMs: number): Promise<LockResult> {
  const r = await read(overlay, key);
  let next: LockRecord;
  if (held(r, nowMs)) {
    if (r.owner !== owner) return describe(r, false, nowMs);
    next = { owner, deadlineMs: nowMs + leaseMs, fencingToken: r.fencingToken, acquires: r.acquires + 1 };
  } else {
    next = { owner, deadlineMs: nowMs + leaseMs, fencingToken: r.fencingToken + 1, acquires: 1 };
  }
  overlay.put(lockKey(key), encodeLockRecord(next));
  return describe(next, true, nowMs);
}

/**
 * Applies `renewLock`: extends to `nowMs + leaseMs` the lease of a lock `owner` holds and whose
 * lease has not run out. An expired lease is not revived, even if nobody took the lock since:
 * the holder must `tryLock` again and get a new token.
 * @param overlay - where to read and stage writes.
 * @param key - the lock's user key.
 * @param owner - who asks.
 * @param leaseMs - the new lease, positive.
 * @param nowMs - the command's region time.
 */
export async function renewLock(overlay: WriteOverlay, key: Uint8Array, owner: string, leaseMs: number, nowMs: number): Promise<LockResult> {
  const r = await read(overlay, key);
  if (!held(r, nowMs) || r.owner !== owner) return describe(r, false, nowMs);
  const next = { ...r, deadlineMs: nowMs + leaseMs };
  overlay.put(lockKey(key), encodeLockRecord(next));
  return describe(next, true, nowMs);
}

/**
 * Applies `unlock`: releases one hold of `owner` (the lock is free when none is left). Succeeds
 * while `owner` is the recorded holder, even after its lease ran out, as long as nobody took the
 * lock since; the token is kept so the next holder gets a higher one.
 * @param overlay - where to read and stage writes.
 * @param key - the lock's user key.
 * @param owner - who asks.
 * @param nowMs - the command's region time.
 */
export async function unlock(overlay: WriteOverlay, key: Uint8Array, owner: string, nowMs: number): Promise<UnlockResult> {
  const r = await read(overlay, key);
  if (r.owner !== owner || r.owner === '') {
    return { success: false, acquires: held(r, nowMs) ? r.acquires : 0, fencingToken: r.fencingToken };
  }
  // An expired lease releases every hold at once: none of them protects anything any more.
  const acquires = held(r, nowMs) ? r.acquires - 1 : 0;
  const next: LockRecord = acquires > 0 ? { ...r, acquires } : { owner: '', deadlineMs: 0, fencingToken: r.fencingToken, acquires: 0 };
  overlay.put(lockKey(key), encodeLockRecord(next));
  return { success: true, acquires, fencingToken: r.fencingToken };
}
