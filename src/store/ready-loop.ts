/**
 * The loop: one turn drives every replica with work (those in `StoreContext.dirty`, or all of
 * them after a `kick()`), in four steps, batched across regions:
 * 1. collect each Ready and stage every replica's hard state, entries and snapshot into ONE
 *    storage batch ({@link PersistWork}: group commit), written synced if any needs it;
 * 2. send the messages, one call per destination store (`outbox.ts`);
 * 3. apply the committed entries of every replica in one more batch, then answer the clients
 *    (`apply.ts`);
 * 4. advance, and serve the reads whose index is now applied.
 * Messages that depend on persisted state (votes, append acks) never leave before step 1 is
 * durable. A storage failure stops the store: the replicas' memory is then ahead of the disk.
 */

import { OutcomeUnknownError } from '../errors.ts';
import type { WriteOp } from '../ports.ts';
import { ApplyBatch, releaseMergeWaiters, tellRemoved } from './apply.ts';
import type { RaftOutbox } from './outbox.ts';
import { regionStateKey } from './raft-keys.ts';
import { encodeRegionState } from './records.ts';
import type { RegionPeer } from './region-peer.ts';
import { destroyPeer, dropRetired, shutdown, stageRetire, supersededBy } from './replicas.ts';
import { stageSnapshotInstall } from './snapshot.ts';
import { moveStaged } from './snapshot-stream.ts';
import type { PeerReady, StoreContext } from './store-context.ts';

/** A snapshot a Ready brought, staged for installing, and the replicas it supersedes. */
export type SnapshotInstall = ReturnType<typeof stageSnapshotInstall> & { superseded: RegionPeer[] };

/**
 * The durable part of one turn. Produced by the collect step from the dirty replicas' Readies;
 * consumed by the persist step (one `engine.write` of `ops`), then by {@link ReadyLoop.persisted}
 * (snapshots installed in memory), then, as its `ready`, by the outbox, apply and advance.
 */
export interface PersistWork {
  /** The replicas that had a Ready this turn, in turn order. */
  ready: PeerReady[];
  /** Every replica's entries, hard state and snapshot install, in one batch. */
  ops: WriteOp[];
  /** Whether the batch must be synced (some Ready must be durable before its messages leave). */
  sync: boolean;
  installs: Map<RegionPeer, SnapshotInstall>;
}

/** Runs loop turns over the store's replicas. */
export class ReadyLoop {
  private readonly ctx: StoreContext;
  private readonly outbox: RaftOutbox;
  private running = false;
  /** Set while a loop turn for newly queued reads is scheduled (see {@link kickReads}). */
  private readKickPending = false;
  /** Resolves when the loop goes idle (for close and tests). */
  idle: Promise<void> = Promise.resolve();

  constructor(ctx: StoreContext, outbox: RaftOutbox) {
    this.ctx = ctx;
    this.outbox = outbox;
  }

  /** Runs loop turns until no replica has work: for `peer`, or for any replica when none is named. */
  kick(peer?: RegionPeer): void {
    if (peer) this.ctx.dirty.add(peer);
    else this.ctx.scanAll = true;
    this.runLoop();
  }

  /**
   * Starts a loop turn once the current synchronous code is done, so that every read queued
   * meanwhile (from any client) shares one ReadIndex round per region. No tick or timer is
   * waited for: the round goes out in that turn.
   */
  kickReads(peer: RegionPeer): void {
    this.ctx.dirty.add(peer);
    if (this.readKickPending) return;
    this.readKickPending = true;
    void Promise.resolve().then(() => {
      this.readKickPending = false;
      this.runLoop();
    });
  }

  /** Starts the loop unless it runs (it then takes what was marked before its next turn). */
  runLoop(): void {
    if (this.ctx.closed && !this.running) return;
    if (this.running) return;
    this.running = true;
    this.idle = this.loop();
  }

  /** The replicas the next turn looks at: every one after a `kick()`, else those marked. */
  private takeBatch(): RegionPeer[] {
    const ctx = this.ctx;
    if (ctx.scanAll) {
      ctx.scanAll = false;
      ctx.dirty.clear();
      return [...ctx.peers.values()];
    }
    const batch: RegionPeer[] = [];
    for (const peer of ctx.dirty) if (ctx.peers.get(peer.regionId) === peer) batch.push(peer);
    ctx.dirty.clear();
    return batch;
  }

  private async loop(): Promise<void> {
    const ctx = this.ctx;
    try {
      do {
        ctx.catchUp();
        const batch = this.takeBatch();
        for (const peer of batch) peer.flushReads();
        await this.turn(batch);
        releaseMergeWaiters(ctx);
      } while (!ctx.closed && (ctx.scanAll || ctx.dirty.size > 0));
    } catch (e) {
      // A storage failure leaves the replicas' memory ahead of the disk: stop, as RheaKV does on a
      // critical state machine error. Clients see their requests fail; a restart recovers.
      ctx.failure = e as Error;
      ctx.opts.logger.error('store loop failed; stopping the store', { storeId: ctx.storeId, error: String(e) });
      // A proposal waiting here may have reached other replicas before the failure: its outcome is unknown.
      await shutdown(ctx, e as Error, new OutcomeUnknownError(`store ${ctx.storeId} stopped after a storage failure (${String(e)})`));
      try {
        ctx.opts.onFailure?.(e as Error);
      } catch (err) {
        ctx.opts.logger.warn('onFailure threw', { error: String(err) });
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * One turn. Every await of a turn is here, in this order; the stages it calls are synchronous
   * (or awaited exactly where the turn waits for them), so the interleaving of a turn with other
   * work is the same whatever file a step lives in.
   */
  private async turn(batch: readonly RegionPeer[]): Promise<void> {
    const ctx = this.ctx;
    const persist = this.collect(batch);
    const { ready: work, installs } = persist;
    if (work.length === 0) return;
    ctx.counters.turns++;
    ctx.counters.snapshotsInstalled += installs.size;
    // 1. Durable before anything that depends on it leaves. Log entries and hard states are
    // encoded for the batch: hand them over (not a snapshot's pairs, views into a received frame).
    if (persist.ops.length > 0) {
      await ctx.engine.write(persist.ops, { sync: persist.sync, handOver: installs.size === 0 });
      ctx.counters.raftBatches++;
    }
    // Streamed snapshots: the batch above made them Raft's (region `applying`); move the staged
    // pairs into place now, in bounded batches, before anything is applied or read. The last batch
    // marks the region `normal`; a crash before it is finished by the next start.
    for (const [peer, install] of installs) {
      if (!install.streamed) continue;
      install.regionState.state = 'normal';
      await moveStaged(ctx.engine, peer.regionId, ctx.opts.snapshotChunkBytes, [{ type: 'put', key: regionStateKey(peer.regionId), value: encodeRegionState(install.regionState) }], ctx.snapshotStats);
      ctx.receiver?.release(peer.regionId);
      ctx.applying.delete(peer.regionId);
    }
    this.persisted(persist);
    // 2. Send, one call per destination store.
    await this.outbox.send(work);
    // 3. Apply everything committed into one batch; answer clients only once it is written.
    const apply = new ApplyBatch(ctx);
    for (const pr of work) {
      if (pr.rd.committedEntries.length === 0) continue;
      apply.record(pr, await pr.peer.applyEntries(apply.overlay, ctx.sm, pr.rd.committedEntries));
    }
    if (apply.applied.size > 0) {
      const applyOps = apply.writeOps();
      // Every buffer here is built by the apply or is a view into a decoded command's own copy.
      await ctx.engine.write(applyOps, { sync: false, handOver: true });
      ctx.counters.applyBatches++;
      apply.afterWrite();
      for (const peer of apply.applied) if (tellRemoved(ctx, peer)) await destroyPeer(ctx, peer, 'removed from the region');
    }
    for (const answer of apply.answers) answer();
    // 4. Advance; serve reads that are now answerable.
    for (const { peer, rd } of work) {
      peer.node.advance(rd, apply.blocked.get(peer));
      if (rd.softState) this.roleChanged(peer);
      peer.onReadStates(rd.readStates);
      await peer.serveReads(ctx.engine, ctx.sm);
      // More to hand out (committed entries beyond one Ready's size, messages stepped meanwhile).
      if (peer.node.hasReady()) ctx.dirty.add(peer);
    }
  }

  /** Takes the Ready of every replica in `batch` that has one and stages what it must persist. */
  private collect(batch: readonly RegionPeer[]): PersistWork {
    const ctx = this.ctx;
    const work: PeerReady[] = [];
    const ops: WriteOp[] = [];
    let sync = false;
    const installs = new Map<RegionPeer, SnapshotInstall>();
    for (const peer of batch) {
      const claimed = ctx.receiver?.streams.get(peer.regionId)?.claimed === true;
      if (!peer.node.hasReady()) {
        if (claimed) ctx.receiver?.release(peer.regionId); // Raft did not take the snapshot
        continue;
      }
      const rd = peer.node.ready();
      if (claimed && !rd.snapshot) ctx.receiver?.release(peer.regionId);
      if (rd.snapshot) {
        const install = stageSnapshotInstall(peer, rd.snapshot, ops);
        if (install.streamed) ctx.applying.add(peer.regionId);
        // Regions merged into this one while this store lagged go with the install, atomically.
        const superseded = supersededBy(ctx, peer, install.regionState.region, install.regionState.absorbed);
        for (const old of superseded) stageRetire(old, ops);
        installs.set(peer, { ...install, superseded });
      }
      peer.storage.stageEntries(rd.entries, ops);
      if (rd.hardState) peer.storage.stageHardState(rd.hardState, ops);
      sync ||= rd.mustSync;
      work.push({ peer, rd });
    }
    return { ready: work, ops, sync, installs };
  }

  /** After the persist step: every replica's memory brought level with what was written (snapshots installed, entries appended). */
  private persisted(persist: PersistWork): void {
    const ctx = this.ctx;
    for (const { peer, rd } of persist.ready) {
      const install = persist.installs.get(peer);
      if (install) {
        peer.storage.installSnapshot(install.applyState);
        for (const old of install.superseded) dropRetired(ctx, old);
        // A snapshot supersedes whatever merge this replica was waiting to apply.
        peer.node.setApplyLimit(Number.POSITIVE_INFINITY);
        ctx.mergeWaiters.delete(peer);
        peer.region = install.regionState.region;
        peer.merging = install.regionState.merging;
        peer.absorbedIds = install.regionState.absorbed ?? [];
        peer.observeNow(install.applyState.nowMs);
      }
      peer.storage.appendEntries(rd.entries);
      if (rd.hardState) peer.storage.hardState = rd.hardState;
    }
  }

  private roleChanged(peer: RegionPeer): void {
    const ctx = this.ctx;
    peer.onRoleChange(ctx.opts.clock.now());
    const event = { regionId: peer.regionId, storeId: ctx.storeId, role: peer.node.raft.state as string, leaderStoreId: peer.leaderStoreId() };
    for (const l of ctx.listeners) l(event);
  }
}
