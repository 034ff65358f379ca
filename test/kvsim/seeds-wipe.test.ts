import { it } from 'vitest';
import { runSeedRange } from './run-seeds.ts';

// Stores' storage wiped under the usual faults and brought back with rejoinStore (wipe-fault.ts).
it('KV simulation with wiped stores: seeds 1..6 are linearizable, fenced and convergent', () => runSeedRange(1, 6, false, false, false, true), 600_000);
