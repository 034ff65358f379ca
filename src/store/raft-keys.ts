/**
 * Where a store keeps each region replica's Raft state in the shared storage engine, and how the
 * small records are encoded. Everything lives under `RAFT_PREFIX` (0x01), below the KV namespaces:
 *
 * | key                                   | value                                                  |
 * |---------------------------------------|--------------------------------------------------------|
 * | 0x01 + u64 regionId + 0x01            | hard state: u64 term, u64 vote, u64 commit             |
 * | 0x01 + u64 regionId + 0x02            | apply state: applied index, truncated index and term, membership at `applied` |
 * | 0x01 + u64 regionId + 0x04 + u64 idx  | log entry idx: u64 term, u8 type, data                 |
 * | 0x02 + u64 regionId                   | region state: the Region (range, epoch, peers), this store's peer id, `normal` or `tombstone` |
 *
 * Region states have a prefix of their own so that start-up finds every replica with one short scan.
 *
 * The apply state is written in the same batch as the user data that applying produced, so the
 * two never disagree after a crash; the log and hard state are written (synced) before any
 * message that depends on them leaves the store.
 */
import { RAFT_PREFIX, writeU64 } from '../kv/keys.ts';
import type { Entry, HardState } from '../raft/types.ts';

const HARD_STATE = 0x01;
const APPLY_STATE = 0x02;
/** Prefix of region states (one per replica hosted by this store). */
export const REGION_STATE_PREFIX = 0x02;
const LOG_ENTRY = 0x04;

function regionPrefix(regionId: number, suffix: number, extra = 0): Uint8Array {
  const out = new Uint8Array(10 + extra);
  out[0] = RAFT_PREFIX;
  writeU64(out, 1, regionId);
  out[9] = suffix;
  return out;
}

/** Key of a region replica's hard state. */
export function hardStateKey(regionId: number): Uint8Array {
  return regionPrefix(regionId, HARD_STATE);
}

/** Key of a region replica's apply state. */
export function applyStateKey(regionId: number): Uint8Array {
  return regionPrefix(regionId, APPLY_STATE);
}

/** Key of a region replica's region state. */
export function regionStateKey(regionId: number): Uint8Array {
  const out = new Uint8Array(9);
  out[0] = REGION_STATE_PREFIX;
  writeU64(out, 1, regionId);
  return out;
}

/** The key range of every region state on this store. */
export function regionStateRange(): { start: Uint8Array; end: Uint8Array } {
  return { start: Uint8Array.of(REGION_STATE_PREFIX), end: Uint8Array.of(REGION_STATE_PREFIX + 1) };
}

/** Key of log entry `index` of a region. */
export function logKey(regionId: number, index: number): Uint8Array {
  const out = regionPrefix(regionId, LOG_ENTRY, 8);
  writeU64(out, 10, index);
  return out;
}

/** The key range `[start, end)` of a region's log entries with index in `[lo, hi)`. */
export function logRange(regionId: number, lo: number, hi: number): { start: Uint8Array; end: Uint8Array } {
  return { start: logKey(regionId, lo), end: logKey(regionId, hi) };
}

/** The key range of every Raft record of one region (its region state aside). */
export function regionRaftRange(regionId: number): { start: Uint8Array; end: Uint8Array } {
  // PD's group has the largest safe id (there is no next one): past its last suffix byte instead.
  return { start: regionPrefix(regionId, 0), end: regionId < Number.MAX_SAFE_INTEGER ? regionPrefix(regionId + 1, 0) : regionPrefix(regionId, 0xff) };
}

function readU64(b: Uint8Array, at: number): number {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const v = view.getUint32(at) * 0x1_0000_0000 + view.getUint32(at + 4);
  if (!Number.isSafeInteger(v)) throw new RangeError(`stored integer at ${at} is not a safe integer`);
  return v;
}

/** Encodes a hard state as 24 bytes. */
export function encodeHardState(hs: HardState): Uint8Array {
  const out = new Uint8Array(24);
  writeU64(out, 0, hs.term);
  writeU64(out, 8, hs.vote);
  writeU64(out, 16, hs.commit);
  return out;
}

/** Decodes {@link encodeHardState}; throws on a malformed record. */
export function decodeHardState(b: Uint8Array): HardState {
  if (b.length !== 24) throw new RangeError(`hard state record is ${b.length} bytes, expected 24`);
  return { term: readU64(b, 0), vote: readU64(b, 8), commit: readU64(b, 16) };
}

/** Encodes a log entry's term, type and data (the index is in the key). */
export function encodeEntry(e: Entry): Uint8Array {
  const out = new Uint8Array(9 + e.data.length);
  writeU64(out, 0, e.term);
  out[8] = e.type === 'confChange' ? 1 : 0;
  out.set(e.data, 9);
  return out;
}

/** Decodes {@link encodeEntry} for entry `index`; throws on a malformed record. */
export function decodeEntry(index: number, b: Uint8Array): Entry {
  if (b.length < 9 || b[8] > 1) throw new RangeError(`log entry ${index} record is malformed`);
  return { term: readU64(b, 0), index, type: b[8] === 1 ? 'confChange' : 'normal', data: b.slice(9) };
}

/** The log index in a log entry key. */
export function logKeyIndex(key: Uint8Array): number {
  return readU64(key, 10);
}
