/**
 * The write benchmarks' end-of-run check (issue 9, target 7): a run reports throughput only if
 * every replica holds exactly the acknowledged writes, each once with its own value. These tests
 * make the check fail on purpose: a missing write, an extra one, a wrong value.
 */
import { describe, expect, it } from 'vitest';
import { createLocalCluster } from '../../adapters/local-cluster.ts';
import { createBareCluster, runBaseline, uniqueKey, uniqueValue } from '../../bench/baseline.ts';
import { verifyExactlyOnce } from '../../bench/kv.bench.ts';

const bytes = (s: string) => Buffer.from(s);

/** Writes ten unique pairs to a new bare cluster; returns it with those writes by hex key, less `leaveOut`. */
async function tenWrites(leaveOut?: number) {
  const bare = createBareCluster();
  const expected = new Map<string, Uint8Array>();
  for (let i = 0; i < 10; i++) {
    const k = uniqueKey(0, i);
    await bare.put(bytes(k), bytes(uniqueValue(k)));
    if (i !== leaveOut) expected.set(bytes(k).toString('hex'), bytes(uniqueValue(k)));
  }
  return { bare, expected };
}

describe('bare write-path baseline', () => {
  it('runs, and verifies every acknowledged write on all three replicas', async () => {
    const r = await runBaseline(4, 150);
    expect(r.writes).toBeGreaterThan(0);
    expect(r.writesPerSecond).toBeGreaterThan(0);
  });

  it('refuses a run whose replicas miss an acknowledged write', async () => {
    const { bare, expected } = await tenWrites();
    expected.set(bytes(uniqueKey(9, 9)).toString('hex'), bytes('never written'));
    await expect(bare.verifyAndClose(expected)).rejects.toThrow(/expected 11 acknowledged writes/);
  });

  it('refuses a run whose replicas hold a write nobody acknowledged', async () => {
    const { bare, expected } = await tenWrites(0);
    await expect(bare.verifyAndClose(expected)).rejects.toThrow(/10 keys from 10 applies, expected 9/);
  });
});

describe('in-page cluster check', () => {
  it('passes when every replica holds exactly the acknowledged writes, and fails on a missing, extra or changed one', async () => {
    const cluster = await createLocalCluster({ stores: 3 });
    try {
      await cluster.waitForLeaders(20_000);
      const kv = cluster.client();
      const acked = new Map<string, string>();
      for (let i = 0; i < 20; i++) {
        const k = uniqueKey(1, i);
        await kv.put(k, uniqueValue(k));
        acked.set(k, uniqueValue(k));
      }
      await verifyExactlyOnce(cluster, acked);

      const missing = new Map(acked).set(uniqueKey(2, 0), uniqueValue(uniqueKey(2, 0)));
      await expect(verifyExactlyOnce(cluster, missing, 100)).rejects.toThrow(/holds 20 of 21 acknowledged writes/);

      const changed = new Map(acked).set(uniqueKey(1, 3), 'another value');
      await expect(verifyExactlyOnce(cluster, changed, 100)).rejects.toThrow(/the value of .* is not the one written/);

      await kv.put(uniqueKey(3, 0), 'written but left out of the acknowledged set');
      await expect(verifyExactlyOnce(cluster, acked, 100)).rejects.toThrow(/which was never acknowledged/);
    } finally {
      await cluster.close();
    }
  });
});
