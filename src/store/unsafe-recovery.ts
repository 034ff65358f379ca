/**
 * Unsafe recovery, the store's side (TiKV's online unsafe recovery, reduced to its core): when the
 * stores holding a majority of a region's voters are lost for good, no leader can ever be elected
 * again and the region is down for good. The operator names the lost stores; the admin client
 * (`src/client/recovery.ts`) asks every surviving store for a {@link ReplicaReport} of each
 * replica it hosts, picks for each region that lost its majority the surviving voter with the
 * highest (last term, last index), and tells that store to {@link forceRecovery}:
 *
 * 1. its replica's Raft configuration is rewritten in memory to the survivors (a local decision,
 *    logged: no quorum could ever make it), so that a majority of the new configuration is alive;
 * 2. it campaigns, and wins with the survivors' votes (or alone);
 * 3. as leader it removes every lost replica through the log, one ordinary single-step membership
 *    change at a time: every survivor appends and applies them like any change, the region's
 *    descriptor (and `confVer`) follows, and PD learns the new membership from the leader's next
 *    region heartbeat (and adds replicas on live stores to reach the replica count).
 *
 * What it costs (docs/disaster-recovery.md): writes acknowledged by the lost majority but not
 * on the chosen survivor are gone, and entries the survivor holds uncommitted become committed.
 * Linearizability does not hold across the recovery for those regions.
 */
import { InvalidArgumentError, NotLeaderError, RegionNotFoundError, ServerBusyError, TimeoutError } from '../errors.ts';
import { applyConfChange, decodeConfChange } from '../raft/confchange.ts';
import type { TrackerConfig } from '../raft/tracker.ts';
import type { Region } from '../region/types.ts';
import { cloneRegion } from '../region/types.ts';
import type { RegionOps } from './region-ops.ts';
import type { RegionPeer } from './region-peer.ts';
import { isPdGroup, type StoreContext } from './store-context.ts';

/** What a store says of one replica it hosts, for planning a recovery. */
export interface ReplicaReport {
  storeId: number;
  region: Region;
  peerId: number;
  /** Whether it is a replica of PD's own group. */
  pd: boolean;
  lastIndex: number;
  lastTerm: number;
  commit: number;
  applied: number;
  /** leader, follower, candidate, ... */
  state: string;
}

/** Every initialized replica this store hosts (PD's group included), for `flotilla recover`. */
export function recoveryReport(ctx: StoreContext): ReplicaReport[] {
  ctx.catchUp();
  const out: ReplicaReport[] = [];
  for (const p of ctx.peers.values()) {
    if (!p.storage.initialized || p.retired) continue;
    const log = p.node.raft.raftLog;
    out.push({
      storeId: ctx.storeId,
      region: cloneRegion(p.region),
      peerId: p.peerId,
      pd: isPdGroup(p),
      lastIndex: log.lastIndex(),
      lastTerm: log.term(log.lastIndex()),
      commit: log.committed,
      applied: p.storage.applyState.applied,
      state: p.node.raft.state,
    });
  }
  return out;
}

/** Whether the stores not in `lost` hold a majority of `voters` (peer ids, mapped to stores by `storeOf`). */
export function majoritySurvives(voters: readonly number[], storeOf: (peerId: number) => number, lost: ReadonlySet<number>): boolean {
  const alive = voters.filter((id) => !lost.has(storeOf(id))).length;
  return alive * 2 > voters.length;
}

/**
 * Brings this store's replica of `regionId` back as the leader of the surviving replicas: rewrites
 * its configuration to the voters not on `lostStoreIds`, campaigns, then removes the lost replicas
 * through the log. Resolves with the region once every lost replica is removed.
 * @throws InvalidArgumentError when the region still has a majority (nothing to do), when this
 *   replica is not a voter or is itself on a lost store, or in a joint configuration;
 *   TimeoutError when it did not finish within `waitMs` (run the recovery again: it resumes).
 */
export async function forceRecovery(ctx: StoreContext, ops: RegionOps, regionId: number, lostStoreIds: readonly number[], waitMs: number): Promise<Region> {
  const peer = ctx.peers.get(regionId);
  if (!peer?.storage.initialized || peer.retired) throw new RegionNotFoundError(regionId);
  const lost = new Set(lostStoreIds);
  if (lost.has(ctx.storeId)) throw new InvalidArgumentError('lost', `store ${ctx.storeId} answers this request: it is not lost`);
  const deadline = ctx.opts.clock.now() + waitMs;
  const lostPeers = () => peer.region.peers.filter((p) => lost.has(p.storeId));
  if (lostPeers().length === 0) return cloneRegion(peer.region);
  // Forced whatever the role: a leader that has not yet noticed it lost its quorum (check-quorum
  // steps it down within an election timeout) could commit nothing. On a second run the
  // configuration in effect is the survivors already, and it only needs to lead them.
  const cfg = peer.node.raft.config();
  if (cfg.votersOutgoing.length > 0 || !majoritySurvives(cfg.voters, (id) => peer.storeOf(id), lost)) forceConfig(ctx, peer, lost);
  await becomeLeader(ctx, peer, deadline);
  for (;;) {
    const next = lostPeers()[0];
    if (!next) return cloneRegion(peer.region);
    if (ctx.opts.clock.now() > deadline) throw new TimeoutError(`region ${regionId}: the lost replicas are not all removed yet (left: stores ${lostPeers().map((p) => p.storeId).join(',')}); run the recovery again`);
    try {
      await ops.changePeer(regionId, undefined, 'remove', next.storeId);
    } catch (e) {
      // Busy: the leader's first entry of its term must commit first, or another change is pending.
      // NotLeader: leadership moved among the survivors meanwhile; lead them again.
      if (e instanceof NotLeaderError) await becomeLeader(ctx, peer, deadline);
      else if (!(e instanceof ServerBusyError)) throw e;
      await sleep(ctx, ctx.opts.tickMs);
    }
  }
}

/** Step 1: the replica's configuration becomes the surviving voters (and learners). */
function forceConfig(ctx: StoreContext, peer: RegionPeer, lost: ReadonlySet<number>): void {
  const raft = peer.node.raft;
  const cfg = raft.config();
  const storeOf = (id: number) => peer.storeOf(id);
  if (cfg.votersOutgoing.length > 0) {
    throw new InvalidArgumentError('region', `region ${peer.regionId} is in a joint configuration (a membership change was under way); unsafe recovery does not handle that yet`);
  }
  if (majoritySurvives(cfg.voters, storeOf, lost)) {
    throw new InvalidArgumentError('lost', `region ${peer.regionId} still has a majority of its voters (stores ${cfg.voters.map(storeOf).join(',')}): nothing to recover, it elects a leader by itself`);
  }
  if (!cfg.voters.includes(peer.peerId)) throw new InvalidArgumentError('region', `the replica of region ${peer.regionId} on store ${ctx.storeId} is not a voter`);
  const log = raft.raftLog;
  const keep = (ids: readonly number[]) => ids.filter((id) => !lost.has(storeOf(id)));
  const forced: TrackerConfig = { voters: keep(cfg.voters), votersOutgoing: [], learners: keep(cfg.learners), learnersNext: [], autoLeave: false };
  // A membership change in the log past the commit index (PD reacting to the lost stores, say)
  // takes effect when appended, and commits with the new leader's first entry: it is replayed
  // over the forced configuration, unless it would give a lost store a vote back.
  const tail = log.slice(log.committed + 1, log.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
  let after = forced;
  for (const e of tail) {
    if (e.type !== 'confChange') continue;
    try {
      after = applyConfChange(after, decodeConfChange(e.data));
    } catch {
      // invalid here as on every replica: the core skips it too
    }
  }
  if (after.votersOutgoing.length > 0 || after.voters.some((id) => lost.has(storeOf(id)))) {
    throw new InvalidArgumentError('region', `region ${peer.regionId} holds an uncommitted membership change on store ${ctx.storeId} that gives a lost store a vote, or enters a joint configuration; unsafe recovery does not handle that yet`);
  }
  ctx.opts.logger.warn('unsafe recovery: forcing the configuration of a region that lost its majority to its surviving replicas', {
    regionId: peer.regionId,
    voters: forced.voters.map(storeOf),
    lost: [...lost],
    lastIndex: log.lastIndex(),
    commit: log.committed,
  });
  raft.restoreConfig(forced);
  raft.onAppended(tail);
  peer.node.campaign();
  ctx.kick(peer);
}

/** Step 2: waits until the replica leads (campaigning again each election timeout). */
async function becomeLeader(ctx: StoreContext, peer: RegionPeer, deadline: number): Promise<void> {
  const electionMs = (ctx.opts.raft?.electionTick ?? 10) * ctx.opts.tickMs;
  let nextCampaign = ctx.opts.clock.now() + electionMs;
  while (!peer.isLeader()) {
    if (peer.retired || ctx.closed) throw new RegionNotFoundError(peer.regionId);
    if (ctx.opts.clock.now() > deadline) throw new TimeoutError(`region ${peer.regionId}: the replica on store ${ctx.storeId} did not become leader of the survivors; run the recovery again`);
    if (ctx.opts.clock.now() >= nextCampaign && peer.node.raft.state !== 'leader') {
      peer.node.campaign();
      ctx.kick(peer);
      nextCampaign = ctx.opts.clock.now() + electionMs;
    }
    await sleep(ctx, ctx.opts.tickMs);
  }
}

function sleep(ctx: StoreContext, ms: number): Promise<void> {
  return new Promise((resolve) => ctx.opts.clock.setTimer(ms, resolve));
}
