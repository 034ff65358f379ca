/**
 * The client's picture of the cluster: a RegionRouteTable learned from stores, and for each
 * region the store believed to lead it. Stale knowledge is corrected by the errors stores answer
 * with (`EpochNotMatch` carries the store's current regions, `NotLeader` a leader hint).
 */
import { RegionNotFoundError, TimeoutError } from '../errors.ts';
import type { Clock, Rand } from '../ports.ts';
import { RegionRouteTable } from '../region/route-table.ts';
import type { Region } from '../region/types.ts';
import type { RegionInfo } from '../store/store-engine.ts';
import type { StoreConnector } from './connector.ts';
import { withDeadline } from './deadline.ts';

export class Router {
  readonly table = new RegionRouteTable();
  private readonly leaders = new Map<number, number>();
  private refreshing: Promise<void> | undefined;
  private readonly connector: StoreConnector;
  private readonly rand: Rand;
  private readonly callTimeout: { clock: Clock; ms: number } | undefined;

  /**
   * @param callTimeout - bounds each store's `regions` call of a refresh: a store that never
   *   answers (its link hangs) must not hold the shared refresh, and every caller waiting on it, forever.
   */
  constructor(connector: StoreConnector, rand: Rand, callTimeout?: { clock: Clock; ms: number }) {
    this.connector = connector;
    this.rand = rand;
    this.callTimeout = callTimeout;
  }

  private bounded<T>(p: Promise<T>): Promise<T> {
    const t = this.callTimeout;
    if (!t) return p;
    return withDeadline(t.clock, t.ms, p, () => new TimeoutError(`no answer to a route lookup within ${t.ms} ms`));
  }

  /** Learns regions (and leader hints) from a store's answer or an `EpochNotMatch` error. */
  learn(regions: readonly Region[], leaders: ReadonlyMap<number, number> = new Map()): void {
    for (const region of regions) {
      if (this.table.addOrUpdate(region)) {
        const hint = leaders.get(region.id);
        if (hint) this.leaders.set(region.id, hint);
      }
    }
  }

  /** The store believed to lead a region; 0 when unknown. */
  leaderOf(regionId: number): number {
    return this.leaders.get(regionId) ?? 0;
  }

  /** Records the store that leads a region (0 forgets it). */
  setLeader(regionId: number, storeId: number): void {
    if (storeId > 0) this.leaders.set(regionId, storeId);
    else this.leaders.delete(regionId);
  }

  /**
   * The store to send a region's requests to: the known leader, else one of its peers' stores
   * (rotating past `avoid`, the store that just said it is not the leader).
   */
  targetStore(region: Region, avoid = 0): number {
    const leader = this.leaders.get(region.id);
    if (leader && leader !== avoid) return leader;
    const stores = region.peers.filter((p) => p.role === 'voter').map((p) => p.storeId);
    const candidates = stores.filter((s) => s !== avoid);
    const pool = candidates.length > 0 ? candidates : stores;
    if (pool.length === 0) throw new RegionNotFoundError(region.id);
    const pick = pool[this.rand.int(pool.length)];
    this.leaders.set(region.id, pick);
    return pick;
  }

  /** Asks stores for their regions until one answers; concurrent callers share one refresh. */
  refresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = undefined;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const stores = [...this.connector.storeIds()];
    // Ask every reachable store: each knows only the regions it hosts.
    const answers = await Promise.allSettled(stores.map((s) => this.bounded(this.connector.call(s, { type: 'regions' }))));
    for (const a of answers) {
      if (a.status !== 'fulfilled') continue;
      const infos = a.value as RegionInfo[];
      const leaders = new Map<number, number>();
      for (const info of infos) if (info.leaderStoreId > 0) leaders.set(info.region.id, info.leaderStoreId);
      this.learn(
        infos.map((i) => i.region),
        leaders,
      );
    }
  }

  /** The region serving `key`, refreshing the table once if it has none. */
  async regionFor(key: Uint8Array): Promise<Region> {
    let region = this.table.findRegionByKey(key);
    if (!region) {
      await this.refresh();
      region = this.table.findRegionByKey(key);
    }
    if (!region) throw new RegionNotFoundError(0);
    return region;
  }
}
