/**
 * The soak runner: many more seeds than `npm test`, with progress, seeds/s and steps.
 *
 *   npm run soak -- --seeds 20000            # seeds 0..19999 of the randomized simulation
 *   npm run soak -- --from 50000 --seeds 5000
 *   npm run soak -- --seed 1234 --verbose    # replay one seed, printing its whole trace
 *   npm run soak -- --scenario prevote --seeds 1000
 *
 * Exits non-zero on the first failing seed (or at the end with `--keep-going`).
 */
import type { RunKind } from './harness.ts';
import { describeFailure, runOne } from './harness.ts';
import { nodeCore } from './node-core.ts';
import { optionsForSeed } from './options.ts';
import { SCENARIOS } from './scenarios.ts';

function parseArgs(argv: string[]): { from: number; seeds: number; verbose: boolean; kind: RunKind; keepGoing: boolean } {
  const out = { from: 0, seeds: 1000, verbose: false, kind: 'random' as RunKind, keepGoing: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer`);
      return v;
    };
    if (a === '--seed') {
      out.from = num();
      out.seeds = 1;
    } else if (a === '--seeds') out.seeds = num();
    else if (a === '--from') out.from = num();
    else if (a === '--verbose') out.verbose = true;
    else if (a === '--keep-going') out.keepGoing = true;
    else if (a === '--scenario') {
      const k = argv[++i];
      if (!(k in SCENARIOS)) throw new Error(`unknown scenario ${k}; known: ${Object.keys(SCENARIOS).join(', ')}`);
      out.kind = k as RunKind;
    } else throw new Error(`unknown argument ${a}`);
  }
  return out;
}

function main(): number {
  const args = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  let lastReport = t0;
  let steps = 0;
  let failed = 0;
  console.log(`soak: ${args.kind} seeds ${args.from}..${args.from + args.seeds - 1}`);
  for (let seed = args.from; seed < args.from + args.seeds; seed++) {
    // A scenario overrides some of these options (see scenarios.ts).
    if (args.verbose) console.log(`seed ${seed} (${args.kind}): base options ${JSON.stringify(optionsForSeed(seed))}`);
    const r = runOne(nodeCore, args.kind, seed, args.verbose ? (line) => console.log(line) : null);
    steps += r.steps;
    if (args.verbose || args.seeds === 1) {
      console.log(`seed ${seed}: ${r.ok ? 'ok' : 'FAILED'} hash=${r.hash} steps=${r.steps} ticks=${r.ticks} recovery=${r.recoveryTicks} ${JSON.stringify(r.stats)}`);
    }
    if (!r.ok) {
      failed++;
      console.error(describeFailure(args.kind, r));
      if (!args.keepGoing) break;
    }
    const now = performance.now();
    if (now - lastReport > 5000) {
      lastReport = now;
      const done = seed - args.from + 1;
      console.log(`  ${done}/${args.seeds} seeds, ${(done / ((now - t0) / 1000)).toFixed(0)} seeds/s, ${steps} steps, ${failed} failed`);
    }
  }
  const secs = (performance.now() - t0) / 1000;
  const done = args.seeds;
  console.log(`soak done: ${done} seeds in ${secs.toFixed(1)} s (${(done / secs).toFixed(0)} seeds/s), ${steps} steps, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

process.exitCode = main();
