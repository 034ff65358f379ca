/**
 * The mutation tester's second judge, for mutants of the store driver rather than the Raft core:
 * the kv simulation with stalled stores (test/kvsim/stall.ts). It copies `src/`, `adapters/` and
 * the simulation's files into `tmp/` under the project (ignored by git, outside what tsc and biome
 * check; inside the project, so that the copies resolve the project's packages), applies the
 * patches there, loads the copied simulation by dynamic import and runs the stall regression
 * seeds. The working tree is never touched.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { runKvSimulation } from '../kvsim/kv-simulation.ts';
import type { Mutant } from './mutants.ts';
import { applyPatches, type Verdict } from './runner.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What the simulation loads besides `src/` and `adapters/`. */
// The whole simulation directory, so a new fault file beside kv-simulation.ts is copied too.
const TEST_FILES = ['test/kvsim', 'test/store/helpers.ts'];
/** The stall seeds that served stale lease reads before issue 21's fix (test/kvsim/seeds-stall.test.ts). */
export const STALL_SEEDS: readonly number[] = [4, 12, 15, 16, 18, 22, 23, 31];

function materialize(m: Mutant | null): string {
  mkdirSync(join(ROOT, 'tmp'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, 'tmp', 'mutant-kv-'));
  cpSync(join(ROOT, 'src'), join(dir, 'src'), { recursive: true });
  cpSync(join(ROOT, 'adapters'), join(dir, 'adapters'), { recursive: true });
  for (const f of TEST_FILES) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  applyPatches(dir, m);
  return dir;
}

/** Judges one mutant (`null`: the unmutated copy) with the stall seeds, up to the first that fails. */
export async function judgeKv(m: Mutant | null, seeds: readonly number[] = STALL_SEEDS): Promise<Verdict> {
  const t0 = performance.now();
  const dir = materialize(m);
  try {
    const sim = (await import(pathToFileURL(join(dir, 'test/kvsim/kv-simulation.ts')).href)) as { runKvSimulation: typeof runKvSimulation };
    let run = 0;
    for (const seed of seeds) {
      run++;
      const r = await sim.runKvSimulation({ seed, stall: true });
      if (!r.ok) {
        const killedBy = `kv stall seed ${seed} (npm run soak:kv -- --seed ${seed} --stall): ${r.failures[0].split('\n')[0]}`;
        return { mutant: m?.name ?? '(none)', killedBy, transcriptKills: [], seedsRun: run, ms: performance.now() - t0 };
      }
    }
    return { mutant: m?.name ?? '(none)', killedBy: null, transcriptKills: [], seedsRun: run, ms: performance.now() - t0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
