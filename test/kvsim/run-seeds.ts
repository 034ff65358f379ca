/**
 * Runs a range of KV simulation seeds and fails with every failing seed and the command that
 * replays it. Shared by the vitest files (which split the seeds so they run in parallel).
 */
import { expect } from 'vitest';
import { runKvSimulation } from './kv-simulation.ts';

export async function runSeedRange(from: number, count: number, pd = false): Promise<void> {
  const failed: string[] = [];
  let operations = 0;
  let unknown = 0;
  for (let seed = from; seed < from + count; seed++) {
    const r = await runKvSimulation({ seed, pd });
    operations += r.operations;
    unknown += r.unknown;
    if (!r.ok) failed.push(`seed ${seed} (replay: npm run soak:kv -- --seed ${seed}${pd ? ' --pd' : ''} --verbose):\n  ${r.failures.join('\n  ')}`);
  }
  console.log(`kv simulation${pd ? ' with PD' : ''} seeds ${from}..${from + count - 1}: ${operations} operations (${unknown} with unknown outcome), ${failed.length} failing`);
  expect(failed, failed.join('\n')).toEqual([]);
}
