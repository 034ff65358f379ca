/**
 * KV simulation with 12 clients sharing 2 KvClient instances, starting operations on 10 ms
 * boundaries: concurrent gets of one consistency on one instance travel as one batched multiGet
 * (a few dozen per seed, of every consistency), and the history must still be linearizable.
 */
import { expect, it } from 'vitest';
import { runKvSimulation } from './kv-simulation.ts';

it('KV simulation with shared client instances (batched gets): seeds 1..8 are linearizable, fenced and convergent', async () => {
  const failed: string[] = [];
  for (let seed = 1; seed <= 8; seed++) {
    const r = await runKvSimulation({ seed, clients: 12, kvClients: 2, alignMs: 10 });
    if (!r.ok) failed.push(`seed ${seed}: ${r.failures.join('; ')}`);
  }
  expect(failed, failed.join('\n')).toEqual([]);
}, 600_000);
