import { it } from 'vitest';
import { runSeedRange } from './run-seeds.ts';

it('KV simulation with PD (auto split/merge, 3→5→3 stores, repair): seeds 1..40 are linearizable, fenced, convergent and fully placed', () => runSeedRange(1, 40, true), 600_000);
