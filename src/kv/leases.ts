/**
 * The region side of TTL leases (docs/leases.md): which keys are attached to which lease, and
 * which leases this region has revoked. The leases themselves (ttl, expiry, keepAlive) live in
 * PD's replicated state (`src/pd/lease-table.ts`); a region only carries out what PD decided.
 *
 * | prefix     | key                                  | value           |
 * |------------|--------------------------------------|-----------------|
 * | `e` (0x65) | `e` + userKey                        | lease id (u64)  |
 * | `x` (0x78) | `x` + regionId (u64) + leaseId (u64) | empty: revoked  |
 *
 * The key → lease index is keyed by the user key, so it follows the region's range like data
 * (a split moves nothing, a snapshot carries the region's slice). Revoking lease L in a region is
 * one command through the region's log: it deletes every key of L in the region (as a
 * `batchDelete`, so whatever observes deletes sees these too) and records L as revoked for the
 * region. A `leasePut` naming a revoked lease is refused, so a put that races the revoke can
 * never outlive it: applied before the revoke it is deleted by it, applied after it is refused.
 * The revoked marks are per region like client sessions: a split copies them to the child, a
 * merge unions them into the target, so a range once cleared of L refuses L for good.
 *
 * Any other write that sets or deletes a key detaches it from its lease (etcd: a put without a
 * lease detaches), so revoking the lease later leaves the new value alone.
 */
import { LeaseNotFoundError } from '../errors.ts';
import type { WriteOp } from '../ports.ts';
import type { KvWriteOp, KvWriteResult } from './commands.ts';

export type { LeaseRevokeResult } from './commands.ts';
import { encodeKey, encodeU64, LEASE_KEY_PREFIX, perRegionRange, prefixedRange, REVOKED_LEASE_PREFIX, type StorageRange, writeU64 } from './keys.ts';
import type { KvReader, WriteOverlay } from './overlay.ts';
import type { TxnResult } from './txn.ts';

/** Index entries a revoke reads per scan page (a revoke reads them all, page by page). */
const REVOKE_PAGE = 1024;
const EMPTY = new Uint8Array(0);

/** The storage key of `userKey`'s lease (present only while the key is attached to one). */
export const leaseOfKey = (userKey: Uint8Array): Uint8Array => encodeKey(LEASE_KEY_PREFIX, userKey);

/**
 * The storage key marking `leaseId` as revoked in region `regionId`.
 * @param regionId - the region.
 * @param leaseId - the lease.
 */
export function revokedLeaseKey(regionId: number, leaseId: number): Uint8Array {
  const out = new Uint8Array(17);
  out[0] = REVOKED_LEASE_PREFIX;
  writeU64(out, 1, regionId);
  writeU64(out, 9, leaseId);
  return out;
}

/**
 * The storage range of every revoked mark of a region: `[x + u64(id), x + u64(id + 1))`.
 * @param regionId - the region.
 */
export function revokedLeaseRange(regionId: number): StorageRange {
  return perRegionRange(REVOKED_LEASE_PREFIX, regionId);
}

function readU64(b: Uint8Array): number {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return v.getUint32(0) * 0x1_0000_0000 + v.getUint32(4);
}

/**
 * Attaches `key` to `leaseId`, unless the region revoked that lease (then {@link LeaseNotFoundError},
 * nothing staged). The caller stages the value itself.
 * @param staged - the command's overlay.
 * @param regionId - the region applying the put.
 * @param key - the user key.
 * @param leaseId - the lease.
 */
export async function attachLease(staged: WriteOverlay, regionId: number, key: Uint8Array, leaseId: number): Promise<void> {
  if ((await staged.get(revokedLeaseKey(regionId, leaseId))) !== undefined) throw new LeaseNotFoundError(leaseId, 'it was revoked or expired');
  staged.put(leaseOfKey(key), encodeU64(leaseId));
}

/**
 * The user keys of the region attached to `leaseId`, read from the index.
 * @param view - the region's state.
 * @param region - the region's range.
 * @param leaseId - the lease.
 */
export async function keysOfLease(view: KvReader, region: { startKey: Uint8Array; endKey: Uint8Array }, leaseId: number): Promise<Uint8Array[]> {
  const range = prefixedRange(LEASE_KEY_PREFIX, region.startKey, region.endKey);
  const keys: Uint8Array[] = [];
  let start = range.start;
  for (;;) {
    const page = await view.scan({ start, end: range.end, limit: REVOKE_PAGE });
    for (const kv of page) if (kv.value.length === 8 && readU64(kv.value) === leaseId) keys.push(kv.key.slice(1));
    if (page.length < REVOKE_PAGE) return keys;
    const last = page[page.length - 1].key;
    start = new Uint8Array(last.length + 1);
    start.set(last);
  }
}

/**
 * Marks `leaseId` revoked in the region, drops the index entries of its keys and returns those
 * keys (the caller deletes their values as a `batchDelete`).
 * @param staged - the command's overlay.
 * @param region - the region's id and range.
 * @param leaseId - the lease.
 */
export async function revokeLeaseKeys(staged: WriteOverlay, region: { id: number; startKey: Uint8Array; endKey: Uint8Array }, leaseId: number): Promise<Uint8Array[]> {
  staged.put(revokedLeaseKey(region.id, leaseId), EMPTY);
  const keys = await keysOfLease(staged, region, leaseId);
  for (const k of keys) staged.delete(leaseOfKey(k));
  return keys;
}

/**
 * Detaches from their lease the keys a write (other than `leasePut`) set or deleted, after it
 * executed with `result`. A conditional write that did not write detaches nothing. A region with
 * no leased key (the common case) is found with one short scan and costs no extra engine op.
 * @param staged - the command's overlay.
 * @param region - the region's range.
 * @param op - the write.
 * @param result - what it answered.
 */
export async function detachWritten(staged: WriteOverlay, region: { startKey: Uint8Array; endKey: Uint8Array }, op: KvWriteOp, result: KvWriteResult): Promise<void> {
  if (op.type === 'getSequence' || op.type === 'resetSequence' || op.type === 'tryLock' || op.type === 'renewLock' || op.type === 'unlock' || op.type === 'expireSessions') return;
  if ((await staged.scan({ ...prefixedRange(LEASE_KEY_PREFIX, region.startKey, region.endKey), limit: 1 })).length === 0) return;
  switch (op.type) {
    case 'put':
    case 'getAndPut':
    case 'merge':
    case 'delete':
      staged.delete(leaseOfKey(op.key));
      return;
    case 'compareAndPut':
      if (result === true) staged.delete(leaseOfKey(op.key));
      return;
    case 'putIfAbsent':
      if (result === null) staged.delete(leaseOfKey(op.key));
      return;
    case 'deleteRange': {
      const r = prefixedRange(LEASE_KEY_PREFIX, op.start, op.end);
      staged.deleteRange(r.start, r.end);
      return;
    }
    case 'batchPut':
    case 'batchCompareAndPut':
      if (op.type === 'batchCompareAndPut' && result !== true) return;
      for (const e of op.entries) staged.delete(leaseOfKey(e.key));
      return;
    case 'batchDelete':
      for (const k of op.keys) staged.delete(leaseOfKey(k));
      return;
    case 'txn': {
      const branch = (result as TxnResult).succeeded ? op.success : op.failure;
      for (const t of branch) {
        if (t.type === 'put' || t.type === 'delete') staged.delete(leaseOfKey(t.key));
        else if (t.type === 'deleteRange') {
          const r = prefixedRange(LEASE_KEY_PREFIX, t.start, t.end);
          staged.deleteRange(r.start, r.end);
        }
      }
      return;
    }
    default:
      return;
  }
}

/**
 * The writes that give region `toRegionId` every revoked mark of `fromRegionId` (a split's child
 * takes its parent's; a merge's target takes its source's).
 * @param view - the store's state.
 * @param fromRegionId - the region whose marks are copied.
 * @param toRegionId - the region that gets them.
 */
export async function copyRevokedLeases(view: KvReader, fromRegionId: number, toRegionId: number): Promise<WriteOp[]> {
  const ops: WriteOp[] = [];
  for (const kv of await view.scan(revokedLeaseRange(fromRegionId))) {
    ops.push({ type: 'put', key: revokedLeaseKey(toRegionId, readU64(kv.key.subarray(9))), value: EMPTY });
  }
  return ops;
}
