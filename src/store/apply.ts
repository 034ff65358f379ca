/**
 * Apply: the third step of a loop turn (`ready-loop.ts`), once the turn's Raft writes are durable
 * and its messages sent. The committed entries of every replica go into ONE overlay over the
 * engine (KV commands into the state machine; admin and membership commands into the replica's
 * region), written as ONE batch together with every replica's apply state and what the entries
 * did to the store's shape: a split's child regions, merge sources retired, the log compacted.
 * Only once that batch is written are the effects carried out in memory (children started,
 * sources dropped, removed replicas told or destroyed) and the waiting clients answered.
 *
 * A CommitMerge may wait for this store's replica of its source to apply the PrepareMerge: the
 * target's apply is held back at that entry ({@link ApplyResult.blocked}), and
 * {@link releaseMergeWaiters} lets it go on once the source caught up.
 */

import { WriteOverlay } from '../kv/overlay.ts';
import type { WriteOp } from '../ports.ts';
import { decodeAdminCommand } from './admin.ts';
import { TAG_ADMIN, untagEntryData } from './entry-data.ts';
import { regionStateKey } from './raft-keys.ts';
import { encodeRegionState } from './records.ts';
import type { RegionPeer } from './region-peer.ts';
import { destroyPeer, finishAbsorbing, regionStateOf, sendTombstone, stageNewRegion, stageRetire, startSplitChildren } from './replicas.ts';
import type { PeerReady, StoreContext } from './store-context.ts';

/**
 * What applying a turn left for its advance step. Produced by {@link applyCommitted}; consumed
 * by `ready-loop.ts`, which advances each replica with its limit.
 */
export interface ApplyResult {
  /** Replicas whose apply stopped before a CommitMerge waiting for its source: the last index applied. */
  blocked: Map<RegionPeer, number>;
}

/**
 * Applies the committed entries of `work` in one batch with the apply states, then carries out
 * their effects on the store and answers the clients whose proposals applied.
 */
export async function applyCommitted(ctx: StoreContext, work: readonly PeerReady[]): Promise<ApplyResult> {
  const overlay = new WriteOverlay(ctx.engine);
  const answers: Array<() => void> = [];
  const applied = new Set<RegionPeer>();
  const blocked = new Map<RegionPeer, number>();
  for (const { peer, rd } of work) {
    if (rd.committedEntries.length === 0) continue;
    const { done, blockedAt } = await peer.applyEntries(overlay, ctx.sm, rd.committedEntries);
    for (const cb of done) answers.push(cb);
    applied.add(peer);
    if (blockedAt > 0) {
      // A CommitMerge waits for this store's replica of its source: hold back the rest.
      blocked.set(peer, blockedAt - 1);
      peer.node.setApplyLimit(blockedAt - 1);
      ctx.mergeWaiters.add(peer);
    }
    ctx.counters.entriesApplied += rd.committedEntries.length;
  }
  if (applied.size > 0) {
    const applyOps = overlay.toWriteOps();
    for (const peer of applied) {
      peer.storage.stageApplyState(applyOps);
      if (peer.regionDirty) {
        applyOps.push({ type: 'put', key: regionStateKey(peer.regionId), value: encodeRegionState(regionStateOf(peer)) });
        peer.regionDirty = false;
      }
      for (const source of peer.absorbed) stageRetire(source, applyOps);
      const gc = maybeCompact(ctx, peer);
      for (const op of gc) applyOps.push(op);
      for (const child of peer.splitChildren) stageNewRegion(ctx, child, applyOps);
    }
    // Every buffer here is built by the apply or is a view into a decoded command's own copy.
    await ctx.engine.write(applyOps, { sync: false, handOver: true });
    ctx.counters.applyBatches++;
    for (const peer of applied) startSplitChildren(ctx, peer);
    for (const peer of applied) finishAbsorbing(ctx, peer);
    for (const peer of applied) {
      // The leader tells replicas removed this turn (the core stopped replicating to them the
      // moment the change was appended, so they may never apply it themselves).
      for (const gone of peer.removedPeers) if (peer.isLeader() && gone.storeId !== ctx.storeId) sendTombstone(ctx, peer, gone.id, gone.storeId);
      peer.removedPeers = [];
      if (!peer.region.peers.some((p) => p.id === peer.peerId)) await destroyPeer(ctx, peer, 'removed from the region');
    }
  }
  for (const answer of answers) answer();
  return { blocked };
}

/** Drops log entries far behind the applied index; returns the writes that delete them. */
function maybeCompact(ctx: StoreContext, peer: RegionPeer): WriteOp[] {
  const a = peer.storage.applyState;
  if (a.applied - a.truncatedIndex <= ctx.opts.logGcThreshold) return [];
  return peer.storage.compact(a.applied, a.appliedConfState);
}

/** Lets targets waiting on a merge source apply again once this store's source replica caught up. */
export function releaseMergeWaiters(ctx: StoreContext): void {
  for (const peer of ctx.mergeWaiters) {
    const log = peer.node.raft.raftLog;
    const limit = log.applyLimit;
    // Gone from the log (a snapshot replaced it) or already past: nothing to wait for.
    const next = limit + 1 >= log.firstIndex() && limit + 1 <= log.lastIndex() ? log.slice(limit + 1, limit + 2, Number.MAX_SAFE_INTEGER)[0] : undefined;
    let ready = true;
    if (next && next.type === 'normal' && next.data[0] === TAG_ADMIN) {
      const cmd = decodeAdminCommand(untagEntryData(next.data).payload);
      if (cmd.type === 'commitMerge') {
        const source = ctx.peers.get(cmd.sourceId);
        // The CommitMerge proves the source's PrepareMerge committed: if our source replica
        // holds that entry, it may apply up to it without hearing from its (retired) leader.
        if (source && source.node.commitTo(cmd.sourcePrepareIndex, cmd.sourcePrepareTerm)) ctx.scanAll = true;
        ready = !source || source.storage.applyState.applied >= cmd.sourcePrepareIndex;
      }
    }
    if (ready) {
      peer.node.setApplyLimit(Number.POSITIVE_INFINITY);
      ctx.mergeWaiters.delete(peer);
      ctx.scanAll = true;
    }
  }
}
