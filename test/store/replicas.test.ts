/**
 * Membership changes of a region: a replica added on a new store (created there from the leader's
 * messages, filled by a snapshot, then promoted), a replica removed (destroyed on its store), and
 * leadership moved.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import { drive, elapse, text, virtualCluster } from './helpers.ts';

let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe('replicas', () => {
  it('adds a replica on a new store, moves the leader there, and removes an old replica', async () => {
    const v = await virtualCluster({ stores: 3, store: { logGcThreshold: 10 } });
    cluster = v.cluster;
    const kv = cluster.client();
    await drive(v.clock, kv.putAll(Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }))));
    const s4 = await cluster.addStore();
    expect(s4).toBe(4);
    const [region] = await drive(v.clock, kv.admin.regions());
    const grown = await drive(v.clock, kv.admin.addReplica(region.id, s4));
    expect(grown.peers.map((p) => [p.storeId, p.role])).toContainEqual([4, 'voter']);
    expect(grown.epoch.confVer).toBe(region.epoch.confVer + 2); // learner, then promotion
    await elapse(v.clock, 500);
    // The new replica holds the data (it came by snapshot) and can lead.
    await drive(v.clock, kv.admin.transferLeader(region.id, s4));
    const regions = await drive(v.clock, kv.admin.regions());
    expect(regions[0].leaderStoreId).toBe(4);
    expect(text(await drive(v.clock, kv.get('k42')))).toBe('v42');
    expect(cluster.store(4)!.counters.peersCreated).toBe(1);
    expect(cluster.store(4)!.counters.snapshotsInstalled).toBeGreaterThanOrEqual(1);

    const shrunk = await drive(v.clock, kv.admin.removeReplica(region.id, 1));
    expect(shrunk.peers.map((p) => p.storeId).sort()).toEqual([2, 3, 4]);
    await elapse(v.clock, 500);
    expect(cluster.store(1)!.regions()).toEqual([]);
    expect(cluster.store(1)!.counters.peersDestroyed).toBe(1);
    const stores = await drive(v.clock, kv.admin.stores());
    expect(stores.find((s) => s.id === 1)?.regions).toBe(0);
    // Writes still commit on the new membership; every replica agrees.
    await drive(v.clock, kv.put('after', 'yes'));
    await elapse(v.clock, 300);
    const digests = await Promise.all([2, 3, 4].map((s) => drive(v.clock, cluster!.store(s)!.regionDigest(region.id))));
    expect(new Set(digests.map((d) => d.digest)).size).toBe(1);
  });

  it('a replica removed while cut off learns it from the group once it campaigns, and is destroyed', async () => {
    const v = await virtualCluster({ stores: 4, replicas: 4 });
    cluster = v.cluster;
    const kv = cluster.client();
    await drive(v.clock, kv.put('k', 'v'));
    const [region] = await drive(v.clock, kv.admin.regions());
    const victim = [1, 2, 3, 4].find((s) => s !== region.leaderStoreId)!;
    cluster.partition([victim], [1, 2, 3, 4].filter((s) => s !== victim));
    await drive(v.clock, kv.admin.removeReplica(region.id, victim));
    cluster.heal();
    // The notice sent at removal was lost; the victim times out, campaigns, and is answered.
    await elapse(v.clock, 3000);
    expect(cluster.store(victim)!.regions()).toEqual([]);
    expect(cluster.store(victim)!.counters.peersDestroyed).toBe(1);
    // A stale message cannot bring it back, and the store can host the region again later.
    await drive(v.clock, kv.admin.addReplica(region.id, victim));
    await elapse(v.clock, 500);
    expect(cluster.store(victim)!.regions().map((r) => r.region.id)).toEqual([region.id]);
  });

  it('refuses bad membership requests with typed errors', async () => {
    const v = await virtualCluster({ stores: 3 });
    cluster = v.cluster;
    const kv = cluster.client();
    const [region] = await drive(v.clock, kv.admin.regions());
    const leader = region.leaderStoreId;
    await expect(drive(v.clock, kv.admin.addReplica(region.id, 2))).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(drive(v.clock, kv.admin.removeReplica(region.id, leader))).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(drive(v.clock, kv.admin.removeReplica(region.id, 9))).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(drive(v.clock, kv.admin.transferLeader(region.id, 9))).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(drive(v.clock, kv.admin.splitRegion(12345))).rejects.toMatchObject({ code: 'RegionNotFound' });
  });
});

describe('large snapshots', () => {
  it('a region larger than one frame reaches a new replica as a chunked snapshot', async () => {
    const v = await virtualCluster({ stores: 3, replicas: 2 });
    cluster = v.cluster;
    const kv = cluster.client();
    // 24 MiB of data: its snapshot cannot travel in one 16 MiB frame.
    const big = new Uint8Array(1024 * 1024).fill(7);
    for (let i = 0; i < 24; i++) await drive(v.clock, kv.put(`big-${String(i).padStart(2, '0')}`, big));
    const [region] = await drive(v.clock, kv.admin.regions());
    const newcomer = [1, 2, 3].find((s) => !region.peers.some((p) => p.storeId === s))!;
    await drive(v.clock, kv.admin.addReplica(region.id, newcomer));
    await elapse(v.clock, 2000);
    expect(cluster.store(newcomer)!.counters.snapshotsInstalled).toBeGreaterThanOrEqual(1);
    const digests = await Promise.all(region.peers.map((p) => p.storeId).concat(newcomer).map((s) => drive(v.clock, cluster!.store(s)!.regionDigest(region.id))));
    expect(new Set(digests.map((d) => d.digest)).size).toBe(1);
    expect(digests[digests.length - 1].pairs).toBeGreaterThanOrEqual(24);
  }, 120_000);
});
