/**
 * Every store mutant is killed by issue 22's wipe scenario, and the unmutated code passes it.
 */
import { describe, expect, it } from 'vitest';
import { judgeStoreMutant, STORE_MUTANTS } from './store-mutants.ts';

const SEEDS = [1, 2, 3];

describe('store mutation testing', () => {
  it('the unmutated store passes the wipe scenario', async () => {
    expect(await judgeStoreMutant(null, SEEDS)).toBe(null);
  }, 120_000);

  for (const m of STORE_MUTANTS) {
    it(`kills ${m.name}: ${m.description}`, async () => {
      const killedBy = await judgeStoreMutant(m, SEEDS);
      console.log(`store mutant ${m.name}: killed by ${killedBy}`);
      expect(killedBy, `store mutant ${m.name} survived seeds ${SEEDS.join(', ')}`).not.toBe(null);
    }, 120_000);
  }
});
