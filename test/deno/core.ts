/**
 * The Raft core's tests under Deno: the deterministic simulation over a range of seeds (random
 * runs and the targeted scenarios) and every transcript, against `src/` as Deno loads it.
 * Prints one JSON line: what passed, and the trace hash of every seed, which the vitest side
 * (`deno.test.ts`) compares with the hashes Node computes for the same seeds.
 *
 *   npx deno run -A test/deno/core.ts [--seeds 300] [--scenario-seeds 50]
 *
 * Runs unchanged under Node (`npx tsx test/deno/core.ts`) too; exits non-zero on any failure.
 */
import { basename } from 'node:path';
import process from 'node:process';
import * as raft from '../../src/raft/index.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { listTranscripts, runTranscriptPath } from '../raft/transcript/files.ts';
import type { SimCore } from '../sim/core.ts';
import type { RunKind } from '../sim/harness.ts';
import { describeFailure, runRange } from '../sim/harness.ts';

export interface RuntimeSummary {
  runtime: string;
  ok: boolean;
  simulation: Array<{ kind: RunKind; from: number; count: number; steps: number; failures: string[]; hashes: Record<string, string> }>;
  transcripts: { count: number; failed: string[] };
}

/** Runs the seeds and the transcripts; the caller prints or compares. */
export function runCoreSuite(core: SimCore, seeds: number, scenarioSeeds: number): RuntimeSummary {
  const simulation = (
    [
      ['random', seeds],
      ['prevote', scenarioSeeds],
      ['lease', scenarioSeeds],
      ['churn', scenarioSeeds],
      ['figure8', scenarioSeeds],
    ] as const
  ).map(([kind, count]) => {
    const s = runRange(core, kind, 0, count);
    return { kind, from: 0, count: s.count, steps: s.steps, failures: s.failures.map((r) => describeFailure(kind, r)), hashes: s.hashes };
  });
  const files = listTranscripts();
  const failed = files.filter((f) => !runTranscriptPath(f, core).ok).map((f) => basename(f));
  const runtime = 'Deno' in globalThis ? 'deno' : 'node';
  const ok = simulation.every((s) => s.failures.length === 0) && failed.length === 0 && files.length > 0;
  return { runtime, ok, simulation, transcripts: { count: files.length, failed } };
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

// Run when started as the main script (Deno or tsx), not when imported by a test.
if (/test[/\\]deno[/\\]core\.ts$/.test(process.argv[1] ?? '')) {
  const summary = runCoreSuite({ ...raft, createSeededRand }, arg('--seeds', 300), arg('--scenario-seeds', 50));
  console.log(JSON.stringify(summary));
  process.exitCode = summary.ok ? 0 : 1;
}
