/**
 * The incarnation check of a store's inbound Raft traffic (issue 22). A replica's votes and
 * acknowledgements count only while its store still runs the data that cast them: a store that
 * comes back on an empty data directory has a new incarnation, and its old replicas — which it
 * recreates empty, with no term, no vote and no log — must never again be counted, or it and a
 * lagging store form a majority that never had an acknowledged write ("lost state" in the Raft
 * literature).
 *
 * The incarnation a member replica must come from:
 * - the one stamped on it in the region's membership (the leader that added it knew which
 *   incarnation of the store it was adding: `Peer.incarnation`), else
 * - for replicas a cluster was bootstrapped with (no stamp), the first incarnation this store ever
 *   saw of that store, remembered durably in its own engine (trust on first use).
 * Anything else is refused, whatever the message. Replicas here that are not initialized yet (a
 * replica created from a message, waiting for its snapshot) take everything: they cannot vote and
 * learn their membership, stamps included, from the snapshot.
 *
 * A refused replica comes back only by being replaced: removed, and added again as a new learner
 * (a new peer id, stamped with the new incarnation) that catches up by snapshot before it is
 * promoted — `flotilla rejoin-store`, or PD's replica repair.
 */
import type { Logger, StorageEngine } from '../ports.ts';
import type { Region } from '../region/types.ts';
import { seenIncarnationOp } from './store-ident.ts';

/** A member replica refused because its store's data is not the data it had. */
export interface LostReplica {
  regionId: number;
  peerId: number;
  storeId: number;
  /** The incarnation it must come from, and the one its store runs now. */
  expected: string;
  actual: string;
}

/** Counters of the guard. */
export interface IncarnationGuardCounters {
  /** Raft messages refused from replicas whose store changed incarnation. */
  refused: number;
  /** Stores whose first incarnation was recorded. */
  recorded: number;
}

/**
 * Tracks the incarnation of every other store and judges each message from its replicas.
 * One per StoreEngine; its durable part is written to the store's own engine.
 */
export class IncarnationGuard {
  /** The first incarnation seen of each store. Invariant: every entry is durable in the engine. */
  private readonly seen: Map<number, string>;
  /** The incarnation each store's latest frame came from (its link's handshake). */
  private readonly current = new Map<number, string>();
  /** Stores whose first incarnation is being written: their messages wait (are dropped) until it is. */
  private readonly recording = new Set<number>();
  /** Refused replicas, by region and peer id, for status pages and the operator. */
  private readonly lost = new Map<string, LostReplica>();
  /** Stores (and the incarnation) already reported in the log, so a refusal is logged once, not per message. */
  private readonly reported = new Set<string>();
  readonly counters: IncarnationGuardCounters = { refused: 0, recorded: 0 };

  private readonly engine: StorageEngine;
  private readonly logger: Logger;

  /**
   * @param engine - the store's engine, where first-seen incarnations are recorded.
   * @param seen - the first-seen incarnations recorded so far (`loadSeenIncarnations`).
   * @param logger - where refusals are reported.
   */
  constructor(engine: StorageEngine, seen: Map<number, string>, logger: Logger) {
    this.engine = engine;
    this.seen = seen;
    this.logger = logger;
  }

  /** The first incarnation this store saw (and recorded) of `storeId`; undefined if it never heard of it. */
  firstSeen(storeId: number): string | undefined {
    return this.seen.get(storeId);
  }

  /** The incarnation store `storeId` runs now, as its latest frame said; undefined when unknown. */
  currentOf(storeId: number): string | undefined {
    return this.current.get(storeId);
  }

  /**
   * Notes the incarnation a frame from `storeId` came from. Returns false while the store's first
   * incarnation is not yet durable here: its messages must be dropped until then (Raft resends),
   * so that no answer to them leaves before this store can tell a wiped store from the old one.
   */
  observe(storeId: number, incarnation: string): boolean {
    this.current.set(storeId, incarnation);
    if (this.seen.has(storeId)) return true;
    if (this.recording.has(storeId)) return false;
    this.recording.add(storeId);
    this.engine
      .write([seenIncarnationOp(storeId, incarnation)], { sync: true })
      .then(() => {
        this.seen.set(storeId, incarnation);
        this.counters.recorded++;
        this.logger.debug('recorded the incarnation of a store', { storeId, incarnation });
      })
      .catch((e) => this.logger.warn('could not record the incarnation of a store', { storeId, error: String(e) }))
      .finally(() => this.recording.delete(storeId));
    return false;
  }

  /**
   * Whether a message from member `peerId` of `region`, received from `storeId` running
   * `incarnation`, may be stepped. Logs (once per store incarnation) and counts a refusal.
   */
  admits(region: Region, peerId: number, storeId: number, incarnation: string): boolean {
    const member = region.peers.find((p) => p.id === peerId);
    const expected = member?.incarnation ?? this.seen.get(storeId);
    const key = `${region.id}/${peerId}`;
    if (expected === undefined || expected === incarnation) {
      if (this.lost.size > 0) this.lost.delete(key);
      return true;
    }
    this.counters.refused++;
    if (!this.lost.has(key)) this.lost.set(key, { regionId: region.id, peerId, storeId, expected, actual: incarnation });
    const report = `${storeId}/${incarnation}`;
    if (!this.reported.has(report)) {
      this.reported.add(report);
      this.logger.warn(
        `store ${storeId} came back with new data (incarnation ${incarnation}, its replicas were made by ${expected}): its data directory was wiped or replaced, so its old replicas are refused (no votes, no acknowledgements). Bring it back in with \`flotilla rejoin-store --store ${storeId}\` (PD replaces them on its own)`,
        { code: 'StoreReplaced', storeId, regionId: region.id, peerId, expected, actual: incarnation },
      );
    }
    return false;
  }

  /** Forgets refused replicas that are no longer members (replaced or removed). */
  prune(regionOf: (regionId: number) => Region | undefined): void {
    for (const [key, l] of this.lost) {
      const r = regionOf(l.regionId);
      if (!r?.peers.some((p) => p.id === l.peerId)) this.lost.delete(key);
    }
  }

  /** The first incarnation recorded of every store heard from, by store id. */
  seenIncarnations(): Record<number, string> {
    return Object.fromEntries([...this.seen].sort((a, b) => a[0] - b[0]));
  }

  /** The member replicas refused so far (and still members when last pruned). */
  lostReplicas(): LostReplica[] {
    return [...this.lost.values()].sort((a, b) => a.regionId - b.regionId || a.peerId - b.peerId);
  }
}
