/**
 * Runs a range of KV simulation seeds and fails with every failing seed and the command that
 * replays it. Shared by the vitest files (which split the seeds so they run in parallel).
 */
import { expect } from 'vitest';
import { runKvSimulation } from './kv-simulation.ts';
import { describeSlowStorage } from './slow-storage.ts';

/** Runs the seeds; returns totals of what they exercised. */
export async function runSeedRange(
  from: number,
  count: number,
  pd = false,
  quiesce = false,
  stall = false,
  wipe = false,
  /** Force slow storage on (true) or off (false); default: each seed's pick. */
  slowStorage?: boolean,
): Promise<{ quiesces: number; livenessWakes: number; stalls: number }> {
  const failed: string[] = [];
  let operations = 0;
  let unknown = 0;
  let quiesces = 0;
  let livenessWakes = 0;
  let stalls = 0;
  let slow = 0;
  for (let seed = from; seed < from + count; seed++) {
    const r = await runKvSimulation({ seed, pd, quiesce, stall, wipe, slowStorage });
    stalls += r.stalls;
    if (r.slowStorage) slow++;
    operations += r.operations;
    unknown += r.unknown;
    quiesces += r.quiesces;
    livenessWakes += r.livenessWakes;
    if (!r.ok) failed.push(`seed ${seed} (replay: npm run soak:kv -- --seed ${seed}${pd ? ' --pd' : ''}${quiesce ? ' --quiesce' : ''}${stall ? ' --stall' : ''}${wipe ? ' --wipe' : ''}${slowStorage === undefined ? '' : ` --slow-storage ${slowStorage ? 'on' : 'off'}`} --verbose; ${describeSlowStorage(r.slowStorage)}):\n  ${r.failures.join('\n  ')}`);
  }
  console.log(`kv simulation${pd ? ' with PD' : ''}${quiesce ? ' with eager quiescence' : ''}${stall ? ' with stalls' : ''}${wipe ? ' with wiped stores' : ''}${slowStorage ? ' with slow storage' : ''} seeds ${from}..${from + count - 1}: ${operations} operations (${unknown} with unknown outcome), ${quiesces} quiesces, ${livenessWakes} liveness wakes, ${stalls} stalls, ${slow} with slow storage, ${failed.length} failing`);
  expect(failed, failed.join('\n')).toEqual([]);
  return { quiesces, livenessWakes, stalls };
}
