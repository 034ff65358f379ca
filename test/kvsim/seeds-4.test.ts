import { it } from 'vitest';
import { runSeedRange } from './run-seeds.ts';

it('KV simulation: seeds 226..300 are linearizable, fenced and convergent', () => runSeedRange(226, 75), 600_000);
