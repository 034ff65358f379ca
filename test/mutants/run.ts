/**
 * Mutation testing of the tests: applies each mutant of `mutants.ts` to a copy of `src/` in a
 * temporary folder (the working tree is never touched), loads the copy by dynamic import, and
 * runs the transcripts and the simulation against it. A mutant is killed when a transcript
 * differs or a seed breaks an invariant; the first killing seed is reported with its replay.
 *
 *   npm run mutants                       # every mutant, the same seeds as npm test
 *   npm run mutants -- --only confchange-on-commit --seeds 500
 *
 * Exits non-zero if any mutant survives, or if a patch no longer applies exactly once.
 */
import { SCENARIO_SEEDS, SEEDS_PER_FILE } from '../sim/seeds.ts';
import { MUTANTS } from './mutants.ts';
import { judgeKv } from './kv-runner.ts';
import { judge } from './runner.ts';

function parseArgs(argv: string[]): { seeds: number; scenarioSeeds: number; only: string[] } {
  const out = { seeds: 4 * SEEDS_PER_FILE, scenarioSeeds: SCENARIO_SEEDS, only: [] as string[] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--seeds') out.seeds = Number(argv[++i]);
    else if (argv[i] === '--scenario-seeds') out.scenarioSeeds = Number(argv[++i]);
    else if (argv[i] === '--only') out.only.push(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return out;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const chosen = args.only.length > 0 ? MUTANTS.filter((m) => args.only.includes(m.name)) : MUTANTS;
  if (chosen.length === 0) throw new Error(`no mutant named ${args.only.join(', ')}`);
  console.log(`mutants: ${chosen.length}, simulation seeds per mutant ≤ ${args.seeds} random + ${args.scenarioSeeds} per scenario`);
  // The unmutated copy must pass everything, or a "kill" would mean nothing.
  const base = await judge(null, args.seeds, args.scenarioSeeds);
  if (base.killedBy || base.transcriptKills.length > 0) {
    console.error(`the unmutated core fails: ${base.killedBy ?? base.transcriptKills.join(', ')}`);
    return 1;
  }
  console.log(`baseline (no mutation): passes ${base.seedsRun} seeds and every transcript (${(base.ms / 1000).toFixed(1)} s)`);
  if (chosen.some((m) => m.judge === 'kv-stall')) {
    const kvBase = await judgeKv(null);
    if (kvBase.killedBy) {
      console.error(`the unmutated store fails: ${kvBase.killedBy}`);
      return 1;
    }
    console.log(`baseline (no mutation): the store passes ${kvBase.seedsRun} kv stall seeds (${(kvBase.ms / 1000).toFixed(1)} s)`);
  }
  let survivors = 0;
  for (const m of chosen) {
    const v = m.judge === 'kv-stall' ? await judgeKv(m) : await judge(m, args.seeds, args.scenarioSeeds);
    const transcripts = v.transcriptKills.length > 0 ? `${v.transcriptKills.length} transcript(s) fail, first ${v.transcriptKills[0]}` : 'no transcript fails';
    if (v.killedBy) console.log(`KILLED   ${m.name} by ${v.killedBy}\n         ${transcripts}; ${(v.ms / 1000).toFixed(1)} s`);
    else {
      survivors++;
      console.log(`SURVIVED ${m.name} — ${m.description} (${v.seedsRun} seeds, ${transcripts})`);
    }
  }
  console.log(`${chosen.length - survivors} of ${chosen.length} mutants killed${survivors > 0 ? `, ${survivors} survived` : ''}`);
  return survivors > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exitCode = 2;
  },
);
