/**
 * The store's small persistent records: a replica's apply state and region state, and the
 * envelope of a region's Raft snapshot. MessagePack on disk, validated with zod when loaded, so a
 * damaged record is refused with a clear error instead of reaching the core.
 */
import { z } from 'zod';
import { packOwned, unpackValue } from '../codec/msgpack.ts';
import type { ConfState } from '../raft/types.ts';
import type { Region } from '../region/types.ts';

/** Where applying stands, and where the log was last truncated. */
export interface ApplyState {
  /** Highest log index whose effects are in the engine (written atomically with them). */
  applied: number;
  /** Entries up to here were dropped from the log. Invariant: truncatedIndex <= applied. */
  truncatedIndex: number;
  truncatedTerm: number;
  /** Membership as of `truncatedIndex` (the core replays configuration entries after it). */
  truncatedConfState: ConfState;
  /** Membership as of `applied` (what a snapshot taken now carries). */
  appliedConfState: ConfState;
  /** The largest region time of any applied command: a new leader's clock never runs behind it. */
  nowMs: number;
}

/** A replica's view of its region. `tombstone`: the replica was removed or merged away. */
export interface RegionState {
  region: Region;
  /** This store's peer id in the region. */
  peerId: number;
  state: 'normal' | 'tombstone';
  /** Set on the source of a merge once its PrepareMerge applied: it refuses requests until absorbed. */
  merging?: MergeState;
  /** Regions this one absorbed by merges (directly or through them), most recent last; bounded. */
  absorbed?: number[];
}

/** A merge source's frozen state. */
export interface MergeState {
  targetId: number;
  /** Log index and term of the PrepareMerge entry; target replicas wait for their source replica to apply it. */
  prepareIndex: number;
  prepareTerm: number;
}

const u = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const pos = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const ids = z.array(pos).max(1024);
const bytes = z.instanceof(Uint8Array);

const confStateSchema = z.object({
  voters: ids,
  learners: ids,
  votersOutgoing: ids,
  learnersNext: ids,
  autoLeave: z.boolean(),
});

const applyStateSchema = z.object({
  applied: u,
  truncatedIndex: u,
  truncatedTerm: u,
  truncatedConfState: confStateSchema,
  appliedConfState: confStateSchema,
  nowMs: u,
});

/** The zod schema of a Region (also used by the wire and the client). */
export const regionSchema = z.object({
  id: pos,
  startKey: bytes,
  endKey: bytes,
  epoch: z.object({ confVer: pos, version: pos }),
  peers: z.array(z.object({ id: pos, storeId: pos, role: z.enum(['voter', 'learner']) })).max(64),
});

const regionStateSchema = z.object({
  region: regionSchema,
  peerId: pos,
  state: z.enum(['normal', 'tombstone']),
  merging: z.object({ targetId: pos, prepareIndex: pos, prepareTerm: pos }).optional(),
  absorbed: z.array(pos).max(64).optional(),
});

function decodeWith<T>(schema: z.ZodType<T>, b: Uint8Array, what: string): T {
  let raw: unknown;
  try {
    raw = unpackValue(b);
  } catch (e) {
    throw new Error(`${what} record is not valid MessagePack: ${(e as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error(`${what} record is malformed: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/** Encodes an apply state. */
export function encodeApplyState(a: ApplyState): Uint8Array {
  return packOwned(a);
}

/** Decodes and validates an apply state; throws naming what is wrong. */
export function decodeApplyState(b: Uint8Array): ApplyState {
  const a = decodeWith(applyStateSchema, b, 'apply state');
  if (a.truncatedIndex > a.applied) throw new Error(`apply state: truncated index ${a.truncatedIndex} is beyond applied ${a.applied}`);
  return a;
}

/** Encodes a region state. */
export function encodeRegionState(r: RegionState): Uint8Array {
  return packOwned(r);
}

/** Decodes and validates a region state; throws naming what is wrong. */
export function decodeRegionState(b: Uint8Array): RegionState {
  return decodeWith(regionStateSchema, b, 'region state') as RegionState;
}

/** What a region's Raft snapshot carries besides its key/value pairs. */
export interface SnapshotEnvelope {
  region: Region;
  /** The bytes of `snapshotRegion` (data, sequences, locks and sessions of the range). */
  kv: Uint8Array;
  /** The region time of the snapshot's last applied command. */
  nowMs: number;
  /** Set when the region is a prepared merge source: the replica installing it is frozen too. */
  merging?: MergeState;
  /** The regions it absorbed (see {@link RegionState.absorbed}). */
  absorbed?: number[];
}

const envelopeSchema = z.object({ region: regionSchema, kv: bytes, nowMs: u, merging: z.object({ targetId: pos, prepareIndex: pos, prepareTerm: pos }).optional(), absorbed: z.array(pos).max(64).optional() });

/** Encodes the data of a region's Raft snapshot. */
export function encodeSnapshotEnvelope(s: SnapshotEnvelope): Uint8Array {
  return packOwned(s);
}

/** Decodes and validates the data of a region's Raft snapshot; throws naming what is wrong. */
export function decodeSnapshotEnvelope(b: Uint8Array): SnapshotEnvelope {
  return decodeWith(envelopeSchema, b, 'region snapshot') as SnapshotEnvelope;
}
