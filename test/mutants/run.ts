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
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { listTranscripts, runTranscriptPath } from '../raft/transcript/files.ts';
import type { SimCore } from '../sim/core.ts';
import { loadCore } from '../sim/core.ts';
import { runOne } from '../sim/harness.ts';
import { SCENARIOS } from '../sim/scenarios.ts';
import { SCENARIO_SEEDS, SEEDS_PER_FILE } from '../sim/seeds.ts';
import type { Mutant } from './mutants.ts';
import { MUTANTS } from './mutants.ts';

const SRC_DIR = fileURLToPath(new URL('../../src/', import.meta.url));

interface Verdict {
  mutant: string;
  killedBy: string | null;
  /** Transcripts that fail against the mutant (they run in full: they are cheap). */
  transcriptKills: string[];
  seedsRun: number;
  ms: number;
}

/** Copies `src/` and applies the patches; throws if a search string is not found exactly once. */
function materialize(m: Mutant | null): { dir: string; srcUrl: URL } {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-mutant-'));
  cpSync(SRC_DIR, join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const p of m?.patches ?? []) {
    const path = join(dir, 'src', p.file);
    const text = readFileSync(path, 'utf8');
    const count = text.split(p.search).length - 1;
    if (count !== 1) throw new Error(`mutant ${m!.name}: search string found ${count} times in src/${p.file} (expected once): ${JSON.stringify(p.search)}`);
    writeFileSync(path, text.replace(p.search, () => p.replace));
  }
  return { dir, srcUrl: pathToFileURL(join(dir, 'src') + '/') };
}

function transcriptFailures(core: SimCore): string[] {
  if (!existsSync(fileURLToPath(new URL('../raft/testdata/', import.meta.url)))) return [];
  const out: string[] = [];
  for (const path of listTranscripts()) {
    let ok: boolean;
    try {
      ok = runTranscriptPath(path, core).ok;
    } catch {
      ok = false;
    }
    if (!ok) out.push(path.split('/').pop()!);
  }
  return out;
}

/** The simulation, in the order that finds most mutants soonest: random seeds, then scenarios. */
function firstSimulationKill(core: SimCore, seeds: number, scenarioSeeds: number): { killedBy: string | null; run: number } {
  let run = 0;
  for (let seed = 0; seed < seeds; seed++) {
    run++;
    const r = runOne(core, 'random', seed);
    if (!r.ok) return { killedBy: `simulation seed ${seed} (${r.replay}): ${r.error!.split('\n')[0]}`, run };
  }
  for (const kind of Object.keys(SCENARIOS) as Array<keyof typeof SCENARIOS>) {
    for (let seed = 0; seed < scenarioSeeds; seed++) {
      run++;
      const r = runOne(core, kind, seed);
      if (!r.ok) return { killedBy: `${kind} scenario seed ${seed} (${r.replay}): ${r.error!.split('\n')[0]}`, run };
    }
  }
  return { killedBy: null, run };
}

async function judge(m: Mutant | null, seeds: number, scenarioSeeds: number): Promise<Verdict> {
  const t0 = performance.now();
  const { dir, srcUrl } = materialize(m);
  try {
    const core = await loadCore(srcUrl);
    const transcriptKills = transcriptFailures(core);
    const sim = firstSimulationKill(core, seeds, scenarioSeeds);
    const killedBy = sim.killedBy ?? (transcriptKills.length > 0 ? `transcript ${transcriptKills[0]}` : null);
    return { mutant: m?.name ?? '(none)', killedBy, transcriptKills, seedsRun: sim.run, ms: performance.now() - t0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

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
  let survivors = 0;
  for (const m of chosen) {
    const v = await judge(m, args.seeds, args.scenarioSeeds);
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
