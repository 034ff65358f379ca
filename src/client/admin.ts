/**
 * The admin API (`client.admin`): list regions and stores, split a region, move a leader, add and
 * remove replicas. Each region operation is sent to the region's leader and retried like a write;
 * every one of them goes through the region's Raft log, so all replicas see it at the same point.
 */
import { InvalidArgumentError, NotLeaderError, RegionNotFoundError } from '../errors.ts';
import type { PdMembersInfo } from '../store/pd-members.ts';
import { PD_GROUP_ID } from '../store/pd-state.ts';
import type { Region } from '../region/types.ts';
import { cloneRegion } from '../region/types.ts';
import type { CheckResult } from '../store/consistency-types.ts';
import type { BackupPage, FenceAnswer } from '../store/backup-fence.ts';
import type { AdminOp, BackupRequest } from '../store/requests.ts';
import type { StoreConnector } from './connector.ts';
import { type Executor, RegroupError } from './executor.ts';
import { type RecoveryResult, recoverUnsafe } from './recovery.ts';
import type { Router } from './router.ts';

/** How many times `pdMembers` asks around the stores, pausing 250 ms, then 500 ms, ... in between. */
const PD_MEMBERS_PASSES = 4;
const PD_MEMBERS_PAUSE_MS = 250;

/** A region as the admin API reports it. */
export interface RegionView extends Region {
  /** The store whose replica leads the region, as last learned; 0 when unknown. */
  leaderStoreId: number;
}

/** A store as the admin API reports it. */
export interface StoreView {
  id: number;
  /** Whether the store answered just now. */
  up: boolean;
  regions: number;
  leaders: number;
}

export class AdminClient {
  private readonly connector: StoreConnector;
  private readonly router: Router;
  private readonly executor: Executor;
  private readonly toBytes: (v: string | Uint8Array, argument: string) => Uint8Array;

  constructor(connector: StoreConnector, router: Router, executor: Executor, toBytes: (v: string | Uint8Array, argument: string) => Uint8Array) {
    this.connector = connector;
    this.router = router;
    this.executor = executor;
    this.toBytes = toBytes;
  }

  /** Every region, in key order, with the leader each is believed to have. */
  async regions(): Promise<RegionView[]> {
    await this.router.refresh();
    return this.router.table.list().map((r) => ({ ...r, leaderStoreId: this.router.leaderOf(r.id) }));
  }

  /**
   * The members of PD's group (store, peer id, voter or learner, leader, how far its log matches,
   * up or down), as PD's leader reports them: asks the stores in turn, following leader hints.
   * @throws NotLeaderError when no store could name a PD leader (PD has no quorum, or is electing); the last error a store gave otherwise.
   */
  async pdMembers(): Promise<PdMembersInfo> {
    let last: unknown = new NotLeaderError(PD_GROUP_ID, 0);
    // A few passes: PD's leadership may move while we ask (an election takes a few hundred ms).
    for (let pass = 0; pass < PD_MEMBERS_PASSES; pass++) {
      if (pass > 0) await this.executor.sleep(PD_MEMBERS_PAUSE_MS * pass);
      const ids = this.connector.storeIds();
      const tried = new Set<number>();
      const queue = [...ids];
      while (queue.length > 0) {
        const id = queue.shift()!;
        if (tried.has(id)) continue;
        tried.add(id);
        try {
          return await this.connector.call(id, { type: 'pdMembers' });
        } catch (e) {
          last = e;
          // Follow a hint first: the store it names leads PD, or knows better.
          if (e instanceof NotLeaderError && e.leaderStoreId > 0 && !tried.has(e.leaderStoreId)) queue.unshift(e.leaderStoreId);
        }
      }
    }
    throw last;
  }

  /** Every store the client knows, with how many replicas and leaders it hosts. */
  async stores(): Promise<StoreView[]> {
    const out: StoreView[] = [];
    for (const id of this.connector.storeIds()) {
      try {
        const infos = await this.connector.call(id, { type: 'regions' });
        out.push({ id, up: true, regions: infos.length, leaders: infos.filter((i) => i.leaderStoreId === id).length });
      } catch {
        out.push({ id, up: false, regions: 0, leaders: 0 });
      }
    }
    return out;
  }

  /** Splits a region at `splitKey` (default: its middle key by count). Resolves with the two halves. */
  async splitRegion(regionId: number, splitKey?: string | Uint8Array): Promise<{ left: Region; right: Region }> {
    const key = splitKey === undefined ? undefined : this.toBytes(splitKey, 'splitKey');
    if (key !== undefined && key.length === 0) throw new InvalidArgumentError('splitKey', 'may not be empty');
    const [left, right] = (await this.send(regionId, { kind: 'split', splitKey: key }, 'splitRegion')) as Region[];
    this.router.learn([left, right]);
    return { left: cloneRegion(left), right: cloneRegion(right) };
  }

  /** Moves a region's leadership to its replica on `toStoreId`; resolves once that replica leads. */
  async transferLeader(regionId: number, toStoreId: number): Promise<void> {
    await this.send(regionId, { kind: 'transferLeader', toStoreId }, 'transferLeader');
    this.router.setLeader(regionId, toStoreId);
  }

  /**
   * Adds a replica of a region on `storeId`: first as a learner, then, once it has caught up
   * (the promotion is retried while the learner is behind), as a voter. Resolves with the region.
   */
  async addReplica(regionId: number, storeId: number, role: 'voter' | 'learner' = 'voter'): Promise<Region> {
    // Made for the data the store runs now, as it says itself (see rejoinStore).
    const { incarnation } = await this.connector.call(storeId, { type: 'ident' });
    return await this.addStamped(regionId, storeId, role, incarnation);
  }

  /** {@link addReplica}, the new replica made for the data `incarnation` of the store (when given). */
  private async addStamped(regionId: number, storeId: number, role: 'voter' | 'learner', incarnation: string | undefined): Promise<Region> {
    const op: AdminOp = incarnation === undefined ? { kind: 'changePeer', change: 'addLearner', storeId } : { kind: 'changePeer', change: 'addLearner', storeId, incarnation };
    let region = (await this.send(regionId, op, 'addReplica')) as Region;
    this.router.learn([region]);
    if (role === 'voter') {
      region = (await this.send(regionId, { kind: 'changePeer', change: 'promote', storeId }, 'addReplica')) as Region;
      this.router.learn([region]);
    }
    return cloneRegion(region);
  }

  /** Removes the replica of a region on `storeId` (not the leader's: transfer leadership first). */
  async removeReplica(regionId: number, storeId: number): Promise<Region> {
    const region = (await this.send(regionId, { kind: 'changePeer', change: 'remove', storeId }, 'removeReplica')) as Region;
    this.router.learn([region]);
    return cloneRegion(region);
  }

  /**
   * Brings a store back in after it lost its data (a wiped or replaced disk): every replica it
   * hosts is replaced — removed, then added again as a learner (a new replica, made for the data
   * the store has now) that catches up by snapshot and is promoted once it has. Until then the
   * other stores refuse its old replicas. Replaces every replica of the store, so run it only for
   * a store whose data was lost. Resolves with the regions as they are afterwards.
   * @param storeId - the store whose data was lost; it must be running (its new replicas need it).
   * Safe to run again after it was cut short (replicas it already replaced are replaced once more).
   * @throws InvalidArgumentError when the store leads a region (then it did not lose its data).
   */
  async rejoinStore(storeId: number): Promise<Region[]> {
    // The new replicas are made for the data the store runs now, as the store itself says: a
    // leader that has not yet heard from it since it came back would stamp the old incarnation
    // (and the other stores would refuse the new replica as they refuse the old one).
    const { incarnation } = await this.connector.call(storeId, { type: 'ident' });
    const out: Region[] = [];
    for (const r of await this.regions()) {
      const mine = r.peers.find((p) => p.storeId === storeId);
      if (!mine) continue;
      await this.removeReplica(r.id, storeId);
      out.push(await this.addStamped(r.id, storeId, mine.role, incarnation));
    }
    return out;
  }

  /**
   * Merges two adjacent regions with replicas on the same stores; `leftId`'s region survives and
   * grows over `rightId`'s range. Moves the right region's leader to the left's store first.
   * Resolves with the merged region.
   */
  async mergeRegions(leftId: number, rightId: number): Promise<Region> {
    const regions = await this.regions();
    const left = regions.find((r) => r.id === leftId);
    const right = regions.find((r) => r.id === rightId);
    if (!left) throw new RegionNotFoundError(leftId);
    if (!right) throw new RegionNotFoundError(rightId);
    // Both leaders must be on one store: it drives the prepare on one and the commit on the other.
    if (left.leaderStoreId > 0 && right.leaderStoreId !== left.leaderStoreId) await this.transferLeader(rightId, left.leaderStoreId);
    const merged = (await this.send(leftId, { kind: 'merge', sourceId: rightId }, 'mergeRegions')) as Region;
    this.router.table.remove(rightId);
    this.router.learn([merged]);
    return cloneRegion(merged);
  }

  /**
   * Checks that the replicas of every region (or of `regionId`'s) hold the same data: each region's
   * leader proposes a hash through the region's log, every replica hashes its state where that
   * entry applies (one log index for all), and the leader compares (docs/disaster-recovery.md).
   * A replica that has not applied the entry within `waitMs` (default 10 000) is `unchecked`,
   * never divergent. Resolves with one result per region, in key order.
   */
  async check(regionId?: number, options: { waitMs?: number } = {}): Promise<CheckResult[]> {
    const waitMs = options.waitMs ?? 10_000; // the store's default too (CHECK_WAIT_MS_DEFAULT)
    if (!Number.isSafeInteger(waitMs) || waitMs < 0 || waitMs > 600_000) throw new InvalidArgumentError('waitMs', 'must be an integer from 0 to 600000');
    const ids = regionId === undefined ? (await this.regions()).map((r) => r.id) : [regionId];
    // An attempt lasts as long as the leader waits for its replicas, and then some; a check
    // changes nothing, so an attempt without an answer is simply made again.
    const executor = this.executor.withRetry({ attemptTimeoutMs: waitMs + 5000, timeoutMs: Math.max(this.executor.retry.timeoutMs, 2 * waitMs + 10_000) });
    const out: CheckResult[] = [];
    for (const id of ids) out.push((await this.send(id, { kind: 'check', waitMs }, 'check', executor, false)) as CheckResult);
    return out;
  }

  /**
   * Unsafe recovery: brings back every region (or `regionId`'s) whose voters lost their majority
   * with `lostStoreIds`, from the most up-to-date surviving replica, which then leads the
   * survivors (`recovery.ts`). Only for stores lost for good: writes the lost majority
   * acknowledged but the survivor lacks are gone, and linearizability does not hold across it
   * for those regions (docs/disaster-recovery.md). Refuses when a named store answers, when PD's
   * own group lost its majority, or when nothing needs recovery.
   */
  async recoverUnsafe(lostStoreIds: readonly number[], options: { regionId?: number; waitMs?: number } = {}): Promise<RecoveryResult> {
    let knownRegionIds: number[] = [];
    try {
      knownRegionIds = (await this.regions()).map((r) => r.id);
    } catch {
      // The routes are a hint (regions no survivor hosts); the survivors' reports are the plan.
    }
    const result = await recoverUnsafe(this.connector, lostStoreIds, { ...options, knownRegionIds });
    this.router.learn(result.recovered.map((r) => r.region));
    for (const r of result.recovered) this.router.setLeader(r.regionId, r.storeId);
    return result;
  }

  /**
   * Proposes a backup's fence in a region (docs/backup.md) and resolves once it applied on the
   * leader, with where to read the region's pairs at the fence (`takeBackup` drives this).
   */
  async backupFence(regionId: number, backupId: string, leaseMs: number): Promise<FenceAnswer> {
    return (await this.send(regionId, { kind: 'backupFence', backupId, leaseMs }, 'backupFence')) as FenceAnswer;
  }

  /** A backup's call to one store: thaw its fences, release its readers, or read a page. */
  backupCall<Op extends BackupRequest['op']>(storeId: number, backupId: string, op: Op, timeoutMs?: number): Promise<Op extends { kind: 'read' } ? BackupPage : number> {
    return this.connector.call(storeId, { type: 'backup', backupId, op }, timeoutMs) as Promise<Op extends { kind: 'read' } ? BackupPage : number>;
  }

  /** The ids of the stores this client knows. */
  storeIds(): number[] {
    return this.connector.storeIds();
  }

  private async send(regionId: number, op: AdminOp, what: string, executor = this.executor, once = true): Promise<unknown> {
    let region = this.router.table.getRegionById(regionId);
    if (!region) {
      await this.router.refresh();
      region = this.router.table.getRegionById(regionId);
    }
    if (!region) throw new RegionNotFoundError(regionId);
    try {
      return await executor.run(
        region.startKey,
        once,
        (r) => ({ type: 'admin', regionId, epoch: r.epoch, op }),
        what,
        (r) => r.id === regionId,
        undefined,
        once,
      );
    } catch (e) {
      if (e instanceof RegroupError) throw new RegionNotFoundError(regionId);
      throw e;
    }
  }
}
