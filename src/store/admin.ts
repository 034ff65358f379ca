/**
 * Admin commands: changes to a region's shape that go through its Raft log like writes, so that
 * every replica applies them at the same point in the sequence of commands (RheaKV's RangeSplit,
 * TiKV's AdminCmd). Each carries the epoch it was decided on; a replica applying it under another
 * epoch skips it (the region changed since, and the decision no longer holds).
 */
import { z } from 'zod';
import { packValue, unpackValue } from '../codec/msgpack.ts';
import { CorruptCommandError } from '../errors.ts';
import type { RegionEpoch } from '../region/types.ts';

/** Cut the region at `splitKey`: the parent keeps `[start, splitKey)`, the child takes `[splitKey, end)`. */
export interface SplitCommand {
  type: 'split';
  epoch: RegionEpoch;
  splitKey: Uint8Array;
  /** The child region's id. */
  newRegionId: number;
  /** One fresh peer id per parent peer, in the order of the parent's `peers`. */
  newPeerIds: number[];
}

/** Freeze the source region of a merge: it refuses writes from now on and waits to be absorbed. */
export interface PrepareMergeCommand {
  type: 'prepareMerge';
  epoch: RegionEpoch;
  targetId: number;
}

/** Absorb the (prepared) source region into this one. */
export interface CommitMergeCommand {
  type: 'commitMerge';
  epoch: RegionEpoch;
  sourceId: number;
  /** The source's epoch after its PrepareMerge, and the log index and term of that entry. */
  sourceEpoch: RegionEpoch;
  sourcePrepareIndex: number;
  sourcePrepareTerm: number;
}

/**
 * Hash the region's state on every replica at the index where this entry applies (TiKV's
 * ComputeHash): being in the log, every replica hashes the same state, whatever it lags. Each
 * replica reports `{checkId, index, hash}` to `reportTo`, the store that proposed it.
 */
export interface ComputeHashCommand {
  type: 'computeHash';
  /** The store that proposed the check and collects the replicas' hashes. */
  reportTo: number;
  /** Tells this check's reports from those of other checks. */
  checkId: number;
}

/**
 * A backup's fence (`backup-fence.ts`): the replica that applies it stops applying at its index
 * until the backup thaws it, or until `leaseMs` of its own clock passed.
 */
export interface BackupFenceCommand {
  type: 'backupFence';
  epoch: RegionEpoch;
  backupId: string;
  leaseMs: number;
}

export type AdminCommand = SplitCommand | PrepareMergeCommand | CommitMergeCommand | ComputeHashCommand | BackupFenceCommand;

const pos = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const epoch = z.object({ confVer: pos, version: pos });
const schema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('split'), epoch, splitKey: z.instanceof(Uint8Array), newRegionId: pos, newPeerIds: z.array(pos).min(1).max(64) }),
  z.object({ type: z.literal('prepareMerge'), epoch, targetId: pos }),
  z.object({ type: z.literal('commitMerge'), epoch, sourceId: pos, sourceEpoch: epoch, sourcePrepareIndex: pos, sourcePrepareTerm: pos }),
  z.object({ type: z.literal('computeHash'), reportTo: pos, checkId: pos }),
  z.object({ type: z.literal('backupFence'), epoch, backupId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), leaseMs: pos.max(600_000) }),
]);

/** Encodes an admin command for a log entry (the caller adds the admin tag). */
export function encodeAdminCommand(cmd: AdminCommand): Uint8Array {
  return packValue(cmd).slice();
}

/** Decodes and validates an admin command; throws {@link CorruptCommandError} for anything else. */
export function decodeAdminCommand(bytes: Uint8Array): AdminCommand {
  let raw: unknown;
  try {
    raw = unpackValue(bytes);
  } catch (e) {
    throw new CorruptCommandError(`admin command is not MessagePack: ${(e as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new CorruptCommandError(`admin command is malformed: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data as AdminCommand;
}

/** A 52-bit random id (region or peer ids without a placement driver: collisions are negligible). */
export function randomId(rand: { int(n: number): number }): number {
  return rand.int(2 ** 26) * 2 ** 26 + rand.int(2 ** 26) + 1;
}
