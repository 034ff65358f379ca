/**
 * Watcher: `kv.watch(range)` as an async iterable of put/delete events, built on the stores'
 * `watch` read (MVCC history, `src/kv/history.ts`).
 *
 * The watcher keeps **segments**: pieces of the watched range, each inside one region, each with
 * a cursor (the revision up to which every change of its keys was delivered). A poll reads one
 * segment's changes after its cursor from its region's leader (a linearizable read by default)
 * and moves the cursor to the revision the answer names. Because the revisions of any one key
 * rise over its whole life — a split child starts at its parent's revision, a merge target
 * continues from the larger one — a cursor stays valid when its keys move to another region: a
 * segment that no longer fits a region is cut along the new boundaries with the same cursor. So
 * no change is delivered twice and none is skipped, across leader changes, reconnects and store
 * restarts (the history is in the replicated state) as across splits and merges.
 *
 * Memory is bounded: the watcher polls again only after the consumer took what the last round
 * gave (at most `limit` events per segment), and the stores hold nothing per watcher. A watcher
 * whose cursor falls below a region's compaction point fails with `Compacted`.
 */
import { FlotillaError, InvalidArgumentError } from '../errors.ts';
import type { WatchEvent, WatchResult } from '../kv/history.ts';
import type { Clock } from '../ports.ts';
import { compareKeys, keysEqual, rangeWithin } from '../region/keys.ts';
import type { ReadConsistency } from '../store/region-peer.ts';
import { StoreUnreachableError } from './connector.ts';
import { type Executor, RegroupError } from './executor.ts';
import type { Router } from './router.ts';

/** A watch event as the client delivers it: the change, and the region that served it. */
export interface KvWatchEvent extends WatchEvent {
  regionId: number;
}

/** Where a watcher stands: per piece of its range, the revision up to which it delivered every change. */
export type WatchPosition = { start: Uint8Array; end: Uint8Array; revision: number }[];

/** Options of `kv.watch`. */
export interface WatchOptions {
  /** The first revision to deliver, in every region of the range; default: changes from now on. */
  fromRevision?: number;
  /** Resume where a watcher stood (its {@link Watcher.position}); overrides `fromRevision`. */
  position?: WatchPosition;
  /** Include each change's previous value (`prevValue`, null when the key was absent). */
  prevValue?: boolean;
  /** How a poll is read; default `linearizable` (any mode gives gap-free events: the history is replicated). */
  consistency?: ReadConsistency;
  /** Pause between polls that found nothing; default 50 ms. */
  pollIntervalMs?: number;
  /** Most events per poll of one segment (whole revisions); default 256. */
  limit?: number;
}

interface Segment {
  start: Uint8Array;
  end: Uint8Array;
  /** Every change up to this revision was delivered; undefined: the watch starts at the first poll. */
  cursor: number | undefined;
}

/** Errors after which a watch just polls again later (the cluster is electing, restarting, busy). */
const TRANSIENT = new Set(['Timeout', 'ServerBusy', 'OutcomeUnknown', 'NotLeader', 'EpochNotMatch', 'RegionNotFound', 'KeyNotInRegion']);

/**
 * The end of the range of keys that start with `prefix` (empty: +∞ when the prefix is all 0xFF).
 * @param prefix - a key prefix.
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      const out = prefix.slice(0, i + 1);
      out[i]++;
      return out;
    }
  }
  return new Uint8Array(0);
}

/** An async iterable of the changes of a key range; see the module comment. */
export class Watcher implements AsyncIterable<KvWatchEvent> {
  readonly #executor: Executor;
  readonly #router: Router;
  readonly #clock: Clock;
  readonly #opts: Required<Pick<WatchOptions, 'pollIntervalMs' | 'limit' | 'consistency'>> & { prevValue: boolean };
  // Invariant: sorted, disjoint, covering the watched range.
  #segments: Segment[];
  #closed = false;
  #wake: (() => void) | undefined;
  #cancelSleep: (() => void) | undefined;
  /** Polls made (for tests and metrics). */
  polls = 0;

  /**
   * Creates a watcher; nothing is read before the first event is asked for.
   * @param executor - the client's retry loop.
   * @param router - the client's routes.
   * @param clock - for the pause between polls.
   * @param start - the range's start.
   * @param end - the range's end (empty: +∞).
   * @param opts - see {@link WatchOptions}.
   */
  constructor(executor: Executor, router: Router, clock: Clock, start: Uint8Array, end: Uint8Array, opts: WatchOptions = {}) {
    if (end.length > 0 && compareKeys(start, end) >= 0) throw new InvalidArgumentError('end', 'the watched range is empty');
    const from = opts.fromRevision;
    if (from !== undefined && (!Number.isSafeInteger(from) || from < 1)) throw new InvalidArgumentError('fromRevision', `must be a positive integer, got ${from}`);
    this.#executor = executor;
    this.#router = router;
    this.#clock = clock;
    this.#opts = { pollIntervalMs: opts.pollIntervalMs ?? 50, limit: opts.limit ?? 256, consistency: opts.consistency ?? 'linearizable', prevValue: opts.prevValue ?? false };
    this.#segments = opts.position ? checkedPosition(opts.position, start, end) : [{ start, end, cursor: from === undefined ? undefined : from - 1 }];
  }

  /** Where the watcher stands now (after the events delivered so far): pass it as `position` to resume. */
  position(): WatchPosition {
    return this.#segments.map((s) => ({ start: s.start, end: s.end, revision: s.cursor ?? 0 }));
  }

  /** Stops the watch: the iteration ends (at once if it is waiting). */
  close(): void {
    this.#closed = true;
    this.#cancelSleep?.();
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<KvWatchEvent> {
    try {
      while (!this.#closed) {
        const { events, again } = await this.#round();
        // Each round's events were read after the cursors moved for them; the consumer pulls
        // them before the next round reads more (bounded memory).
        for (const e of events) {
          if (this.#closed) return;
          yield e;
        }
        if (!again && !this.#closed) await this.#sleep(this.#opts.pollIntervalMs);
      }
    } finally {
      this.#closed = true;
    }
  }

  /** One poll of every segment; `again` when some segment has more to read at once. */
  async #round(): Promise<{ events: KvWatchEvent[]; again: boolean }> {
    const out: KvWatchEvent[] = [];
    let again = false;
    const next: Segment[] = [];
    for (const seg of this.#segments) {
      if (this.#closed) {
        next.push(seg);
        continue;
      }
      try {
        const { regionId, result } = await this.#poll(seg);
        for (const e of result.events) out.push({ ...e, regionId });
        seg.cursor = Math.max(seg.cursor ?? 0, result.revision);
        if (result.more) again = true;
        next.push(seg);
      } catch (e) {
        if (e instanceof RegroupError) {
          // The segment's keys span regions now (a split): cut it along them, same cursor.
          const pieces = await this.#cut(seg);
          for (const piece of pieces) next.push(piece);
          // Cut: poll the pieces at once. Not cut (no routes yet): wait the pause like an empty poll.
          if (pieces.length > 1) again = true;
        } else if (e instanceof FlotillaError && TRANSIENT.has(e.code)) {
          next.push(seg);
        } else if (e instanceof StoreUnreachableError) {
          next.push(seg); // no store to ask now: poll again later
        } else {
          throw e;
        }
      }
    }
    this.#segments = coalesce(next, this.#router);
    return { events: out, again };
  }

  async #poll(seg: Segment): Promise<{ regionId: number; result: WatchResult }> {
    let regionId = 0;
    const op = { type: 'watch', start: seg.start, end: seg.end, after: seg.cursor, limit: this.#opts.limit, prevValue: this.#opts.prevValue } as const;
    this.polls++;
    const result = (await this.#executor.run(
      seg.start,
      false,
      (region) => {
        regionId = region.id;
        return { type: 'read', regionId: region.id, epoch: region.epoch, op, consistency: this.#opts.consistency };
      },
      'watch',
      (region) => rangeWithin(seg.start, seg.end, region.startKey, region.endKey),
    )) as WatchResult;
    return { regionId, result };
  }

  /**
   * `seg` cut along the regions the route table has for it now (refreshed if it has a gap); `seg`
   * whole when the table still has a gap (cut off from the stores: the next round tries again).
   */
  async #cut(seg: Segment): Promise<Segment[]> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.#router.table.findUncoveredRange(seg.start, seg.end) === undefined) {
        const pieces: Segment[] = [];
        for (const r of this.#router.table.findRegionsByRange(seg.start, seg.end)) {
          const start = compareKeys(r.startKey, seg.start) > 0 ? r.startKey : seg.start;
          const end = r.endKey.length > 0 && (seg.end.length === 0 || compareKeys(r.endKey, seg.end) < 0) ? r.endKey : seg.end;
          pieces.push({ start, end, cursor: seg.cursor });
        }
        if (pieces.length > 0) return pieces;
      }
      await this.#router.refresh().catch(() => {});
    }
    return [seg];
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#cancelSleep = this.#clock.setTimer(ms, resolve);
    });
  }
}

/** Joins neighbouring segments with the same cursor that one region now holds (after a merge): fewer polls. */
function coalesce(segments: Segment[], router: Router): Segment[] {
  const out: Segment[] = [];
  for (const seg of segments) {
    const prev = out[out.length - 1];
    if (prev && prev.cursor !== undefined && prev.cursor === seg.cursor && keysEqual(prev.end, seg.start)) {
      const region = router.table.findRegionByKey(prev.start);
      if (region && rangeWithin(prev.start, seg.end, region.startKey, region.endKey)) {
        prev.end = seg.end;
        continue;
      }
    }
    out.push({ ...seg });
  }
  return out;
}

function checkedPosition(position: WatchPosition, start: Uint8Array, end: Uint8Array): Segment[] {
  const segs = position.map((p) => ({ start: p.start, end: p.end, cursor: p.revision }));
  let at = start;
  for (const s of segs) {
    if (!keysEqual(s.start, at) || !Number.isSafeInteger(s.cursor) || s.cursor < 0) throw new InvalidArgumentError('position', 'does not cover the watched range piece by piece');
    at = s.end;
  }
  if (!keysEqual(at, end)) throw new InvalidArgumentError('position', 'does not cover the watched range piece by piece');
  return segs;
}
