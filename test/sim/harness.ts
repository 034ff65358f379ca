/**
 * Runs ranges of seeds and summarises them; shared by the vitest files, the soak CLI, the Deno
 * entry point and the mutant runner. No test framework here.
 */
import type { SimCore } from './core.ts';
import { SCENARIOS } from './scenarios.ts';
import type { SimResult } from './simulation.ts';
import { runSeed } from './simulation.ts';

/** The kinds of runs: the randomized simulation, or one of the named scenarios. */
export type RunKind = 'random' | keyof typeof SCENARIOS;

export function runOne(core: SimCore, kind: RunKind, seed: number, trace: ((line: string) => void) | null = null): SimResult {
  return kind === 'random' ? runSeed(core, seed, trace) : SCENARIOS[kind](core, seed, trace);
}

export interface RangeSummary {
  kind: RunKind;
  from: number;
  count: number;
  steps: number;
  failures: SimResult[];
  /** Seed → trace hash. */
  hashes: Record<string, string>;
}

/** Runs seeds [from, from+count) of `kind`; `stopAtFirstFailure` for mutation testing. */
export function runRange(core: SimCore, kind: RunKind, from: number, count: number, stopAtFirstFailure = false): RangeSummary {
  const out: RangeSummary = { kind, from, count: 0, steps: 0, failures: [], hashes: {} };
  for (let seed = from; seed < from + count; seed++) {
    const r = runOne(core, kind, seed);
    out.count++;
    out.steps += r.steps;
    out.hashes[seed] = r.hash;
    if (!r.ok) {
      out.failures.push(r);
      if (stopAtFirstFailure) break;
    }
  }
  return out;
}

/** A failure as the tests and the CLI print it: the seed, what broke, and how to replay it. */
export function describeFailure(kind: RunKind, r: SimResult): string {
  const what = kind === 'random' ? 'simulation' : `scenario ${kind}`;
  return `${what} seed ${r.seed} failed: ${r.error}\n  replay: ${r.replay}`;
}
