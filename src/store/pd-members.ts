/**
 * What `flotilla pd members` shows (docs/pd-membership.md): PD's group as its leader sees it, each
 * member with its store, peer id, role, how far its log matches the leader's and whether PD
 * counts its store as up. Only the leader knows the followers' progress, so only it answers.
 */
import type { PdConfig } from '../pd/config.ts';
import { isStoreDown } from '../pd/health.ts';
import type { ClusterView } from '../pd/types.ts';
import type { RegionPeer } from './region-peer.ts';

/** A member of PD's group, as `flotilla pd members` shows it. */
export interface PdMemberInfo {
  storeId: number;
  peerId: number;
  role: 'voter' | 'learner';
  /** Whether it leads PD's group. */
  leader: boolean;
  /** How far its log is known to match the leader's (the leader's own: its applied index). */
  appliedIndex: number;
  /** Whether PD counts its store as up (heard from within `storeDownMs`). */
  up: boolean;
}

/** PD's group as its leader reports it. */
export interface PdMembersInfo {
  leaderStoreId: number;
  /** The leader's commit index in PD's group. */
  commitIndex: number;
  members: PdMemberInfo[];
}

/**
 * PD's members as its leader's replica `peer` (on `storeId`) sees them.
 * @param peer - this store's replica of PD's group; it leads the group.
 * @param storeId - this store.
 * @param view - the PD leader's cluster view (undefined while it is being built: every other store counts as down).
 * @param config - PD's configuration (`storeDownMs`).
 */
export function pdMembersOf(peer: RegionPeer, storeId: number, view: ClusterView | undefined, config: PdConfig): PdMembersInfo {
  const raft = peer.node.raft;
  const members = peer.region.peers.map((p): PdMemberInfo => {
    const self = p.id === peer.peerId;
    const down = !self && (view === undefined || isStoreDown(view, p.storeId, config));
    return { storeId: p.storeId, peerId: p.id, role: p.role === 'voter' ? 'voter' : 'learner', leader: self, appliedIndex: self ? peer.storage.applyState.applied : (raft.trk.progress.get(p.id)?.match ?? 0), up: !down };
  });
  return { leaderStoreId: storeId, commitIndex: raft.raftLog.committed, members: members.sort((a, b) => a.storeId - b.storeId) };
}
