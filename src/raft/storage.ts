/**
 * The log storage the Raft core reads from: the stable part of the log, the hard state and the
 * latest snapshot. The core never writes it: the driver does, after persisting a Ready (etcd's
 * `MemoryStorage` plays the same role). It is synchronous because the core is; a store keeps it
 * in memory as a mirror of what its StorageEngine holds durably and reloads it on start.
 */
import { CompactedError, SnapshotOutOfDateError, UnavailableError } from './errors.ts';
import type { ConfState, Entry, HardState, Snapshot } from './types.ts';
import { emptyConfState } from './types.ts';

/** What the core needs to read from the stable log. */
export interface RaftStorage {
  /**
   * The persisted hard state, and the membership as of the latest snapshot. The core replays
   * every configuration-change entry after the snapshot, since a change takes effect when appended.
   */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at most `maxBytes` of payload but always at least one. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of entry `i`; valid for firstIndex()-1 ..= lastIndex(). */
  term(i: number): number;
  /** Index of the first entry still in the log (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  /** The latest snapshot. */
  snapshot(): Snapshot;
}

/** Payload size of an entry as counted by the flow-control limits. */
export function entrySize(e: Entry): number {
  return e.data.length + 16;
}

/**
 * An in-memory {@link RaftStorage}. `entries[0]` is a dummy holding the snapshot's index and term,
 * so that term(firstIndex - 1) is always answerable.
 */
export class MemoryRaftStorage implements RaftStorage {
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot = { metadata: { index: 0, term: 0, confState: emptyConfState() }, data: new Uint8Array(0) };
  // Invariant: ents[0].index === snap.metadata.index and ents[i].index === ents[0].index + i.
  private ents: Entry[] = [{ term: 0, index: 0, type: 'normal', data: new Uint8Array(0) }];
  /** A storage for a brand-new group whose initial voters are `voters`. */
  static withVoters(voters: number[], learners: number[] = []): MemoryRaftStorage {
    const s = new MemoryRaftStorage();
    s.snap.metadata.confState = { ...emptyConfState(), voters: [...voters], learners: [...learners] };
    return s;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: this.snap.metadata.confState };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0].index;
    if (lo <= offset) throw new CompactedError(lo, offset + 1);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - offset];
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  term(i: number): number {
    const offset = this.ents[0].index;
    if (i < offset) throw new CompactedError(i, offset + 1);
    if (i - offset >= this.ents.length) throw new UnavailableError(i, this.lastIndex());
    return this.ents[i - offset].term;
  }

  firstIndex(): number {
    return this.ents[0].index + 1;
  }

  lastIndex(): number {
    return this.ents[0].index + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole log with a snapshot (a follower installing one from its leader). */
  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index <= this.snap.metadata.index && this.snap.metadata.index > 0) {
      throw new SnapshotOutOfDateError(snap.metadata.index, this.snap.metadata.index);
    }
    this.snap = snap;
    this.ents = [{ term: snap.metadata.term, index: snap.metadata.index, type: 'normal', data: new Uint8Array(0) }];
  }

  /**
   * Records a snapshot the local state machine took at `index` (which must be applied) without
   * dropping entries; call {@link compact} to drop the prefix.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw new SnapshotOutOfDateError(index, this.snap.metadata.index);
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    this.snap = { metadata: { index, term: this.term(index), confState }, data };
    return this.snap;
  }

  /** Drops entries before `compactIndex` (it becomes the dummy entry). */
  compact(compactIndex: number): void {
    const offset = this.ents[0].index;
    if (compactIndex <= offset) return;
    if (compactIndex > this.lastIndex()) throw new UnavailableError(compactIndex, this.lastIndex());
    const i = compactIndex - offset;
    const head = this.ents[i];
    this.ents = [{ term: head.term, index: head.index, type: 'normal', data: new Uint8Array(0) }, ...this.ents.slice(i + 1)];
  }

  /** Appends entries, truncating any conflicting suffix first (the driver persisting a Ready). */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0].index + entries.length - 1;
    if (last < first) return; // all compacted already
    const from = entries[0].index < first ? first - entries[0].index : 0;
    const offset = this.ents[0].index;
    const start = entries[from].index - offset;
    if (start > this.ents.length) {
      throw new UnavailableError(entries[from].index, this.lastIndex());
    }
    this.ents.length = start;
    for (let k = from; k < entries.length; k++) this.ents.push(entries[k]);
  }
}
