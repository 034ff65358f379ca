/**
 * The cluster under crashes and partitions: acknowledged writes survive a store crash that loses
 * its unsynced writes, a minority partition cannot commit, and a restarted store catches up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import { createFaultyStorage } from '../../adapters/storage/faulty.ts';
import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import { FlotillaError } from '../../src/errors.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { drive, elapse, text, virtualCluster } from './helpers.ts';

let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

function leaderStore(c: LocalCluster, regionId: number): number {
  for (const id of c.storeIds) {
    const s = c.store(id);
    const info = s?.status().find((x) => x.region.id === regionId);
    if (info && info.raft.role === 'leader') return id;
  }
  return 0;
}

describe('faults', () => {
  it('keeps every acknowledged write through leader crashes that lose unsynced writes', async () => {
    const v = await virtualCluster({
      stores: 3,
      storage: async (id) => createFaultyStorage(createMemoryStorage(), { rand: createSeededRand(100 + id) }),
    });
    cluster = v.cluster;
    const client = cluster.client();
    const acked: string[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 10; i++) {
        const key = `k${round}-${i}`;
        await drive(v.clock, client.put(key, key));
        acked.push(key);
      }
      const leader = leaderStore(cluster, 1);
      expect(leader).toBeGreaterThan(0);
      await cluster.stopStore(leader);
      await elapse(v.clock, 1500);
      await cluster.restartStore(leader);
    }
    await drive(v.clock, cluster.waitForLeaders());
    for (const key of acked) expect(text(await drive(v.clock, client.get(key)))).toBe(key);
  });

  it('a minority cannot commit; the majority goes on; healing reconciles', async () => {
    const v = await virtualCluster({ stores: 3 });
    cluster = v.cluster;
    const client = cluster.client({ retry: { timeoutMs: 3000 } });
    await drive(v.clock, client.put('before', '1'));
    const leader = leaderStore(cluster, 1);
    const others = cluster.storeIds.filter((s) => s !== leader);
    cluster.partition([leader], others);
    // The client keeps retrying until the majority elects a new leader, then succeeds there.
    await drive(v.clock, client.put('during', '2'));
    expect(leaderStore(cluster, 1)).not.toBe(0);
    cluster.heal();
    await elapse(v.clock, 2000);
    expect(text(await drive(v.clock, client.get('during')))).toBe('2');
    // Every replica has applied the same entries once healed.
    await elapse(v.clock, 500);
    const applied = cluster.storeIds.map((id) => cluster!.store(id)!.status()[0].applied);
    expect(new Set(applied).size).toBe(1);
  });

  it('a write that cannot reach a quorum reports OutcomeUnknown or Timeout, never success', async () => {
    const v = await virtualCluster({ stores: 3 });
    cluster = v.cluster;
    const client = cluster.client({ retry: { timeoutMs: 2000, attemptTimeoutMs: 500 } });
    await drive(v.clock, client.put('x', '0'));
    cluster.partition([1], [2], [3]);
    const err = await drive(v.clock, client.put('x', '1')).then(
      () => undefined,
      (e) => e,
    );
    expect(err).toBeInstanceOf(FlotillaError);
    expect(['OutcomeUnknown', 'Timeout']).toContain((err as FlotillaError).code);
  });
  it('a client that used up its attempts before its deadline says so in the error', async () => {
    const v = await virtualCluster({ stores: 3 });
    cluster = v.cluster;
    await drive(v.clock, cluster.client().put('x', '0'));
    cluster.partition([1], [2], [3]);
    await elapse(v.clock, 3000); // every store has lost (or never had) the leader: quick NotLeader answers
    const client = cluster.client({ retry: { timeoutMs: 60_000, attemptsMax: 4, backoffMinMs: 1, backoffMaxMs: 2 } });
    const err = await drive(v.clock, client.get('x')).then(
      () => undefined,
      (e) => e,
    );
    expect(err).toBeInstanceOf(FlotillaError);
    expect((err as FlotillaError).code).toBe('Timeout');
    expect((err as Error).message).toMatch(/after 4 attempts in \d+ ms/);
    expect((err as Error).message).not.toMatch(/60000/);
  });
});

describe('snapshots', () => {
  it('a store that missed compacted entries catches up from a snapshot of the region', async () => {
    const v = await virtualCluster({ stores: 3, initialSplitKeys: ['m'], store: { logGcThreshold: 10 } });
    cluster = v.cluster;
    const client = cluster.client();
    await drive(v.clock, client.put('a-before', '0'));
    await elapse(v.clock, 200);
    await cluster.stopStore(3);
    for (let i = 0; i < 60; i++) await drive(v.clock, client.put(`a-${String(i).padStart(2, '0')}`, `v${i}`));
    await drive(v.clock, client.getSequence('a-seq', 7));
    await drive(v.clock, client.put('z-other', 'x'));
    // The live replicas compacted their logs far past what store 3 holds.
    const truncated = cluster.store(1)!.status().find((s) => s.region.id === 1)!.raft.firstIndex;
    expect(truncated).toBeGreaterThan(20);
    await cluster.restartStore(3);
    await elapse(v.clock, 3000);
    const digests = await Promise.all(cluster.storeIds.map((id) => drive(v.clock, cluster!.store(id)!.regionDigest(1))));
    expect(new Set(digests.map((d) => d.digest)).size).toBe(1);
    expect(digests[2].pairs).toBe(digests[0].pairs);
    // Store 3 now serves the data it got by snapshot.
    const s3 = cluster.store(3)!;
    const v59 = await drive(v.clock, s3.read(1, undefined, { type: 'get', key: new TextEncoder().encode('a-59') }, 'stale'));
    expect(text(v59 as Uint8Array)).toBe('v59');
  });
});
