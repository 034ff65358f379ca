/**
 * Region merge: two adjacent regions on the same stores become one; the source is retired on
 * every store; requests during the merge are served or refused with a retryable error; a store
 * that lagged catches up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import { drive, elapse, text, virtualCluster } from './helpers.ts';

const key = (i: number) => `k${String(i).padStart(3, '0')}`;
let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe('merge', () => {
  it('merges two regions; data, sessions and routes follow', async () => {
    const v = await virtualCluster({ stores: 3, initialSplitKeys: ['k020'] });
    cluster = v.cluster;
    const kv = cluster.client();
    await drive(v.clock, kv.putAll(Array.from({ length: 40 }, (_, i) => ({ key: key(i), value: `v${i}` }))));
    const [left, right] = await drive(v.clock, kv.admin.regions());
    const merged = await drive(v.clock, kv.admin.mergeRegions(left.id, right.id));
    expect(merged.id).toBe(left.id);
    expect(merged.startKey.length).toBe(0);
    expect(merged.endKey.length).toBe(0);
    expect(merged.epoch.version).toBeGreaterThan(Math.max(left.epoch.version, right.epoch.version));
    await elapse(v.clock, 500);
    for (const s of cluster.storeIds) expect(cluster.store(s)!.regions().map((r) => r.region.id)).toEqual([left.id]);
    expect((await drive(v.clock, kv.scan('', ''))).length).toBe(40);
    // A client that still routes by the old regions finds its way.
    const stale = cluster.client();
    expect(text(await drive(v.clock, stale.get(key(35))))).toBe('v35');
    await drive(v.clock, kv.put(key(39), 'after'));
    expect(text(await drive(v.clock, stale.get(key(39))))).toBe('after');
    const digests = await Promise.all(cluster.storeIds.map((s) => drive(v.clock, cluster!.store(s)!.regionDigest(left.id))));
    expect(new Set(digests.map((d) => d.digest)).size).toBe(1);
  });

  it('a merge prepared while a store is cut off completes after it heals; writes during the merge land once', async () => {
    const v = await virtualCluster({ stores: 3, initialSplitKeys: ['k020'], store: { logGcThreshold: 8 } });
    cluster = v.cluster;
    const kv = cluster.client();
    await drive(v.clock, kv.putAll(Array.from({ length: 40 }, (_, i) => ({ key: key(i), value: 'a' }))));
    const [left, right] = await drive(v.clock, kv.admin.regions());
    const lagging = [1, 2, 3].find((s) => s !== left.leaderStoreId)!;
    cluster.partition([lagging], [1, 2, 3].filter((s) => s !== lagging));
    const writer = (async () => {
      for (let i = 0; i < 20; i++) await kv.merge(key(30), `${i}`);
    })();
    // The source's replica on the cut-off store lacks the prepare: the admin call gives up (the
    // merge stays prepared, the source refuses writes) and the leader finishes it after healing.
    const outcome = await drive(v.clock, kv.admin.mergeRegions(left.id, right.id)).then(
      () => 'merged',
      (e) => e.code,
    );
    expect(['merged', 'ServerBusy', 'OutcomeUnknown', 'Timeout']).toContain(outcome);
    cluster.heal();
    await drive(v.clock, writer);
    await elapse(v.clock, 4000);
    for (const s of cluster.storeIds) expect(cluster.store(s)!.regions().map((r) => r.region.id)).toEqual([left.id]);
    const expected = ['a', ...Array.from({ length: 20 }, (_, i) => `${i}`)].join(',');
    expect(text(await drive(v.clock, kv.get(key(30))))).toBe(expected);
    const digests = await Promise.all(cluster.storeIds.map((s) => drive(v.clock, cluster!.store(s)!.regionDigest(left.id))));
    expect(new Set(digests.map((d) => d.digest)).size).toBe(1);
  });

  it('refuses to merge regions that are not adjacent or not on the same stores', async () => {
    const v = await virtualCluster({ stores: 4, replicas: 3, initialSplitKeys: ['g', 'p'] });
    cluster = v.cluster;
    const kv = cluster.client();
    const [a, , c] = await drive(v.clock, kv.admin.regions());
    await expect(drive(v.clock, kv.admin.mergeRegions(a.id, c.id))).rejects.toMatchObject({ code: 'InvalidArgument' });
  });
});
