/**
 * The store clock. A Raft replica counts ticks; this stage turns the store's monotonic clock into
 * ticks for every replica, first thing on every entry (`catchUp`: the tick timer, a received
 * frame, a request, a loop turn), so that time that passed while the process was stopped counts
 * before anything is answered. On the way it quiesces idle regions led here, runs store liveness
 * (pings, and waking the followers of leaders on stores gone silent), and now and then proposes
 * forgetting idle client sessions. What a tick marked goes to `StoreContext.dirty`, for the loop.
 */

import { makeMessage } from '../raft/types.ts';
import type { RegionPeer } from './region-peer.ts';
import { isPdGroup, type StoreContext } from './store-context.ts';

/** Election timeouts between two loop turns over every replica (the safety net for an unmarked change). */
const FULL_SCAN_ELECTIONS = 10;

/** Ticks the replicas of one store; owns the store's tick count and what it heard from other stores. */
export class Ticker {
  private readonly ctx: StoreContext;
  /** The store's periodic work besides ticks, run on every tick timer after sessions (PD, auto-split, merges). */
  private readonly housekeeping: () => void;
  /**
   * Ticks since the store opened: the clock of store liveness. Owed by the store clock, not by
   * timer firings (see {@link catchUp}). Invariant: storeTicks <= (clock.now() - originMs) / tickMs.
   */
  private storeTicks = 0;
  /** The store clock's reading when the store opened: tick 0. */
  private readonly originMs: number;
  /** The tick at which each other store was last heard from (any frame, or its liveness ping). */
  private readonly lastHeard = new Map<number, number>();
  /** The other stores hosting replicas of regions here, recomputed now and then. */
  private linkedStores: number[] = [];
  private cancelTick: () => void = () => {};
  private lastSessionGcMs = 0;

  /**
   * @param ctx - the store's shared state.
   * @param housekeeping - run on every tick timer, after the catch-up and the session check.
   */
  constructor(ctx: StoreContext, housekeeping: () => void) {
    this.ctx = ctx;
    this.housekeeping = housekeeping;
    this.originMs = ctx.opts.clock.now();
  }

  /** Notes a frame from `storeId` (any frame proves its store alive). */
  heard(storeId: number): void {
    this.lastHeard.set(storeId, this.storeTicks);
  }

  /** Cancels the armed tick timer. */
  stop(): void {
    this.cancelTick();
  }

  /** Arms the timer for the next tick boundary of the store clock. */
  scheduleTick(): void {
    const ctx = this.ctx;
    if (ctx.closed) return;
    const delayMs = Math.max(0, this.originMs + (this.storeTicks + 1) * ctx.opts.tickMs - ctx.opts.clock.now());
    this.cancelTick = ctx.opts.clock.setTimer(delayMs, () => {
      this.catchUp();
      this.maybeExpireSessions();
      this.housekeeping();
      // Now and then the loop looks at every replica, should anything have touched one unmarked:
      // every ten election timeouts, since with 10,000 replicas each look costs a turn over all.
      if (this.storeTicks % (FULL_SCAN_ELECTIONS * (ctx.opts.raft?.electionTick ?? 10)) === 0) ctx.kick();
      else ctx.runLoop();
      this.scheduleTick();
    });
  }

  /**
   * Brings the store's ticks, and every replica's, up to the store clock: first thing on every
   * entry (the tick timer, a received frame, a request, a loop turn). Ticks are owed by elapsed
   * monotonic time, not by timer firings: a process that was stopped (SIGSTOP, a GC pause, a
   * frozen VM) or whose loop was blocked fires one late timer, yet all that time passed for the
   * other stores, whose election timers ran on. Counting it before anything else is handled ends a
   * lease that ran out meanwhile before a read can trust it, and a leader that heard from no
   * quorum steps down before it answers anyone (issue 21).
   */
  catchUp(): void {
    const ctx = this.ctx;
    if (ctx.closed) return;
    const owed = Math.floor((ctx.opts.clock.now() - this.originMs) / ctx.opts.tickMs) - this.storeTicks;
    if (owed <= 0) return;
    if (owed > 1) this.elapseGap(owed - 1);
    this.storeTicks++;
    for (const peer of ctx.peers.values()) {
      // Before the tick: right after one that heartbeats, the acknowledgements are still on their way.
      this.maybeQuiesce(peer);
      peer.node.tick();
      // A quiesced replica's tick only counts time: the loop need not look at it.
      if (!peer.node.quiesced) ctx.dirty.add(peer);
    }
    this.storeLiveness();
    this.probeSilentReplicas();
  }

  /**
   * Counts `ticks` that passed without a tick. The replicas' Raft clocks take all of them
   * (`elapse`: leases age by the gap; timers fire). The other stores' silence over the gap was
   * this store's own (their frames wait unread), so it is struck out of store liveness, of the
   * down-peer times reported to PD, and of PD's view.
   */
  private elapseGap(ticks: number): void {
    const ctx = this.ctx;
    this.storeTicks += ticks;
    ctx.counters.clockGaps++;
    const gapMs = ticks * ctx.opts.tickMs;
    for (const [s, heard] of this.lastHeard) this.lastHeard.set(s, heard + ticks);
    for (const [p, seen] of ctx.peerSeenMs) ctx.peerSeenMs.set(p, seen + gapMs);
    ctx.pd?.clockJumped(gapMs);
    for (const peer of ctx.peers.values()) {
      peer.node.elapse(ticks);
      peer.quietTicks = 0;
      // A quiesced replica's gap only aged its clock (a lease is judged when a read asks): under
      // load a tick timer that fires two ticks late must not send 10,000 sleeping replicas
      // through a turn (issue 18).
      if (!peer.node.quiesced) ctx.dirty.add(peer);
    }
  }

  /**
   * Quiesces a region led here once it stayed idle and fully replicated for `quiesceTicks` ticks
   * (and nothing of the store's is under way on it: proposals, a split, a merge). PD's own group
   * never sleeps.
   */
  private maybeQuiesce(peer: RegionPeer): void {
    const ctx = this.ctx;
    const node = peer.node;
    if (node.quiesced || !peer.isLeader()) return;
    const after = ctx.opts.quiesceTicks;
    const busy = after <= 0 || isPdGroup(peer) || peer.merging !== undefined || peer.splitPending || peer.pendingProposals > 0 || ctx.mergeWaiters.has(peer) || ctx.finishing.has(peer.regionId);
    if (busy || !node.quiescable()) {
      peer.quietTicks = 0;
      return;
    }
    if (++peer.quietTicks < after) return;
    peer.quietTicks = 0;
    // Its MsgQuiesce to the followers goes out with the next turn.
    if (node.quiesce()) {
      ctx.counters.quiesces++;
      ctx.dirty.add(peer);
    }
  }

  /**
   * Store liveness, for quiesced regions (whose followers no longer time out on their own): every
   * heartbeat interval this store pings every store it shares a region with (an empty Raft frame),
   * and a store not heard from for an election timeout counts as lost. The followers here of
   * regions led there then wake with their election timers expired and elect a new leader. Safe
   * for leases: not having heard from a store for an election timeout of our ticks means not
   * having heard from its leaders for as long, which is what check-quorum's vote refusal counts.
   */
  private storeLiveness(): void {
    const ctx = this.ctx;
    const silentStores = ctx.silentStores;
    const electionTick = ctx.opts.raft?.electionTick ?? 10;
    const heartbeatTick = ctx.opts.raft?.heartbeatTick ?? 2;
    if (this.storeTicks % electionTick === 1) {
      const linked = new Set<number>();
      for (const peer of ctx.peers.values()) for (const p of peer.region.peers) if (p.storeId !== ctx.storeId) linked.add(p.storeId);
      this.linkedStores = [...linked];
    }
    if (this.storeTicks % heartbeatTick === 0) for (const s of this.linkedStores) ctx.opts.sendRaft(s, []);
    const lost = new Set<number>();
    for (const s of this.linkedStores) {
      if (this.storeTicks - (this.lastHeard.get(s) ?? 0) < electionTick) {
        silentStores.delete(s);
      } else if (!silentStores.has(s)) {
        silentStores.add(s);
        lost.add(s);
      }
    }
    if (silentStores.size === 0) return;
    for (const peer of ctx.peers.values()) {
      const node = peer.node;
      if (node.raft.state !== 'follower' || node.raft.lead === 0) continue;
      const leaderStore = peer.leaderStoreId();
      // Once per loss for a follower awake already (its timer must not be reset each tick), and
      // whenever one is found asleep.
      if (silentStores.has(leaderStore) && (node.quiesced || lost.has(leaderStore))) {
        node.wake(true);
        ctx.counters.livenessWakes++;
        ctx.dirty.add(peer);
        // The surviving voters all noticed on the same tick, and would all campaign one random timeout
        // later (a split vote whenever two drew alike): the one with the lowest id campaigns at once.
        if (this.firstSurvivor(peer) === peer.peerId) node.campaign();
      }
    }
  }

  /**
   * The lowest-id voter of `peer`'s region whose store is not silent, other than the lost leader; 0
   * when those voters are no quorum (this store is the one cut off: campaigning at once is futile).
   */
  private firstSurvivor(peer: RegionPeer): number {
    let first = 0;
    let live = 0;
    let voters = 0;
    for (const p of peer.region.peers) {
      if (p.role !== 'voter') continue;
      voters++;
      if (p.id === peer.node.raft.lead || (p.storeId !== this.ctx.storeId && this.ctx.silentStores.has(p.storeId))) continue;
      live++;
      if (first === 0 || p.id < first) first = p.id;
    }
    return live > voters / 2 ? first : 0;
  }

  /**
   * A replica that has heard from no leader for many election timeouts may have been removed
   * without learning it (a learner never campaigns, so nobody would tell it): it says hello to its
   * region's other replicas, and a member with a newer membership answers with a tombstone.
   */
  private probeSilentReplicas(): void {
    const ctx = this.ctx;
    const silentTicks = 10 * (ctx.opts.raft?.electionTick ?? 10);
    for (const peer of ctx.peers.values()) {
      if (peer.node.quiesced || isPdGroup(peer) || !peer.storage.initialized || peer.isLeader()) continue;
      const elapsed = peer.node.raft.electionElapsed;
      if (elapsed === 0 || elapsed % silentTicks !== 0) continue;
      const r = peer.region;
      const region = { startKey: r.startKey, endKey: r.endKey, confVer: r.epoch.confVer, version: r.epoch.version };
      for (const other of r.peers) {
        if (other.id === peer.peerId || other.storeId === ctx.storeId) continue;
        // Term 0: a member's core drops it; a store that no longer counts us a member answers.
        const message = makeMessage({ type: 'MsgHeartbeatResp', from: peer.peerId, to: other.id });
        ctx.opts.sendRaft(other.storeId, [{ regionId: r.id, message, region }]);
      }
    }
  }

  /** On leaders, now and then, proposes forgetting client sessions idle longer than `sessionIdleMs`. */
  private maybeExpireSessions(): void {
    const ctx = this.ctx;
    const now = ctx.opts.clock.now();
    if (now - this.lastSessionGcMs < ctx.opts.sessionGcIntervalMs) return;
    this.lastSessionGcMs = now;
    for (const peer of ctx.peers.values()) {
      if (!peer.isLeader() || isPdGroup(peer) || peer.pendingProposals >= ctx.opts.maxPendingProposals) continue;
      const op = { type: 'expireSessions' as const, idleMs: ctx.opts.sessionIdleMs, limit: 1000 };
      peer.proposeKv({ clientId: '', seq: 0, nowMs: peer.regionTime(now), op }).catch(() => {
        // Lost leadership meanwhile: the next leader will do it.
      });
    }
  }
}
