/**
 * The key layout of the KV state machine in the store's one shared {@link StorageEngine}.
 *
 * | prefix         | key                                   | value                              | owner |
 * |----------------|---------------------------------------|------------------------------------|-------|
 * | `0x01`         | reserved: Raft log, hard state, apply and region state | (store-defined)   | store |
 * | `0x02`–`0x1f`  | reserved for the store and PD         |                                    | store |
 * | `c` (0x63)     | `c` + regionId (u64 BE) + clientId (UTF-8) | session: last seq, time, result | kv    |
 * | `e` (0x65)     | `e` + userKey                         | the key's lease id (u64 BE; `leases.ts`) | kv |
 * | `l` (0x6c)     | `l` + userKey                         | lock record (owner, deadline, fencing token) | kv |
 * | `s` (0x73)     | `s` + userKey                         | next sequence value (u64 BE)       | kv    |
 * | `x` (0x78)     | `x` + regionId (u64 BE) + leaseId (u64 BE) | empty: the region revoked the lease | kv |
 * | `z` (0x7a)     | `z` + userKey                         | the user's value                   | kv    |
 *
 * User data, sequences and locks are keyed by the user key, so a region's range `[start, end)`
 * covers `[z+start, z+end)`, `[s+start, s+end)` and `[l+start, l+end)`: a split moves nothing, and
 * a region snapshot is those three ranges plus the region's sessions `[c+id, c+(id+1))`. Sessions
 * are per region because Raft groups apply independently; a split copies them to the child and a
 * merge unions them (see `sessions.ts`). An empty `endKey` (+∞) maps to the next prefix byte.
 *
 * MVCC history adds `h` (a region's revision record) and `v` (versions per user key, with the key
 * encoded memcomparably): see `history-keys.ts`.
 *
 * Nothing in `src/kv` ever writes outside these prefixes, so the store may use everything
 * below `0x20` (TiKV keeps its Raft state under `0x01` the same way).
 */

import { revisionRange, versionRange } from './history-keys.ts';

/** The storage ranges of a region's MVCC history: its versions over its user range and its revision record. */
function historyRanges(region: { id: number; startKey: Uint8Array; endKey: Uint8Array }): StorageRange[] {
  return [versionRange(region.startKey, region.endKey), revisionRange(region.id)];
}

/** Reserved for the store's Raft state (log entries, hard state, apply state, region descriptors). Not written by `src/kv`. */
export const RAFT_PREFIX = 0x01;
/** Client sessions (the dedup table), per region. */
export const SESSION_PREFIX = 0x63; // 'c'
/** Distributed locks, per user key. */
export const LOCK_PREFIX = 0x6c; // 'l'
/** Sequences, per user key. */
export const SEQUENCE_PREFIX = 0x73; // 's'
/** The key → lease index, per user key (`leases.ts`). */
export const LEASE_KEY_PREFIX = 0x65; // 'e'
/** Leases a region revoked, per region (`leases.ts`). */
export const REVOKED_LEASE_PREFIX = 0x78; // 'x'
/** User data, per user key (TiKV's data prefix). */
export const DATA_PREFIX = 0x7a; // 'z'

/** The prefixes whose ranges follow a region's user key range. */
export const KEYED_PREFIXES: readonly number[] = [DATA_PREFIX, SEQUENCE_PREFIX, LOCK_PREFIX];

/** A half-open storage key range `[start, end)`, both bounds given. */
export interface StorageRange {
  start: Uint8Array;
  end: Uint8Array;
}

/**
 * The storage key of a user key under a prefix: `prefix + userKey`.
 * @param prefix - one of the prefixes above.
 * @param userKey - the user's key.
 */
export function encodeKey(prefix: number, userKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(userKey.length + 1);
  out[0] = prefix;
  out.set(userKey, 1);
  return out;
}

/**
 * The user key of a storage key (the bytes after the one-byte prefix), as a view.
 * @param storageKey - a key produced by {@link encodeKey}.
 */
export function decodeKey(storageKey: Uint8Array): Uint8Array {
  return storageKey.subarray(1);
}

/** The storage key of `userKey`'s value. */
export const dataKey = (userKey: Uint8Array): Uint8Array => encodeKey(DATA_PREFIX, userKey);
/** The storage key of `userKey`'s sequence. */
export const sequenceKey = (userKey: Uint8Array): Uint8Array => encodeKey(SEQUENCE_PREFIX, userKey);
/** The storage key of `userKey`'s lock record. */
export const lockKey = (userKey: Uint8Array): Uint8Array => encodeKey(LOCK_PREFIX, userKey);

/**
 * The storage range of the user range `[start, end)` under `prefix`; an empty `end` (+∞) becomes
 * the next prefix byte, so the range stops at the end of the namespace.
 * @param prefix - one of the keyed prefixes.
 * @param start - the user range's start (empty = -∞).
 * @param end - the user range's end (empty = +∞).
 */
export function prefixedRange(prefix: number, start: Uint8Array, end: Uint8Array): StorageRange {
  return { start: encodeKey(prefix, start), end: end.length === 0 ? Uint8Array.of(prefix + 1) : encodeKey(prefix, end) };
}

/**
 * A non-negative safe integer as 8 big-endian bytes, so that byte order is numeric order.
 * @param value - a non-negative safe integer (region ids, sequence values).
 */
export function encodeU64(value: number): Uint8Array {
  const out = new Uint8Array(8);
  writeU64(out, 0, value);
  return out;
}

/**
 * Writes {@link encodeU64}'s bytes of `value` into `out` at `offset` (no intermediate array: keys
 * are built once per applied write).
 * @param out - the destination, with 8 bytes free at `offset`.
 * @param offset - where the 8 bytes go.
 * @param value - a non-negative safe integer.
 */
export function writeU64(out: Uint8Array, offset: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`expected a non-negative safe integer, got ${value}`);
  const hi = Math.floor(value / 0x1_0000_0000);
  const lo = value >>> 0;
  out[offset] = hi >>> 24;
  out[offset + 1] = (hi >>> 16) & 0xff;
  out[offset + 2] = (hi >>> 8) & 0xff;
  out[offset + 3] = hi & 0xff;
  out[offset + 4] = lo >>> 24;
  out[offset + 5] = (lo >>> 16) & 0xff;
  out[offset + 6] = (lo >>> 8) & 0xff;
  out[offset + 7] = lo & 0xff;
}

/**
 * The storage range holding every session of a region: `[c + u64(id), c + u64(id + 1))`.
 * @param regionId - the region's id.
 */
export function sessionRange(regionId: number): StorageRange {
  return perRegionRange(SESSION_PREFIX, regionId);
}

/**
 * The storage range `[prefix + u64(id), prefix + u64(id + 1))` of a per-region namespace.
 * @param prefix - a per-region prefix (sessions, revoked leases).
 * @param regionId - the region's id.
 */
export function perRegionRange(prefix: number, regionId: number): StorageRange {
  const start = new Uint8Array(9);
  start[0] = prefix;
  start.set(encodeU64(regionId), 1);
  const end = new Uint8Array(9);
  end[0] = prefix;
  end.set(encodeU64(regionId + 1), 1);
  return { start, end };
}

/**
 * The storage key of one client's session in a region.
 * @param regionId - the region's id.
 * @param clientId - the client's id as UTF-8 bytes (non-empty).
 */
export function sessionKey(regionId: number, clientId: Uint8Array): Uint8Array {
  const out = new Uint8Array(9 + clientId.length);
  out[0] = SESSION_PREFIX;
  writeU64(out, 1, regionId);
  out.set(clientId, 9);
  return out;
}

/**
 * The client id bytes of a session key (a view).
 * @param storageKey - a key produced by {@link sessionKey}.
 */
export function sessionClientId(storageKey: Uint8Array): Uint8Array {
  return storageKey.subarray(9);
}

/**
 * Every storage range a region owns in the KV namespaces: its data, sequences and locks over its
 * user range, and its sessions; then its key → lease index and its revoked leases. A snapshot of
 * the region is exactly these ranges.
 * @param region - the region's id and user key range.
 */
export function regionRanges(region: { id: number; startKey: Uint8Array; endKey: Uint8Array }): StorageRange[] {
  return [
    ...KEYED_PREFIXES.map((p) => prefixedRange(p, region.startKey, region.endKey)),
    sessionRange(region.id),
    prefixedRange(LEASE_KEY_PREFIX, region.startKey, region.endKey),
    perRegionRange(REVOKED_LEASE_PREFIX, region.id),
    ...historyRanges(region),
  ];
}
