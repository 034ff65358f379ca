import { expect, it } from 'vitest';
import { runSeedRange } from './run-seeds.ts';

it('KV simulation with eager quiescence (groups sleep and wake under partitions, crashes and faults): seeds 1..40 are linearizable, fenced and convergent', async () => {
  const exercised = await runSeedRange(1, 40, false, true);
  // The seeds did put groups to sleep, and store liveness did wake followers of lost leaders.
  expect(exercised.quiesces).toBeGreaterThan(0);
  expect(exercised.livenessWakes).toBeGreaterThan(0);
}, 600_000);
