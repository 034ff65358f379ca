/**
 * Hand-made cluster views for the PD rule tests: stores, regions with peers on given stores, and
 * heartbeats, all at fixed PD times. Peer ids are `regionId * 100 + storeId` so a test can name them.
 */
import {
  type ClusterView,
  createClusterView,
  handleRegionHeartbeat,
  handleStoreHeartbeat,
  type IdAllocator,
  type PdConfig,
  type RegionHeartbeat,
  resolvePdConfig,
  type StoreHeartbeat,
} from '../../src/pd/index.ts';
import type { Peer, Region } from '../../src/region/index.ts';

/** A key from a string. */
export const k = (s: string): Uint8Array => new TextEncoder().encode(s);
/** The empty key: -∞ as a start, +∞ as an end. */
export const E = new Uint8Array(0);

/** The id of the peer of `regionId` on `storeId`. */
export const pid = (regionId: number, storeId: number): number => regionId * 100 + storeId;

/** A region `[start, end)` with voters on `voters` and learners on `learners`. */
export function mkRegion(id: number, start: string, end: string, voters: number[], opts: { learners?: number[]; version?: number; confVer?: number } = {}): Region {
  const peers: Peer[] = [
    ...voters.map((s) => ({ id: pid(id, s), storeId: s, role: 'voter' as const })),
    ...(opts.learners ?? []).map((s) => ({ id: pid(id, s), storeId: s, role: 'learner' as const })),
  ];
  return { id, startKey: k(start), endKey: k(end), epoch: { confVer: opts.confVer ?? 1, version: opts.version ?? 1 }, peers };
}

/** A store heartbeat of an empty, healthy store. */
export function storeHb(storeId: number, over: Partial<StoreHeartbeat> = {}): StoreHeartbeat {
  return {
    storeId,
    capacityBytes: 0,
    availableBytes: 0,
    regionCount: 0,
    leaderCount: 0,
    bytesWritten: 0,
    keysWritten: 0,
    bytesRead: 0,
    keysRead: 0,
    timestampMs: 0,
    state: 'up',
    ...over,
  };
}

/** A region heartbeat from the leader on `leaderStore` (default: the first voter's store). */
export function regionHb(region: Region, over: Partial<RegionHeartbeat> & { leaderStore?: number } = {}): RegionHeartbeat {
  const { leaderStore, ...rest } = over;
  const leader = region.peers.find((p) => p.role === 'voter' && (leaderStore === undefined || p.storeId === leaderStore))!;
  return {
    region,
    leader: { ...leader },
    downPeers: [],
    pendingPeers: [],
    approximateKeys: 50_000,
    approximateBytes: 32 << 20,
    bytesWritten: 0,
    keysWritten: 0,
    bytesRead: 0,
    keysRead: 0,
    term: 1,
    ...rest,
  };
}

/** Test config: the defaults with `over` applied. */
export function cfg(over: Partial<PdConfig> = {}): PdConfig {
  return resolvePdConfig(over);
}

/**
 * A view at PD time `nowMs` with every store's heartbeat at `storeSeenMs[id] ?? nowMs` and
 * every region heartbeat accepted at `nowMs`.
 */
export function buildView(opts: { stores: number[]; regions: RegionHeartbeat[]; nowMs?: number; config?: PdConfig; storeSeenMs?: Record<number, number>; storeOver?: Record<number, Partial<StoreHeartbeat>> }): ClusterView {
  const nowMs = opts.nowMs ?? 100_000;
  let view = createClusterView(opts.config ?? cfg(), 0);
  for (const id of opts.stores) {
    const seen = opts.storeSeenMs?.[id] ?? nowMs;
    view = handleStoreHeartbeat(view, storeHb(id, { timestampMs: seen, ...opts.storeOver?.[id] }), seen);
  }
  for (const hb of opts.regions) {
    const r = handleRegionHeartbeat(view, hb, nowMs);
    if (!r.ok) throw r.error;
    view = r.view;
  }
  return { ...view, nowMs };
}

/** An id allocator counting up from `start`. */
export function ids(start = 1000): IdAllocator {
  let next = start;
  return () => next++;
}
