/**
 * A store whose region has it as the only voter campaigns on start instead of waiting out an
 * election timeout (restart within 2 s at 10M keys, issue 17), and only then: a replica of a
 * region with other voters still waits for its election timer. Virtual time stands still here:
 * only the event loop runs, so a leader seen is one elected without a single tick.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import { drive, text, tick, virtualCluster } from './helpers.ts';

let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const settle = async () => {
  for (let i = 0; i < 200; i++) await tick();
};

describe('sole voter campaigns at start', () => {
  it('a restarted store that is its region\'s only voter leads it before any tick', async () => {
    const v = await virtualCluster({ stores: 1, replicas: 1 });
    cluster = v.cluster;
    const kv = cluster.client();
    await drive(v.clock, kv.put('k', 'v1'));
    await cluster.stopStore(1);
    await cluster.restartStore(1);
    await settle();
    expect(cluster.store(1)!.regions().map((r) => r.leaderStoreId)).toEqual([1]);
    // It serves at once, and what it had is there.
    expect(text(await drive(v.clock, kv.get('k')))).toBe('v1');
  });

  it('replicas of a region with three voters do not campaign at start', async () => {
    const v = await virtualCluster({ stores: 3 });
    cluster = v.cluster;
    await drive(v.clock, cluster.client().put('k', 'v1'));
    for (const id of [1, 2, 3]) await cluster.stopStore(id);
    for (const id of [1, 2, 3]) await cluster.restartStore(id);
    await settle();
    for (const id of [1, 2, 3]) expect(cluster.store(id)!.regions().map((r) => r.leaderStoreId)).toEqual([0]);
    await drive(v.clock, cluster.waitForLeaders());
  });
});
