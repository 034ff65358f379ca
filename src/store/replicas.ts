/**
 * The replicas a store hosts: finding the one a request is for (`peerFor`), creating one
 * (`addPeer`: on open, from a leader's message, for a split's child), and taking one out again
 * (`destroyPeer` when it was removed, `dropRetired` / `finishAbsorbing` when a merge or a snapshot
 * superseded it). Every change to `StoreContext.peers` happens here, so that a replica never leaves
 * without its tombstone. The stages (`inbound.ts`, `apply.ts`, `ready-loop.ts`, `region-ops.ts`)
 * call these functions; they hold no state of their own.
 */

import { EpochNotMatchError, type FlotillaError, NotLeaderError, RegionNotFoundError, ServerBusyError } from '../errors.ts';
import { regionRanges } from '../kv/keys.ts';
import type { WriteOp } from '../ports.ts';
import { RawNode } from '../raft/rawnode.ts';
import { makeMessage } from '../raft/types.ts';
import { rangesOverlap, rangeWithin } from '../region/keys.ts';
import type { Region, RegionEpoch } from '../region/types.ts';
import { cloneRegion } from '../region/types.ts';
import { PeerStorage, RAFT_INIT_INDEX, RAFT_INIT_TERM } from './peer-storage.ts';
import { regionRaftRange, regionStateKey } from './raft-keys.ts';
import { PD_PREFIX } from './pd-state.ts';
import { encodeRegionState, type RegionState } from './records.ts';
import { RegionPeer } from './region-peer.ts';
import { checkOpen, confStateOf, isPdGroup, type StoreContext, tombstoneOf } from './store-context.ts';
import type { RegionInfo } from './store-options.ts';

/** Creates the replica `peerId` of `region` over `storage`, hosts it and marks it for the loop. */
export function addPeer(ctx: StoreContext, region: Region, peerId: number, storage: PeerStorage): RegionPeer {
  const r = ctx.opts.raft ?? {};
  const node = new RawNode({
    id: peerId,
    storage,
    rand: ctx.opts.rand,
    applied: storage.applyState.applied,
    // A replica that never left its initial term never followed a leader, so it owes no lease.
    restarted: storage.hardState.term > RAFT_INIT_TERM,
    electionTick: r.electionTick ?? 10,
    heartbeatTick: r.heartbeatTick ?? 2,
    preVote: r.preVote ?? true,
    checkQuorum: r.checkQuorum ?? true,
    leaseDriftTicks: r.leaseDriftTicks ?? 2,
    maxInflightMsgs: r.maxInflightMsgs ?? 256,
    maxSizePerMsg: r.maxSizePerMsg ?? 1024 * 1024,
    logger: ctx.opts.logger,
  });
  const peer = new RegionPeer(ctx.storeId, peerId, cloneRegion(region), node, storage);
  peer.localPeer = (id) => ctx.peers.get(id);
  peer.onComputeHash = (cmd, index, overlay) => ctx.computeHash(peer, cmd, index, overlay);
  peer.onWork = () => ctx.kick(peer);
  ctx.peers.set(region.id, peer);
  ctx.dirty.add(peer);
  return peer;
}

/**
 * The replica a client request for `regionId` goes to, at `epoch` when one is given.
 * @throws ServerBusy once the store stopped or while the region merges; RegionNotFound; EpochNotMatch (with this store's regions).
 */
export function peerFor(ctx: StoreContext, regionId: number, epoch: RegionEpoch | undefined): RegionPeer {
  checkOpen(ctx);
  // Every request starts here: a lease that ran out while this process was stopped is void
  // before the fast path below (lease reads without a loop turn) can trust it.
  ctx.catchUp();
  const peer = ctx.peers.get(regionId);
  if (!peer?.storage.initialized || isPdGroup(peer)) throw new RegionNotFoundError(regionId);
  const cur = peer.region.epoch;
  if (epoch && (epoch.version !== cur.version || epoch.confVer !== cur.confVer)) {
    throw new EpochNotMatchError(regionId, hostedRegions(ctx).map((r) => r.region));
  }
  if (peer.merging) throw new ServerBusyError(`region ${regionId} is merging into region ${peer.merging.targetId}; retry`);
  return peer;
}

/** The regions this store hosts (initialized replicas only), with leader hints. */
export function hostedRegions(ctx: StoreContext): RegionInfo[] {
  // The leader hints below come from the replicas' roles: bring them up to date first.
  ctx.catchUp();
  return [...ctx.peers.values()].filter((p) => p.storage.initialized && !isPdGroup(p)).map((p) => ({ region: cloneRegion(p.region), leaderStoreId: p.leaderStoreId() }));
}

/** Tells the replica `peerId` on `storeId` that it is no longer a member of `peer`'s region. */
export function sendTombstone(ctx: StoreContext, peer: RegionPeer, peerId: number, storeId: number): void {
  const r = peer.region;
  const message = makeMessage({ type: 'MsgHeartbeat', from: peer.peerId, to: peerId });
  const region = { startKey: r.startKey, endKey: r.endKey, confVer: r.epoch.confVer, version: r.epoch.version, tombstone: true };
  ctx.counters.tombstonesSent++;
  if (storeId === ctx.storeId) ctx.receiveRaft(ctx.storeId, [{ regionId: r.id, message, region }]);
  else ctx.opts.sendRaft(storeId, [{ regionId: r.id, message, region }]);
}

/**
 * Removes a replica from this store: its Raft state goes, its key ranges are cleared (no other
 * replica here serves them), and a tombstone keeps stale messages from recreating it.
 */
export async function destroyPeer(ctx: StoreContext, peer: RegionPeer, why: string): Promise<void> {
  if (ctx.peers.get(peer.regionId) !== peer) return;
  ctx.peers.delete(peer.regionId);
  peer.retire(new NotLeaderError(peer.regionId, 0));
  ctx.tombstones.set(peer.regionId, tombstoneOf(peer.region, peer.peerId));
  const ops: WriteOp[] = [
    { type: 'deleteRange', ...regionRaftRange(peer.regionId) },
    { type: 'put', key: regionStateKey(peer.regionId), value: encodeRegionState({ region: peer.region, peerId: peer.peerId, state: 'tombstone' }) },
  ];
  // PD's group spans no keys (its empty bounds would read as the whole key space): its state is PD's prefix.
  const ranges = isPdGroup(peer) ? [{ start: Uint8Array.of(PD_PREFIX), end: Uint8Array.of(PD_PREFIX + 1) }] : regionRanges(peer.region);
  if (peer.storage.initialized) for (const r of ranges) ops.push({ type: 'deleteRange', start: r.start, end: r.end });
  ctx.counters.peersDestroyed++;
  ctx.opts.logger.info('replica destroyed', { regionId: peer.regionId, peerId: peer.peerId, why });
  await ctx.engine.write(ops, { sync: true });
}

/**
 * The replicas on this store that a snapshot of `region` (for `peer`) supersedes: regions merged
 * into it while this store lagged (older, and inside its range). Throws if the range overlaps a
 * region here that it does not supersede (say, an unsplit parent: the split will come).
 */
export function supersededBy(ctx: StoreContext, peer: RegionPeer, region: Region, absorbed: readonly number[] = []): RegionPeer[] {
  const stale: RegionPeer[] = [];
  if (isPdGroup(peer)) return stale;
  for (const other of ctx.peers.values()) {
    // A region the snapshot's region absorbed (even if its range has since been split off again).
    if (other !== peer && absorbed.includes(other.regionId)) {
      stale.push(other);
      continue;
    }
    if (other === peer || isPdGroup(other) || !other.storage.initialized || !rangesOverlap(other.region.startKey, other.region.endKey, region.startKey, region.endKey)) continue;
    if (rangeWithin(other.region.startKey, other.region.endKey, region.startKey, region.endKey) && other.region.epoch.version < region.epoch.version) {
      stale.push(other);
      continue;
    }
    throw new Error(`its range overlaps region ${other.regionId} on this store`);
  }
  return stale;
}

/** Stages the retirement of a merge source's replica: its Raft state goes, its data now belongs to the target. */
export function stageRetire(source: RegionPeer, ops: WriteOp[]): void {
  ops.push({ type: 'deleteRange', ...regionRaftRange(source.regionId) });
  ops.push({ type: 'put', key: regionStateKey(source.regionId), value: encodeRegionState({ region: source.region, peerId: source.peerId, state: 'tombstone' }) });
}

/** Takes a replica out of the store once a snapshot that supersedes it is installed (its retirement is written with the install). */
export function dropRetired(ctx: StoreContext, peer: RegionPeer): void {
  if (ctx.peers.get(peer.regionId) !== peer) return;
  ctx.peers.delete(peer.regionId);
  ctx.mergeWaiters.delete(peer);
  ctx.tombstones.set(peer.regionId, tombstoneOf(peer.region, peer.peerId));
  peer.retire(new RegionNotFoundError(peer.regionId));
  ctx.counters.merges++;
}

/** Drops the replicas of merge sources absorbed this turn (their retirement is written). */
export function finishAbsorbing(ctx: StoreContext, target: RegionPeer): void {
  for (const source of target.absorbed) {
    if (ctx.peers.get(source.regionId) !== source) continue;
    ctx.peers.delete(source.regionId);
    ctx.tombstones.set(source.regionId, tombstoneOf(source.region, source.peerId));
    source.retire(new RegionNotFoundError(source.regionId));
    ctx.counters.merges++;
  }
  target.absorbed = [];
}

/** Stages the initial state of a region this store now hosts (a split's child). */
export function stageNewRegion(ctx: StoreContext, region: Region, ops: WriteOp[]): void {
  const me = region.peers.find((p) => p.storeId === ctx.storeId);
  if (!me || ctx.peers.has(region.id)) return;
  const storage = PeerStorage.initial(region.id, confStateOf(region));
  storage.stageApplyState(ops);
  storage.stageHardState(storage.hardState, ops);
  ops.push({ type: 'put', key: regionStateKey(region.id), value: encodeRegionState({ region, peerId: me.id, state: 'normal' }) });
}

/** Starts the replicas of regions split off this turn; a child of a leader campaigns at once (TiKV does the same). */
export function startSplitChildren(ctx: StoreContext, parent: RegionPeer): void {
  for (const child of parent.splitChildren) {
    const me = child.peers.find((p) => p.storeId === ctx.storeId);
    if (!me || ctx.peers.has(child.id)) continue;
    const peer = addPeer(ctx, child, me.id, PeerStorage.initial(child.id, confStateOf(child), parent.lastNowMs));
    if (parent.isLeader()) peer.node.campaign();
    ctx.counters.splits++;
  }
  parent.splitChildren = [];
}

/** What to persist as a replica's region state. */
export function regionStateOf(peer: RegionPeer): RegionState {
  const rs: RegionState = { region: peer.region, peerId: peer.peerId, state: 'normal' };
  if (peer.merging) rs.merging = peer.merging;
  if (peer.absorbedIds.length > 0) rs.absorbed = peer.absorbedIds;
  return rs;
}

/** Stops the store: no more ticks, and every read and proposal still waiting fails. */
export async function shutdown(ctx: StoreContext, reason: FlotillaError | Error, proposalsReason: FlotillaError | Error = reason): Promise<void> {
  ctx.closed = true;
  ctx.stopTicking();
  for (const peer of ctx.peers.values()) {
    peer.failReads(reason);
    peer.failProposals(proposalsReason);
  }
}

/**
 * Whether `peer` is the only voter of its region as far as its log goes: initialized, alone in
 * its (non-joint) voter set, and no membership change waiting unapplied in its log (until one
 * applies, the voter set the replica knows may not be the one that counts; etcd refuses to
 * campaign then too).
 */
export function soleVoter(peer: RegionPeer): boolean {
  if (!peer.storage.initialized) return false;
  const cs = peer.node.confState();
  if (cs.voters.length !== 1 || cs.voters[0] !== peer.peerId || cs.votersOutgoing.length > 0) return false;
  const log = peer.node.raft.raftLog;
  const from = Math.max(peer.storage.applyState.applied + 1, log.firstIndex());
  const to = log.lastIndex();
  if (from > to) return true;
  return !log.slice(from, to + 1, Number.MAX_SAFE_INTEGER).some((e) => e.type === 'confChange');
}

/**
 * What a replica opening fresh from bootstrap does about its region's first election: the voter
 * at `region.id % voters` (in id order) is the chosen first leader and campaigns at once
 * (`'campaign'`), so that first leaders spread evenly over the stores; the other voters wait
 * longer than usual (`'wait'`). Regions bootstrapped together would otherwise all wait out
 * randomized timeouts and campaign on every store at once (issue 18: with thousands of regions
 * the votes of one campaign are not counted before the next timers fire). One candidate per
 * region instead, like a split's child campaigning on its parent leader's store. `'none'` for
 * any replica that ever voted or appended (term, vote and log are not the bootstrap's), a
 * sole voter (it campaigns anyway) and PD's group. Timing only: the election is the one a
 * timeout would start (pre-vote, same term rules).
 */
export function bootstrapLeader(peer: RegionPeer): 'campaign' | 'wait' | 'none' {
  if (!peer.storage.initialized || isPdGroup(peer)) return 'none';
  const hs = peer.storage.hardState;
  if (hs.term !== RAFT_INIT_TERM || hs.vote !== 0 || peer.node.raft.raftLog.lastIndex() !== RAFT_INIT_INDEX) return 'none';
  const cs = peer.node.confState();
  if (cs.votersOutgoing.length > 0 || cs.voters.length < 2 || !cs.voters.includes(peer.peerId)) return 'none';
  const voters = [...cs.voters].sort((a, b) => a - b);
  return voters[peer.regionId % voters.length] === peer.peerId ? 'campaign' : 'wait';
}
