/**
 * The replicated log as one node sees it: a stable prefix in {@link RaftStorage}, an unstable
 * tail, and the commit and apply indexes.
 */
import { CompactedError, UnavailableError } from './errors.ts';
import type { RaftStorage } from './storage.ts';
import { entrySize } from './storage.ts';
import { Unstable } from './unstable.ts';
import type { Entry, Snapshot } from './types.ts';

export class RaftLog {
  readonly storage: RaftStorage;
  readonly unstable: Unstable;
  /** Highest index known to be committed. Invariant: applied <= committed <= lastIndex(). */
  committed: number;
  /** Highest index handed to the application and acknowledged by `advance`. */
  applied: number;
  /** Highest index handed to the application in a Ready not yet advanced. Invariant: applied <= applying <= committed. */
  applying: number;
  /** Committed entries above this index are held back from the application (apply flow control). */
  applyLimit = Number.POSITIVE_INFINITY;
  private readonly maxApplyBytes: number;
  /** Told of every run of entries appended (after truncating what they overwrite). */
  onAppend: (ents: readonly Entry[]) => void = () => {};

  constructor(storage: RaftStorage, maxApplyBytes: number) {
    this.storage = storage;
    this.maxApplyBytes = maxApplyBytes;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
    this.applying = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** The term of entry `i`; throws Compacted/Unavailable outside firstIndex()-1 ..= lastIndex(). */
  term(i: number): number {
    const dummy = this.firstIndex() - 1;
    if (i < dummy) throw new CompactedError(i, dummy + 1);
    if (i > this.lastIndex()) throw new UnavailableError(i, this.lastIndex());
    return this.unstable.maybeTerm(i) ?? this.storage.term(i);
  }

  /** The term of entry `i`, or 0 when it is compacted or absent (which matches no real term). */
  termOrZero(i: number): number {
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return 0;
    return this.term(i);
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  matchTerm(i: number, term: number): boolean {
    return this.termOrZero(i) === term && (term !== 0 || i === 0 || i === this.firstIndex() - 1);
  }

  /** Raft's election restriction: is a log ending at (lastIndex, term) at least as up-to-date as ours? */
  isUpToDate(lastIndex: number, term: number): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * A follower's append: if our entry at `index` has `logTerm`, append `ents` after it (truncating
   * only from the first real conflict) and commit up to min(committed, last new index).
   * Returns the last index the append verified, or -1 if the logs do not match at `index`.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number {
    if (!this.matchTerm(index, logTerm)) return -1;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) {
        throw new Error(`entry ${ci} conflicts with committed entry (committed ${this.committed})`);
      }
      this.append(ents.slice(ci - (index + 1)));
    }
    // The follower's commit is capped by what this append verified: entries beyond lastNew
    // may be stale leftovers of an older leader.
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  /** Appends after truncating whatever conflicts. Returns the new last index. */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0].index - 1;
    if (after < this.committed) throw new Error(`append after ${after} is below committed ${this.committed}`);
    this.unstable.truncateAndAppend(ents);
    this.onAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry of `ents` that is not already in the log with the same term,
   * or 0 if all are. An entry with a different term is a conflict; one past the end is new.
   * Entries already present are never truncated, so a stale or reordered append changes nothing.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * For fast back-off: the largest index <= `index` whose term is <= `term`, with its term.
   * The leader can skip every entry above it in one round trip.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (; index > 0; index--) {
      let t: number;
      try {
        t = this.term(index);
      } catch {
        return { index, term: 0 };
      }
      if (t <= term) return { index, term: t };
    }
    return { index: 0, term: 0 };
  }

  commitTo(toCommit: number): void {
    if (this.committed >= toCommit) return;
    if (toCommit > this.lastIndex()) {
      throw new Error(`commit index ${toCommit} is out of range [last index ${this.lastIndex()}]`);
    }
    this.committed = toCommit;
  }

  /** Commit `index` if it is of `term` (the leader's own term: Figure 8). */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.termOrZero(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    if (i > this.committed || i < this.applied) {
      throw new Error(`applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    }
    this.applied = i;
    if (this.applying < i) this.applying = i;
  }

  hasNextCommittedEnts(): boolean {
    if (this.unstable.snapshot) return false; // apply the snapshot first
    return Math.min(this.committed, this.applyLimit) > this.applying;
  }

  /** Committed entries not yet handed out (up to `applyLimit`), at most `maxApplyBytes` (at least one). */
  nextCommittedEnts(): Entry[] {
    if (!this.hasNextCommittedEnts()) return [];
    const lo = Math.max(this.applying + 1, this.firstIndex());
    return this.slice(lo, Math.min(this.committed, this.applyLimit) + 1, this.maxApplyBytes);
  }

  /** Entries from `i` to the end, at most `maxBytes` (at least one). */
  entries(i: number, maxBytes: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxBytes);
  }

  /** Entries in [lo, hi) at most `maxBytes` of payload (always at least one). */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo >= hi) return [];
    const first = this.firstIndex();
    if (lo < first) throw new CompactedError(lo, first);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    const out: Entry[] = [];
    const offset = this.unstable.offset;
    if (lo < offset) {
      const stable = this.storage.entries(lo, Math.min(hi, offset), maxBytes);
      for (const e of stable) out.push(e);
      if (stable.length < Math.min(hi, offset) - lo) return out;
    }
    if (hi > offset) {
      let bytes = 0;
      for (const e of out) bytes += entrySize(e);
      for (const e of this.unstable.slice(Math.max(lo, offset), hi)) {
        bytes += entrySize(e);
        if (out.length > 0 && bytes > maxBytes) break;
        out.push(e);
      }
    }
    return out;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Replaces the log with a snapshot (a follower installing one). */
  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /** Unstable entries to persist in the next Ready. */
  unstableEntries(): Entry[] {
    return this.unstable.entries;
  }

  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapTo(index: number): void {
    this.unstable.stableSnapTo(index);
  }
}
