import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchKey, checkView, type Load, loadRows, roundRatios, splitKeysFor, turnsFromMetrics, VALUE, verifyStores } from '../../bench/cluster.bench.ts';
import { createLocalCluster, type LocalCluster } from '../../adapters/local-cluster.ts';
import { dispatchRequest } from '../../src/store/dispatch.ts';

const load = (acked: string[], failed: string[] = []): Load => ({ acked, failed, latencies: [], seconds: 1 });
const view = (keys: string[]) => {
  const seen = new Map<string, number>();
  for (const k of keys) seen.set(k, (seen.get(k) ?? 0) + 1);
  return { seen, values: new Map(keys.map((k) => [k, VALUE])) };
};

describe('cluster bench helpers', () => {
  it('makes 16-byte keys and cuts the writers evenly', () => {
    expect(new TextEncoder().encode(benchKey(999, 12345, 'm')).length).toBe(16);
    const cuts = splitKeysFor(256, 8);
    expect(cuts).toEqual(['k0032', 'k0064', 'k0096', 'k0128', 'k0160', 'k0192', 'k0224']);
    // Whatever the load's tag, a writer's keys stay in its region.
    expect(benchKey(31, 9, 'z') < cuts[0] && benchKey(32, 0, 'a') > cuts[0]).toBe(true);
  });

  it('refuses a view missing an acknowledged write, holding it twice, with a wrong value, or with a key never written', () => {
    const l = load(['a', 'b'], ['c']);
    expect(checkView('s', view(['a', 'b']).seen, view(['a', 'b']).values, l)).toBeUndefined();
    expect(checkView('s', view(['a', 'b', 'c']).seen, view(['a', 'b', 'c']).values, l)).toBeUndefined();
    expect(checkView('s', view(['a']).seen, view(['a']).values, l)).toMatch(/b present 0 times/);
    expect(checkView('s', view(['a', 'b', 'b']).seen, view(['a', 'b']).values, l)).toMatch(/b present 2 times/);
    expect(checkView('s', view(['a', 'b']).seen, new Map([['a', VALUE], ['b', 'x']]), l)).toMatch(/b has a wrong value/);
    expect(checkView('s', view(['a', 'b', 'd']).seen, view(['a', 'b', 'd']).values, l)).toMatch(/d was never written/);
  });

  it('pairs rounds measured back to back for their ratios', () => {
    const l = (n: number, seconds: number): Load => ({ acked: Array.from({ length: n }, String), failed: [], latencies: [], seconds });
    expect(roundRatios([l(300, 1), l(100, 2)], [l(100, 1), l(100, 1)])).toBe('3.00, 0.50');
    // A round the other system lacks is left out.
    expect(roundRatios([l(300, 1), l(100, 2)], [l(100, 1)])).toBe('3.00');
    expect(roundRatios(undefined, [l(1, 1)])).toBe('');
  });

  it('reads the store loop turns from /metrics text', () => {
    const text = '# TYPE flotilla_store_merges_total counter\nflotilla_store_merges_total{store="2"} 0\nflotilla_store_turns_total{store="2"} 12345\nflotilla_store_raft_batches_total{store="2"} 99\n';
    expect(turnsFromMetrics(text)).toBe(12345);
    expect(turnsFromMetrics('flotilla_store_raft_batches_total{store="2"} 99\n')).toBeNaN();
  });

  it('reports the busiest server process and, for flotilla, the p50 latency in loop turns', () => {
    const rows = loadRows('x', { p50: 20, cpuShares: [40, 55, 30, 12], turnsPerSecond: [200, 250, 150] });
    expect(rows.map((r) => [r.name, r.value])).toEqual([
      ['x, CPU of the busiest server process', 55],
      ['x, store loop turns', 200],
      ['x, latency p50 in loop turns', 4],
    ]);
    expect(rows[0].note).toBe('servers 40 % / 55 % / 30 %, client (bench process) 12 %, during the load');
    // etcd: no loop turns to report.
    expect(loadRows('e', { p50: 20, cpuShares: [40, 55, 30, 12], turnsPerSecond: [] })).toHaveLength(1);
  });

  describe('verifyStores on a 3-store cluster with 4 regions', () => {
    let cluster: LocalCluster;
    const keys = Array.from({ length: 64 }, (_, i) => benchKey(i * 4, i));
    const ask = (id: number, r: Parameters<typeof dispatchRequest>[1]) => dispatchRequest(cluster.store(id)!, r);
    beforeAll(async () => {
      cluster = await createLocalCluster({ stores: 3, initialSplitKeys: splitKeysFor(256, 4), store: { tickMs: 10 } });
      await cluster.waitForLeaders(20_000);
      const kv = cluster.client();
      await Promise.all(keys.map((k) => kv.put(k, VALUE)));
    });
    afterAll(() => cluster.close());

    it('passes when every replica holds every acknowledged write', async () => {
      await verifyStores(cluster.storeIds, ask, load(keys));
    });

    it('throws when an acknowledged write is missing', async () => {
      await expect(verifyStores(cluster.storeIds, ask, load([...keys, benchKey(1, 1)]), 300)).rejects.toThrow(/k0001a0000000001 present 0 times/);
    });

    it('throws when a replica holds a key nobody wrote', async () => {
      await expect(verifyStores(cluster.storeIds, ask, load(keys.slice(1)), 300)).rejects.toThrow(/never written/);
    });
  });
});
