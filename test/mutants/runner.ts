/**
 * The mutation tester's engine: materialises a mutant as a patched copy of `src/` in a temporary
 * folder (the working tree is never touched), loads it by dynamic import, and judges it with the
 * transcripts and the simulation. Used by the CLI (`run.ts`) and by `mutants.test.ts`.
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
import type { Mutant } from './mutants.ts';

const SRC_DIR = fileURLToPath(new URL('../../src/', import.meta.url));

export interface Verdict {
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
  applyPatches(dir, m);
  return { dir, srcUrl: pathToFileURL(join(dir, 'src') + '/') };
}

/** Applies a mutant's patches to the copy of `src/` in `dir`; throws if a search string is not found exactly once. */
export function applyPatches(dir: string, m: Mutant | null): void {
  for (const p of m?.patches ?? []) {
    const path = join(dir, 'src', p.file);
    const text = readFileSync(path, 'utf8');
    const count = text.split(p.search).length - 1;
    if (count !== 1) throw new Error(`mutant ${m!.name}: search string found ${count} times in src/${p.file} (expected once): ${JSON.stringify(p.search)}`);
    writeFileSync(path, text.replace(p.search, () => p.replace));
  }
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

/** The simulation, in the order that finds most mutants soonest: the (cheap) scenarios, then random seeds. */
function firstSimulationKill(core: SimCore, seeds: number, scenarioSeeds: number): { killedBy: string | null; run: number } {
  let run = 0;
  for (const kind of Object.keys(SCENARIOS) as Array<keyof typeof SCENARIOS>) {
    for (let seed = 0; seed < scenarioSeeds; seed++) {
      run++;
      const r = runOne(core, kind, seed);
      if (!r.ok) return { killedBy: `${kind} scenario seed ${seed} (${r.replay}): ${r.error!.split('\n')[0]}`, run };
    }
  }
  for (let seed = 0; seed < seeds; seed++) {
    run++;
    const r = runOne(core, 'random', seed);
    if (!r.ok) return { killedBy: `simulation seed ${seed} (${r.replay}): ${r.error!.split('\n')[0]}`, run };
  }
  return { killedBy: null, run };
}

/** Judges one mutant (`null`: the unmutated copy) with up to `seeds` random seeds and `scenarioSeeds` per scenario. */
export async function judge(m: Mutant | null, seeds: number, scenarioSeeds: number): Promise<Verdict> {
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

