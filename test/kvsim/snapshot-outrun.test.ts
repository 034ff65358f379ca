/**
 * A follower that gets a snapshot while its leader keeps compacting must catch up at once, not after
 * the leader's snapshot timeout. What kvsim seed 80 hit once the store's turn yielded (three
 * `await Promise.resolve()` in the turn; a real lmdb engine yields there too): the leader streamed
 * store 2 a snapshot of region 1 at index 194, applied and compacted its log to 206 before store 2's
 * acknowledgement came back, and then sat in the `snapshot` state for that follower (an ack below
 * its first index cannot end it) until `snapshotTimeoutTicks` ran out, 2.5 s later; the check for
 * converged replicas came first. Scripted here on a deterministic cluster (virtual clock, seed 1):
 * the link from the leader to the follower is slow, so writes made while the snapshot travels are
 * applied and compacted away before its acknowledgement arrives.
 */
import { expect, it } from 'vitest';
import { drive, elapse, virtualCluster } from '../store/helpers.ts';

it('a follower whose snapshot was outrun by log compaction catches up within one snapshot timeout', async () => {
  // One region on three stores; tiny log GC threshold, so the leader compacts after every few entries.
  const { cluster, clock } = await virtualCluster({ stores: 3, seed: 1, store: { logGcThreshold: 3 } });
  try {
    const client = cluster.client();
    const leader = cluster.storeIds.find((id) => cluster.store(id)?.status()[0].raft.role === 'leader')!;
    const lagging = cluster.storeIds.find((id) => id !== leader)!;
    await cluster.stopStore(lagging);
    for (let i = 0; i < 20; i++) await drive(clock, client.put(`a${i}`, 'v'));
    // The leader's log no longer holds what the stopped store lacks: it gets a snapshot, over a slow link.
    cluster.network!.setLinkFaults(leader, lagging, { delayMs: { min: 100, max: 100 } });
    await drive(clock, cluster.restartStore(lagging));
    const progress = () => cluster.store(leader)?.status()[0].raft.progress?.get(cluster.store(lagging)?.status()[0].peerId ?? 0);
    while (progress()?.state !== 'snapshot' && clock.now() < 60_000) await elapse(clock, 1);
    const sentAt = clock.now();
    // Writes while the snapshot travels: the leader applies and compacts past the snapshot's index.
    for (let i = 0; i < 12; i++) await drive(clock, client.put(`b${i}`, 'v'));
    const applied = (id: number) => cluster.store(id)?.status()[0].applied ?? 0;
    const target = applied(leader);
    while (applied(lagging) < target && clock.now() - sentAt < 10_000) await elapse(clock, 10);
    const caughtUpMs = clock.now() - sentAt;
    // 50 ms ticks, election timeout 10 ticks, snapshot timeout 5 election timeouts: 2,500 ms. Two
    // snapshots streamed over the 100 ms link take well under a second.
    console.log(`follower caught up ${caughtUpMs} virtual ms after its snapshot left (applied ${applied(lagging)} of ${target})`);
    expect(applied(lagging)).toBeGreaterThanOrEqual(target);
    expect(caughtUpMs).toBeLessThan(2000);
  } finally {
    await cluster.close();
  }
}, 60_000);
