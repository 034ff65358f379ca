/**
 * `kv.watch` under seeded faults (crashes that lose unsynced writes, partitions, network faults,
 * splits and merges): per key, exactly the applied writes, in order, none twice (`watch-simulation.ts`).
 */
import { describe, expect, it } from 'vitest';
import { runWatchSimulation } from './watch-simulation.ts';

const FIRST = 1;
const LAST = 10;

describe('watch simulation', () => {
  it(`seeds ${FIRST}..${LAST}: no event lost, duplicated or reordered`, async () => {
    let writes = 0;
    let events = 0;
    let unknown = 0;
    const failing: string[] = [];
    for (let seed = FIRST; seed <= LAST; seed++) {
      const r = await runWatchSimulation({ seed });
      writes += r.writes;
      events += r.events;
      unknown += r.unknown;
      if (r.failures.length > 0) failing.push(`seed ${seed}: ${r.failures.slice(0, 3).join('; ')}`);
    }
    console.log(`watch simulation seeds ${FIRST}..${LAST}: ${writes} writes (${unknown} with unknown outcome), ${events} events, ${failing.length} failing`);
    expect(failing).toEqual([]);
  }, 600_000);
});
