/**
 * The PD member checker: keeps the placement driver's own Raft group on live stores
 * (docs/pd-membership.md). It runs on the PD leader, which is also the leader of PD's group, so it
 * reads the group's shape and its followers' progress first hand rather than from heartbeats. One
 * step per round, read off the group's shape, so a change survives a PD leader that stops or loses
 * leadership half way (the next leader takes the next step from what it finds):
 *
 * 1. a learner whose store is lost or unusable (or whose store's data was wiped) is removed;
 * 2. a learner that holds the log (within {@link PD_PROMOTE_LAG_MAX}) is promoted — when a lost
 *    voter is waiting for it, in the same change the lost voter is removed (joint consensus: the
 *    old and the new voters must both agree on everything until the joint state is left);
 * 3. fewer good voters than {@link pdTargetSize}: a learner is added on a usable store without a
 *    PD replica; when every usable store already has one (the lost voter's store came back wiped,
 *    under a new incarnation), the lost voter is removed first, so its store can take a new one;
 * 4. more voters than the target: a lost voter is removed first, else a good one on the highest
 *    store id; PD's leader is never removed, its leadership is handed over first.
 *
 * No step leaves the group's healthy voters short of a majority, and nothing happens before the
 * view is warm (every live store has reported), nor while the group is in a joint state.
 */
import type { Peer } from '../region/types.ts';
import type { PdConfig } from './config.ts';
import { isStoreDown, isStoreUsable, isViewWarm, replicaCounts, usableStoreIds } from './health.ts';
import type { IdAllocator } from './instructions.ts';
import type { ClusterView } from './types.ts';

/** PD's group never grows past this many voters (etcd's advice: 3 or 5). */
export const PD_SIZE_MAX = 5;
/** How many committed entries a PD learner may lack and still be promoted. */
export const PD_PROMOTE_LAG_MAX = 64;

/** PD's group as its leader sees it. */
export interface PdGroupState {
  /** The group's members (voters and learners), with the store each lives on. */
  peers: readonly Peer[];
  /** The leader's own peer id. */
  leaderPeerId: number;
  /** The leader's commit index. */
  committed: number;
  /** Each follower's match index (the leader's progress). */
  match: ReadonlyMap<number, number>;
  /** Members the leader counts as gone: refused for a wiped store's data, or silent for `storeDownMs`. */
  lostPeerIds: ReadonlySet<number>;
  /** Whether the group is in a joint configuration (it leaves it on its own; wait). */
  joint: boolean;
}

/** One membership step of PD's group. */
export type PdMemberStep =
  | { type: 'addLearner'; storeId: number; peerId: number; incarnation?: string }
  /** Promotes `peerId`; with `removePeerId`, removes that voter in the same (joint) change. */
  | { type: 'promote'; peerId: number; removePeerId?: number }
  | { type: 'remove'; peerId: number }
  | { type: 'transferLeader'; toPeerId: number; toStoreId: number };

/**
 * How many voters PD's group aims for with `usable` stores able to host one: 5 from five stores,
 * else 3. It never aims lower than 3: with fewer stores a lost member is kept (it may come back)
 * rather than removed, since removing it would not let the group survive more.
 * @param usable - how many stores may take new replicas.
 */
export function pdTargetSize(usable: number): number {
  return usable >= PD_SIZE_MAX ? PD_SIZE_MAX : 3;
}

/**
 * The next step for PD's group, or undefined when it needs none (or none is safe now).
 * @param view - the PD leader's cluster view (store liveness, states, incarnations).
 * @param config - the configuration (`storeDownMs`, `lowSpaceRatio`).
 * @param group - PD's group as its leader sees it.
 * @param allocId - allocates the peer id of an added learner.
 */
export function checkPdMembers(view: ClusterView, config: PdConfig, group: PdGroupState, allocId: IdAllocator): PdMemberStep | undefined {
  if (group.joint || !isViewWarm(view, config)) return undefined;
  const lost = (p: Peer) => p.id !== group.leaderPeerId && (group.lostPeerIds.has(p.id) || isStoreDown(view, p.storeId, config) || wiped(view, p));
  const bad = (p: Peer) => lost(p) || (view.stores.get(p.storeId)?.state ?? 'up') !== 'up';
  const voters = group.peers.filter((p) => p.role === 'voter');
  const learners = group.peers.filter((p) => p.role === 'learner');
  const target = pdTargetSize(usableStoreIds(view, config).length);

  for (const l of learners) if (lost(l) || !isStoreUsable(view, l.storeId, config)) return { type: 'remove', peerId: l.id };
  if (learners.length > 0) {
    const ready = learners.find((l) => caughtUp(group, l.id));
    if (ready === undefined) return undefined; // a snapshot is on its way
    const victim = voters.find(bad);
    if (victim !== undefined && voters.length >= target) {
      const after = [...voters.filter((v) => v.id !== victim.id), ready];
      if (healthyMajority(after, bad)) return { type: 'promote', peerId: ready.id, removePeerId: victim.id };
    }
    return healthyMajority([...voters, ready], bad) ? { type: 'promote', peerId: ready.id } : undefined;
  }

  const good = voters.filter((v) => !bad(v));
  if (good.length < target) {
    const hosting = new Set(group.peers.map((p) => p.storeId));
    const storeId = pickPdStore(view, config, hosting);
    if (storeId !== undefined) {
      const incarnation = view.stores.get(storeId)?.heartbeat.incarnation;
      return { type: 'addLearner', storeId, peerId: allocId(), ...(incarnation === undefined ? {} : { incarnation }) };
    }
    // Every usable store hosts a member already: a lost one on a usable store (its data was
    // wiped) makes way for the new replica its store will get.
    const stale = voters.find((v) => lost(v) && isStoreUsable(view, v.storeId, config));
    if (stale !== undefined && healthyMajority(voters.filter((v) => v.id !== stale.id), bad)) return { type: 'remove', peerId: stale.id };
    return undefined;
  }
  if (voters.length <= target) return undefined;
  const victim = voters.find(bad) ?? [...good].sort((a, b) => b.storeId - a.storeId).find((v) => v.id !== group.leaderPeerId) ?? good[0];
  if (victim.id === group.leaderPeerId) {
    const to = good.find((v) => v.id !== group.leaderPeerId && caughtUp(group, v.id));
    return to === undefined ? undefined : { type: 'transferLeader', toPeerId: to.id, toStoreId: to.storeId };
  }
  return healthyMajority(voters.filter((v) => v.id !== victim.id), bad) ? { type: 'remove', peerId: victim.id } : undefined;
}

/** A member stamped with an incarnation its store no longer runs (the store came back wiped). */
function wiped(view: ClusterView, p: Peer): boolean {
  const now = view.stores.get(p.storeId)?.heartbeat.incarnation;
  return p.incarnation !== undefined && now !== undefined && now !== p.incarnation;
}

function caughtUp(group: PdGroupState, peerId: number): boolean {
  if (peerId === group.leaderPeerId) return true;
  const match = group.match.get(peerId) ?? 0;
  return match > 0 && group.committed - match <= PD_PROMOTE_LAG_MAX;
}

/** Whether the good members of `voters` are a majority of them (Raft needs that to commit the next change). */
function healthyMajority(voters: readonly Peer[], bad: (p: Peer) => boolean): boolean {
  return voters.length > 0 && voters.filter((v) => !bad(v)).length >= Math.floor(voters.length / 2) + 1;
}

/** The usable store outside `exclude` with the fewest region replicas (lowest id on a tie). */
function pickPdStore(view: ClusterView, config: PdConfig, exclude: ReadonlySet<number>): number | undefined {
  const replicas = replicaCounts(view);
  let best: number | undefined;
  for (const id of usableStoreIds(view, config)) {
    if (exclude.has(id)) continue;
    if (best === undefined || (replicas.get(id) ?? 0) < (replicas.get(best) ?? 0)) best = id;
  }
  return best;
}
