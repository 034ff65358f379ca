/**
 * What the transcript environment needs from a Raft core. It is passed in rather than imported,
 * so that the same transcripts run against `src/raft` and against a mutated copy of it.
 *
 * Only types are imported here; they are erased, so nothing from `src/` is loaded by this file.
 */
import type * as RaftModule from '../../../src/raft/index.ts';
import type { createSeededRand } from '../../../src/util/rand.ts';

type Raft = typeof RaftModule;

/** The shape of `src/raft/index.ts` plus the seeded rand of `src/util/rand.ts`. */
export interface TranscriptCore {
  RawNode: Raft['RawNode'];
  MemoryRaftStorage: Raft['MemoryRaftStorage'];
  decodeConfChange: Raft['decodeConfChange'];
  describeConfChange: Raft['describeConfChange'];
  nextConfState: Raft['nextConfState'];
  describeConfig: Raft['describeConfig'];
  createSeededRand: typeof createSeededRand;
}

export type RawNode = InstanceType<Raft['RawNode']>;
export type MemoryRaftStorage = InstanceType<Raft['MemoryRaftStorage']>;
export type {
  ConfChange,
  ConfChangeSingle,
  ConfChangeTransition,
  ConfState,
  Entry,
  HardState,
  Message,
  RaftConfig,
  Ready,
  Snapshot,
} from '../../../src/raft/index.ts';
