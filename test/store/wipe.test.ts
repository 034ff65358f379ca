/**
 * Issue 22 in-page: a store restarted on an empty engine must not count as the voter it was. The
 * acknowledged write stays readable (or the cluster refuses to serve), never reverts to `base`;
 * `rejoinStore` brings the wiped store back as a new replica that holds the data.
 */
import { describe, expect, it } from 'vitest';
import { createLocalCluster } from '../../adapters/local-cluster.ts';
import { createVirtualClock } from '../../adapters/runtime/virtual-clock.ts';
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
});
