/**
 * The vitest side of the randomized seeds, kept apart from `harness.ts` so that the harness
 * loads no core of its own (Deno and the mutant runner pass theirs). The test framework's
 * functions are passed in: only `*.test.ts` files import vitest.
 */
import { describeFailure, runRange } from './harness.ts';
import { nodeCore } from './node-core.ts';

/** The few test-framework functions {@link seedSuite} needs (passed in: this file imports no framework). */
export interface TestApi {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => void): void;
  expect(actual: unknown): { toEqual(expected: unknown): void };
}

/**
 * Declares the tests of one file's share of the randomized seeds: `seedsPerTest` seeds per test,
 * each test printing its range and failing with the seed and the command that replays it.
 */
export function seedSuite(t: TestApi, first: number, count: number, seedsPerTest: number): void {
  t.describe('deterministic simulation', () => {
    for (let from = first; from < first + count; from += seedsPerTest) {
      t.it(`seeds ${from}..${from + seedsPerTest - 1} keep every invariant and recover after the heal`, () => {
        const s = runRange(nodeCore, 'random', from, seedsPerTest);
        console.log(`simulation seeds ${from}..${from + s.count - 1}: ${s.count - s.failures.length}/${s.count} passed, ${s.steps} steps`);
        t.expect(s.failures.map((r) => describeFailure('random', r))).toEqual([]);
        t.expect(s.count).toEqual(seedsPerTest);
      });
    }
  });
}
