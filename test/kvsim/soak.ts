/**
 * npm run soak:kv -- [--seeds N] [--from S] [--seed S] [--pd] [--quiesce] [--stall] [--wipe] [--slow-storage on|off] [--verbose]
 * npm run soak:kv -- --txn [--seeds N] [--from S] [--seed S] [--verbose]
 * Runs the KV simulation (or, with --txn, the transaction simulation) over many seeds (or replays
 * one) and prints every failure. Slow storage is the seed's pick unless `--slow-storage` forces it.
 */
import { runKvSimulation } from './kv-simulation.ts';
import { describeSlowStorage } from './slow-storage.ts';
import { runTxnSimulation } from './txn-simulation.ts';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const one = flag('seed');
const from = one ? Number(one) : Number(flag('from') ?? 1);
const count = one ? 1 : Number(flag('seeds') ?? 1000);
const verbose = args.includes('--verbose');
const pd = args.includes('--pd');
const quiesce = args.includes('--quiesce');
const stall = args.includes('--stall');
const wipe = args.includes('--wipe');
const slowFlag = flag('slow-storage');
const slowStorage = slowFlag === undefined ? undefined : slowFlag === 'on';
const t0 = performance.now();
let failed = 0;
let operations = 0;
for (let seed = from; seed < from + count; seed++) {
  const r = args.includes('--txn') ? { ...(await runTxnSimulation({ seed, verbose })), stalls: 0 } : await runKvSimulation({ seed, verbose, pd, quiesce, stall, wipe, slowStorage });
  operations += r.operations;
  if (!r.ok) {
    failed++;
    console.log(`FAIL seed ${seed} (${'slowStorage' in r ? describeSlowStorage(r.slowStorage) : 'txn'})\n  ${r.failures.join('\n  ')}`);
  } else if (verbose || (seed - from + 1) % 50 === 0) {
    console.log(`seed ${seed} ok (${r.operations} ops, ${r.unknown} unknown, ${r.faults} faults, ${r.stalls} stalls); ${((seed - from + 1) / ((performance.now() - t0) / 1000)).toFixed(1)} seeds/s`);
  }
}
console.log(`kv soak: ${count} seeds from ${from}, ${operations} operations, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
