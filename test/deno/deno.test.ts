/**
 * The core's tests under Deno (the `deno` npm package): `core.ts` runs the simulation seeds and
 * the transcripts there; this test checks that everything passed and that every seed's trace
 * hash equals the one Node computes — the same seed gives the same run in both runtimes.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { nodeCore } from '../sim/node-core.ts';
import type { RuntimeSummary } from './core.ts';
import { runCoreSuite } from './core.ts';

const root = join(import.meta.dirname, '..', '..');
const SEEDS = 300;
const SCENARIO_SEEDS = 50;

describe('the Raft core under Deno', () => {
  it(`passes ${SEEDS} simulation seeds, ${SCENARIO_SEEDS} of each scenario and every transcript, with the same trace hashes as Node`, async () => {
    const deno = join(root, 'node_modules', '.bin', 'deno');
    const args = ['run', '-A', '--quiet', join(root, 'test', 'deno', 'core.ts'), '--seeds', String(SEEDS), '--scenario-seeds', String(SCENARIO_SEEDS)];
    // Run Deno and Node side by side: the Node half runs in this process while Deno works.
    const pending = promisify(execFile)(deno, args, { cwd: root, maxBuffer: 64 * 1024 * 1024 });
    const inNode = runCoreSuite(nodeCore, SEEDS, SCENARIO_SEEDS);
    const { stdout } = await pending;
    const inDeno = JSON.parse(stdout.trim().split('\n').pop()!) as RuntimeSummary;
    expect(inDeno.runtime).toBe('deno');
    const failures = inDeno.simulation.flatMap((s) => s.failures);
    expect(failures, 'simulation failures under Deno').toEqual([]);
    expect(inDeno.transcripts.failed, 'transcripts failing under Deno').toEqual([]);
    expect(inDeno.transcripts.count).toBe(inNode.transcripts.count);
    expect(inDeno.ok).toBe(true);
    expect(inNode.ok).toBe(true);
    for (const [i, s] of inDeno.simulation.entries()) {
      const n = inNode.simulation[i];
      expect(s.kind).toBe(n.kind);
      expect(s.count).toBe(n.kind === 'random' ? SEEDS : SCENARIO_SEEDS);
      expect(s.steps, `${s.kind}: steps differ between Deno and Node`).toBe(n.steps);
      expect(s.hashes, `${s.kind}: trace hashes differ between Deno and Node`).toEqual(n.hashes);
    }
    const seeds = inDeno.simulation.reduce((a, s) => a + s.count, 0);
    console.log(`deno: ${seeds} seeds and ${inDeno.transcripts.count} transcripts passed; trace hashes equal to Node's`);
  }, 240_000);
});
