/**
 * Raft frames in. A frame from another store (or this store's messages to itself) arrives here:
 * the store clock catches up first, the sender is noted alive, and each item is routed to its
 * region's replica and stepped, unless it must be refused: from a store that came back with other
 * data (the incarnation guard), a vote this replica withholds, a snapshot that fails its checks, a
 * message from a replica no longer a member (answered with a tombstone). An item for a region this
 * store does not host may create its replica (TiKV's pending-create-peer rule). What was stepped
 * is marked in `StoreContext.dirty`; the loop (`ready-loop.ts`) is started to take it.
 */

import { restoreRegion } from '../kv/snapshot.ts';
import type { Message } from '../raft/types.ts';
import { makeMessage } from '../raft/types.ts';
import { keysEqual, rangesOverlap } from '../region/keys.ts';
import type { Region } from '../region/types.ts';
import { decodeAdminCommand } from './admin.ts';
import { TAG_ADMIN, untagEntryData } from './entry-data.ts';
import { PD_GROUP_ID, restorePdState } from './pd-state.ts';
import { PeerStorage, RAFT_INIT_INDEX, RAFT_INIT_TERM } from './peer-storage.ts';
import { decodeHardState, hardStateKey } from './raft-keys.ts';
import { decodeSnapshotEnvelope } from './records.ts';
import type { RegionPeer } from './region-peer.ts';
import { addPeer, destroyPeer, sendTombstone, supersededBy } from './replicas.ts';
import { decodeDescriptor } from './snapshot-stream.ts';
import { isPdGroup, type StoreContext, type Tombstone } from './store-context.ts';
import type { RaftItem } from './store-options.ts';

/** Routes received Raft items to the store's replicas; creates the replicas they prove new. */
export class Inbound {
  private readonly ctx: StoreContext;
  /** Regions whose replica is being created from a message. */
  private readonly creating = new Set<number>();
  /** Regions whose withheld votes were logged (once each, so a stuck election is explained, not flooded). */
  private readonly withheldWarned = new Set<number>();

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
  }

  /**
   * Steps Raft messages received from another store. Messages for unknown regions are dropped.
   * @param fromStoreId - the sending store, as its link was authenticated.
   * @param items - the frame's Raft messages.
   * @param incarnation - the incarnation of the sender's data, as its link said (handshake); when
   *   given, messages from replicas its store no longer holds the data of are refused
   *   (`incarnation-guard.ts`). In-process callers that have no incarnations pass none.
   */
  receiveRaft(fromStoreId: number, items: readonly RaftItem[], incarnation?: string): void {
    const ctx = this.ctx;
    if (ctx.closed) return;
    // Time first: a store that was stopped judges what it receives by the time that really passed.
    ctx.catchUp();
    // Any frame proves the sender's store alive; an empty one is just that (its liveness ping).
    if (fromStoreId !== ctx.storeId) ctx.heard(fromStoreId);
    const checked = incarnation !== undefined && fromStoreId !== ctx.storeId;
    if (checked && !ctx.guard.observe(fromStoreId, incarnation)) return;
    if (items.length === 0) return;
    for (const item of items) {
      const { regionId, message } = item;
      let peer = ctx.peers.get(regionId);
      if (peer && message.to !== peer.peerId && item.region && item.region.confVer > peer.region.epoch.confVer) {
        // A newer membership names another replica on this store: ours was removed (and maybe
        // never heard of it). Destroy it; the new replica is created from the next message.
        void destroyPeer(ctx, peer, 'replaced by a newer replica');
        peer = undefined;
      }
      if (!peer) {
        if (item.region?.tombstone) continue;
        const tomb = ctx.tombstones.get(regionId);
        // A replica of a region this store retired (merged away, or removed) that lagged behind
        // and still talks: tell it, so that its store destroys it.
        if (tomb && item.region && item.region.confVer < tomb.confVer) this.answerFromTombstone(tomb, fromStoreId, item);
        else this.maybeCreatePeer(fromStoreId, item);
        continue;
      }
      if (item.region?.tombstone) {
        // The sender's newer membership no longer has this replica: it was removed. Or merged: a
        // store that retired the region after its merge answers from its tombstone too, with the
        // confVer its PrepareMerge raised. A replica here that holds that PrepareMerge unapplied
        // (its commit not yet heard; or heard, and a slow disk still writing the turn that applies
        // it) must stay: this store's replica of the merge target absorbs its data when it applies
        // the CommitMerge (`releaseMergeWaiters` lets this one apply up to the PrepareMerge first),
        // and destroying it would delete that data and leave the target unmerged (kvsim seed 250,
        // slow storage).
        if (message.to === peer.peerId && item.region.confVer > peer.region.epoch.confVer && !holdsUnappliedPrepareMerge(peer)) void destroyPeer(ctx, peer, 'removed from the region');
        continue;
      }
      if (message.to !== peer.peerId || peer.storeOf(message.from) !== fromStoreId) {
        this.answerStalePeer(peer, fromStoreId, item);
        continue;
      }
      // A replica here still waiting for its first snapshot cannot vote: it takes what comes.
      if (checked && peer.storage.initialized && !ctx.guard.admits(peer.region, message.from, fromStoreId, incarnation)) continue;
      if (message.type === 'MsgSnap' && !this.snapshotAcceptable(peer, message, fromStoreId)) continue;
      if ((message.type === 'MsgVote' || message.type === 'MsgPreVote') && withholdsVote(peer, message)) {
        ctx.counters.votesWithheld++;
        if (!this.withheldWarned.has(regionId)) {
          this.withheldWarned.add(regionId);
          ctx.opts.logger.warn('withholding votes: this replica is as bootstrap left it and the candidate holds data (a leader must reach it first; docs/store-identity.md)', { regionId, candidateStore: fromStoreId });
        }
        continue;
      }
      ctx.dirty.add(peer);
      try {
        peer.node.step(message);
      } catch (e) {
        ctx.opts.logger.warn('dropped a message the replica refused', { regionId, type: message.type, error: String(e) });
      }
    }
    ctx.runLoop();
  }

  /**
   * Whether a snapshot's data is intact and for this region. Checked before the core sees it: once
   * stepped, the core has already replaced its log, so a bad snapshot must never get that far.
   */
  private snapshotAcceptable(peer: RegionPeer, message: Message, fromStoreId: number): boolean {
    const ctx = this.ctx;
    try {
      const envelope = decodeSnapshotEnvelope(message.snapshot?.data ?? new Uint8Array(0));
      if (envelope.region.id !== peer.regionId) throw new Error(`it is for region ${envelope.region.id}`);
      supersededBy(ctx, peer, envelope.region, envelope.absorbed); // throws if the range clashes with a live region here
      const streamed = isPdGroup(peer) ? undefined : decodeDescriptor(envelope.kv);
      if (streamed) {
        // Its pairs came first, staged and verified: only a stream that matches it may be installed.
        const s = ctx.receiver?.claim(peer.regionId, fromStoreId, streamed);
        if (!s) throw new Error(`no verified snapshot stream ${streamed.streamId} from store ${fromStoreId}`);
        if (!keysEqual(s.region.startKey, envelope.region.startKey) || !keysEqual(s.region.endKey, envelope.region.endKey)) {
          ctx.receiver?.release(peer.regionId);
          throw new Error('the stream was opened for another range');
        }
      } else if (isPdGroup(peer)) restorePdState(envelope.kv);
      else restoreRegion(envelope.kv); // checks magic, version, checksum and that every key is in range
      return true;
    } catch (e) {
      ctx.counters.badSnapshots++;
      ctx.opts.logger.warn('dropped a snapshot that failed its checks', { regionId: peer.regionId, error: String(e) });
      return false;
    }
  }

  /**
   * Creates a replica this store does not host yet, when a leader's message proves the region is
   * new here (TiKV's pending-create-peer rule): only for appends, heartbeats and snapshots, never
   * for a range that overlaps one this store serves (it may be an unsplit parent here, so the
   * message is for a child this store will create itself when it applies the split), and never
   * for a replica this store already destroyed. The replica starts empty and waits for a snapshot.
   */
  private maybeCreatePeer(fromStoreId: number, item: RaftItem): void {
    const ctx = this.ctx;
    const { regionId, message, region } = item;
    if (!region || this.creating.has(regionId) || ctx.closed) return;
    if (message.type !== 'MsgApp' && message.type !== 'MsgHeartbeat' && message.type !== 'MsgSnap') return;
    const tomb = ctx.tombstones.get(regionId);
    if (tomb && (tomb.peerId === message.to || tomb.confVer >= region.confVer)) return;
    if (regionId !== PD_GROUP_ID) {
      for (const p of ctx.peers.values()) {
        // A replica here prepared to merge into this very region does not block it: the region's range
        // covers it because the merge committed while this store lagged (it may even have missed the
        // split that made the region). The new replica waits for a snapshot, which retires the source.
        if (p.merging?.targetId === regionId) continue;
        if (p.storage.initialized && !isPdGroup(p) && rangesOverlap(p.region.startKey, p.region.endKey, region.startKey, region.endKey)) return;
      }
    }
    this.creating.add(regionId);
    void (async () => {
      try {
        // A replica created before and lost with the process may have voted: keep its hard state.
        const hsBytes = await ctx.engine.get(hardStateKey(regionId));
        const hs = hsBytes ? decodeHardState(hsBytes) : { term: 0, vote: 0, commit: 0 };
        if (ctx.closed || ctx.peers.has(regionId)) return;
        const known: Region = {
          id: regionId,
          startKey: region.startKey.slice(),
          endKey: region.endKey.slice(),
          epoch: { confVer: region.confVer, version: region.version },
          peers: [
            { id: message.from, storeId: fromStoreId, role: 'voter' },
            { id: message.to, storeId: ctx.storeId, role: 'learner' },
          ],
        };
        addPeer(ctx, known, message.to, PeerStorage.uninitialized(regionId, hs));
        ctx.counters.peersCreated++;
        this.receiveRaft(fromStoreId, [item]);
      } finally {
        this.creating.delete(regionId);
      }
    })().catch((e) => ctx.opts.logger.warn('could not create a replica', { regionId, error: String(e) }));
  }

  /**
   * A message from a replica that our (newer) membership no longer has, say a removed replica that
   * never applied its removal and now campaigns: tell it, so that its store destroys it.
   */
  private answerStalePeer(peer: RegionPeer, fromStoreId: number, item: RaftItem): void {
    const theirs = item.region;
    if (!theirs || !peer.storage.initialized || theirs.confVer >= peer.region.epoch.confVer) return;
    if (peer.region.peers.some((p) => p.id === item.message.from)) return;
    sendTombstone(this.ctx, peer, item.message.from, fromStoreId);
  }

  /** Answers a replica of a region this store retired with a tombstone notice. */
  private answerFromTombstone(tomb: Tombstone, fromStoreId: number, item: RaftItem): void {
    const r = tomb.region;
    const message = makeMessage({ type: 'MsgHeartbeat', from: tomb.peerId, to: item.message.from });
    const region = { startKey: r.startKey, endKey: r.endKey, confVer: tomb.confVer, version: r.epoch.version, tombstone: true };
    this.ctx.counters.tombstonesSent++;
    this.ctx.opts.sendRaft(fromStoreId, [{ regionId: r.id, message, region }]);
  }
}

/** Whether `peer`'s log holds a PrepareMerge after its applied index (so its region may have been merged, not removed). */
export function holdsUnappliedPrepareMerge(peer: RegionPeer): boolean {
  const log = peer.node.raft.raftLog;
  const from = Math.max(log.applied + 1, log.firstIndex());
  const to = log.lastIndex();
  if (from > to) return false;
  for (const e of log.slice(from, to + 1, Number.MAX_SAFE_INTEGER)) {
    if (e.type !== 'normal' || e.data[0] !== TAG_ADMIN) continue;
    try {
      if (decodeAdminCommand(untagEntryData(e.data).payload).type === 'prepareMerge') return true;
    } catch {
      // not an admin command this store can read: it applies as a no-op
    }
  }
  return false;
}

/**
 * Whether a replica withholds its vote from a candidate: it does when it is exactly as its store
 * bootstrapped it (initial region epoch, nothing in its log after the initial entry: it never
 * heard from any leader) while the candidate's log is past that point, so the cluster has already
 * run. Such a replica may be a store that lost its data and bootstrapped again on an empty disk
 * (`--initial-cluster-state new` with no peer answering): a vote from it, counted by a lagging
 * store that never learned its incarnation, would make a majority without the writes it had
 * acknowledged before the wipe. A replica that is genuinely new loses nothing by waiting: the
 * leader's first append makes it an ordinary voter. (Its cost: a store that joins a new cluster
 * late cannot help elect a leader until some leader has reached it.) Withholding a vote is always
 * safe in Raft; it is a lost message.
 */
export function withholdsVote(peer: RegionPeer, vote: Message): boolean {
  const { confVer, version } = peer.region.epoch;
  if (confVer !== 1 || version !== 1) return false;
  const log = peer.node.raft.raftLog;
  if (log.lastIndex() !== RAFT_INIT_INDEX || log.lastTerm() !== RAFT_INIT_TERM) return false;
  return vote.index > RAFT_INIT_INDEX || vote.logTerm > RAFT_INIT_TERM;
}
