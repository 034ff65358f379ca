/**
 * Issue 22 in-page: a store restarted on an empty engine must not count as the voter it was. The
 * acknowledged write stays readable (or the cluster refuses to serve), never reverts to `base`;
 * `rejoinStore` brings the wiped store back as a new replica that holds the data.
 */
import { describe, expect, it } from 'vitest';
import { createLocalCluster } from '../../adapters/local-cluster.ts';
import { createVirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { drive, elapse, text } from './helpers.ts';
import { runWipeScenario } from './wipe-scenario.ts';

describe('a store restarted on an empty engine (issue 22)', () => {
  for (const [seed, bootstrapAgain] of [[1, false], [2, false], [1, true], [2, true], [3, true]] as const) {
    it(`never loses the acknowledged write, and rejoins as a new replica (seed ${seed}${bootstrapAgain ? ', wiped store bootstraps again' : ''})`, async () => {
      const r = await runWipeScenario({ createLocalCluster, createVirtualClock }, seed, { bootstrapAgain, log: console.log });
      console.log(`wipe scenario seed ${seed} bootstrapAgain ${bootstrapAgain}: ${JSON.stringify(r)}`);
      // Step 5: stores 2 (lagging) and 3 (wiped) are no majority: no answer rather than `base`.
      expect(r.step5).not.toBe('base');
      expect(r.step5).toMatch(/^error|^acked$/);
      // A wiped store that recreated its old replica is refused by the lagging store.
      if (bootstrapAgain) expect(r.refusedOnStore2).toBeGreaterThan(0);
      expect(r.afterStore1).toBe('acked');
      expect(r.afterRejoin).toBe('acked');
    }, 60_000);
  }

  it('never loses the acknowledged write when the lagging store never heard from the wiped one (it bootstraps again)', async () => {
    // Found by test/server/wipe.test.ts under load: store 2's whole first life passed without a
    // frame from store 3, so store 2 had no incarnation of store 3 to hold the wiped store to.
    const clock = createVirtualClock();
    const cluster = await createLocalCluster({ stores: 3, clock, seed: 1 });
    try {
      cluster.partition([1, 2], [1, 3]); // only the link between stores 2 and 3 is cut
      const kv = cluster.client({ retry: { timeoutMs: 20_000, attemptTimeoutMs: 500 } });
      // Store 1 leads, so store 2 gets 'base' (from store 1) without a frame from store 3.
      await drive(clock, kv.put('k', 'first'));
      await drive(clock, kv.admin.transferLeader(1, 1));
      await drive(clock, kv.put('k', 'base'));
      const applied = (id: number) => cluster.store(id)?.status().find((x) => x.region.id === 1)?.applied ?? 0;
      for (let i = 0; i < 5000 && applied(2) < applied(1); i++) await elapse(clock, 1);
      expect(applied(2)).toBe(applied(1));
      expect(cluster.store(2)?.seenIncarnationOf(3)).toBeUndefined();
      await cluster.stopStore(2);
      await drive(clock, kv.put('k', 'acked'));
      await cluster.stopStore(1);
      await cluster.wipeStore(3, { bootstrap: true });
      cluster.heal();
      await cluster.restartStore(2);
      // Stores 2 (lagging, 'base') and 3 (wiped, bootstrapped afresh) are no majority.
      const reader = cluster.client({ retry: { timeoutMs: 8000, attemptTimeoutMs: 500 } });
      const step5 = await drive(clock, reader.get('k'), 20_000).then(
        (v) => text(v) ?? 'null',
        (e: Error) => `error ${e.name}`,
      );
      console.log(`lagging store never heard from the wiped one: step 5 read ${step5}, votes withheld by store 3: ${cluster.store(3)?.counters.votesWithheld}`);
      expect(step5).toMatch(/^error|^acked$/);
      expect(cluster.store(3)?.counters.votesWithheld).toBeGreaterThan(0);
      await cluster.restartStore(1);
      expect(text(await drive(clock, kv.get('k'), 30_000))).toBe('acked');
    } finally {
      await cluster.close();
    }
  }, 60_000);
});
