import { it } from 'vitest';
import { runSeedRange } from './run-seeds.ts';

it('KV simulation: seeds 76..150 are linearizable, fenced and convergent', () => runSeedRange(76, 75), 600_000);
