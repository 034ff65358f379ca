/**
 * The races around a split, each a scripted scenario (issue 6): messages and snapshots for the
 * child reaching a store that has not applied the split yet, reads in flight across a split,
 * leader transfer during a split.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import type { FlotillaError } from '../../src/errors.ts';
import { drive, elapse, text, virtualCluster } from './helpers.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const key = (i: number) => `k${String(i).padStart(3, '0')}`;
let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

async function digestsAgree(c: LocalCluster, clock: Parameters<typeof drive>[0], regionId: number, stores: number[]) {
  const digests = await Promise.all(stores.map((s) => drive(clock, c.store(s)!.regionDigest(regionId))));
  return new Set(digests.map((d) => d.digest)).size === 1;
}

describe('split races', () => {
  for (const compact of [false, true]) {
    it(`a store cut off during a split creates the child only by applying the split (${compact ? 'after snapshots' : 'from the log'})`, async () => {
      const v = await virtualCluster({ stores: 3, store: { logGcThreshold: compact ? 5 : 1000 } });
      cluster = v.cluster;
      const kv = cluster.client();
      await drive(v.clock, kv.putAll(Array.from({ length: 40 }, (_, i) => ({ key: key(i), value: 'a' }))));
      const [region] = await drive(v.clock, kv.admin.regions());
      const lagging = [1, 2, 3].find((s) => s !== region.leaderStoreId)!;
      cluster.partition([lagging], [1, 2, 3].filter((s) => s !== lagging));
      const { right } = await drive(v.clock, kv.admin.splitRegion(region.id));
      // The child gets a leader and writes on the majority side while the lagging store sees nothing.
      await drive(v.clock, cluster.waitForLeaders());
      for (let i = 0; i < 30; i++) await drive(v.clock, kv.put(key(20 + (i % 20)), `b${i}`));
      await drive(v.clock, kv.put(key(1), 'left-after'));
      expect(cluster.store(lagging)!.regions().map((r) => r.region.id)).toEqual([region.id]);
      cluster.heal();
      await elapse(v.clock, 4000);
      const lag = cluster.store(lagging)!;
      expect(lag.regions().map((r) => r.region.id).sort()).toEqual([region.id, right.id].sort());
      expect(await digestsAgree(cluster, v.clock, region.id, [1, 2, 3])).toBe(true);
      expect(await digestsAgree(cluster, v.clock, right.id, [1, 2, 3])).toBe(true);
      const got = await drive(v.clock, lag.read(right.id, undefined, { type: 'get', key: enc(key(39)) }, 'stale'));
      expect(text(got as Uint8Array)).toBe('b19'); // key(39) was last written at i = 19
      if (!compact) expect(lag.counters.peersCreated).toBe(0); // the split made the child, not a message
    });
  }

  it('reads in flight across a split are answered correctly or refused, never from the wrong range', async () => {
    const v = await virtualCluster({ stores: 3 });
    cluster = v.cluster;
    const kv = cluster.client();
    await drive(v.clock, kv.putAll(Array.from({ length: 40 }, (_, i) => ({ key: key(i), value: `v${i}` }))));
    const [region] = await drive(v.clock, kv.admin.regions());
    const leader = cluster.store(region.leaderStoreId)!;
    const reads = Array.from({ length: 40 }, (_, i) =>
      leader.read(region.id, region.epoch, { type: 'get', key: enc(key(i)) }, i % 2 ? 'linearizable' : 'lease').then(
        (v) => ({ i, v: text(v as Uint8Array) }),
        (e) => ({ i, e: e as FlotillaError }),
      ),
    );
    const split = kv.admin.splitRegion(region.id);
    const results = await drive(v.clock, Promise.all(reads));
    await drive(v.clock, split);
    for (const r of results) {
      if ('v' in r) expect(r.v).toBe(`v${r.i}`);
      else expect(['EpochNotMatch', 'KeyNotInRegion', 'NotLeader']).toContain(r.e.code);
    }
    // After the split the old epoch is refused outright.
    const stale = await drive(v.clock, leader.read(region.id, region.epoch, { type: 'get', key: enc(key(0)) })).catch((e) => e);
    expect(stale.code).toBe('EpochNotMatch');
  });

  it('a leader transfer during a split leaves one consistent outcome', async () => {
    const v = await virtualCluster({ stores: 3 });
    cluster = v.cluster;
    const kv = cluster.client();
    await drive(v.clock, kv.putAll(Array.from({ length: 40 }, (_, i) => ({ key: key(i), value: `v${i}` }))));
    const [region] = await drive(v.clock, kv.admin.regions());
    const target = [1, 2, 3].find((s) => s !== region.leaderStoreId)!;
    const split = kv.admin.splitRegion(region.id).then(
      () => 'split',
      (e: FlotillaError) => e.code,
    );
    const transfer = kv.admin.transferLeader(region.id, target).then(
      () => 'moved',
      (e: FlotillaError) => e.code,
    );
    const [s, t] = await drive(v.clock, Promise.all([split, transfer]));
    expect(['split', 'NotLeader', 'OutcomeUnknown', 'Timeout', 'EpochNotMatch']).toContain(s);
    expect(['moved', 'NotLeader', 'Timeout', 'EpochNotMatch', 'OutcomeUnknown']).toContain(t);
    await elapse(v.clock, 2000);
    await drive(v.clock, cluster.waitForLeaders());
    const regions = await drive(v.clock, kv.admin.regions());
    expect(regions.length).toBe(s === 'split' ? 2 : regions.length);
    // Whatever happened, every key is served, and every replica of every region agrees.
    expect((await drive(v.clock, kv.scan('', ''))).length).toBe(40);
    for (const r of regions) expect(await digestsAgree(cluster, v.clock, r.id, [1, 2, 3])).toBe(true);
  });
});
