/**
 * The key layout of MVCC history (see `history.ts`): one version record per change of a user key,
 * under `v`, and one revision record per region, under `h`.
 *
 * | prefix     | key                                             | value                                  |
 * |------------|-------------------------------------------------|----------------------------------------|
 * | `h` (0x68) | `h` + regionId (u64 BE)                         | revision u64, compactRevision u64      |
 * | `v` (0x76) | `v` + memcomparable(userKey) + revision (u64 BE)| the change: put/delete, value, previous value, region time |
 *
 * Version keys are keyed by the user key, like data, so a split moves nothing and a region's
 * versions are exactly `[v + enc(startKey), v + enc(endKey))`. The user key is encoded
 * memcomparably (TiKV's `encode_bytes`: groups of 8 bytes, zero-padded, each followed by a marker
 * 0xFF - padding): the encoding keeps byte order and no encoded key is a prefix of another, so
 * `enc(k) + revision` falls in that range exactly when `k` lies in `[startKey, endKey)` (with a raw
 * key, `a` + revision could sort after `a\0`).
 */
import { CorruptCommandError } from '../errors.ts';

/** A half-open storage key range (as `keys.ts`'s `StorageRange`; not imported: `keys.ts` imports this module). */
interface StorageRange {
  start: Uint8Array;
  end: Uint8Array;
}

/** Writes a non-negative safe integer as 8 big-endian bytes (as `keys.ts`'s `writeU64`). */
function writeU64(out: Uint8Array, offset: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`expected a non-negative safe integer, got ${value}`);
  const v = new DataView(out.buffer, out.byteOffset + offset, 8);
  v.setUint32(0, Math.floor(value / 0x1_0000_0000));
  v.setUint32(4, value >>> 0);
}

/** Per-region revision record: the region's latest revision and its compaction point. */
export const REVISION_PREFIX = 0x68; // 'h'
/** Version records, per user key and revision. */
export const VERSION_PREFIX = 0x76; // 'v'

const GROUP = 8;
const MARKER = 0xff;

/**
 * The memcomparable encoding of `key`: order-preserving and prefix-free.
 * @param key - a user key.
 */
export function encodeMemcomparable(key: Uint8Array): Uint8Array {
  const groups = Math.floor(key.length / GROUP) + 1;
  const out = new Uint8Array(groups * (GROUP + 1));
  for (let g = 0; g < groups; g++) {
    const from = g * GROUP;
    const part = key.subarray(from, from + GROUP);
    out.set(part, g * (GROUP + 1));
    out[g * (GROUP + 1) + GROUP] = MARKER - (GROUP - part.length);
  }
  return out;
}

/**
 * Decodes what {@link encodeMemcomparable} produced at the start of `bytes`; returns the key and
 * how many bytes it took. Throws {@link CorruptCommandError} on bad bytes.
 * @param bytes - bytes starting with an encoded key.
 */
export function decodeMemcomparable(bytes: Uint8Array): { key: Uint8Array; length: number } {
  const parts: number[] = [];
  for (let at = 0; ; at += GROUP + 1) {
    if (at + GROUP + 1 > bytes.length) throw new CorruptCommandError('truncated memcomparable key');
    const pad = MARKER - bytes[at + GROUP];
    if (pad < 0 || pad > GROUP) throw new CorruptCommandError('bad memcomparable marker');
    for (let i = 0; i < GROUP - pad; i++) parts.push(bytes[at + i]);
    if (pad > 0) return { key: Uint8Array.from(parts), length: at + GROUP + 1 };
  }
}

/**
 * The storage key of `userKey`'s version at `revision`.
 * @param userKey - the user key.
 * @param revision - a positive safe integer.
 */
export function versionKey(userKey: Uint8Array, revision: number): Uint8Array {
  const enc = encodeMemcomparable(userKey);
  const out = new Uint8Array(1 + enc.length + 8);
  out[0] = VERSION_PREFIX;
  out.set(enc, 1);
  writeU64(out, 1 + enc.length, revision);
  return out;
}

/**
 * The user key and revision of a version key.
 * @param storageKey - a key {@link versionKey} produced.
 */
export function parseVersionKey(storageKey: Uint8Array): { key: Uint8Array; revision: number } {
  const { key, length } = decodeMemcomparable(storageKey.subarray(1));
  if (storageKey.length !== 1 + length + 8) throw new CorruptCommandError('bad version key length');
  const v = new DataView(storageKey.buffer, storageKey.byteOffset + 1 + length, 8);
  return { key, revision: v.getUint32(0) * 0x1_0000_0000 + v.getUint32(4) };
}

/**
 * The storage range of the versions of user keys in `[start, end)` (empty end: +∞).
 * @param start - the user range's start.
 * @param end - the user range's end.
 */
export function versionRange(start: Uint8Array, end: Uint8Array): StorageRange {
  const lo = new Uint8Array(1 + (start.length === 0 ? 0 : encodeMemcomparable(start).length));
  lo[0] = VERSION_PREFIX;
  if (start.length > 0) lo.set(encodeMemcomparable(start), 1);
  if (end.length === 0) return { start: lo, end: Uint8Array.of(VERSION_PREFIX + 1) };
  const enc = encodeMemcomparable(end);
  const hi = new Uint8Array(1 + enc.length);
  hi[0] = VERSION_PREFIX;
  hi.set(enc, 1);
  return { start: lo, end: hi };
}

/**
 * The versions of one user key with revision in `[fromRevision, ∞)`.
 * @param userKey - the user key.
 * @param fromRevision - the lowest revision included.
 */
export function keyVersionRange(userKey: Uint8Array, fromRevision: number): StorageRange {
  const start = versionKey(userKey, fromRevision);
  const end = versionKey(userKey, 0);
  // Past every revision of this key: the encoded key followed by 0xFF..., which no u64 revision reaches.
  const hi = new Uint8Array(end.length + 1);
  hi.set(end.subarray(0, end.length - 8));
  hi.fill(0xff, end.length - 8);
  return { start, end: hi };
}

/**
 * The storage key of a region's revision record.
 * @param regionId - the region's id.
 */
export function revisionKey(regionId: number): Uint8Array {
  const out = new Uint8Array(9);
  out[0] = REVISION_PREFIX;
  writeU64(out, 1, regionId);
  return out;
}

/**
 * The storage range holding only the region's revision record (for snapshots).
 * @param regionId - the region's id.
 */
export function revisionRange(regionId: number): StorageRange {
  const end = new Uint8Array(10);
  end.set(revisionKey(regionId));
  return { start: revisionKey(regionId), end };
}
