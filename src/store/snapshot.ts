/**
 * Region snapshots as Raft sees them. A region's state is its live key ranges in the shared
 * engine, so a snapshot is built when one must be sent (TiKV generates them on demand too): from a
 * consistent engine view at the replica's applied index, with the region's metadata. Installing
 * one replaces the replica's ranges, log and apply state in one atomic write batch.
 */
import type { StorageEngine, WriteOp } from '../ports.ts';
import { restoreRegion, snapshotRegion } from '../kv/snapshot.ts';
import type { Snapshot } from '../raft/types.ts';
import type { ApplyState, RegionState } from './records.ts';
import { decodeSnapshotEnvelope, encodeRegionState, encodeSnapshotEnvelope } from './records.ts';
import { PD_GROUP_ID, restorePdState, snapshotPdState } from './pd-state.ts';
import type { RegionPeer } from './region-peer.ts';
import { regionStateKey } from './raft-keys.ts';

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

/** What installing a received snapshot will set, once its write batch is durable. */
export interface SnapshotInstall {
  applyState: ApplyState;
  regionState: RegionState;
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
  const restoreOps = peer.regionId === PD_GROUP_ID ? restorePdState(envelope.kv) : restoreRegion(envelope.kv).batches.flat();
  const applyState: ApplyState = {
    applied: snap.metadata.index,
    truncatedIndex: snap.metadata.index,
    truncatedTerm: snap.metadata.term,
    truncatedConfState: snap.metadata.confState,
    appliedConfState: snap.metadata.confState,
    nowMs: Math.max(envelope.nowMs, peer.storage.applyState.nowMs),
  };
  const regionState: RegionState = { region: envelope.region, peerId: peer.peerId, state: 'normal' };
  if (envelope.merging) regionState.merging = envelope.merging;
  if (envelope.absorbed) regionState.absorbed = envelope.absorbed;
  const staged: WriteOp[] = [];
  for (const op of restoreOps) staged.push(op);
  peer.storage.stageSnapshot(applyState, staged);
  staged.push({ type: 'put', key: regionStateKey(peer.regionId), value: encodeRegionState(regionState) });
  for (const op of staged) ops.push(op);
  return { applyState, regionState };
}
