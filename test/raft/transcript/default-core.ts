/**
 * The real core, for callers that do not inject one (the vitest suite, the CLI by default).
 * Kept apart from the runner so that a mutation tester can load the runner without `src/raft`.
 */
import * as raft from '../../../src/raft/index.ts';
import { createSeededRand } from '../../../src/util/rand.ts';
import type { TranscriptCore } from './core.ts';

export const defaultCore: TranscriptCore = { ...raft, createSeededRand };
