/**
 * npm run soak:cluster -- [--seconds S] [--seed N] [--runs R] [--stores 3|5|both] [--quiet]
 * The black-box fault scenarios of test/server/faults-*.test.ts, longer and repeated: each run
 * starts real `flotilla serve` processes behind fault proxies, runs the workload under the seeded
 * nemesis for S seconds (default 300) and checks the history. Run r uses seed N + r (default N
 * random). Prints one summary line per run and a total line with `anomalies = <n>`; exits 1 if
 * any run found one (its anomalies and the stores' log tails are printed). docs/fault-testing.md.
 */
import { runFaultScenario, summary } from './fault-scenario.ts';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const seconds = Number(flag('seconds') ?? 300);
const first = Number(flag('seed') ?? globalThis.crypto.getRandomValues(new Uint32Array(1))[0] % 1_000_000);
const runs = Number(flag('runs') ?? 1);
const which = flag('stores') ?? 'both';
const quiet = args.includes('--quiet');
if (!(seconds > 0) || !Number.isSafeInteger(first) || !(runs > 0) || !['3', '5', 'both'].includes(which)) {
  console.error('usage: npm run soak:cluster -- [--seconds S] [--seed N] [--runs R] [--stores 3|5|both] [--quiet]');
  process.exit(2);
}
const shapes = [
  ...(which !== '5' ? [{ stores: 3 as const, pd: false, wipe: false, label: 'faults-3' }] : []),
  ...(which !== '3' ? [{ stores: 5 as const, pd: true, wipe: true, label: 'faults-5' }] : []),
];
let anomalies = 0;
let operations = 0;
const t0 = performance.now();
for (let run = 0; run < runs; run++) {
  for (const shape of shapes) {
    const seed = first + run;
    const r = await runFaultScenario({ ...shape, seconds, seed, log: quiet ? undefined : (l) => console.log(l) });
    console.log(summary(r, shape.label));
    operations += r.operations;
    anomalies += r.anomalies.length;
    if (r.anomalies.length > 0) console.log(`ANOMALIES (${shape.label}, seed ${seed}):\n  ${r.anomalies.join('\n  ')}\n${r.logs}`);
  }
}
console.log(`soak:cluster: ${runs * shapes.length} runs from seed ${first}, ${seconds} s each, ${operations} operations, ${((performance.now() - t0) / 1000).toFixed(0)} s in all, anomalies = ${anomalies}`);
process.exit(anomalies > 0 ? 1 : 0);
