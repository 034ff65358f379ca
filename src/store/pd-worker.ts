/**
 * The placement driver's side of a store. PD's replicated state lives in its own Raft group
 * (`pd-state.ts`, hosted like a region that serves no keys); `pd-service.ts` runs the heartbeats
 * and, on PD's leader, the scheduling. This stage is what PdService sees of the store
 * ({@link PdHost}): store and region heartbeats (sizes, down and pending peers), the auth table
 * kept current through PD, and the instructions PD sends, carried out through `region-ops.ts`.
 */

import { type AuthChange, type AuthTable, decodeAuthTable, encodeAuthTable } from '../auth/table.ts';
import { InvalidArgumentError, NotLeaderError } from '../errors.ts';
import { DATA_PREFIX, prefixedRange } from '../kv/keys.ts';
import type { Instruction } from '../pd/instructions.ts';
import type { RegionHeartbeat } from '../pd/types.ts';
import type { PdGroupState, PdMemberStep } from '../pd/pd-member-checker.ts';
import type { ConfChange } from '../raft/types.ts';
import { cloneRegion } from '../region/types.ts';
import { encodeMembershipContext } from './membership.ts';
import { hashReportSchema } from './consistency-types.ts';
import { LeaseWorker } from './lease-host.ts';
import { decodePdMessage, encodePdMessage, type PdHost, PdService } from './pd-service.ts';
import { loadAuthTable, loadPdState, PD_GROUP_ID } from './pd-state.ts';
import type { RegionOps } from './region-ops.ts';
import { isPdGroup, type StoreContext } from './store-context.ts';

/** Connects the store to its placement driver: heartbeats out, instructions and auth tables in. */
export class PdWorker {
  private readonly ctx: StoreContext;
  private readonly ops: RegionOps;
  /** TTL leases: PD leader's keeper and this store's part in revokes (`lease-host.ts`). */
  readonly leases: LeaseWorker;

  /** Creates the store's PdService (when the store runs PD) and sets it as `ctx.pd`. */
  constructor(ctx: StoreContext, ops: RegionOps) {
    this.ctx = ctx;
    this.ops = ops;
    if (ctx.opts.pd) {
      if (!ctx.opts.sendPd) throw new InvalidArgumentError('sendPd', 'is required with pd');
      ctx.pd = new PdService(this.pdHost(), ctx.opts.pd);
    }
    this.leases = new LeaseWorker(ctx, (to, message) => this.pdHost().send(to, message));
  }

  /** Receives a PD message from another store (or this one). Malformed ones are dropped. */
  receivePd(fromStoreId: number, payload: Uint8Array): void {
    const ctx = this.ctx;
    if (ctx.closed) return;
    const m = decodePdMessage(payload);
    // Hash reports ride this store-to-store channel but are the store's, with or without PD.
    if (m?.type === 'hashReport') {
      const r = hashReportSchema.safeParse(m.report);
      if (r.success) ctx.hashReported(fromStoreId, r.data);
      return;
    }
    if (!ctx.pd) return;
    ctx.catchUp();
    if (m && this.leases.receive(fromStoreId, m)) return;
    if (m) ctx.pd.receive(fromStoreId, m);
  }

  /** Asks PD to drain this or another store (`offline`: its replicas move away) or forget it (`tombstone`). */
  setStoreState(storeId: number, state: 'up' | 'offline' | 'tombstone'): void {
    const ctx = this.ctx;
    if (!ctx.pd) throw new InvalidArgumentError('pd', 'this store runs without a placement driver');
    ctx.pd.setStoreState(storeId, state);
  }

  /**
   * Changes the users, roles or the auth switch through PD's group; only PD's leader does.
   * @throws NotLeaderError (with a hint) elsewhere; InvalidArgumentError when the change does not fit the table.
   */
  async proposeAuth(change: AuthChange): Promise<AuthTable> {
    const ctx = this.ctx;
    const peer = ctx.peers.get(PD_GROUP_ID);
    if (!peer?.isLeader()) throw new NotLeaderError(PD_GROUP_ID, peer?.leaderStoreId() ?? 0);
    const result = await peer.proposePd({ type: 'auth', change });
    if (result && 'authRefused' in result) throw new InvalidArgumentError(result.argument, result.authRefused.replace(/^invalid [^:]*: /, ''));
    if (!result || !('auth' in result)) throw new InvalidArgumentError('auth', 'PD answered no table');
    await ctx.auth.adopt(result.auth);
    return result.auth;
  }

  private pdHost(): PdHost {
    const ctx = this.ctx;
    return {
      authRevision: () => ctx.auth.table.revision,
      authAsked: (from, revision) => {
        if (ctx.auth.table.revision > revision) this.pdHost().send(from, { type: 'authTable', table: encodeAuthTable(ctx.auth.table) });
      },
      authTold: (bytes) => {
        let table: AuthTable;
        try {
          table = decodeAuthTable(bytes);
        } catch (e) {
          ctx.opts.logger.warn('auth table from PD refused', { error: String(e) });
          return;
        }
        void ctx.auth.adopt(table).catch((e) => ctx.opts.logger.warn('auth table not kept', { error: String(e) }));
      },
      refreshAuth: () => {
        if (!ctx.peers.has(PD_GROUP_ID)) return;
        void loadAuthTable(ctx.engine)
          .then((t) => ctx.auth.adopt(t))
          .catch((e) => ctx.opts.logger.warn('auth table not read', { error: String(e) }));
      },
      storeId: ctx.storeId,
      now: () => ctx.opts.clock.now(),
      send: (to, message) => {
        const bytes = encodePdMessage(message);
        if (to === ctx.storeId) this.receivePd(to, bytes);
        else ctx.opts.sendPd?.(to, bytes);
      },
      pdPeer: () => ctx.peers.get(PD_GROUP_ID),
      leaderHeartbeats: () => this.leaderHeartbeats(),
      storeHeartbeat: () => {
        const led = [...ctx.peers.values()].filter((p) => !isPdGroup(p) && p.storage.initialized);
        return {
          storeId: ctx.storeId,
          capacityBytes: 0,
          availableBytes: 0,
          regionCount: led.length,
          leaderCount: led.filter((p) => p.isLeader()).length,
          bytesWritten: 0,
          keysWritten: 0,
          bytesRead: 0,
          keysRead: 0,
          timestampMs: ctx.opts.clock.now(),
          state: 'up',
          ...(ctx.opts.incarnation === undefined ? {} : { incarnation: ctx.opts.incarnation }),
        };
      },
      loadState: () => loadPdState(ctx.engine),
      pdGroup: () => this.pdGroup(),
      changePdMembers: (step) => this.changePdMembers(step),
      knownStoreIds: () => Object.keys(ctx.guard.seenIncarnations()).map(Number).filter((id) => id !== ctx.storeId),
      execute: (i) => this.executeInstruction(i),
      region: (id) => {
        const p = ctx.peers.get(id);
        return p?.storage.initialized ? p.region : undefined;
      },
      logger: ctx.opts.logger,
    };
  }

  /** PD's group as this store's replica sees it, while it leads the group (`pd-member-checker.ts`). */
  private pdGroup(): PdGroupState | undefined {
    const peer = this.ctx.peers.get(PD_GROUP_ID);
    if (!peer?.isLeader() || !peer.storage.initialized) return undefined;
    const raft = peer.node.raft;
    const match = new Map<number, number>();
    for (const [id, pr] of raft.trk.progress) match.set(id, pr.match);
    // Members whose store came back with other data: their messages are refused, they never answer again.
    const lostPeerIds = new Set(this.ctx.guard.lostReplicas().filter((l) => l.regionId === PD_GROUP_ID).map((l) => l.peerId));
    return { peers: peer.region.peers.map((p) => ({ ...p })), leaderPeerId: peer.peerId, committed: raft.raftLog.committed, match, lostPeerIds, joint: raft.trk.isJoint() };
  }

  /**
   * Carries out one membership step of PD's group on its leader (here), through the group's log:
   * a learner stamped with the incarnation of its store's data, a promotion (with the removal of
   * the member it replaces: one joint change), a removal, or a leader transfer.
   */
  private async changePdMembers(step: PdMemberStep): Promise<void> {
    const ctx = this.ctx;
    const peer = ctx.peers.get(PD_GROUP_ID);
    if (!peer?.isLeader()) throw new NotLeaderError(PD_GROUP_ID, peer?.leaderStoreId() ?? 0);
    let cc: ConfChange;
    switch (step.type) {
      case 'transferLeader':
        peer.node.transferLeader(step.toPeerId);
        ctx.kick(peer);
        return;
      case 'addLearner': {
        if (peer.region.peers.some((p) => p.storeId === step.storeId)) throw new InvalidArgumentError('storeId', `store ${step.storeId} already hosts a PD replica`);
        const incarnation = step.incarnation ?? (step.storeId === ctx.storeId ? ctx.opts.incarnation : ctx.guard.currentOf(step.storeId));
        const added = incarnation === undefined ? { id: step.peerId, storeId: step.storeId, role: 'learner' as const } : { id: step.peerId, storeId: step.storeId, role: 'learner' as const, incarnation };
        cc = { transition: 'auto', changes: [{ type: 'addLearner', nodeId: step.peerId }], context: encodeMembershipContext([added]) };
        break;
      }
      case 'promote':
        cc = { transition: 'auto', changes: [{ type: 'addNode', nodeId: step.peerId }, ...(step.removePeerId === undefined ? [] : [{ type: 'removeNode' as const, nodeId: step.removePeerId }])] };
        break;
      case 'remove':
        if (step.peerId === peer.peerId) throw new InvalidArgumentError('peerId', 'PD leader cannot remove itself; transfer leadership first');
        cc = { transition: 'auto', changes: [{ type: 'removeNode', nodeId: step.peerId }] };
        break;
    }
    const applied = peer.proposeConfChange(cc);
    ctx.kick(peer);
    await applied;
  }

  /** Region heartbeats for every region this store leads: size, lagging and silent peers. */
  private async leaderHeartbeats(): Promise<RegionHeartbeat[]> {
    const ctx = this.ctx;
    const out: RegionHeartbeat[] = [];
    const now = ctx.opts.clock.now();
    for (const peer of ctx.peers.values()) {
      if (isPdGroup(peer) || !peer.isLeader() || !peer.storage.initialized) continue;
      const status = peer.node.status();
      const me = peer.region.peers.find((p) => p.id === peer.peerId);
      // A leader whose own removal or demotion is under way (it leads until that commits) is no
      // voter in its region any more: PD would refuse the heartbeat, so none is sent.
      if (me?.role !== 'voter') continue;
      const downPeers: RegionHeartbeat['downPeers'] = [];
      const pendingPeers: RegionHeartbeat['pendingPeers'] = [];
      for (const p of peer.region.peers) {
        if (p.id === peer.peerId) continue;
        const pr = status.progress.get(p.id);
        // Heard from within two election timeouts (heartbeat acknowledgements): alive.
        let heardMs = pr && Number.isFinite(pr.ticksSinceHeard) ? pr.ticksSinceHeard * ctx.opts.tickMs : Number.POSITIVE_INFINITY;
        // A quiesced group exchanges no heartbeats: its members count as alive while their stores are.
        if (status.quiesced && !ctx.silentStores.has(p.storeId)) heardMs = 0;
        if (heardMs <= 2 * (ctx.opts.raft?.electionTick ?? 10) * ctx.opts.tickMs) ctx.peerSeenMs.set(p.id, now);
        if (!ctx.peerSeenMs.has(p.id)) ctx.peerSeenMs.set(p.id, now); // give a new peer its time
        const downMs = now - ctx.peerSeenMs.get(p.id)!;
        if (downMs > 2 * (ctx.opts.raft?.electionTick ?? 10) * ctx.opts.tickMs) downPeers.push({ peer: p, downSeconds: Math.floor(downMs / 1000) });
        // Pending: behind the commit index (a learner still catching up, a lagging voter).
        if (!pr || pr.match < status.commit) pendingPeers.push(p);
      }
      const size = await ctx.engine.approximateSize(prefixedRange(DATA_PREFIX, peer.region.startKey, peer.region.endKey));
      out.push({
        region: cloneRegion(peer.region),
        leader: me,
        downPeers,
        pendingPeers,
        approximateKeys: size.keys,
        approximateBytes: size.bytes,
        bytesWritten: 0,
        keysWritten: 0,
        bytesRead: 0,
        keysRead: 0,
        term: status.term,
      });
    }
    return out;
  }

  /** Carries out a PD instruction on a region this store leads (the epoch was checked by the caller). */
  private async executeInstruction(i: Instruction): Promise<void> {
    const ctx = this.ctx;
    switch (i.type) {
      case 'splitRegion':
        await this.ops.splitRegion(i.regionId, i.epoch, i.splitKey, { newRegionId: i.newRegionId, newPeerIds: i.newPeerIds });
        return;
      case 'transferLeader':
        await this.ops.transferLeader(i.regionId, i.epoch, i.toStoreId);
        return;
      case 'addLearner':
        await this.ops.changePeer(i.regionId, i.epoch, 'addLearner', i.storeId, i.peerId, i.incarnation);
        return;
      case 'promoteLearner':
      case 'removePeer': {
        const region = ctx.peers.get(i.regionId)?.region;
        const peer = region?.peers.find((p) => p.id === i.peerId);
        if (!peer) return;
        await this.ops.changePeer(i.regionId, i.epoch, i.type === 'promoteLearner' ? 'promote' : 'remove', peer.storeId);
        return;
      }
      case 'mergeRegions': {
        const target = ctx.peers.get(i.targetId);
        const source = ctx.peers.get(i.sourceId);
        if (!target || !source) return;
        if (target.isLeader() && source.isLeader()) {
          await this.ops.mergeRegions(i.targetId, i.sourceId);
        } else if (source.isLeader() && target.leaderStoreId() > 0) {
          // One store must lead both: hand the source's leadership to the target's leader; PD asks again.
          await this.ops.transferLeader(i.sourceId, i.epochs.source, target.leaderStoreId());
        } else if (target.isLeader() && source.leaderStoreId() > 0) {
          // Ask the source's leader to hand its leadership here; PD sends the merge again.
          const mine = source.region.peers.find((p) => p.storeId === ctx.storeId);
          if (mine) {
            const transfer: Instruction = { type: 'transferLeader', regionId: i.sourceId, epoch: source.region.epoch, toStoreId: ctx.storeId, toPeerId: mine.id };
            ctx.opts.sendPd?.(source.leaderStoreId(), encodePdMessage({ type: 'instruction', instruction: transfer }));
          }
        }
        return;
      }
    }
  }
}
