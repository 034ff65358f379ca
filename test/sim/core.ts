/**
 * The Raft core as the simulator sees it: the shape of `src/raft/index.ts` plus the seeded rand
 * of `src/util/rand.ts` — what the transcript runner takes, and a little more. The simulator
 * takes it as a parameter instead of importing it, so the same seeds run against `src/`, against
 * a mutated copy of it, and under Deno.
 *
 * Only types are imported here; they are erased, so this file loads nothing from `src/`.
 */
import type * as RaftModule from '../../src/raft/index.ts';
import type { TranscriptCore } from '../raft/transcript/core.ts';

type Raft = typeof RaftModule;

export interface SimCore extends TranscriptCore {
  RaftError: Raft['RaftError'];
  encodeConfChange: Raft['encodeConfChange'];
}

export type { ConfChange, ConfChangeSingle, ConfState, Entry, MemoryRaftStorage, Message, RawNode, Ready, Snapshot } from '../raft/transcript/core.ts';

/**
 * Loads a core from a source tree laid out like `src/` (the real one or a mutated copy):
 * `<srcDir>/raft/index.ts` and `<srcDir>/util/rand.ts`, by file URL.
 */
export async function loadCore(srcDirUrl: URL): Promise<SimCore> {
  const raft = (await import(new URL('raft/index.ts', srcDirUrl).href)) as Raft;
  const rand = (await import(new URL('util/rand.ts', srcDirUrl).href)) as Pick<SimCore, 'createSeededRand'>;
  return { ...raft, createSeededRand: rand.createSeededRand };
}
