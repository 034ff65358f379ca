/**
 * Quiescence of idle regions: a leader whose region is idle and fully replicated puts its group to
 * sleep (no heartbeats, no election timers); a write or read wakes it; a quiesced group whose
 * leader's store stops (or is cut off) still elects a new leader, woken by store liveness; and a
 * quiesced leader that was cut off serves no lease read from its stale state.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import type { VirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { drive, elapse, text, virtualCluster } from './helpers.ts';

let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const utf8 = (s: string) => new TextEncoder().encode(s);

/** 50 ms ticks, election timeout 10 ticks: the defaults. */
const MIN_ELECTION_MS = 500;

function leaderStore(c: LocalCluster, regionId: number): number {
  for (const id of c.storeIds) {
    const info = c.store(id)?.status().find((x) => x.region.id === regionId);
    if (info && info.raft.role === 'leader') return id;
  }
  return 0;
}

/** Every replica of `regionId` on the running stores, quiesced or not. */
function quiesced(c: LocalCluster, regionId: number): boolean[] {
  return c.storeIds.flatMap((id) => c.store(id)?.status().filter((x) => x.region.id === regionId).map((x) => x.raft.quiesced) ?? []);
}

function messagesSent(c: LocalCluster): number {
  return c.storeIds.reduce((n, id) => n + (c.store(id)?.counters.messagesSent ?? 0), 0);
}

async function quiescedCluster(): Promise<{ cluster: LocalCluster; clock: VirtualClock }> {
  const v = await virtualCluster({ stores: 3, initialSplitKeys: ['m'] });
  await drive(v.clock, v.cluster.client().put('a', '1'));
  await elapse(v.clock, 2000);
  for (const region of [1, 2]) expect(quiesced(v.cluster, region)).toEqual([true, true, true]);
  return v;
}

describe('quiescence', () => {
  it('idle regions go quiet, and a write wakes its region and commits', async () => {
    const v = await quiescedCluster();
    cluster = v.cluster;
    // Asleep: no Raft message at all between the stores (only their liveness pings).
    const before = messagesSent(cluster);
    await elapse(v.clock, 3000);
    expect(messagesSent(cluster)).toBe(before);
    const client = cluster.client();
    await drive(v.clock, client.put('a', '2'));
    expect(text(await drive(v.clock, client.get('a')))).toBe('2');
    expect(messagesSent(cluster)).toBeGreaterThan(before);
    // The other region slept through it; the woken one goes back to sleep once idle.
    expect(quiesced(cluster, 2)).toEqual([true, true, true]);
    await elapse(v.clock, 2000);
    expect(quiesced(cluster, 1)).toEqual([true, true, true]);
  });

  it("a quiesced region whose leader's store stops elects a new leader within a bounded time", async () => {
    const v = await quiescedCluster();
    cluster = v.cluster;
    const leader = leaderStore(cluster, 1);
    expect(leader).toBeGreaterThan(0);
    await cluster.stopStore(leader);
    const t0 = v.clock.now();
    // The followers hear nothing and run no election timer: only store liveness wakes them.
    await drive(v.clock, cluster.client({ retry: { timeoutMs: 20_000 } }).put('b', '1'), 20_000);
    expect(v.clock.now() - t0).toBeLessThan(3 * MIN_ELECTION_MS);
    expect(leaderStore(cluster, 1)).not.toBe(leader);
  });

  it('after a lost leader store, the lowest-id surviving voter campaigns at once (no split vote between survivors)', async () => {
    const v = await virtualCluster({ stores: 3, initialSplitKeys: ['b', 'd', 'f', 'h', 'j'] });
    cluster = v.cluster;
    await drive(v.clock, cluster.client().put('a', '1'));
    await elapse(v.clock, 2000);
    const regions = cluster.store(1)!.regions().map((r) => r.region);
    const leaders = new Map(regions.map((r) => [r.id, leaderStore(cluster!, r.id)]));
    // The store leading the most regions stops.
    const counts = [1, 2, 3].map((s) => [...leaders.values()].filter((l) => l === s).length);
    const gone = counts.indexOf(Math.max(...counts)) + 1;
    const orphans = regions.filter((r) => leaders.get(r.id) === gone);
    expect(orphans.length).toBeGreaterThanOrEqual(2);
    await cluster.stopStore(gone);
    // Store liveness notices after one election timeout; the first survivor then wins within a few ticks.
    await elapse(v.clock, MIN_ELECTION_MS + 150);
    for (const r of orphans) {
      const first = Math.min(...r.peers.filter((p) => p.storeId !== gone).map((p) => p.id));
      const winner = r.peers.find((p) => p.id === first)!.storeId;
      expect(leaderStore(cluster, r.id), `region ${r.id}`).toBe(winner);
    }
  });

  it('a quiesced leader cut off from its followers serves no stale lease read', async () => {
    const v = await quiescedCluster();
    cluster = v.cluster;
    const old = leaderStore(cluster, 1);
    const others = cluster.storeIds.filter((s) => s !== old);
    cluster.partition([old], others);
    // The majority notices the silence and elects; nothing touches the old leader meanwhile.
    for (let waited = 0; !others.includes(leaderStore(cluster, 1)); waited += 50) {
      expect(waited).toBeLessThan(3 * MIN_ELECTION_MS);
      await elapse(v.clock, 50);
    }
    const fresh = cluster.store(leaderStore(cluster, 1))!;
    await drive(v.clock, fresh.write(1, undefined, 'quiesce-test', 1, { type: 'put', key: utf8('a'), value: utf8('2') }));
    // The old leader still believes it leads, but its lease ran out while it slept: a lease read
    // wakes it and needs a quorum it cannot reach, so it fails instead of answering '1'.
    expect(cluster.store(old)!.status().find((x) => x.region.id === 1)?.raft.role).toBe('leader');
    const read = cluster.store(old)!.read(1, undefined, { type: 'get', key: utf8('a') }, 'lease');
    await expect(drive(v.clock, read, 5000)).rejects.toThrow();
    cluster.heal();
    await drive(v.clock, cluster.waitForLeaders());
    expect(text(await drive(v.clock, cluster.client().get('a')))).toBe('2');
  });

  it('quiesceTicks: 0 keeps every region awake', async () => {
    const v = await virtualCluster({ stores: 3, store: { quiesceTicks: 0 } });
    cluster = v.cluster;
    await elapse(v.clock, 2000);
    expect(quiesced(cluster, 1)).toEqual([false, false, false]);
    const before = messagesSent(cluster);
    await elapse(v.clock, 1000);
    expect(messagesSent(cluster)).toBeGreaterThan(before);
  });
});
