/**
 * Every mutant of the core is killed by the transcripts or the simulation, on a small budget
 * (`npm run mutants` runs the full one and names the first killing seed of each).
 */
import { describe, expect, it } from 'vitest';
import { MUTANTS } from './mutants.ts';
import { judge } from './runner.ts';

const SEEDS = 100;
const SCENARIO_SEEDS = 20;

describe('mutation testing', () => {
  it('the unmutated core passes what the mutants are judged by', async () => {
    const v = await judge(null, SEEDS, SCENARIO_SEEDS);
    expect(v.killedBy).toBe(null);
    expect(v.transcriptKills).toEqual([]);
  }, 120_000);

  for (const m of MUTANTS) {
    it(`kills ${m.name}: ${m.description}`, async () => {
      const v = await judge(m, SEEDS, SCENARIO_SEEDS);
      console.log(`mutant ${m.name}: killed by ${v.killedBy}`);
      expect(v.killedBy, `mutant ${m.name} survived ${v.seedsRun} seeds and every transcript`).not.toBe(null);
    }, 120_000);
  }
});
