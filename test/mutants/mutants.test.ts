/**
 * Every mutant of the core is killed by the transcripts or the simulation (a store mutant by the
 * kv simulation's stall seeds), on a small budget
 * (`npm run mutants` runs the full one and names the first killing seed of each).
 */
import { describe, expect, it } from 'vitest';
import { MUTANTS } from './mutants.ts';
import { judgeKv } from './kv-runner.ts';
import { judge } from './runner.ts';

const SEEDS = 100;
const SCENARIO_SEEDS = 20;

describe('mutation testing', () => {
  it('the unmutated core passes what the mutants are judged by', async () => {
    const v = await judge(null, SEEDS, SCENARIO_SEEDS);
    expect(v.killedBy).toBe(null);
    expect(v.transcriptKills).toEqual([]);
  }, 120_000);

  it('the unmutated store passes the kv stall seeds the store mutants are judged by', async () => {
    const v = await judgeKv(null);
    expect(v.killedBy).toBe(null);
  }, 120_000);

  for (const m of MUTANTS) {
    it(`kills ${m.name}: ${m.description}`, async () => {
      const v = m.judge === 'kv-stall' ? await judgeKv(m) : await judge(m, SEEDS, SCENARIO_SEEDS);
      console.log(`mutant ${m.name}: killed by ${v.killedBy}`);
      expect(v.killedBy, `mutant ${m.name} survived ${v.seedsRun} seeds and every transcript`).not.toBe(null);
    }, 120_000);
  }
});
