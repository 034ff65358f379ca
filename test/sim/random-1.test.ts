/** Randomized simulation, seeds 500..999: one of four files, so that vitest runs them in parallel. */
import { describe, expect, it } from 'vitest';
import { seedSuite } from './suite.ts';
import { SEEDS_PER_FILE, SEEDS_PER_TEST } from './seeds.ts';

seedSuite({ describe, it, expect }, 1 * SEEDS_PER_FILE, SEEDS_PER_FILE, SEEDS_PER_TEST);
