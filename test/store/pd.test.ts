/**
 * The placement driver running in-page: PD's group on the first stores, heartbeats, and each rule
 * acting on a live cluster — automatic split, replica placement when stores join, replication
 * restored after a store is lost, leader balance, and draining a store that is removed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import type { VirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { encodePdMessage } from '../../src/store/pd-service.ts';
import { drive, elapse, virtualCluster } from './helpers.ts';

let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const pd = { config: { storeDownMs: 3000, splitKeys: 40, splitBytes: 1 << 30, mergeKeys: 5, mergeBytes: 1 << 20, operatorTimeoutMs: 10_000 }, heartbeatMs: 500, scheduleMs: 500 };

function placement(c: LocalCluster) {
  const replicas = new Map<number, number>();
  const leaders = new Map<number, number>();
  for (const id of c.storeIds) {
    const s = c.store(id);
    if (!s) continue;
    const infos = s.regions();
    replicas.set(id, infos.length);
    leaders.set(id, infos.filter((i) => i.leaderStoreId === id).length);
  }
  return { replicas, leaders };
}

async function regionsFullyReplicated(c: LocalCluster, clock: VirtualClock, factor: number): Promise<boolean> {
  const regions = await drive(clock, c.client().admin.regions());
  return regions.every((r) => r.peers.filter((p) => p.role === 'voter' && c.store(p.storeId)).length === factor);
}

describe('placement driver', () => {
  it('drops a region heartbeat it cannot take (leader not a voter) instead of throwing at the transport', async () => {
    const v = await virtualCluster({ stores: 3, pd });
    cluster = v.cluster;
    const kv = cluster.client();
    await drive(v.clock, kv.put('a', '1'));
    await elapse(v.clock, 2000); // PD's group has a leader and knows the stores
    const [region] = await drive(v.clock, kv.admin.regions());
    const notVoter = { id: 999_999, storeId: 1, role: 'learner' as const };
    const heartbeat = { region: { ...region, peers: [...region.peers, notVoter] }, leader: notVoter, downPeers: [], pendingPeers: [], approximateKeys: 1, approximateBytes: 1, bytesWritten: 0, keysWritten: 0, bytesRead: 0, keysRead: 0, term: 1 };
    const bad = encodePdMessage({ type: 'regionHeartbeat', heartbeat } as Parameters<typeof encodePdMessage>[0]);
    for (const id of cluster.storeIds) expect(() => cluster!.store(id)!.receivePd(2, bad)).not.toThrow();
    await drive(v.clock, kv.put('b', '2'));
  });

  it('splits by size, spreads replicas onto new stores, balances leaders, restores replication after a loss, drains a removed store', async () => {
    const v = await virtualCluster({ stores: 3, pd });
    cluster = v.cluster;
    const kv = cluster.client();
    // Auto split: PD sees the region pass splitKeys in its heartbeats.
    for (let round = 0; round < 5; round++) {
      await drive(v.clock, kv.putAll(Array.from({ length: 30 }, (_, i) => ({ key: `k${round}-${String(i).padStart(3, '0')}`, value: 'x' }))));
      await elapse(v.clock, 1500);
    }
    const afterSplits = await drive(v.clock, kv.admin.regions());
    expect(afterSplits.length).toBeGreaterThanOrEqual(3);

    // Two new stores: PD adds replicas there until replicas are even (within tolerance).
    await cluster.addStore();
    await cluster.addStore();
    await elapse(v.clock, 40_000);
    const spread = placement(cluster);
    const counts = [...spread.replicas.values()];
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    expect(spread.replicas.get(4)).toBeGreaterThan(0);
    expect(spread.replicas.get(5)).toBeGreaterThan(0);
    const leaderCounts = [...spread.leaders.values()];
    expect(Math.max(...leaderCounts) - Math.min(...leaderCounts)).toBeLessThanOrEqual(1);
    expect(await regionsFullyReplicated(cluster, v.clock, 3)).toBe(true);

    // Lose store 5 for good: after storeDownMs its regions are re-replicated elsewhere.
    await cluster.stopStore(5);
    await elapse(v.clock, 30_000);
    expect(await regionsFullyReplicated(cluster, v.clock, 3)).toBe(true);

    // Every key is still there.
    expect((await drive(v.clock, kv.scan('', ''))).length).toBe(150);

    // Remove store 4 cleanly: drained first.
    await drive(v.clock, cluster.removeStore(4), 200_000);
    expect(await regionsFullyReplicated(cluster, v.clock, 3)).toBe(true);
    expect((await drive(v.clock, kv.scan('', ''))).length).toBe(150);
  }, 120_000);

  it('merges small neighbours once their data is gone', async () => {
    const v = await virtualCluster({ stores: 3, pd: { ...pd, config: { ...pd.config, mergeKeys: 10 } } });
    cluster = v.cluster;
    const kv = cluster.client();
    for (let round = 0; round < 6; round++) {
      await drive(v.clock, kv.putAll(Array.from({ length: 30 }, (_, i) => ({ key: `k${round}-${String(i).padStart(3, '0')}`, value: 'x' }))));
      await elapse(v.clock, 1500);
    }
    const split = (await drive(v.clock, kv.admin.regions())).length;
    expect(split).toBeGreaterThanOrEqual(4);
    await drive(v.clock, kv.deleteRange('', ''));
    await elapse(v.clock, 40_000);
    const merged = await drive(v.clock, kv.admin.regions());
    expect(merged.length).toBeLessThan(split);
    expect(cluster.store(1)!.counters.merges).toBeGreaterThan(0);
    // The merged regions still cover the whole key space, and writes work.
    expect(merged[0].startKey.length).toBe(0);
    expect(merged[merged.length - 1].endKey.length).toBe(0);
    await drive(v.clock, kv.put('after', 'merge'));
    expect(new TextDecoder().decode((await drive(v.clock, kv.get('after')))!)).toBe('merge');
  }, 120_000);
});
