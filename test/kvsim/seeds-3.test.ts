import { it } from 'vitest';
import { runSeedRange } from './run-seeds.ts';

it('KV simulation: seeds 151..225 are linearizable, fenced and convergent', () => runSeedRange(151, 75), 600_000);
