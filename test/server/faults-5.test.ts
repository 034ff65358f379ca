/**
 * Issue 19, black-box fault tests on real processes: five `flotilla serve` stores with PD (three
 * replicas per region), each behind a fault proxy that every store and client dials (no learned
 * address bypasses it: test/server/fault-cluster.ts), a concurrent workload through the remote
 * client, and a seeded nemesis: partitions, one-way cuts, clients cut from a store, kill -9,
 * SIGSTOP/SIGCONT, and one wiped data directory (the store rejoins under a new id and PD replaces
 * its replicas). At the end the history must be linearizable and hold every acknowledged write.
 *
 * FAULT_SEED=<n> replays a fault schedule (the seed is printed); FAULT_SECONDS=<s> runs longer
 * (default 90: the two files inject faults for 3 minutes together). `npm run soak:cluster` runs the same scenarios for longer. docs/fault-testing.md.
 */
import { expect, it } from 'vitest';
import { runFaultScenario, summary } from './fault-scenario.ts';

const SECONDS = Number(process.env.FAULT_SECONDS ?? 90);
const SEED = Number(process.env.FAULT_SEED ?? globalThis.crypto.getRandomValues(new Uint32Array(1))[0] % 1_000_000);

it(`5 stores with PD under partitions, one-way cuts, kill -9, SIGSTOP and a wipe stay linearizable (seed ${SEED})`, async () => {
  console.log(`faults-5: seed ${SEED} (replay: FAULT_SEED=${SEED} npx vitest run test/server/faults-5.test.ts)`);
  const r = await runFaultScenario({ stores: 5, pd: true, wipe: true, seconds: SECONDS, seed: SEED, log: (l) => console.log(l) });
  console.log(summary(r, 'faults-5'));
  if (r.anomalies.length > 0) console.error(`${r.anomalies.join('\n')}\n${r.logs}`);
  expect(r.anomalies, `seed ${SEED}`).toEqual([]);
  expect(r.faults.wipe).toBe(1);
  expect(r.acknowledged).toBeGreaterThan(50);
  // The faults reached the traffic (the proxies cut something) and the stores (elections).
  expect(r.proxies.droppedBytes + r.proxies.closed).toBeGreaterThan(0);
  expect(r.term).toBeGreaterThan(1);
}, 420_000 + SECONDS * 1000);
