/**
 * KV simulation seeds that once found bugs, kept as regression tests (each ran red before its fix):
 * 99 (lock re-entry judged wrongly), 120 (merge state lost in snapshots), 144 and 111 (prepared
 * merges never finished: compacted prepare term, target merged away), 41 (proposal on a retired
 * replica), 575 (a snapshot skipping a CommitMerge left the source behind), 168 (a store that got a
 * split by snapshot never created the child once the child had absorbed its prepared source), and with PD 182 (a
 * lagging replica of a merged-away region was never told) and 3081 (a leader whose own removal was
 * under way sent a region heartbeat PD refused by throwing into the transport). They run without
 * slow storage (`slow-storage.ts`, which came later), so that each replays the run that found its bug.
 */
import { describe, expect, it } from 'vitest';
import { runKvSimulation } from './kv-simulation.ts';

describe('KV simulation regressions', () => {
  for (const seed of [99, 120, 144, 111, 41, 575, 168]) {
    it(`seed ${seed}`, async () => {
      const r = await runKvSimulation({ seed, slowStorage: false });
      expect(r.failures, `replay: npm run soak:kv -- --seed ${seed} --verbose`).toEqual([]);
    }, 120_000);
  }
  for (const seed of [182, 3081]) {
    it(`seed ${seed} with PD`, async () => {
      const r = await runKvSimulation({ seed, pd: true, slowStorage: false });
      expect(r.failures, `replay: npm run soak:kv -- --seed ${seed} --pd --verbose`).toEqual([]);
    }, 120_000);
  }
});
