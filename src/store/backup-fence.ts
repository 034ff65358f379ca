/**
 * The store's side of `flotilla backup` (docs/backup.md): backup fences, and reading a region's
 * pairs as they were at its fence.
 *
 * A fence is an admin entry in the region's log (`BackupFenceCommand`). Every replica that applies
 * it stops applying at its index (`RegionPeer.backupFence`; the apply is held back the way a
 * CommitMerge waiting for its source is, `apply.ts`): later entries still replicate and commit,
 * but none applies, so no write after the fence is acknowledged, until the backup thaws the fence
 * ({@link BackupService.thaw}) or the fence's lease ran out on this store's clock
 * ({@link BackupService.tick}: a backup tool that died, or lost its links, freezes writes for one
 * lease at most). The lease counts from the first tick after the store applied the fence, never
 * from earlier, which is what the backup's deadline argument relies on.
 *
 * The replica that proposed the fence answers once it applied it, and at that moment (applied ==
 * fence index, nothing later applied) takes a consistent engine view: the region's pairs at the
 * fence, read later in bounded pages ({@link BackupService.read}) after the thaw, so that writes
 * wait only for the fencing of every region, not for the data to be copied. A view is released
 * by {@link BackupService.release} or after {@link READER_IDLE_MS} without a read.
 */
import { InvalidArgumentError, RegionNotFoundError, ServerBusyError } from '../errors.ts';
import { KEYED_PREFIXES, prefixedRange, type StorageRange } from '../kv/keys.ts';
import type { StorageSnapshot } from '../ports.ts';
import { compareKeys, nextKey } from '../region/keys.ts';
import type { Region, RegionEpoch } from '../region/types.ts';
import { cloneRegion } from '../region/types.ts';
import { peerFor } from './replicas.ts';
import type { StoreContext } from './store-context.ts';

/** A reader not read from for this long is released (its backup tool is gone). */
export const READER_IDLE_MS = 60_000;
/** Most readers (one per fenced region) a store keeps open at once. */
export const READERS_MAX = 4096;
/** Most key + value bytes one {@link BackupService.read} returns (a caller may ask for less). */
export const READ_BYTES_MAX = 4 * 1024 * 1024;
/** Most pairs one read returns: bounds the MessagePack values of an answer (a frame holds at most 1 million). */
export const READ_PAIRS_MAX = 16_384;
/** Pairs read from the view per scan. */
const SCAN_PAGE = 256;

/** What a fence answers: where the region's pairs at its fence can be read. */
export interface FenceAnswer {
  /** The store holding the view (read from it). */
  storeId: number;
  /** The region as it was at the fence. */
  region: Region;
  fenceIndex: number;
  /** The region time at the fence (lock deadlines count in it). */
  nowMs: number;
}

/** One page of a region's pairs. */
export interface BackupPage {
  pairs: Array<{ key: Uint8Array; value: Uint8Array }>;
  /** Set when this page ends the region. */
  done: boolean;
}

/** An engine view shared by the readers of one backup on this store (released with the last of them). */
interface SharedView {
  view: StorageSnapshot;
  refs: number;
}

interface Reader {
  backupId: string;
  regionId: number;
  fenceIndex: number;
  shared: SharedView;
  ranges: StorageRange[];
  lastUsedMs: number;
}

/** The KV ranges a backup copies: user data, sequences and locks, in key order (not client sessions: a restored cluster has new clients). */
export function backupRanges(region: { startKey: Uint8Array; endKey: Uint8Array }): StorageRange[] {
  return KEYED_PREFIXES.map((p) => prefixedRange(p, region.startKey, region.endKey)).sort((a, b) => compareKeys(a.start, b.start));
}

/** Backup fences and readers of one store. */
export class BackupService {
  private readonly ctx: StoreContext;
  private readonly readers = new Map<string, Reader>();

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
  }

  /**
   * Proposes a fence of `backupId` in a region led here and waits until it applied here; then
   * opens the view of the region's pairs at the fence.
   * @throws NotLeaderError, EpochNotMatchError (the region changed: list the regions again),
   *   ServerBusyError (merging, fence already thawed, too many readers).
   */
  async fence(regionId: number, epoch: RegionEpoch | undefined, backupId: string, leaseMs: number): Promise<FenceAnswer> {
    const ctx = this.ctx;
    const peer = peerFor(ctx, regionId, epoch);
    if (!peer.isLeader()) throw peer.notLeader();
    if (this.readers.size >= READERS_MAX) throw new ServerBusyError(`store ${ctx.storeId} holds ${this.readers.size} backup readers; release some`);
    const outcome = await peer.proposeAdmin({ type: 'backupFence', epoch: peer.region.epoch, backupId, leaseMs });
    if (!outcome.ok) throw outcome.error;
    const f = peer.backupFence;
    // Thawed meanwhile (its lease ran out, or the backup gave up): this region's cut is gone.
    // (The answer comes once the apply batch holding the fence is written, so the engine holds
    // the region at `applied`; `readableApplied` may catch up a moment later in the same turn.)
    if (f?.backupId !== backupId || peer.storage.applyState.applied !== f.index || peer.retired) {
      throw new ServerBusyError(`region ${regionId}: the fence of backup ${backupId} was thawed before it could be read`);
    }
    // Called now, with nothing after the fence applied: the view holds the region at the fence.
    // It holds every other region of this backup still fenced here at its fence too, so those
    // readers move to it: a store keeps one view per backup, not one per region (an lmdb view is
    // a read transaction, and their number is bounded).
    const still = [...this.readers.values()].filter((r) => r.backupId === backupId && this.holds(r));
    const viewing = ctx.engine.snapshot();
    const answer: FenceAnswer = { storeId: ctx.storeId, region: cloneRegion(peer.region), fenceIndex: f.index, nowMs: peer.storage.applyState.nowMs };
    const shared: SharedView = { view: await viewing, refs: 0 };
    for (const r of still) this.moveTo(r, shared);
    const old = this.readers.get(readerKey(backupId, regionId));
    if (old) this.drop(readerKey(backupId, regionId), old);
    const reader: Reader = { backupId, regionId, fenceIndex: f.index, shared, ranges: backupRanges(peer.region), lastUsedMs: ctx.opts.clock.now() };
    shared.refs++;
    this.readers.set(readerKey(backupId, regionId), reader);
    return answer;
  }

  /** Thaws every fence of `backupId` on this store; returns how many replicas it thawed. */
  thaw(backupId: string): number {
    let n = 0;
    for (const peer of this.ctx.peers.values()) if (peer.thawBackup(backupId)) n++;
    if (n > 0) this.resume();
    return n;
  }

  /**
   * The pairs of a fenced region after `after` (an engine key a previous page ended with; none:
   * from the start), about `maxBytes` of them.
   * @throws RegionNotFoundError when no reader of that backup and region is open here (released, expired, or another store's).
   */
  async read(backupId: string, regionId: number, after: Uint8Array | undefined, maxBytes: number): Promise<BackupPage> {
    const reader = this.readers.get(readerKey(backupId, regionId));
    if (!reader) throw new RegionNotFoundError(regionId);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new InvalidArgumentError('maxBytes', 'must be a positive integer');
    reader.lastUsedMs = this.ctx.opts.clock.now();
    const budget = Math.min(maxBytes, READ_BYTES_MAX);
    const from = after === undefined ? undefined : nextKey(after);
    const pairs: BackupPage['pairs'] = [];
    let bytes = 0;
    for (const range of reader.ranges) {
      if (from !== undefined && compareKeys(range.end, from) <= 0) continue;
      let start = from !== undefined && compareKeys(from, range.start) > 0 ? from : range.start;
      for (;;) {
        const page = await reader.shared.view.scan({ start, end: range.end, limit: SCAN_PAGE });
        for (const kv of page) {
          pairs.push({ key: kv.key, value: kv.value });
          bytes += kv.key.length + kv.value.length;
          // At least one pair per page, so that a pair larger than the budget still goes.
          if (bytes >= budget || pairs.length >= READ_PAIRS_MAX) return { pairs, done: false };
        }
        if (page.length < SCAN_PAGE) break;
        start = nextKey(page[page.length - 1].key);
      }
    }
    return { pairs, done: true };
  }

  /** Releases every reader of `backupId` here (the backup is written, or gave up); returns how many. */
  release(backupId: string): number {
    let n = 0;
    for (const [k, r] of this.readers) {
      if (r.backupId !== backupId) continue;
      this.drop(k, r);
      n++;
    }
    return n;
  }

  /** Each tick: fences whose lease ran out thaw by themselves; idle readers are released. */
  tick(): void {
    const ctx = this.ctx;
    const now = ctx.opts.clock.now();
    let thawed = false;
    for (const peer of ctx.peers.values()) {
      const f = peer.backupFence;
      if (!f) continue;
      if (f.startedMs === undefined) f.startedMs = now;
      else if (now - f.startedMs >= f.leaseMs) {
        ctx.opts.logger.warn('a backup fence ran out of its lease: writes resume; that backup fails', { regionId: peer.regionId, backupId: f.backupId, leaseMs: f.leaseMs });
        peer.thawBackup(f.backupId);
        thawed = true;
      }
    }
    if (thawed) this.resume();
    for (const [k, r] of this.readers) if (now - r.lastUsedMs >= READER_IDLE_MS) this.drop(k, r);
  }

  /** Releases every reader (the store closes). */
  close(): void {
    for (const [k, r] of this.readers) this.drop(k, r);
  }

  /** Open readers (for tests and status). */
  get readerCount(): number {
    return this.readers.size;
  }

  /** Open engine views (at most one per backup while its fences hold; for tests). */
  get viewCount(): number {
    return new Set([...this.readers.values()].map((r) => r.shared)).size;
  }

  /** Whether `r`'s region is still fenced here at its fence: the engine holds it as it was then. */
  private holds(r: Reader): boolean {
    const peer = this.ctx.peers.get(r.regionId);
    const f = peer?.backupFence;
    return peer !== undefined && !peer.retired && f?.backupId === r.backupId && f.index === r.fenceIndex && peer.storage.applyState.applied === f.index;
  }

  private moveTo(r: Reader, shared: SharedView): void {
    if (r.shared === shared) return;
    shared.refs++;
    this.unref(r.shared);
    r.shared = shared;
  }

  private drop(key: string, r: Reader): void {
    this.readers.delete(key);
    this.unref(r.shared);
  }

  private unref(shared: SharedView): void {
    if (--shared.refs === 0) shared.view.release();
  }

  /** After a thaw: the loop looks at every replica, and the held-back entries apply. */
  private resume(): void {
    this.ctx.scanAll = true;
    this.ctx.kick();
  }
}

/** A reader's key (backup ids hold no `:`: the protocol allows `[A-Za-z0-9_-]` only). */
function readerKey(backupId: string, regionId: number): string {
  return `${backupId}:${regionId}`;
}
