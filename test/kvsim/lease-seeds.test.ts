import { expect, it } from 'vitest';
import { runLeaseSimulation } from './lease-simulation.ts';

const FIRST = Number(process.env.LEASE_SEED ?? 1);
const COUNT = Number(process.env.LEASE_SEEDS ?? 6);

it(`lease simulation (partitions, crashes, splits, merges, PD leader killed): seeds ${FIRST}..${FIRST + COUNT - 1} keep leases alive, expire and revoke them`, async () => {
  const failed: string[] = [];
  let leases = 0;
  let kills = 0;
  let reads = 0;
  for (let seed = FIRST; seed < FIRST + COUNT; seed++) {
    console.log(`lease simulation seed=${seed}`);
    const r = await runLeaseSimulation(seed);
    leases += r.leases;
    kills += r.pdLeaderKills;
    reads += r.reads;
    if (!r.ok) failed.push(`seed ${seed} (replay: LEASE_SEED=${seed} LEASE_SEEDS=1 npx vitest run test/kvsim/lease-seeds.test.ts):\n  ${r.failures.slice(0, 10).join('\n  ')}`);
  }
  console.log(`lease simulation seeds ${FIRST}..${FIRST + COUNT - 1}: ${leases} leases, ${reads} reads, ${kills} PD leader kills, ${failed.length} failing`);
  expect(leases).toBeGreaterThan(0);
  expect(kills).toBeGreaterThan(0);
  expect(failed, failed.join('\n')).toEqual([]);
}, 600_000);
