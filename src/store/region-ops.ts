/**
 * Region operations: the admin calls that change the shape of the store's regions, each proposed
 * through the region's Raft log and carried out when it applies (`apply.ts`). A split cuts a
 * region at a key (given, or its middle key); a merge freezes the source (PrepareMerge), then
 * extends the target over it (CommitMerge) once every replica of the source holds the prepare; a
 * leader transfer hands leadership to another replica; a membership change adds a learner,
 * promotes it or removes a replica, one step at a time. Called by StoreEngine's public methods,
 * by PD's instructions (`pd-worker.ts`) and, now and then, by the tick timer (automatic splits,
 * merges left prepared).
 */

import { InvalidArgumentError, RegionNotFoundError, ServerBusyError, TimeoutError, TooSmallToSplitError } from '../errors.ts';
import { DATA_PREFIX, decodeKey, prefixedRange } from '../kv/keys.ts';
import type { ConfChange } from '../raft/types.ts';
import { keyInRegion, keysEqual } from '../region/keys.ts';
import { mergeRegions } from '../region/split.ts';
import type { Region, RegionEpoch } from '../region/types.ts';
import { decodeAdminCommand, randomId } from './admin.ts';
import { TAG_ADMIN, untagEntryData } from './entry-data.ts';
import { encodeMembershipContext } from './membership.ts';
import type { RegionPeer } from './region-peer.ts';
import { peerFor } from './replicas.ts';
import { checkOpen, isPdGroup, type StoreContext } from './store-context.ts';

/** How many committed entries a learner may lack and still be promoted (it gets them as a voter). */
const PROMOTE_LAG_MAX = 64;

/** Splits, merges, leader transfers and membership changes of the regions led here. */
export class RegionOps {
  private readonly ctx: StoreContext;
  private lastSplitCheckMs = 0;
  private lastMergeCheckMs = 0;

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
  }

  /**
   * Splits a region at `splitKey` (or at its middle key by count) through its Raft log. Resolves
   * with the two regions once applied. Refuses with `TooSmallToSplit` below `minKeysToSplit`,
   * `ServerBusy` while another split of the region is under way, `NotLeader` off the leader.
   */
  async splitRegion(
    regionId: number,
    epoch: RegionEpoch | undefined,
    splitKey?: Uint8Array,
    ids?: { newRegionId: number; newPeerIds: number[] },
  ): Promise<{ left: Region; right: Region }> {
    const ctx = this.ctx;
    const peer = peerFor(ctx, regionId, epoch);
    if (!peer.isLeader()) throw peer.notLeader();
    if (peer.splitPending) throw new ServerBusyError(`a split of region ${regionId} is already under way`);
    this.refuseIfMergeTarget(peer);
    peer.splitPending = true;
    try {
      const key = splitKey ?? (await this.middleKey(peer));
      if (key.length === 0 || !keyInRegion(key, peer.region) || keysEqual(key, peer.region.startKey)) {
        throw new InvalidArgumentError('splitKey', `must lie strictly inside region ${regionId}'s range`);
      }
      const cmd = {
        type: 'split' as const,
        epoch: { ...peer.region.epoch },
        splitKey: key,
        newRegionId: ids?.newRegionId ?? this.allocId(),
        newPeerIds: ids?.newPeerIds ?? peer.region.peers.map(() => this.allocId()),
      };
      const outcome = await peer.proposeAdmin(cmd);
      ctx.kick();
      if (!outcome.ok) throw outcome.error;
      return { left: outcome.regions[0], right: outcome.regions[1] };
    } finally {
      peer.splitPending = false;
    }
  }

  /**
   * Merges two adjacent regions with replicas on the same stores: PrepareMerge freezes the source
   * (its epoch rises; it refuses requests), then CommitMerge extends the target over the source's
   * range on every replica once that store's source replica has applied the prepare. Both leaders
   * must be on this store. A merge interrupted after the prepare is finished by calling this again.
   * Resolves with the merged region.
   */
  async mergeRegions(targetId: number, sourceId: number): Promise<Region> {
    const ctx = this.ctx;
    checkOpen(ctx);
    const target = ctx.peers.get(targetId);
    const source = ctx.peers.get(sourceId);
    if (!target?.storage.initialized) throw new RegionNotFoundError(targetId);
    if (!source?.storage.initialized) throw new RegionNotFoundError(sourceId);
    if (!target.isLeader()) throw target.notLeader();
    if (!source.isLeader()) throw source.notLeader();
    if (target.merging) throw new InvalidArgumentError('targetId', `region ${targetId} is itself being merged into region ${target.merging.targetId}`);
    if (source.merging && !target.absorbs(source.merging.targetId)) {
      throw new InvalidArgumentError('sourceId', `region ${sourceId} is already being merged into region ${source.merging.targetId}`);
    }
    // Validates adjacency and placement; the source may lie on either side of the target.
    const sourceIsLeft = source.region.endKey.length > 0 && keysEqual(source.region.endKey, target.region.startKey);
    if (sourceIsLeft) mergeRegions(source.region, target.region, 'right');
    else mergeRegions(target.region, source.region);
    // A region that a prepared source waits to merge into is not merged away before that completes.
    this.refuseIfMergeTarget(source);
    if (!source.merging) {
      const prepared = await source.proposeAdmin({ type: 'prepareMerge', epoch: { ...source.region.epoch }, targetId });
      ctx.kick();
      if (!prepared.ok) throw prepared.error;
    }
    return this.commitMerge(target, source, 10 * (ctx.opts.raft?.electionTick ?? 10) * ctx.opts.tickMs);
  }

  /**
   * The second half of a merge. Every replica of the source must hold the PrepareMerge first: once
   * the source's replicas elsewhere retire, one without it could never catch up. There is no
   * rollback (it could race a commit), so a prepared source waits, frozen, until this succeeds; a
   * leader of both regions retries it on its own (see {@link finishMerges}).
   */
  private async commitMerge(named: RegionPeer, source: RegionPeer, waitMs: number): Promise<Region> {
    const ctx = this.ctx;
    const merging = source.merging;
    if (!merging) throw new ServerBusyError(`region ${source.regionId} did not prepare its merge; retry`);
    if (ctx.finishing.has(source.regionId)) throw new ServerBusyError(`the merge of region ${source.regionId} is being committed; retry`);
    ctx.finishing.add(source.regionId);
    try {
      if (!(await this.sourceReplicasCaughtUp(source, merging.prepareIndex, waitMs))) {
        throw new ServerBusyError(`the merge of region ${source.regionId} is prepared and completes once every replica of it holds the prepare`);
      }
      // While we waited the target may have been merged into another region: commit into that one.
      const target = named.retired ? [...ctx.peers.values()].find((p) => p.absorbs(named.regionId)) : named;
      if (!target?.isLeader() || source.retired) throw new ServerBusyError(`the merge of region ${source.regionId} must be retried on the target's leader`);
      if (this.targetLogHasCommitMerge(target, source.regionId)) throw new ServerBusyError(`the merge of region ${source.regionId} is committing`);
      const committed = await target.proposeAdmin({
        type: 'commitMerge',
        epoch: { ...target.region.epoch },
        sourceId: source.regionId,
        sourceEpoch: { ...source.region.epoch },
        sourcePrepareIndex: merging.prepareIndex,
        sourcePrepareTerm: merging.prepareTerm,
      });
      ctx.kick();
      if (!committed.ok) throw committed.error;
      return committed.regions[0];
    } finally {
      ctx.finishing.delete(source.regionId);
    }
  }

  /**
   * Completes merges left prepared (the admin call gave up, or leadership moved): a leader of a
   * prepared source whose target it also leads commits the merge; one whose target is led
   * elsewhere hands the source's leadership there.
   */
  finishMerges(): void {
    const ctx = this.ctx;
    const now = ctx.opts.clock.now();
    if (now - this.lastMergeCheckMs < 1000) return;
    this.lastMergeCheckMs = now;
    for (const source of ctx.peers.values()) {
      if (!source.merging || !source.isLeader() || ctx.finishing.has(source.regionId)) continue;
      // The target it was prepared for, or the region that has since absorbed that target.
      const named = source.merging.targetId;
      const target = ctx.peers.get(named) ?? [...ctx.peers.values()].find((p) => p.absorbs(named));
      if (!target) continue;
      if (target.isLeader()) {
        this.commitMerge(target, source, 0).catch(() => undefined);
        continue;
      }
      const leaderStore = target.leaderStoreId();
      const there = source.region.peers.find((p) => p.storeId === leaderStore && p.role === 'voter');
      if (there) {
        source.node.transferLeader(there.id);
        ctx.kick(source);
      }
    }
  }

  /** A region that a prepared source waits to merge into keeps its shape until the merge commits. */
  private refuseIfMergeTarget(peer: RegionPeer): void {
    const ctx = this.ctx;
    for (const other of ctx.peers.values()) {
      if (other.merging?.targetId === peer.regionId) throw new ServerBusyError(`region ${other.regionId} is merging into region ${peer.regionId}; retry after it completes`);
    }
  }

  /** Waits (at most `waitMs`) until every member of the source's group holds its log up to `index`. */
  private async sourceReplicasCaughtUp(source: RegionPeer, index: number, waitMs: number): Promise<boolean> {
    const ctx = this.ctx;
    const deadline = ctx.opts.clock.now() + waitMs;
    for (;;) {
      if (!source.isLeader() || ctx.closed) return false;
      const progress = source.node.status().progress;
      // A replica whose store lost its data never catches up: it is refused, and replaced in the
      // merged region (rejoin-store), so the merge need not wait for it.
      const lost = new Set(ctx.guard.lostReplicas().filter((l) => l.regionId === source.regionId).map((l) => l.peerId));
      if ([...progress].every(([id, p]) => p.match >= index || lost.has(id))) return true;
      if (ctx.opts.clock.now() > deadline) return false;
      await new Promise<void>((resolve) => ctx.opts.clock.setTimer(ctx.opts.tickMs, resolve));
    }
  }

  /** Whether the target's log holds a CommitMerge for `sourceId` not applied yet (one applied already took effect, or failed for good). */
  private targetLogHasCommitMerge(target: RegionPeer, sourceId: number): boolean {
    const log = target.node.raft.raftLog;
    const from = Math.max(log.firstIndex(), target.storage.applyState.applied + 1);
    for (const e of log.slice(from, log.lastIndex() + 1, Number.MAX_SAFE_INTEGER)) {
      if (e.type !== 'normal' || e.data[0] !== TAG_ADMIN) continue;
      const cmd = decodeAdminCommand(untagEntryData(e.data).payload);
      if (cmd.type === 'commitMerge' && cmd.sourceId === sourceId) return true;
    }
    return false;
  }

  /** The middle data key of a region by count (RheaKV's split key); refuses with TooSmallToSplit below `minKeysToSplit`. */
  private async middleKey(peer: RegionPeer): Promise<Uint8Array> {
    const ctx = this.ctx;
    const range = prefixedRange(DATA_PREFIX, peer.region.startKey, peer.region.endKey);
    const { keys } = await ctx.engine.approximateSize(range);
    if (keys < ctx.opts.minKeysToSplit) throw new TooSmallToSplitError(keys, ctx.opts.minKeysToSplit);
    const half = await ctx.engine.scan({ ...range, limit: Math.floor(keys / 2) + 1 });
    return decodeKey(half[half.length - 1].key).slice();
  }

  /**
   * Hands a region's leadership to its replica on `toStoreId` (catch up, then TimeoutNow).
   * Resolves once that replica leads; rejects with `Timeout` if the transfer was abandoned.
   */
  async transferLeader(regionId: number, epoch: RegionEpoch | undefined, toStoreId: number): Promise<void> {
    const ctx = this.ctx;
    const peer = peerFor(ctx, regionId, epoch);
    if (!peer.isLeader()) throw peer.notLeader();
    const target = peer.region.peers.find((p) => p.storeId === toStoreId);
    if (!target) throw new InvalidArgumentError('toStoreId', `store ${toStoreId} hosts no replica of region ${regionId}`);
    if (target.role !== 'voter') throw new InvalidArgumentError('toStoreId', `the replica on store ${toStoreId} is a learner and cannot lead`);
    if (toStoreId === ctx.storeId) return;
    peer.node.transferLeader(target.id);
    ctx.kick();
    const deadline = ctx.opts.clock.now() + 4 * (ctx.opts.raft?.electionTick ?? 10) * ctx.opts.tickMs;
    while (peer.node.raft.lead !== target.id || peer.isLeader()) {
      if (ctx.opts.clock.now() > deadline || ctx.closed) throw new TimeoutError(`leadership of region ${regionId} did not move to store ${toStoreId}`);
      await new Promise<void>((resolve) => ctx.opts.clock.setTimer(ctx.opts.tickMs, resolve));
    }
  }

  /**
   * Changes a region's membership by one step through its Raft log: add a learner on a store,
   * promote the learner on a store to voter, or remove the replica on a store. Resolves with the
   * region once applied. The leader's own replica cannot be removed: transfer leadership first.
   */
  async changePeer(regionId: number, epoch: RegionEpoch | undefined, change: 'addLearner' | 'promote' | 'remove', storeId: number, newPeerId?: number, stamp?: string): Promise<Region> {
    const ctx = this.ctx;
    const peer = peerFor(ctx, regionId, epoch);
    if (!peer.isLeader()) throw peer.notLeader();
    this.refuseIfMergeTarget(peer);
    const existing = peer.region.peers.find((p) => p.storeId === storeId);
    let cc: ConfChange;
    if (change === 'addLearner') {
      if (existing) throw new InvalidArgumentError('storeId', `store ${storeId} already hosts a replica of region ${regionId}`);
      const id = newPeerId ?? this.allocId();
      // Stamp the incarnation of the store's data the replica is made for: if that store loses its
      // data again, this replica's messages stop counting (incarnation-guard.ts). Best is the one
      // the store itself reported (`stamp`, from `ident`): the link here may still show the one
      // before a wipe, its frames not yet arrived. Without a stamp nor any frame from the store
      // since this one started, there is nothing to stamp for a store seen before: an unstamped
      // replica would be judged by the first incarnation ever seen of the store, which after a
      // wipe is the old one, and the new replica would be refused for good. (A store never seen
      // here is judged by the first incarnation its frames bring: the one it runs.)
      const incarnation = stamp ?? (storeId === ctx.storeId ? ctx.opts.incarnation : ctx.guard.currentOf(storeId));
      if (incarnation === undefined && ctx.guard.firstSeen(storeId) !== undefined) throw new ServerBusyError(`store ${storeId} has not been heard from since this store started, so the incarnation of its data is unknown`);
      const added = incarnation === undefined ? { id, storeId, role: 'learner' as const } : { id, storeId, role: 'learner' as const, incarnation };
      cc = { transition: 'auto', changes: [{ type: 'addLearner', nodeId: id }], context: encodeMembershipContext([added]) };
    } else {
      if (!existing) throw new InvalidArgumentError('storeId', `store ${storeId} hosts no replica of region ${regionId}`);
      if (change === 'promote' && existing.role !== 'learner') throw new InvalidArgumentError('storeId', `the replica on store ${storeId} is already a voter`);
      // A learner counts as a voter only once it holds (nearly all of) the log: promoted empty, it
      // would be a member without data (and, with one more store down, a majority without it).
      // A few entries behind is fine: under steady writes it may never be exactly level.
      const match = peer.node.raft.trk.progress.get(existing.id)?.match ?? 0;
      const committed = peer.node.raft.raftLog.committed;
      if (change === 'promote' && (match === 0 || committed - match > PROMOTE_LAG_MAX)) throw new ServerBusyError(`the learner on store ${storeId} is catching up (at ${match} of ${committed})`);
      if (change === 'remove' && existing.id === peer.peerId) throw new InvalidArgumentError('storeId', `store ${storeId} holds the leader; transfer leadership first`);
      cc = { transition: 'auto', changes: [{ type: change === 'promote' ? 'addNode' : 'removeNode', nodeId: existing.id }] };
    }
    const result = peer.proposeConfChange(cc);
    ctx.kick();
    return result;
  }

  /** Ids for new regions and peers: from the placement driver when there is one, else 52 random bits. */
  private allocId(): number {
    const ctx = this.ctx;
    return ctx.opts.allocId ? ctx.opts.allocId() : randomId(ctx.opts.rand);
  }

  /** On leaders, now and then: split regions whose keys or bytes passed `splitKeys` / `splitBytes`. */
  maybeAutoSplit(): void {
    const ctx = this.ctx;
    const { splitKeys, splitBytes, splitCheckIntervalMs } = ctx.opts;
    if (splitKeys <= 0 && splitBytes <= 0) return;
    const now = ctx.opts.clock.now();
    if (now - this.lastSplitCheckMs < splitCheckIntervalMs) return;
    this.lastSplitCheckMs = now;
    for (const peer of ctx.peers.values()) {
      if (!peer.isLeader() || peer.splitPending || !peer.storage.initialized || isPdGroup(peer)) continue;
      const range = prefixedRange(DATA_PREFIX, peer.region.startKey, peer.region.endKey);
      void ctx.engine
        .approximateSize(range)
        .then((size) => {
          const over = (splitKeys > 0 && size.keys >= splitKeys) || (splitBytes > 0 && size.bytes >= splitBytes);
          if (over && peer.isLeader() && !ctx.closed) return this.splitRegion(peer.regionId, peer.region.epoch);
          return undefined;
        })
        .catch((e) => ctx.opts.logger.debug('automatic split did not happen', { regionId: peer.regionId, error: String(e) }));
    }
  }
}
