/**
 * The long fs crash test: `npm run soak:storage -- --kills 200 [--seed N] [--writers 4] [--engine lmdb]`. Prints
 * one line per round and a summary; exits non-zero on the first lost acknowledged batch.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { runCrashRounds } from './crash-harness.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const kills = arg('kills', 200);
const seed = arg('seed', Math.floor(Math.random() * 2 ** 31));
const writers = arg('writers', 4);
const ei = process.argv.indexOf('--engine');
const engine = ei >= 0 && process.argv[ei + 1] === 'lmdb' ? 'lmdb' : 'fs';
const dir = mkdtempSync(join(tmpdir(), 'flotilla-soak-'));
console.log(`storage soak (${engine}): ${kills} SIGKILLs, ${writers} writers, seed ${seed} (replay with --seed ${seed}), dir ${dir}`);
const started = performance.now();
try {
  const r = await runCrashRounds({ kills, seed, dir, writers, engine, log: (line) => console.log(line) });
  const s = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `storage soak passed: ${r.kills} kills (${r.killedBeforeOpen} during start-up), ${r.ackedBatches} acknowledged batches, ` +
      `all present after every restart; ${r.tornTailsDropped} torn tails dropped; ${s} s`,
  );
  rmSync(dir, { recursive: true, force: true });
} catch (e) {
  console.error(`storage soak FAILED: ${(e as Error).message}\n(directory kept: ${dir})`);
  process.exitCode = 1;
}
