/**
 * Region splits: manual (given key or middle key), automatic by key count, refused when too
 * small, and what clients and replicas see across them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import { FlotillaError } from '../../src/errors.ts';
import { drive, elapse, text, virtualCluster } from './helpers.ts';

const key = (i: number) => `k${String(i).padStart(3, '0')}`;
let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe('split', () => {
  it('splits at the middle key; both halves serve their keys; a stale client follows the split', async () => {
    const v = await virtualCluster({ stores: 3 });
    cluster = v.cluster;
    const kv = cluster.client();
    const stale = cluster.client();
    await drive(v.clock, kv.putAll(Array.from({ length: 40 }, (_, i) => ({ key: key(i), value: `v${i}` }))));
    await drive(v.clock, stale.get(key(0))); // learns the single region
    const [region] = await drive(v.clock, kv.admin.regions());
    const { left, right } = await drive(v.clock, kv.admin.splitRegion(region.id));
    expect(text(left.endKey)).toBe(key(20));
    expect(text(right.startKey)).toBe(key(20));
    expect(left.epoch.version).toBe(region.epoch.version + 1);
    expect(right.id).not.toBe(region.id);
    expect(right.peers.map((p) => p.storeId).sort()).toEqual(region.peers.map((p) => p.storeId).sort());
    await drive(v.clock, cluster.waitForLeaders());
    // The stale client still routes everything to the parent: EpochNotMatch teaches it the split.
    expect(text(await drive(v.clock, stale.get(key(35))))).toBe('v35');
    await drive(v.clock, stale.put(key(39), 'after'));
    expect(text(await drive(v.clock, kv.get(key(39))))).toBe('after');
    const regions = await drive(v.clock, kv.admin.regions());
    expect(regions.map((r) => r.id).sort()).toEqual([left.id, right.id].sort());
    expect((await drive(v.clock, kv.scan('', ''))).length).toBe(40);
    // Replicas of both halves agree.
    await elapse(v.clock, 300);
    for (const id of [left.id, right.id]) {
      const digests = await Promise.all(cluster.storeIds.map((s) => drive(v.clock, cluster!.store(s)!.regionDigest(id))));
      expect(new Set(digests.map((d) => d.digest)).size).toBe(1);
    }
  });

  it('splits at a given key, refuses a key outside the region, and refuses a region too small', async () => {
    const v = await virtualCluster({ stores: 3, initialSplitKeys: ['m'] });
    cluster = v.cluster;
    const kv = cluster.client();
    const regions = await drive(v.clock, kv.admin.regions());
    const first = regions[0];
    const err = await drive(v.clock, kv.admin.splitRegion(first.id)).catch((e) => e);
    expect(err).toBeInstanceOf(FlotillaError);
    expect(err.code).toBe('TooSmallToSplit');
    const outside = await drive(v.clock, kv.admin.splitRegion(first.id, 'x')).catch((e) => e);
    expect(outside.code).toBe('InvalidArgument');
    const { left, right } = await drive(v.clock, kv.admin.splitRegion(first.id, 'f'));
    expect(text(left.endKey)).toBe('f');
    expect(text(right.endKey)).toBe('m');
    await drive(v.clock, kv.put('g', '1'));
    expect(text(await drive(v.clock, kv.get('g')))).toBe('1');
  });

  it('splits automatically once a region passes splitKeys', async () => {
    const v = await virtualCluster({ stores: 3, store: { splitKeys: 30, splitCheckIntervalMs: 200 } });
    cluster = v.cluster;
    const kv = cluster.client();
    for (let round = 0; round < 4; round++) {
      await drive(v.clock, kv.putAll(Array.from({ length: 25 }, (_, i) => ({ key: key(round * 25 + i), value: 'x' }))));
      await elapse(v.clock, 1000);
    }
    const regions = await drive(v.clock, kv.admin.regions());
    expect(regions.length).toBeGreaterThanOrEqual(3);
    expect((await drive(v.clock, kv.scan('', ''))).length).toBe(100);
  });
});
