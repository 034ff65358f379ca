import { it } from 'vitest';
import { runSeedRange } from './run-seeds.ts';

it('KV simulation: seeds 1..75 are linearizable, fenced and convergent', () => runSeedRange(1, 75), 600_000);
