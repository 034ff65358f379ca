/**
 * The StoreEngine's request checks and guarantees, asked directly: typed routing errors with
 * what the client needs to recover, a retried write applied once, a bounded proposal queue,
 * and leadership events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import type { VirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { EpochNotMatchError, FlotillaError, KeyNotInRegionError, NotLeaderError, RegionNotFoundError, ServerBusyError } from '../../src/errors.ts';
import type { StoreEngine } from '../../src/store/store-engine.ts';
import { drive, elapse, virtualCluster } from './helpers.ts';

const enc = (s: string) => new TextEncoder().encode(s);
let cluster: LocalCluster;
let clock: VirtualClock;
const run = <T>(p: Promise<T>) => drive(clock, p);

beforeAll(async () => {
  ({ cluster, clock } = await virtualCluster({ stores: 3, initialSplitKeys: ['m'] }));
});
afterAll(() => cluster.close());

function leaderOf(regionId: number): { leader: StoreEngine; follower: StoreEngine } {
  const stores = cluster.storeIds.map((id) => cluster.store(id)!);
  const leader = stores.find((s) => s.status().some((x) => x.region.id === regionId && x.raft.role === 'leader'))!;
  const follower = stores.find((s) => s !== leader)!;
  return { leader, follower };
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  return run(p).then(
    () => undefined,
    (e) => e,
  );
}

describe('StoreEngine', () => {
  it('answers NotLeader with the leader hint', async () => {
    const { leader, follower } = leaderOf(1);
    const err = await caught(follower.write(1, undefined, 'c', 1, { type: 'put', key: enc('a'), value: enc('v') }));
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as NotLeaderError).leaderStoreId).toBe(leader.storeId);
  });

  it('answers EpochNotMatch with the store’s current regions', async () => {
    const { leader } = leaderOf(1);
    const err = await caught(leader.write(1, { confVer: 1, version: 99 }, 'c', 1, { type: 'put', key: enc('a'), value: enc('v') }));
    expect(err).toBeInstanceOf(EpochNotMatchError);
    expect((err as EpochNotMatchError).regions.map((r) => r.id).sort()).toEqual([1, 2]);
  });

  it('answers RegionNotFound and KeyNotInRegion', async () => {
    const { leader } = leaderOf(1);
    expect(await caught(leader.read(42, undefined, { type: 'get', key: enc('a') }))).toBeInstanceOf(RegionNotFoundError);
    expect(await caught(leader.write(1, undefined, 'c', 1, { type: 'put', key: enc('z'), value: enc('v') }))).toBeInstanceOf(KeyNotInRegionError);
  });

  it('applies a retried write once and answers it from the session table', async () => {
    const { leader } = leaderOf(1);
    const op = { type: 'merge' as const, key: enc('dup'), value: enc('x'), separator: enc(',') };
    const first = await run(leader.write(1, undefined, 'client-d', 7, op));
    const again = await run(leader.write(1, undefined, 'client-d', 7, op));
    expect(first).toMatchObject({ ok: true, deduplicated: false });
    expect(again).toMatchObject({ ok: true, deduplicated: true });
    const value = await run(leader.read(1, undefined, { type: 'get', key: enc('dup') }));
    expect(new TextDecoder().decode(value as Uint8Array)).toBe('x');
    // An older seq of the same client is refused: its result is gone.
    const stale = await run(leader.write(1, undefined, 'client-d', 6, op));
    expect(stale.ok).toBe(false);
    expect(!stale.ok && stale.error.code).toBe('StaleCommand');
  });

  it('refuses new writes with ServerBusy when the proposal queue is full', async () => {
    const { leader } = leaderOf(2);
    cluster.partition([leader.storeId], cluster.storeIds.filter((s) => s !== leader.storeId));
    // Cut off from its followers, the leader can append but not commit: proposals pile up.
    const writes = Array.from({ length: 4097 }, (_, i) => leader.write(2, undefined, `c${i}`, 1, { type: 'put', key: enc(`q${i}`), value: enc('v') }));
    for (const p of writes) p.catch(() => {});
    const [refused] = await Promise.allSettled([writes[4096]]);
    expect(refused.status).toBe('rejected');
    expect((refused as PromiseRejectedResult).reason).toBeInstanceOf(ServerBusyError);
    cluster.heal();
    await elapse(clock, 3000);
  });

  it('drops a snapshot whose data fails its checks before the core sees it', async () => {
    const { leader, follower } = leaderOf(1);
    const info = follower.status().find((x) => x.region.id === 1)!;
    const leaderPeer = info.region.peers.find((p) => p.storeId === leader.storeId)!;
    const before = follower.counters.badSnapshots;
    const snapshot = { metadata: { index: 1_000, term: 99, confState: { voters: info.region.peers.map((p) => p.id), learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } }, data: new Uint8Array([1, 2, 3]) };
    follower.receiveRaft(leader.storeId, [
      { regionId: 1, message: { type: 'MsgSnap', from: leaderPeer.id, to: info.peerId, term: 99, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, snapshot, context: new Uint8Array(0) } },
    ]);
    expect(follower.counters.badSnapshots).toBe(before + 1);
    expect(follower.status().find((x) => x.region.id === 1)!.raft.term).toBeLessThan(99);
    await elapse(clock, 100);
  });

  it('reports leadership changes to listeners', async () => {
    const events: string[] = [];
    const off = cluster.onLeaderChange((e) => events.push(`${e.regionId}:${e.storeId}:${e.role}`));
    const { leader } = leaderOf(1);
    await cluster.stopStore(leader.storeId);
    await run(cluster.waitForLeaders());
    await cluster.restartStore(leader.storeId);
    await elapse(clock, 1000);
    off();
    expect(events.some((e) => e.startsWith('1:') && e.endsWith(':leader'))).toBe(true);
    expect(events.every((e) => e.split(':').length === 3)).toBe(true);
    expect(FlotillaError).toBeDefined();
  });
});

describe('session expiry', () => {
  it('forgets client sessions idle longer than sessionIdleMs', async () => {
    const v = await virtualCluster({ stores: 3, store: { sessionGcIntervalMs: 500, sessionIdleMs: 2000 } });
    try {
      const client = v.cluster.client();
      await drive(v.clock, client.put('k', 'v'));
      await elapse(v.clock, 200); // every replica applies it
      const store = v.cluster.store(1)!;
      const before = await drive(v.clock, store.regionDigest(1));
      expect(before.pairs).toBe(4); // the value, the client's session, the value's version and the region's revision record (history.ts)
      await elapse(v.clock, 4000);
      const after = await drive(v.clock, store.regionDigest(1));
      expect(after.pairs).toBe(3);
    } finally {
      await v.cluster.close();
    }
  });
});
