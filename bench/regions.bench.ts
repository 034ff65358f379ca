/**
 * Costs that grow with regions and recovery time (issue 9, targets 5 and 6), in one process:
 * - heap per idle region (3 replicas, in-page), measured with forced GC when `--expose-gc` is on;
 * - CPU share of a core that 1,000 idle regions use (real clock, 50 ms ticks);
 * - failover: from stopping the leader's store to the first write committed by a new leader,
 *   over 10 trials, against the minimum election timeout (electionTick × tickMs).
 */
import { createLocalCluster } from '../adapters/local-cluster.ts';
import { verifyExactlyOnce } from './kv.bench.ts';
import type { BenchRow } from './table.ts';
import { heapAfterGc as heap } from './heap.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function idleRegions(count: number): Promise<{ bytesPerRegion: number; cpuShare: number }> {
  const before = heap();
  const splitKeys = Array.from({ length: count - 1 }, (_, i) => `r${String(i + 1).padStart(5, '0')}`);
  const c = await createLocalCluster({ stores: 3, initialSplitKeys: splitKeys, store: { tickMs: 50 } });
  try {
    await c.waitForLeaders(120_000);
    await sleep(1000);
    const bytesPerRegion = (heap() - before) / count;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(5000);
    const cpu = process.cpuUsage(cpu0);
    const cpuShare = (cpu.user + cpu.system) / 1000 / (performance.now() - t0);
    return { bytesPerRegion, cpuShare };
  } finally {
    await c.close();
  }
}

/**
 * From stopping the leader's store to the first commit by a new leader. `quiesced`: the region is
 * left idle long enough to quiesce first, so that only store liveness wakes its followers.
 */
async function failover(trials: number, quiesced: boolean): Promise<{ median: number; max: number; minElection: number; asleep: number }> {
  const tickMs = 20;
  const electionTick = 10;
  const c = await createLocalCluster({ stores: 3, store: { tickMs, raft: { electionTick } } });
  const times: number[] = [];
  let asleep = 0;
  const acked = new Map<string, string>();
  try {
    await c.waitForLeaders(20_000);
    // attemptsMax: the deadline, not a count of quick NotLeader answers during a split vote, ends the wait.
    const kv = c.client({ retry: { timeoutMs: 10_000, attemptTimeoutMs: 100, backoffMinMs: 1, backoffMaxMs: 20, attemptsMax: 100_000 } });
    for (let t = 0; t < trials; t++) {
      await kv.put(`warm-${t}`, `w${t}`);
      acked.set(`warm-${t}`, `w${t}`);
      const [region] = await kv.admin.regions();
      const leader = region.leaderStoreId;
      if (quiesced) {
        // quiesceTicks defaults to the election timeout: idle for twice that, it sleeps.
        await sleep(2 * tickMs * electionTick + 100);
        if (c.store(leader)?.status().find((x) => x.region.id === region.id)?.raft.quiesced) asleep++;
      }
      const t0 = performance.now();
      await c.stopStore(leader);
      await kv.put(`after-${t}`, `a${t}`);
      times.push(performance.now() - t0);
      acked.set(`after-${t}`, `a${t}`);
      await c.restartStore(leader);
      await c.waitForLeaders(20_000);
      await sleep(300);
    }
    // Target 7: every acknowledged write exactly once on every replica, through all the failovers.
    await verifyExactlyOnce(c, acked);
  } finally {
    await c.close();
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], max: times[times.length - 1], minElection: tickMs * electionTick, asleep };
}

export async function run(): Promise<BenchRow[]> {
  const small = await idleRegions(50);
  const large = await idleRegions(1000);
  const f = await failover(10, false);
  const q = await failover(10, true);
  return [
    { group: 'regions', name: 'heap per idle region (3 replicas, in one process)', value: small.bytesPerRegion / 1024, unit: 'KiB', note: gc ? '50 regions, forced GC' : '50 regions; run with --expose-gc for a steadier figure' },
    { group: 'regions', name: 'heap per idle region, 1,000 regions', value: large.bytesPerRegion / 1024, unit: 'KiB', target: { label: 'issue 9 target 5: idle region < 25 KiB of heap', op: '<=', bound: 25 } },
    { group: 'regions', name: 'CPU used by 1,000 idle regions', value: large.cpuShare * 100, unit: '% of a core', target: { label: 'issue 9 target 5: 1,000 idle regions < 5 % of a core', op: '<=', bound: 5 }, note: 'idle regions quiesce (no heartbeats, no election timers); stores ping each other for liveness' },
    { group: 'regions', name: 'failover median (leader store stopped -> first commit)', value: f.median / f.minElection, unit: '× min election timeout', note: `${f.median.toFixed(0)} ms; min election timeout ${f.minElection} ms`, target: { label: 'issue 9 target 6: failover median <= 1.5x min election timeout', op: '<=', bound: 1.5 } },
    { group: 'regions', name: 'failover max over 10 trials', value: f.max / f.minElection, unit: '× min election timeout', note: `${f.max.toFixed(0)} ms; every acknowledged write verified on every replica`, target: { label: 'issue 9 target 6: failover max <= 3x min election timeout', op: '<=', bound: 3 } },
    { group: 'regions', name: 'failover median, quiesced region', value: q.median / q.minElection, unit: '× min election timeout', note: `${q.median.toFixed(0)} ms; ${q.asleep}/10 trials asleep when stopped; store liveness wakes the followers`, target: { label: 'issue 9 target 6 (quiesced region): failover median <= 1.5x', op: '<=', bound: 1.5 } },
    { group: 'regions', name: 'failover max, quiesced region', value: q.max / q.minElection, unit: '× min election timeout', note: `${q.max.toFixed(0)} ms`, target: { label: 'issue 9 target 6 (quiesced region): failover max <= 3x', op: '<=', bound: 3 } },
  ];
}
