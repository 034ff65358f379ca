/** How `npm test` splits its seeds across files, so that vitest can run them in parallel. */

/** Seeds of the randomized simulation per test file; four files give 2,000 seeds. */
export const SEEDS_PER_FILE = 500;
/** Seeds per `it` within a file, so a failure names a small range (and the failing seed). */
export const SEEDS_PER_TEST = 50;
/** Seeds of each targeted scenario in `npm test`. */
export const SCENARIO_SEEDS = 200;
