/**
 * Regions bootstrapped together elect their first leaders without waiting out an election
 * timeout and without competing candidates (issue 18): on each region the voter at
 * `region.id % voters` (in id order) campaigns as its store opens (and again on its own timeout if
 * the others were not up yet), the other voters wait two election timeouts longer, so the first
 * leaders spread evenly over the stores and every region settles with one candidate.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalCluster, type LocalCluster } from '../../adapters/local-cluster.ts';
import { createVirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { RAFT_INIT_TERM } from '../../src/store/peer-storage.ts';
import { elapse } from './helpers.ts';

let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe('first leaders of bootstrapped regions', () => {
  it('one candidate per region, the chosen voter, and the first leaders spread evenly', async () => {
    const clock = createVirtualClock();
    const regions = 24;
    const splitKeys = Array.from({ length: regions - 1 }, (_, i) => `k${String(i + 1).padStart(3, '0')}`);
    cluster = await createLocalCluster({ stores: 3, clock, initialSplitKeys: splitKeys, seed: 7 });
    // The stores open one after the other: the chosen voters of the first stores campaign again on
    // their own timeout (10..19 ticks of 50 ms); the other voters wait at least 30 ticks.
    await elapse(clock, 1400);
    const leadersPerStore = new Map<number, number>();
    for (let id = 1; id <= regions; id++) {
      const replicas = cluster.storeIds.map((s) => ({ store: s, info: cluster!.store(s)!.status().find((x) => x.region.id === id)! }));
      const voters = replicas.map((r) => r.info.peerId).sort((a, b) => a - b);
      const chosen = voters[id % voters.length];
      const leaders = replicas.filter((r) => r.info.raft.role === 'leader');
      expect(leaders.map((r) => r.info.peerId), `region ${id}`).toEqual([chosen]);
      // A single election: nobody else ever moved to a later term.
      for (const r of replicas) expect(r.info.raft.term, `region ${id} on store ${r.store}`).toBe(RAFT_INIT_TERM + 1);
      leadersPerStore.set(leaders[0].store, (leadersPerStore.get(leaders[0].store) ?? 0) + 1);
    }
    expect([...leadersPerStore.values()]).toEqual([8, 8, 8]);
  });

  it('a store that restarts after its regions elected does not campaign again on opening', async () => {
    const clock = createVirtualClock();
    cluster = await createLocalCluster({ stores: 3, clock, initialSplitKeys: ['m'], seed: 3 });
    await elapse(clock, 1400);
    const term = (s: number, region: number) => cluster!.store(s)!.status().find((x) => x.region.id === region)!.raft.term;
    // Region 1's chosen voter is its second (1 % 3): on store 2.
    expect(cluster.store(2)!.status().find((x) => x.region.id === 1)!.raft.role).toBe('leader');
    await cluster.stopStore(2);
    await cluster.restartStore(2);
    await elapse(clock, 100);
    expect(term(2, 1)).toBe(RAFT_INIT_TERM + 1);
    expect(term(1, 1)).toBe(RAFT_INIT_TERM + 1);
  });
});
