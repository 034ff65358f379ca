/**
 * Apply: the third step of a loop turn (`ready-loop.ts`), once the turn's Raft writes are durable
 * and its messages sent. The committed entries of every replica go into ONE overlay over the
 * engine (KV commands into the state machine; admin and membership commands into the replica's
 * region), written as ONE batch together with every replica's apply state and what the entries
 * did to the store's shape: a split's child regions, merge sources retired, the log compacted.
 * Only once that batch is written are the effects carried out in memory (children started,
 * sources dropped, removed replicas told or destroyed) and the waiting clients answered.
 * {@link ApplyBatch} holds one turn's apply; `ready-loop.ts` drives it.
 *
 * A CommitMerge may wait for this store's replica of its source to apply the PrepareMerge: the
 * target's apply is held back at that entry ({@link ApplyBatch.blocked}), and
 * {@link releaseMergeWaiters} lets it go on once the source caught up.
 */

import { WriteOverlay } from '../kv/overlay.ts';
import type { WriteOp } from '../ports.ts';
import { decodeAdminCommand } from './admin.ts';
import { TAG_ADMIN, untagEntryData } from './entry-data.ts';
import { regionStateKey } from './raft-keys.ts';
import { encodeRegionState } from './records.ts';
import type { RegionPeer } from './region-peer.ts';
import { finishAbsorbing, regionStateOf, sendTombstone, stageNewRegion, stageRetire, startSplitChildren } from './replicas.ts';
import type { PeerReady, StoreContext } from './store-context.ts';

/**
 * The apply step of one turn, filled in replica by replica. Produced by `ready-loop.ts`, which
 * awaits each replica's `applyEntries` into {@link ApplyBatch.overlay} and records the outcome
 * here; {@link ApplyBatch.writeOps} then gives the ONE batch to write; after the write,
 * {@link ApplyBatch.afterWrite} carries out the effects, and the advance step reads `blocked`.
 * (The awaits stay in the turn so that the order of a turn's steps against everything else the
 * process does, client continuations included, is the turn's alone to see; simulation seeds
 * replay it exactly.)
 */
export class ApplyBatch {
  private readonly ctx: StoreContext;
  /** Every replica's applied commands, over the engine: read back by later entries of the turn. */
  readonly overlay: WriteOverlay;
  /** Clients to answer once the batch is written. */
  readonly answers: Array<() => void> = [];
  /** Replicas that applied anything this turn. */
  readonly applied = new Set<RegionPeer>();
  /** Replicas whose apply stopped before a CommitMerge waiting for its source: the last index applied. */
  readonly blocked = new Map<RegionPeer, number>();

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
    this.overlay = new WriteOverlay(ctx.engine);
  }

  /** Records what applying `rd`'s committed entries on `peer` gave. */
  record({ peer, rd }: PeerReady, { done, blockedAt }: { done: Array<() => void>; blockedAt: number }): void {
    const ctx = this.ctx;
    const answers = this.answers;
    const blocked = this.blocked;
    for (const cb of done) answers.push(cb);
    this.applied.add(peer);
    if (blockedAt > 0) {
      // A CommitMerge waits for this store's replica of its source: hold back the rest.
      blocked.set(peer, blockedAt - 1);
      peer.node.setApplyLimit(blockedAt - 1);
      ctx.mergeWaiters.add(peer);
    }
    ctx.counters.entriesApplied += rd.committedEntries.length;
  }

  /** The batch to write: the overlay, every applied replica's apply state and region state, merge sources retired, log compaction, split children. */
  writeOps(): WriteOp[] {
    const ctx = this.ctx;
    const applyOps = this.overlay.toWriteOps();
    for (const peer of this.applied) {
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
    return applyOps;
  }

  /** Once the batch is written: split children start, absorbed merge sources go. */
  afterWrite(): void {
    for (const peer of this.applied) startSplitChildren(this.ctx, peer);
    for (const peer of this.applied) finishAbsorbing(this.ctx, peer);
  }
}

/**
 * Tells the replicas removed from `peer`'s region this turn, when `peer` leads; true when `peer`
 * itself is no member any more (the caller destroys it).
 */
export function tellRemoved(ctx: StoreContext, peer: RegionPeer): boolean {
  // The leader tells replicas removed this turn (the core stopped replicating to them the
  // moment the change was appended, so they may never apply it themselves).
  for (const gone of peer.removedPeers) if (peer.isLeader() && gone.storeId !== ctx.storeId) sendTombstone(ctx, peer, gone.id, gone.storeId);
  peer.removedPeers = [];
  return !peer.region.peers.some((p) => p.id === peer.peerId);
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
    // A backup's fence holds the apply until the thaw (`backup-fence.ts`), whatever comes next.
    if (peer.backupFence) continue;
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
