/**
 * PeerStorage: one region replica's Raft log and states, kept in the store's shared engine and
 * mirrored in memory so that the (synchronous) Raft core can read them (TinyKV's PeerStorage).
 *
 * The in-memory log holds the entries after the last truncation point; the store compacts it
 * behind the applied index, so it stays bounded. A region's "snapshot" is not a blob: it is the
 * region's live key ranges in the engine, read when a snapshot must be sent (see `snapshot.ts`).
 */
import type { StorageEngine, WriteOp } from '../ports.ts';
import { CompactedError, UnavailableError } from '../raft/errors.ts';
import type { RaftStorage } from '../raft/storage.ts';
import { entrySize } from '../raft/storage.ts';
import type { ConfState, Entry, HardState, Snapshot } from '../raft/types.ts';
import { EMPTY_BYTES } from '../raft/types.ts';
import {
  applyStateKey,
  decodeEntry,
  decodeHardState,
  encodeEntry,
  encodeHardState,
  hardStateKey,
  logKey,
  logKeyIndex,
  logRange,
} from './raft-keys.ts';
import { type ApplyState, decodeApplyState, encodeApplyState } from './records.ts';

/** Index and term at which every initialized region log starts (entries after it). */
export const RAFT_INIT_INDEX = 5;
export const RAFT_INIT_TERM = 5;

export class PeerStorage implements RaftStorage {
  readonly regionId: number;
  hardState: HardState;
  /** Invariant: truncatedIndex <= applied <= hardState.commit. */
  applyState: ApplyState;
  /** Entries truncatedIndex+1 ..= lastIndex, in order. Invariant: ents[i].index === truncatedIndex + 1 + i. */
  private ents: Entry[];

  constructor(regionId: number, hardState: HardState, applyState: ApplyState, ents: Entry[]) {
    this.regionId = regionId;
    this.hardState = hardState;
    this.applyState = applyState;
    this.ents = ents;
  }

  /**
   * A brand-new, initialized replica (bootstrap or split) whose membership is `confState`. Its log
   * starts after {@link RAFT_INIT_INDEX} (TiKV's convention): a replica created empty on another
   * store has nothing there, so its leader must send it a snapshot, which carries the region.
   */
  static initial(regionId: number, confState: ConfState, nowMs = 0): PeerStorage {
    const apply: ApplyState = {
      applied: RAFT_INIT_INDEX,
      truncatedIndex: RAFT_INIT_INDEX,
      truncatedTerm: RAFT_INIT_TERM,
      truncatedConfState: confState,
      appliedConfState: confState,
      nowMs,
    };
    return new PeerStorage(regionId, { term: RAFT_INIT_TERM, vote: 0, commit: RAFT_INIT_INDEX }, apply, []);
  }

  /** An empty replica created on demand from a leader's message; it knows nothing until a snapshot arrives. */
  static uninitialized(regionId: number, hardState: HardState): PeerStorage {
    const none: ConfState = { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    const apply: ApplyState = { applied: 0, truncatedIndex: 0, truncatedTerm: 0, truncatedConfState: none, appliedConfState: none, nowMs: 0 };
    return new PeerStorage(regionId, { ...hardState, commit: 0 }, apply, []);
  }

  /** Whether the replica holds the region's state (false until an uninitialized one gets its snapshot). */
  get initialized(): boolean {
    return this.applyState.truncatedIndex > 0;
  }

  /** Loads a replica's Raft state from the engine; throws if a record is malformed or the log has a hole. */
  static async load(engine: StorageEngine, regionId: number): Promise<PeerStorage> {
    const hsBytes = await engine.get(hardStateKey(regionId));
    const asBytes = await engine.get(applyStateKey(regionId));
    if (!asBytes) throw new Error(`region ${regionId}: no apply state in storage`);
    const apply = decodeApplyState(asBytes);
    const hs = hsBytes ? decodeHardState(hsBytes) : { term: 0, vote: 0, commit: 0 };
    const { start, end } = logRange(regionId, apply.truncatedIndex + 1, Number.MAX_SAFE_INTEGER);
    const rows = await engine.scan({ start, end });
    const ents: Entry[] = [];
    for (const row of rows) {
      const index = logKeyIndex(row.key);
      if (index !== apply.truncatedIndex + 1 + ents.length) {
        throw new Error(`region ${regionId}: log has a hole before index ${index}`);
      }
      ents.push(decodeEntry(index, row.value));
    }
    if (hs.commit < apply.truncatedIndex) hs.commit = apply.truncatedIndex;
    return new PeerStorage(regionId, hs, apply, ents);
  }

  // --- RaftStorage ---------------------------------------------------------------------------

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: this.applyState.truncatedConfState };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const t = this.applyState.truncatedIndex;
    if (lo <= t) throw new CompactedError(lo, t + 1);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - t - 1];
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  term(i: number): number {
    const t = this.applyState.truncatedIndex;
    if (i === t) return this.applyState.truncatedTerm;
    if (i < t) throw new CompactedError(i, t + 1);
    if (i > this.lastIndex()) throw new UnavailableError(i, this.lastIndex());
    return this.ents[i - t - 1].term;
  }

  firstIndex(): number {
    return this.applyState.truncatedIndex + 1;
  }

  lastIndex(): number {
    return this.applyState.truncatedIndex + this.ents.length;
  }

  /** Metadata of the truncation point; the store fills in the data when a snapshot is sent. */
  snapshot(): Snapshot {
    const a = this.applyState;
    return { metadata: { index: a.truncatedIndex, term: a.truncatedTerm, confState: a.truncatedConfState }, data: EMPTY_BYTES };
  }

  // --- persisting a Ready -----------------------------------------------------------------------

  /** Adds to `ops` the writes that persist new log entries (truncating a conflicting suffix). */
  stageEntries(entries: readonly Entry[], ops: WriteOp[]): void {
    if (entries.length === 0) return;
    for (const e of entries) ops.push({ type: 'put', key: logKey(this.regionId, e.index), value: encodeEntry(e) });
    const newLast = entries[entries.length - 1].index;
    if (newLast < this.lastIndex()) {
      ops.push({ type: 'deleteRange', ...logRange(this.regionId, newLast + 1, this.lastIndex() + 1) });
    }
  }

  /** Adds the write of a hard state. */
  stageHardState(hs: HardState, ops: WriteOp[]): void {
    ops.push({ type: 'put', key: hardStateKey(this.regionId), value: encodeHardState(hs) });
  }

  /** Mirrors entries that are now durable. */
  appendEntries(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const t = this.applyState.truncatedIndex;
    const first = entries[0].index;
    if (first <= t) throw new Error(`region ${this.regionId}: append at ${first} below truncation point ${t}`);
    if (first > this.lastIndex() + 1) throw new Error(`region ${this.regionId}: append at ${first} leaves a hole after ${this.lastIndex()}`);
    this.ents.length = first - t - 1;
    for (const e of entries) this.ents.push(e);
  }

  /** Adds the writes that replace the whole log by a snapshot point, and mirrors it once durable via {@link installSnapshot}. */
  stageSnapshot(apply: ApplyState, ops: WriteOp[]): void {
    ops.push({ type: 'deleteRange', ...logRange(this.regionId, 0, Number.MAX_SAFE_INTEGER) });
    ops.push({ type: 'put', key: applyStateKey(this.regionId), value: encodeApplyState(apply) });
  }

  installSnapshot(apply: ApplyState): void {
    this.applyState = apply;
    this.ents = [];
  }

  /** Adds the write of the apply state (in the same batch as the data applying produced). */
  stageApplyState(ops: WriteOp[]): void {
    ops.push({ type: 'put', key: applyStateKey(this.regionId), value: encodeApplyState(this.applyState) });
  }

  /**
   * Drops log entries up to `index` (which must be applied), remembering its term and the
   * membership there. Returns the writes that delete them from the engine.
   */
  compact(index: number, confStateAtIndex: ConfState): WriteOp[] {
    const a = this.applyState;
    if (index <= a.truncatedIndex) return [];
    if (index > a.applied) throw new Error(`region ${this.regionId}: cannot compact to ${index} beyond applied ${a.applied}`);
    const term = this.term(index);
    const from = a.truncatedIndex + 1;
    this.ents = this.ents.slice(index - a.truncatedIndex);
    this.applyState = { ...a, truncatedIndex: index, truncatedTerm: term, truncatedConfState: confStateAtIndex };
    const ops: WriteOp[] = [{ type: 'deleteRange', ...logRange(this.regionId, from, index + 1) }];
    this.stageApplyState(ops);
    return ops;
  }

  /** Number of entries in the in-memory log. */
  get logLength(): number {
    return this.ents.length;
  }
}
