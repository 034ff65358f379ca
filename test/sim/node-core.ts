/** The real core (`src/`), for the Node-side tests and the soak CLI. */
import * as raft from '../../src/raft/index.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import type { SimCore } from './core.ts';

export const nodeCore: SimCore = { ...raft, createSeededRand };
