/**
 * Region snapshots as Raft sees them. A region's state is its live key ranges in the shared
 * engine, so a snapshot is built when one must be sent (TiKV generates them on demand too): from a
 * consistent engine view at the replica's applied index, with the region's metadata.
 *
 * Two forms: streamed (regions between stores with a snapshot link, `snapshot-stream.ts`: the
 * `MsgSnap` carries a descriptor of pairs already staged on the receiver, installed in bounded
 * batches) and whole (PD's group, and stores without a link: the pairs inside `MsgSnap`,
 * installed in one atomic batch).
 */
import type { StorageEngine, WriteOp } from '../ports.ts';
import { regionRanges } from '../kv/keys.ts';
import { restoreRegion, snapshotRegion } from '../kv/snapshot.ts';
import { decodeDescriptor, encodeDescriptor, type StreamDescriptor } from './snapshot-stream.ts';
import type { Snapshot } from '../raft/types.ts';
import type { ApplyState, RegionState, SnapshotEnvelope } from './records.ts';
import { decodeSnapshotEnvelope, encodeRegionState, encodeSnapshotEnvelope } from './records.ts';
import { PD_GROUP_ID, restorePdState, snapshotPdState } from './pd-state.ts';
import type { RegionPeer } from './region-peer.ts';
import { regionStateKey } from './raft-keys.ts';
import { cloneRegion as cloneRegionDeep } from '../region/types.ts';

/**
 * Builds the snapshot a leader sends for `peer`'s region: every pair of its ranges at the applied
 * index, which becomes the snapshot's index. Call it between loop turns' apply phases, so that the
 * engine holds exactly what `applied` says.
 */
export async function buildRegionSnapshot(engine: StorageEngine, peer: RegionPeer): Promise<Snapshot> {
  const view = await engine.snapshot();
  try {
    const a = peer.storage.applyState;
    const kv = peer.regionId === PD_GROUP_ID ? await snapshotPdState(view) : await snapshotRegion(view, peer.region);
    return {
      metadata: { index: a.applied, term: peer.storage.term(a.applied), confState: a.appliedConfState },
      data: encodeSnapshotEnvelope({ region: peer.region, kv, nowMs: a.nowMs, ...(peer.merging ? { merging: peer.merging } : {}), absorbed: peer.absorbedIds }),
    };
  } finally {
    view.release();
  }
}

/** A snapshot of a region at its applied index without its pairs: what a stream's `MsgSnap` will carry. */
export interface SnapshotHead {
  metadata: Snapshot['metadata'];
  envelope: Omit<SnapshotEnvelope, 'kv'>;
}

/** The head of a snapshot of `peer`'s region now (take the engine view in the same turn). */
export function snapshotHead(peer: RegionPeer): SnapshotHead {
  const a = peer.storage.applyState;
  return {
    metadata: { index: a.applied, term: peer.storage.term(a.applied), confState: a.appliedConfState },
    envelope: { region: cloneRegionDeep(peer.region), nowMs: a.nowMs, ...(peer.merging ? { merging: peer.merging } : {}), absorbed: [...peer.absorbedIds] },
  };
}

/** The Raft snapshot of a completed stream: its head with the stream's descriptor as the data. */
export function streamedSnapshot(head: SnapshotHead, d: StreamDescriptor): Snapshot {
  return { metadata: head.metadata, data: encodeSnapshotEnvelope({ ...head.envelope, kv: encodeDescriptor(d) }) };
}

/** What installing a received snapshot will set, once its write batch is durable. */
export interface SnapshotInstall {
  applyState: ApplyState;
  /** `applying` for a streamed snapshot until its staged pairs are moved into place. */
  regionState: RegionState;
  /** Set for a streamed snapshot: its pairs are staged, not in the batch. */
  streamed?: StreamDescriptor;
}

/**
 * Adds to `ops` everything that replaces `peer`'s state by `snap`: the KV ranges, the log, the
 * apply state and the region state. Throws a typed error if the snapshot's data is corrupt or
 * names another region (nothing is staged then).
 */
export function stageSnapshotInstall(peer: RegionPeer, snap: Snapshot, ops: WriteOp[]): SnapshotInstall {
  const envelope = decodeSnapshotEnvelope(snap.data);
  if (envelope.region.id !== peer.regionId) {
    throw new Error(`snapshot for region ${envelope.region.id} sent to a replica of region ${peer.regionId}`);
  }
  const streamed = peer.regionId === PD_GROUP_ID ? undefined : decodeDescriptor(envelope.kv);
  // A streamed snapshot's batch only clears the region's ranges: the pairs move in afterwards.
  const restoreOps: WriteOp[] = streamed
    ? regionRanges(envelope.region).map((r): WriteOp => ({ type: 'deleteRange', start: r.start, end: r.end }))
    : peer.regionId === PD_GROUP_ID
      ? restorePdState(envelope.kv)
      : restoreRegion(envelope.kv).batches.flat();
  const applyState: ApplyState = {
    applied: snap.metadata.index,
    truncatedIndex: snap.metadata.index,
    truncatedTerm: snap.metadata.term,
    truncatedConfState: snap.metadata.confState,
    appliedConfState: snap.metadata.confState,
    nowMs: Math.max(envelope.nowMs, peer.storage.applyState.nowMs),
  };
  const regionState: RegionState = { region: envelope.region, peerId: peer.peerId, state: streamed ? 'applying' : 'normal' };
  if (envelope.merging) regionState.merging = envelope.merging;
  if (envelope.absorbed) regionState.absorbed = envelope.absorbed;
  const staged: WriteOp[] = [];
  for (const op of restoreOps) staged.push(op);
  peer.storage.stageSnapshot(applyState, staged);
  staged.push({ type: 'put', key: regionStateKey(peer.regionId), value: encodeRegionState(regionState) });
  for (const op of staged) ops.push(op);
  return streamed ? { applyState, regionState, streamed } : { applyState, regionState };
}
