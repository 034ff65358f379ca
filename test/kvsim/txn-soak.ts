/**
 * npx tsx test/kvsim/txn-soak.ts [--seeds N] [--from S] [--seed S] [--verbose]
 * Runs the txn simulation over many seeds (or replays one) and prints every failure.
 */
import { runTxnSimulation } from './txn-simulation.ts';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const one = flag('seed');
const from = one ? Number(one) : Number(flag('from') ?? 1);
const count = one ? 1 : Number(flag('seeds') ?? 500);
const verbose = args.includes('--verbose');
const t0 = performance.now();
let failed = 0;
let operations = 0;
for (let seed = from; seed < from + count; seed++) {
  const r = await runTxnSimulation({ seed, verbose });
  operations += r.operations;
  if (!r.ok) {
    failed++;
    console.log(`FAIL seed ${seed}\n  ${r.failures.join('\n  ')}`);
  } else if (verbose || (seed - from + 1) % 50 === 0) {
    console.log(`seed ${seed} ok (${r.operations} ops, ${r.unknown} unknown, ${r.increments} increments); ${((seed - from + 1) / ((performance.now() - t0) / 1000)).toFixed(1)} seeds/s`);
  }
}
console.log(`txn soak: ${count} seeds from ${from}, ${operations} operations, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
