/**
 * The Raft consensus core: a pure, deterministic state machine per replica.
 * See `rawnode.ts` for how a driver uses it.
 */
export type { RaftConfig, ReadOnlyOption } from './config.ts';
export { applyConfChange, decodeConfChange, describeConfChange, encodeConfChange, nextConfState } from './confchange.ts';
export * from './errors.ts';
export type { ProgressStatus, RaftStatus, ReadMode } from './rawnode.ts';
export { RawNode } from './rawnode.ts';
export type { RaftStorage } from './storage.ts';
export { entrySize, MemoryRaftStorage } from './storage.ts';
export type { TrackerConfig } from './tracker.ts';
export { describeConfig } from './tracker.ts';
export * from './types.ts';
