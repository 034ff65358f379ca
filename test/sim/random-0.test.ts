/** Randomized simulation, seeds 0..499: one of four files, so that vitest runs them in parallel. */
import { describe, expect, it } from 'vitest';
import { seedSuite } from './suite.ts';
import { SEEDS_PER_FILE, SEEDS_PER_TEST } from './seeds.ts';

seedSuite({ describe, it, expect }, 0 * SEEDS_PER_FILE, SEEDS_PER_FILE, SEEDS_PER_TEST);
