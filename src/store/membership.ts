/**
 * Region membership as the store sees it: which peer (replica id) lives on which store, kept in
 * step with the Raft configuration. A configuration change carries, in its context, the store of
 * every peer it adds, so that every replica can update the region's peer list when it applies it.
 */
import { packValue, unpackValue } from '../codec/msgpack.ts';
import type { ConfChange } from '../raft/types.ts';
import type { Peer, Region } from '../region/types.ts';

/**
 * Encodes the stores of the peers a change adds, as its context: `[id, storeId]`, or
 * `[id, storeId, incarnation]` when the leader knows which incarnation of the store it adds.
 */
export function encodeMembershipContext(peers: readonly Peer[]): Uint8Array {
  return packValue(peers.map((p) => (p.incarnation === undefined ? [p.id, p.storeId] : [p.id, p.storeId, p.incarnation]))).slice();
}

/** Where an added peer lives, as its change's context says. */
export interface AddedPeer {
  storeId: number;
  incarnation?: string;
}

/** Decodes {@link encodeMembershipContext}; an unreadable context yields no peers. */
export function decodeMembershipContext(context: Uint8Array | undefined): Map<number, AddedPeer> {
  const out = new Map<number, AddedPeer>();
  if (!context || context.length === 0) return out;
  try {
    const raw = unpackValue(context);
    if (!Array.isArray(raw)) return out;
    for (const item of raw) {
      if (!Array.isArray(item) || !Number.isSafeInteger(item[0]) || !Number.isSafeInteger(item[1])) continue;
      const inc = item[2];
      out.set(item[0], typeof inc === 'string' && inc.length > 0 && inc.length <= 64 ? { storeId: item[1], incarnation: inc } : { storeId: item[1] });
    }
  } catch {
    // A context we cannot read adds no store information; the change still applies to Raft.
  }
  return out;
}

/**
 * The region after a committed configuration change: peers added (as voters or learners),
 * promoted, demoted or removed, and `confVer` one higher. Leaving a joint configuration also
 * bumps `confVer`. Returns the same object when nothing about the region changed.
 */
export function applyConfChangeToRegion(region: Region, cc: ConfChange): Region {
  const stores = decodeMembershipContext(cc.context);
  let peers = region.peers.map((p) => ({ ...p }));
  for (const c of cc.changes) {
    const existing = peers.find((p) => p.id === c.nodeId);
    if (c.type === 'removeNode') {
      peers = peers.filter((p) => p.id !== c.nodeId);
      continue;
    }
    const role = c.type === 'addNode' ? 'voter' : 'learner';
    if (existing) existing.role = role;
    else {
      const added = stores.get(c.nodeId);
      // Without a store the peer cannot be reached; it is still a Raft member and will be
      // learned from the next change or snapshot that names it.
      if (added !== undefined) peers.push(added.incarnation === undefined ? { id: c.nodeId, storeId: added.storeId, role } : { id: c.nodeId, storeId: added.storeId, role, incarnation: added.incarnation });
    }
  }
  peers.sort((a, b) => a.id - b.id);
  return { ...region, peers, epoch: { confVer: region.epoch.confVer + 1, version: region.epoch.version } };
}
