/**
 * MVCC history of the KV state machine: every applied command that changes user data gets the
 * region's next **revision**, and each key it changes gets a version record (new value, previous
 * value, region time) keyed by user key and revision (layout in `history-keys.ts`). Watches read
 * the versions after a cursor; `getAt` reads a key as it was at a past revision; compaction drops
 * versions at or below a compaction revision.
 *
 * Revisions rise per region. A split child starts at its parent's revision and a merge target
 * continues from the larger of its own and its source's, so the revisions of any one key rise
 * strictly over its whole life, whichever region holds it: a cursor "every change of keys in
 * `[a, b)` up to revision r was seen" stays true across splits and merges (see docs/watch.md).
 *
 * All of it is written in the same overlay (so the same engine batch) as the change itself, is
 * part of the region's snapshot, and depends only on the replicated state: every replica holds the
 * same history.
 */
import { packValue } from '../codec/msgpack.ts';
import { HistoryCompactedError, CorruptCommandError, InvalidArgumentError } from '../errors.ts';
import type { WriteOp } from '../ports.ts';
import { compareKeys, nextKey } from '../region/keys.ts';
import { unpackRecord } from './codec.ts';
import { keyVersionRange, parseVersionKey, revisionKey, versionKey, versionRange } from './history-keys.ts';
import { DATA_PREFIX, dataKey, decodeKey, prefixedRange } from './keys.ts';
import type { WatchEvent, WatchResult } from './history-types.ts';
import type { KvReader, WriteOverlay } from './overlay.ts';

export type { WatchEvent, WatchResult } from './history-types.ts';

/**
 * Revisions of history a region keeps without being asked: a write that takes the region past
 * this many above its compaction point moves the point up to this many behind. The version
 * records below it are deleted incrementally: each write also looks at the next
 * {@link compactBudget} version records after a cursor kept in the revision record (wrapping at
 * the end of the region), so the deleting keeps pace with the writing at a constant cost per
 * write. A constant, not an option: every replica must compact alike.
 */
export const HISTORY_REVISIONS_KEPT = 10_000;
/** Most version records one compaction deletes; the rest go at the next (they are never served). */
export const COMPACT_DELETES_MAX = 4096;
const PAGE = 1024;

/** A region's revision record. Invariant: compactRevision <= revision. */
export interface RevisionState {
  /** The revision of the region's latest change (0: none yet). */
  revision: number;
  /** Versions at or below this revision may be gone; watches must start above it. */
  compactRevision: number;
  /** Where the incremental compaction goes on (a version key); undefined: at the region's first. */
  cursor?: Uint8Array;
}

/** Version records one write looks at for compaction: twice what it adds, plus two, so the cursor laps faster than versions arrive. */
const compactBudget = (added: number) => 2 * added + 2;

/** A change to record: a user key and its new value (undefined: deleted). */
export interface KeyChange {
  key: Uint8Array;
  value: Uint8Array | undefined;
}

function u64At(bytes: Uint8Array, at: number): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset + at, 8);
  return v.getUint32(0) * 0x1_0000_0000 + v.getUint32(4);
}

function encodeRevisionState(s: RevisionState): Uint8Array {
  // 16 bytes, then the compaction cursor (if any) to the end.
  const out = new Uint8Array(16 + (s.cursor?.length ?? 0));
  if (s.cursor) out.set(s.cursor, 16);
  const v = new DataView(out.buffer);
  v.setUint32(0, Math.floor(s.revision / 0x1_0000_0000));
  v.setUint32(4, s.revision >>> 0);
  v.setUint32(8, Math.floor(s.compactRevision / 0x1_0000_0000));
  v.setUint32(12, s.compactRevision >>> 0);
  return out;
}

/**
 * The region's revision record (zeros when it has none: a new region, or data from before history).
 * @param view - the state to read.
 * @param regionId - the region's id.
 */
export async function readRevisionState(view: KvReader, regionId: number): Promise<RevisionState> {
  const bytes = await view.get(revisionKey(regionId));
  if (bytes === undefined) return { revision: 0, compactRevision: 0 };
  if (bytes.length < 16) throw new CorruptCommandError(`a revision record needs 16 bytes, got ${bytes.length}`);
  const state: RevisionState = { revision: u64At(bytes, 0), compactRevision: u64At(bytes, 8) };
  if (bytes.length > 16) state.cursor = bytes.slice(16);
  return state;
}

interface StoredVersion {
  type: 'put' | 'delete';
  value: Uint8Array | null;
  prev: Uint8Array | null;
  timeMs: number;
}

function encodeVersion(value: Uint8Array | undefined, prev: Uint8Array | undefined, timeMs: number): Uint8Array {
  return packValue([value === undefined ? 1 : 0, value ?? null, prev ?? null, timeMs]).slice();
}

function decodeVersion(bytes: Uint8Array): StoredVersion {
  const raw = unpackRecord(bytes, 'version record');
  if (!Array.isArray(raw) || raw.length !== 4 || (raw[0] !== 0 && raw[0] !== 1) || typeof raw[3] !== 'number') throw new CorruptCommandError('bad version record');
  const bytesOrNull = (x: unknown) => (x instanceof Uint8Array ? x : null);
  return { type: raw[0] === 0 ? 'put' : 'delete', value: bytesOrNull(raw[1]), prev: bytesOrNull(raw[2]), timeMs: raw[3] };
}

/** A key as a Map key: one code unit per byte. */
function keyId(key: Uint8Array): string {
  let s = '';
  for (let i = 0; i < key.length; i += 4096) s += String.fromCharCode.apply(null, key.subarray(i, i + 4096) as unknown as number[]);
  return s;
}

/**
 * Records the changes of one applied command: reads each key's value before the change from
 * `before`, skips deletes of absent keys, and stages one version per changed key at the region's
 * next revision, plus the region's new revision record, into `into`. Compacts automatically past
 * {@link HISTORY_REVISIONS_KEPT}. Returns the revision given (0: nothing changed).
 * @param before - the state before the command (the command's writes not yet visible in it).
 * @param into - where to stage the records (may be `before` itself: version keys are not data keys).
 * @param region - the region's id and range.
 * @param changes - the command's changes (a later change of the same key wins).
 * @param nowMs - the command's region time.
 */
export async function recordChanges(before: KvReader, into: WriteOverlay, region: { id: number; startKey: Uint8Array; endKey: Uint8Array }, changes: readonly KeyChange[], nowMs: number): Promise<number> {
  // One change (a put or a delete: nearly every command) needs no de-duplication.
  let unique: Iterable<KeyChange> = changes;
  if (changes.length > 1) {
    const last = new Map<string, KeyChange>();
    for (const c of changes) last.set(keyId(c.key), c);
    unique = last.values();
  }
  const real: { c: KeyChange; prev: Uint8Array | undefined }[] = [];
  for (const c of unique) {
    const prev = await before.get(dataKey(c.key));
    if (prev === undefined && c.value === undefined) continue;
    real.push({ c, prev });
  }
  if (real.length === 0) return 0;
  const state = await readRevisionState(before, region.id);
  const revision = state.revision + 1;
  for (const { c, prev } of real) into.put(versionKey(c.key, revision), encodeVersion(c.value, prev, nowMs));
  const compactRevision = Math.max(state.compactRevision, revision - HISTORY_REVISIONS_KEPT);
  const next: RevisionState = { revision, compactRevision };
  const cursor = compactRevision > 0 ? await compactStep(before, into, region, compactRevision, state.cursor, compactBudget(real.length)) : undefined;
  if (cursor) next.cursor = cursor;
  into.put(revisionKey(region.id), encodeRevisionState(next));
  return revision;
}

/**
 * One step of incremental compaction: deletes the versions at or below `compactRevision` among
 * the `budget` version records from `cursor` on (from the region's first when the cursor is
 * outside its range: a split or merge moved it), and returns where the next step starts
 * (undefined: back at the first).
 */
async function compactStep(view: KvReader, into: WriteOverlay, region: { startKey: Uint8Array; endKey: Uint8Array }, compactRevision: number, cursor: Uint8Array | undefined, budget: number): Promise<Uint8Array | undefined> {
  const range = versionRange(region.startKey, region.endKey);
  const start = cursor !== undefined && compareKeys(cursor, range.start) >= 0 && compareKeys(cursor, range.end) < 0 ? cursor : range.start;
  const page = await view.scan({ start, end: range.end, limit: budget });
  for (const kv of page) if (parseVersionKey(kv.key).revision <= compactRevision) into.delete(kv.key);
  return page.length < budget ? undefined : nextKey(page[page.length - 1].key);
}

/**
 * The keys a range delete removes: every data key of `[start, end)` (storage keys) present in `before`.
 * @param before - the state before the delete.
 * @param start - storage key, inclusive.
 * @param end - storage key, exclusive.
 */
export async function keysInDataRange(before: KvReader, start: Uint8Array, end: Uint8Array): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  let lo = start;
  for (;;) {
    const page = await before.scan({ start: lo, end, limit: PAGE });
    for (const kv of page) out.push(decodeKey(kv.key).slice());
    if (page.length < PAGE) return out;
    lo = nextKey(page[page.length - 1].key);
  }
}

/** Stages deletes of the region's versions at or below `compactRevision` (at most {@link COMPACT_DELETES_MAX}). */
async function stageCompaction(view: KvReader, into: WriteOverlay, region: { startKey: Uint8Array; endKey: Uint8Array }, compactRevision: number): Promise<void> {
  const range = versionRange(region.startKey, region.endKey);
  let lo = range.start;
  let deleted = 0;
  for (;;) {
    const page = await view.scan({ start: lo, end: range.end, limit: PAGE });
    for (const kv of page) {
      if (parseVersionKey(kv.key).revision > compactRevision) continue;
      into.delete(kv.key);
      if (++deleted >= COMPACT_DELETES_MAX) return;
    }
    if (page.length < PAGE) return;
    lo = nextKey(page[page.length - 1].key);
  }
}

/**
 * Applies a `compact` write: moves the region's compaction point up to `revision` (never past its
 * latest revision, never down) and deletes the versions it covers. Returns the compaction point
 * now in effect.
 * @param overlay - the command's staged writes over the state.
 * @param region - the region's id and range.
 * @param revision - the revision to compact to.
 */
export async function compactHistory(overlay: WriteOverlay, region: { id: number; startKey: Uint8Array; endKey: Uint8Array }, revision: number): Promise<number> {
  const state = await readRevisionState(overlay, region.id);
  const target = Math.min(revision, state.revision);
  if (target <= state.compactRevision) return state.compactRevision;
  await stageCompaction(overlay, overlay, region, target);
  overlay.put(revisionKey(region.id), encodeRevisionState({ ...state, compactRevision: target }));
  return target;
}

/**
 * The revision-record writes a split stages: the child starts at its parent's revision and
 * compaction point, so its revisions continue the parent's for the keys it takes over.
 * @param view - the state (with the turn's writes).
 * @param parentId - the splitting region.
 * @param childId - the new region.
 */
export async function inheritRevisionOnSplit(view: KvReader, parentId: number, childId: number): Promise<WriteOp[]> {
  const state = await readRevisionState(view, parentId);
  return [{ type: 'put', key: revisionKey(childId), value: encodeRevisionState(state) }];
}

/**
 * The revision-record writes a merge stages: the target continues from the larger revision and
 * the larger compaction point of the two, and the source's record goes.
 * @param view - the state (with the turn's writes).
 * @param sourceId - the region merged away.
 * @param targetId - the region that absorbs it.
 */
export async function mergeRevisionState(view: KvReader, sourceId: number, targetId: number): Promise<WriteOp[]> {
  const s = await readRevisionState(view, sourceId);
  const t = await readRevisionState(view, targetId);
  const merged = { revision: Math.max(s.revision, t.revision), compactRevision: Math.max(s.compactRevision, t.compactRevision) };
  return [
    { type: 'put', key: revisionKey(targetId), value: encodeRevisionState(merged) },
    { type: 'delete', key: revisionKey(sourceId) },
  ];
}

/**
 * Serves a watch read: the changes of keys in `[start, end)` with revision above `after`, whole
 * revisions at a time, at most `limit` events (one revision's events are never split, so a
 * single big command may exceed it). With `after` undefined it returns no events and the current
 * revision (a watch that starts now). Throws {@link HistoryCompactedError} when `after` is below the
 * compaction point.
 * @param view - the applied state.
 * @param regionId - the region's id.
 * @param op - the range, cursor, limit and whether to include previous values.
 */
export async function readWatch(view: KvReader, regionId: number, op: { start: Uint8Array; end: Uint8Array; after?: number; limit: number; prevValue?: boolean }): Promise<WatchResult> {
  const state = await readRevisionState(view, regionId);
  if (op.after === undefined) return { events: [], revision: state.revision, compactRevision: state.compactRevision, more: false };
  const after = op.after;
  if (after < state.compactRevision) throw new HistoryCompactedError(regionId, after + 1, state.compactRevision);
  const found: { key: Uint8Array; revision: number; raw: Uint8Array }[] = [];
  const range = versionRange(op.start, op.end);
  let lo = range.start;
  for (;;) {
    const page = await view.scan({ start: lo, end: range.end, limit: PAGE });
    for (const kv of page) {
      const { key, revision } = parseVersionKey(kv.key);
      if (revision > after) found.push({ key, revision, raw: kv.value });
    }
    if (page.length < PAGE) break;
    lo = nextKey(page[page.length - 1].key);
  }
  found.sort((a, b) => a.revision - b.revision || compareKeys(a.key, b.key));
  let take = found.length;
  let more = false;
  if (found.length > op.limit) {
    // Cut at a revision boundary: whole revisions only, at least the first.
    take = op.limit;
    while (take > 0 && found[take].revision === found[take - 1].revision) take--;
    if (take === 0) {
      const first = found[0].revision;
      while (take < found.length && found[take].revision === first) take++;
    }
    more = take < found.length;
  }
  const events: WatchEvent[] = [];
  for (let i = 0; i < take; i++) {
    const f = found[i];
    const v = decodeVersion(f.raw);
    const event: WatchEvent = { type: v.type, key: f.key, value: v.value, revision: f.revision, timeMs: v.timeMs };
    if (op.prevValue) event.prevValue = v.prev;
    events.push(event);
  }
  const revision = more ? found[take - 1].revision : Math.max(state.revision, after);
  return { events, revision, compactRevision: state.compactRevision, more };
}

/**
 * The value of `key` as it was once every change up to `revision` had applied (null: absent).
 * Throws {@link HistoryCompactedError} below the compaction point and `InvalidArgument` past the region's
 * latest revision.
 * @param view - the applied state.
 * @param regionId - the region's id.
 * @param key - the user key.
 * @param revision - the revision to read at.
 */
export async function readAtRevision(view: KvReader, regionId: number, key: Uint8Array, revision: number): Promise<Uint8Array | null> {
  const state = await readRevisionState(view, regionId);
  if (revision < state.compactRevision) throw new HistoryCompactedError(regionId, revision, state.compactRevision);
  if (revision > state.revision) throw new InvalidArgumentError('revision', `${revision} is past region ${regionId}'s latest revision ${state.revision}`);
  // The first change after `revision` knows the value before it; with none, the value now is it.
  const range = keyVersionRange(key, revision + 1);
  const [next] = await view.scan({ start: range.start, end: range.end, limit: 1 });
  if (next !== undefined) return decodeVersion(next.value).prev;
  return (await view.get(dataKey(key))) ?? null;
}

/** The storage range of a user range's data (re-exported for the state machine's range deletes). */
export const dataRange = (start: Uint8Array, end: Uint8Array) => prefixedRange(DATA_PREFIX, start, end);
