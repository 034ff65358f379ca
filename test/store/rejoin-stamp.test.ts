/**
 * Which incarnation a rejoined store's new replicas are made for. The stamp decides whether the
 * other stores count the replica's messages (incarnation-guard.ts), so a wrong one leaves the new
 * replica refused for good: it never gets its snapshot and the region runs one replica short.
 * Found by `npm run soak:kv -- --seed 2 --wipe` (test/kvsim/seeds-wipe.test.ts): the operator's
 * rejoin ran before the leader had a frame from the wiped store (stamp: the old incarnation), and
 * a leader restarted since had no frame at all (no stamp: judged by the first incarnation seen,
 * the old one again).
 */
import { describe, expect, it } from 'vitest';
import { ServerBusyError } from '../../src/errors.ts';
import { drive, elapse, virtualCluster } from './helpers.ts';

describe('rejoining a wiped store', () => {
  it('stamps the new replicas with the incarnation the store reports, even before the leader heard from it', async () => {
    const { cluster, clock } = await virtualCluster({ stores: 3, seed: 11 });
    try {
      const kv = cluster.client({ retry: { timeoutMs: 30_000, attemptTimeoutMs: 500 } });
      await drive(clock, kv.put('k', 'v'));
      const old = cluster.store(2)?.incarnationOf(1);
      // Store 1 comes back wiped behind a partition: the leader's link still shows its old incarnation.
      cluster.partition([1], [2, 3]);
      await cluster.wipeStore(1);
      const fresh = cluster.store(1)?.ident().incarnation;
      expect(fresh).toBeDefined();
      expect(fresh).not.toBe(old);
      expect(cluster.store(2)?.incarnationOf(1)).toBe(old);
      const rejoin = kv.admin.rejoinStore(1);
      rejoin.catch(() => {});
      await elapse(clock, 2000); // the learner is added (stamped) while the partition holds
      cluster.heal();
      const [region] = await drive(clock, rejoin);
      const mine = region.peers.find((p) => p.storeId === 1);
      expect(mine?.incarnation).toBe(fresh);
      expect(mine?.role).toBe('voter');
      // The new replica holds the data: it answers a stale read from its own state machine.
      const applied = cluster.store(1)?.status().find((s) => s.region.id === region.id)?.applied ?? 0;
      expect(applied).toBeGreaterThan(0);
    } finally {
      await cluster.close();
    }
  }, 120_000);

  it('a leader that has not heard from the store since it started refuses to add an unstamped replica there (retryable)', async () => {
    const { cluster, clock } = await virtualCluster({ stores: 3, seed: 12 });
    try {
      const kv = cluster.client({ retry: { timeoutMs: 30_000, attemptTimeoutMs: 500 } });
      await drive(clock, kv.put('k', 'v'));
      cluster.partition([1], [2, 3]);
      // Both other stores restart behind the partition: neither has had a frame from store 1 since.
      for (const id of [2, 3]) {
        await cluster.stopStore(id);
        await cluster.restartStore(id);
        await elapse(clock, 1500);
      }
      const [region] = await drive(clock, kv.admin.regions());
      await drive(clock, kv.admin.removeReplica(region.id, 1));
      let leader = 0;
      for (let i = 0; i < 5000 && leader === 0; i++) {
        leader = [2, 3].find((id) => cluster.store(id)?.regions().some((r) => r.region.id === region.id && r.leaderStoreId === id)) ?? 0;
        if (leader === 0) await elapse(clock, 1);
      }
      const store = cluster.store(leader);
      expect(store?.incarnationOf(1)).toBeUndefined();
      await expect(drive(clock, store!.changePeer(region.id, undefined, 'addLearner', 1))).rejects.toBeInstanceOf(ServerBusyError);
      // With the store's own word for it, the same change goes through.
      const stamp = cluster.store(1)?.ident().incarnation;
      const after = await drive(clock, store!.changePeer(region.id, undefined, 'addLearner', 1, undefined, stamp));
      expect(after.peers.find((p) => p.storeId === 1)?.incarnation).toBe(stamp);
    } finally {
      await cluster.close();
    }
  }, 120_000);
});
