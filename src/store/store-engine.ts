/**
 * StoreEngine: hosts the region replicas of one store over one storage engine and drives all of
 * their Raft groups from one loop (RheaKV's StoreEngine, TiKV's raftstore, TinyKV's raft worker).
 *
 * This file is the facade: it opens the store and answers the public calls, each by handing it to
 * the stage that does the work. The stages share one `StoreContext` (`store-context.ts`, whose
 * header is the tour); in the order a frame or a request meets them:
 * - a client request is checked against its region's epoch and range (`replicas.ts: peerFor`)
 *   and proposed to the replica here; a lease or stale read is served at once;
 * - a Raft frame from another store goes to `inbound.ts`, which routes it to its replica;
 * - the store clock becomes ticks in `ticker.ts`;
 * - `ready-loop.ts` runs the turns: persist every Ready in one batch, send (`outbox.ts`), apply
 *   (`apply.ts`), advance;
 * - splits, merges, leader transfers and membership changes are `region-ops.ts`;
 * - the placement driver's side (heartbeats, instructions) is `pd-worker.ts`.
 */

import { AuthCache } from '../auth/cache.ts';
import type { AuthChange, AuthTable } from '../auth/table.ts';
import { OutcomeUnknownError, RegionNotFoundError, ServerBusyError } from '../errors.ts';
import type { KvReadOp, KvReadResult, KvWriteOp } from '../kv/commands.ts';
import { regionRanges } from '../kv/keys.ts';
import { executeRead } from '../kv/read.ts';
import { type ApplyOutcome, KvStateMachine } from '../kv/state-machine.ts';
import { checkOpInRegion, validateReadOp, validateWriteOp } from '../kv/validate.ts';
import type { StorageEngine, WriteOp } from '../ports.ts';
import type { RawNode } from '../raft/rawnode.ts';
import type { Region, RegionEpoch } from '../region/types.ts';
import { cloneRegion } from '../region/types.ts';
import { ConsistencyChecker } from './consistency.ts';
import type { CheckResult } from './consistency-types.ts';
import { BackupService } from './backup-fence.ts';
import { Inbound } from './inbound.ts';
import { IncarnationGuard, type LostReplica } from './incarnation-guard.ts';
import { RaftOutbox } from './outbox.ts';
import type { PdService } from './pd-service.ts';
import { loadAuthTable, PD_PREFIX, pdGroupRegion } from './pd-state.ts';
import { PdWorker } from './pd-worker.ts';
import { PeerStorage } from './peer-storage.ts';
import { regionStateKey, regionStateRange } from './raft-keys.ts';
import { ReadyLoop } from './ready-loop.ts';
import { decodeRegionState, encodeRegionState } from './records.ts';
import { RegionOps } from './region-ops.ts';
import type { ReadConsistency, RegionPeer } from './region-peer.ts';
import { addPeer, bootstrapLeader, hostedRegions, peerFor, shutdown, soleVoter } from './replicas.ts';
import type { LeaseInfo, LeaseOp, LeaseService } from './lease-service.ts';
import { StreamReceiver } from './snapshot-receive.ts';
import { ALL_STAGING, moveStaged, newSnapshotStreamStats, type SnapshotStreamStats } from './snapshot-stream.ts';
import { confStateOf, isPdGroup, newStoreCounters, type StoreContext, type StoreCounters, tombstoneOf } from './store-context.ts';
import { loadSeenIncarnations } from './store-ident.ts';
import { type RaftItem, type RegionInfo, type RoleListener, resolveStoreOptions, type StoreEngineOptions } from './store-options.ts';
import { Ticker } from './ticker.ts';
import { forceRecovery, type ReplicaReport, recoveryReport } from './unsafe-recovery.ts';

export { withholdsVote } from './inbound.ts';
export { soleVoter } from './replicas.ts';
export { confStateOf } from './store-context.ts';
export type { RaftItem, RegionInfo, RoleListener, StoreEngineOptions, StoreRaftOptions } from './store-options.ts';

/** One store: the replicas it hosts, the loop that drives them, and the calls clients, PD and other stores make of it. */
export class StoreEngine {
  readonly storeId: number;
  /** The placement driver's part on this store (heartbeats, instructions; scheduling when PD leader). */
  readonly pd: PdService | undefined;
  /** Sizes and counts of the snapshot streams, for tests (memory bounds) and metrics. */
  readonly snapshotStats: SnapshotStreamStats;
  /** Counters for metrics, status pages and tests. */
  readonly counters: StoreCounters;
  /** Backup fences and the readers of fenced regions (`backup-fence.ts`, docs/backup.md). */
  readonly backup: BackupService;
  /** The state the stages share (see `store-context.ts` for who writes what). */
  private readonly ctx: StoreContext;
  private readonly ticker: Ticker;
  private readonly inbound: Inbound;
  private readonly outbox: RaftOutbox;
  private readonly loop: ReadyLoop;
  private readonly ops: RegionOps;
  private readonly pdWorker: PdWorker;
  private readonly checker: ConsistencyChecker;

  private constructor(opts: StoreEngineOptions) {
    const resolved = resolveStoreOptions(opts);
    this.storeId = opts.storeId;
    this.snapshotStats = newSnapshotStreamStats();
    this.counters = newStoreCounters();
    const applying = new Set<number>();
    const ctx: StoreContext = {
      storeId: opts.storeId,
      opts: resolved,
      engine: opts.engine,
      sm: new KvStateMachine({ limits: opts.kvLimits }),
      peers: new Map(),
      dirty: new Set(),
      scanAll: true,
      closed: false,
      failure: undefined,
      guard: new IncarnationGuard(opts.engine, new Map(), resolved.logger),
      auth: AuthCache.empty(),
      pd: undefined,
      tombstones: new Map(),
      mergeWaiters: new Set(),
      finishing: new Set(),
      applying,
      receiver: opts.snapshotLink
        ? new StreamReceiver({
            engine: opts.engine,
            link: opts.snapshotLink,
            pendingMax: 8,
            mayOpen: (regionId) => !applying.has(regionId) && !ctx.closed,
            stats: this.snapshotStats,
            warn: (message, fields) => resolved.logger.warn(message, fields),
          })
        : undefined,
      snapshotStats: this.snapshotStats,
      counters: this.counters,
      listeners: new Set(),
      silentStores: new Set(),
      peerSeenMs: new Map(),
      catchUp: () => this.ticker.catchUp(),
      heard: (storeId) => this.ticker.heard(storeId),
      stopTicking: () => this.ticker.stop(),
      runLoop: () => this.loop.runLoop(),
      kick: (peer) => this.loop.kick(peer),
      receiveRaft: (fromStoreId, items) => this.inbound.receiveRaft(fromStoreId, items),
      computeHash: (peer, cmd, index, overlay) => this.checker.applied(peer, cmd, index, overlay),
      hashReported: (fromStoreId, report) => this.checker.receive(fromStoreId, report),
    };
    this.ctx = ctx;
    this.checker = new ConsistencyChecker(ctx);
    this.ops = new RegionOps(ctx);
    this.backup = new BackupService(ctx);
    this.ticker = new Ticker(ctx, () => {
      this.backup.tick();
      ctx.pd?.tick();
      this.ops.maybeAutoSplit();
      this.ops.finishMerges();
    });
    this.inbound = new Inbound(ctx);
    this.outbox = new RaftOutbox(ctx);
    this.loop = new ReadyLoop(ctx, this.outbox);
    this.pdWorker = new PdWorker(ctx, this.ops);
    this.pd = ctx.pd;
  }

  /** The auth table this store enforces (loaded by {@link StoreEngine.open}, kept current through PD). */
  get auth(): AuthCache {
    return this.ctx.auth;
  }

  set auth(auth: AuthCache) {
    this.ctx.auth = auth;
  }

  /** Receives a PD message from another store (or this one). Malformed ones are dropped. */
  receivePd(fromStoreId: number, payload: Uint8Array): void {
    this.pdWorker.receivePd(fromStoreId, payload);
  }

  /** Asks PD to drain this or another store (`offline`: its replicas move away) or forget it (`tombstone`). */
  setStoreState(storeId: number, state: 'up' | 'offline' | 'tombstone'): void {
    this.pdWorker.setStoreState(storeId, state);
  }

  /**
   * Changes the users, roles or the auth switch through PD's group; only PD's leader does.
   * @throws NotLeaderError (with a hint) elsewhere; InvalidArgumentError when the change does not fit the table.
   */
  proposeAuth(change: AuthChange): Promise<AuthTable> {
    return this.pdWorker.proposeAuth(change);
  }

  /** PD leader's lease keeper on this store (undefined without PD), for status and tests. */
  get leases(): LeaseService | undefined {
    return this.pdWorker.leases.service;
  }

  /**
   * Serves a TTL lease call (docs/leases.md) on PD's leader.
   * @throws NotLeaderError (with a hint) elsewhere; InvalidArgumentError without PD; LeaseNotFoundError for an unknown lease.
   */
  lease(op: LeaseOp): Promise<LeaseInfo | number[] | undefined> {
    this.ctx.catchUp();
    return this.pdWorker.leases.call(op);
  }

  /**
   * Writes the initial state of `regions` (those with a peer on this store) into an empty engine.
   * Every store of a new cluster bootstraps the same regions. Does nothing if the engine already
   * holds regions, so it is safe to call on every start. `nowMs` gives a region's initial region
   * time (a restored backup's regions start at the time of their fence, so that lock deadlines hold).
   */
  static async bootstrap(engine: StorageEngine, storeId: number, regions: readonly Region[], pdStoreIds: readonly number[] = [], nowMs: (regionId: number) => number = () => 0): Promise<void> {
    const existing = await engine.scan({ ...regionStateRange(), limit: 1 });
    if (existing.length > 0) return;
    const ops: WriteOp[] = [];
    // PD's own group lives on the first stores, bootstrapped like a region that serves no keys.
    const all = pdStoreIds.length > 0 ? [...regions, pdGroupRegion(pdStoreIds)] : regions;
    for (const region of all) {
      const me = region.peers.find((p) => p.storeId === storeId);
      if (!me) continue;
      const storage = PeerStorage.initial(region.id, confStateOf(region), nowMs(region.id));
      storage.stageApplyState(ops);
      storage.stageHardState(storage.hardState, ops);
      ops.push({ type: 'put', key: regionStateKey(region.id), value: encodeRegionState({ region, peerId: me.id, state: 'normal' }) });
    }
    await engine.write(ops, { sync: true });
  }

  /** Opens a store: restores every replica it hosts from the engine and starts ticking. */
  static async open(opts: StoreEngineOptions): Promise<StoreEngine> {
    const store = new StoreEngine(opts);
    const ctx = store.ctx;
    ctx.guard = new IncarnationGuard(opts.engine, await loadSeenIncarnations(opts.engine), ctx.opts.logger);
    // Rules first: a restarted store enforces the newest table it kept, before it hears from PD.
    ctx.auth = await AuthCache.load(opts.engine);
    await ctx.auth.adopt(await loadAuthTable(opts.engine));
    for (const row of await opts.engine.scan(regionStateRange())) {
      const rs = decodeRegionState(row.value);
      if (rs.state === 'applying') {
        // Crashed while moving a streamed snapshot into place: finish it before anything serves.
        rs.state = 'normal';
        const moved = await moveStaged(opts.engine, rs.region.id, ctx.opts.snapshotChunkBytes, [{ type: 'put', key: regionStateKey(rs.region.id), value: encodeRegionState(rs) }], ctx.snapshotStats);
        ctx.opts.logger.info('finished installing a streamed snapshot after a restart', { regionId: rs.region.id, pairs: moved });
      }
      if (rs.state !== 'normal') {
        ctx.tombstones.set(rs.region.id, tombstoneOf(rs.region, rs.peerId));
        continue;
      }
      const storage = await PeerStorage.load(opts.engine, rs.region.id);
      const peer = addPeer(ctx, rs.region, rs.peerId, storage);
      peer.merging = rs.merging;
      peer.absorbedIds = rs.absorbed ?? [];
      if (soleVoter(peer)) {
        // The region's only voter campaigns at once (etcd does so for a one-member cluster): no
        // other replica can win an election or hold a lease, so waiting out an election timeout
        // only delays the first request after a restart by 0.5-1 s. The election itself is the
        // same one a timeout would start (same term rules, pre-vote); timing never makes Raft safe.
        peer.node.campaign();
      } else {
        const first = bootstrapLeader(peer);
        // The chosen voter campaigns now, and again on its own timeout if the other stores were not
        // up yet; the others give it two election timeouts' start before they compete.
        if (first === 'campaign') peer.node.campaign();
        else if (first === 'wait') peer.node.deferElection(2 * (ctx.opts.raft?.electionTick ?? 10));
      }
    }
    // Pairs of streams that never completed (or whose snapshot Raft never took) are garbage.
    await opts.engine.write([{ type: 'deleteRange', start: ALL_STAGING.start, end: ALL_STAGING.end }]);
    store.ticker.scheduleTick();
    return store;
  }

  // --- inbound ---------------------------------------------------------------------------------

  /**
   * Steps Raft messages received from another store. Messages for unknown regions are dropped.
   * @param fromStoreId - the sending store, as its link was authenticated.
   * @param items - the frame's Raft messages.
   * @param incarnation - the incarnation of the sender's data, as its link said (handshake); when
   *   given, messages from replicas its store no longer holds the data of are refused
   *   (`incarnation-guard.ts`). In-process callers that have no incarnations pass none.
   */
  receiveRaft(fromStoreId: number, items: readonly RaftItem[], incarnation?: string): void {
    this.inbound.receiveRaft(fromStoreId, items, incarnation);
  }

  /**
   * A snapshot chunk from store `fromStoreId` (the `chunk` items of stream ids from
   * `SNAPSHOT_STREAM_BASE`): stream data for a replica here, or an acknowledgement of one this
   * store sends. Malformed ones are dropped.
   */
  receiveSnapshotChunk(fromStoreId: number, streamId: number, seq: number, payload: Uint8Array): void {
    if (this.ctx.closed) return;
    if (!this.outbox.receiveReply(fromStoreId, streamId, payload)) this.ctx.receiver?.receive(fromStoreId, streamId, seq, payload);
  }

  /** Drops the snapshot streams from and to a store whose link went down. */
  snapshotLinkDown(storeId: number): void {
    this.ctx.receiver?.forget(storeId);
    this.outbox.linkDown(storeId);
  }

  /**
   * Replicas of regions hosted here whose messages were refused because their store came back
   * with other data (and that were still members when last looked at): what `rejoin-store` replaces.
   */
  lostReplicas(): LostReplica[] {
    this.ctx.guard.prune((id) => this.ctx.peers.get(id)?.region);
    return this.ctx.guard.lostReplicas();
  }

  /** The first incarnation this store recorded of every store it heard from, by store id. */
  seenIncarnations(): Record<number, string> {
    return this.ctx.guard.seenIncarnations();
  }

  /** The first incarnation of `storeId` this store recorded (undefined: it never heard from it). */
  seenIncarnationOf(storeId: number): string | undefined {
    return this.ctx.guard.firstSeen(storeId);
  }

  /** The incarnation store `storeId` runs now, as its latest frame said (undefined: unknown). */
  incarnationOf(storeId: number): string | undefined {
    return storeId === this.storeId ? this.ctx.opts.incarnation : this.ctx.guard.currentOf(storeId);
  }

  /** This store's id and the incarnation of its data (what `rejoinStore` stamps its new replicas with). */
  ident(): { storeId: number; incarnation?: string } {
    return this.ctx.opts.incarnation === undefined ? { storeId: this.storeId } : { storeId: this.storeId, incarnation: this.ctx.opts.incarnation };
  }

  /** The regions this store hosts (initialized replicas only), with leader hints. */
  regions(): RegionInfo[] {
    return hostedRegions(this.ctx);
  }

  /** Subscribes to leadership changes of this store's replicas; returns the unsubscribe function. */
  onRoleChange(listener: RoleListener): () => void {
    this.ctx.listeners.add(listener);
    return () => this.ctx.listeners.delete(listener);
  }

  /** Throws EpochNotMatch (or RegionNotFound) unless this store's replica of the region is at `epoch`. */
  checkEpoch(regionId: number, epoch: RegionEpoch | undefined): void {
    peerFor(this.ctx, regionId, epoch);
  }

  /**
   * Proposes a write to a region. Resolves with the outcome once applied (and written to the
   * engine); rejects with a typed error when it was not proposed (nothing changed).
   */
  async write(regionId: number, epoch: RegionEpoch | undefined, clientId: string, seq: number, op: KvWriteOp): Promise<ApplyOutcome> {
    const ctx = this.ctx;
    const peer = peerFor(ctx, regionId, epoch);
    validateWriteOp(op, ctx.sm.limits);
    checkOpInRegion(op, peer.region);
    if (!peer.isLeader()) throw peer.notLeader();
    if (peer.pendingProposals >= ctx.opts.maxPendingProposals) {
      throw new ServerBusyError(`region ${regionId} has ${peer.pendingProposals} proposals waiting to apply`);
    }
    const result = peer.proposeKv({ clientId, seq, nowMs: peer.regionTime(ctx.opts.clock.now()), op });
    this.kick(peer);
    return result;
  }

  /** Serves a read with the given consistency; rejects with a typed error (retryable ones say so). */
  async read(regionId: number, epoch: RegionEpoch | undefined, op: KvReadOp, consistency: ReadConsistency = 'linearizable'): Promise<KvReadResult> {
    const ctx = this.ctx;
    const peer = peerFor(ctx, regionId, epoch);
    validateReadOp(op, ctx.sm.limits);
    checkOpInRegion(op, peer.region);
    // A stale read, or a lease read while the lease holds and all that is committed is readable,
    // is served from the engine now, in this call: no Raft round, no loop turn, no queue. The op
    // was validated and checked against the region just above, so it goes straight to the engine.
    if (consistency === 'stale' || (consistency === 'lease' && peer.leaseReadable())) return executeRead(ctx.engine, op, ctx.sm.limits, peer.regionId);
    const result = peer.read(op, consistency);
    this.loop.kickReads(peer);
    return result;
  }

  /** Runs loop turns until no replica has work: for `peer`, or for any replica when none is named. */
  kick(peer?: RegionPeer): void {
    this.loop.kick(peer);
  }

  // --- region operations (region-ops.ts) --------------------------------------------------------

  /**
   * Splits a region at `splitKey` (or at its middle key by count) through its Raft log. Resolves
   * with the two regions once applied. Refuses with `TooSmallToSplit` below `minKeysToSplit`,
   * `ServerBusy` while another split of the region is under way, `NotLeader` off the leader.
   */
  splitRegion(regionId: number, epoch: RegionEpoch | undefined, splitKey?: Uint8Array, ids?: { newRegionId: number; newPeerIds: number[] }): Promise<{ left: Region; right: Region }> {
    return this.ops.splitRegion(regionId, epoch, splitKey, ids);
  }

  /**
   * Merges two adjacent regions with replicas on the same stores: PrepareMerge freezes the source
   * (its epoch rises; it refuses requests), then CommitMerge extends the target over the source's
   * range on every replica once that store's source replica has applied the prepare. Both leaders
   * must be on this store. A merge interrupted after the prepare is finished by calling this again.
   * Resolves with the merged region.
   */
  mergeRegions(targetId: number, sourceId: number): Promise<Region> {
    return this.ops.mergeRegions(targetId, sourceId);
  }

  /**
   * Hands a region's leadership to its replica on `toStoreId` (catch up, then TimeoutNow).
   * Resolves once that replica leads; rejects with `Timeout` if the transfer was abandoned.
   */
  transferLeader(regionId: number, epoch: RegionEpoch | undefined, toStoreId: number): Promise<void> {
    return this.ops.transferLeader(regionId, epoch, toStoreId);
  }

  /**
   * Changes a region's membership by one step through its Raft log: add a learner on a store,
   * promote the learner on a store to voter, or remove the replica on a store. Resolves with the
   * region once applied. The leader's own replica cannot be removed: transfer leadership first.
   */
  changePeer(regionId: number, epoch: RegionEpoch | undefined, change: 'addLearner' | 'promote' | 'remove', storeId: number, newPeerId?: number, stamp?: string): Promise<Region> {
    return this.ops.changePeer(regionId, epoch, change, storeId, newPeerId, stamp);
  }

  // --- shutdown ----------------------------------------------------------------------------------

  /** The storage failure that stopped the store, or undefined while it serves (or after a clean close). */
  get stoppedBy(): Error | undefined {
    return this.ctx.failure;
  }

  /** Stops ticking, waits for the current turn, fails what is still waiting, and leaves the engine open for its owner to close. */
  async close(): Promise<void> {
    const ctx = this.ctx;
    if (ctx.closed) return;
    ctx.closed = true;
    this.ticker.stop();
    this.backup.close();
    await this.loop.idle;
    await shutdown(ctx, new OutcomeUnknownError(`store ${this.storeId} closed while the write waited to apply`));
  }

  /**
   * Checks that every replica of a region this store leads holds the same state: each hashes it
   * where a `computeHash` entry applies (one log index for all), the leader compares
   * (`consistency.ts`). Waits at most `waitMs` for lagging replicas (they come back `unchecked`).
   * @throws NotLeader off the leader; RegionNotFound; EpochNotMatch when `epoch` is stale.
   */
  checkRegion(regionId: number, epoch: RegionEpoch | undefined, waitMs?: number): Promise<CheckResult> {
    return this.checker.check(peerFor(this.ctx, regionId, epoch), waitMs);
  }

  /** What this store hosts, replica by replica (PD's group included), for planning an unsafe recovery. */
  recoveryReport(): ReplicaReport[] {
    return recoveryReport(this.ctx);
  }

  /**
   * Unsafe recovery of a region whose majority is lost for good (`unsafe-recovery.ts`): this
   * store's replica takes the survivors as its configuration, leads them and removes the replicas
   * on `lostStoreIds`. May lose acknowledged writes (docs/disaster-recovery.md).
   */
  forceRecovery(regionId: number, lostStoreIds: readonly number[], waitMs = 30_000): Promise<Region> {
    return forceRecovery(this.ctx, this.ops, regionId, lostStoreIds, waitMs);
  }

  /**
   * A digest of a region's state on this replica (every pair of its KV ranges, FNV-1a), for
   * checking that replicas agree once quiet.
   */
  async regionDigest(regionId: number): Promise<{ applied: number; pairs: number; digest: number }> {
    const peer = this.ctx.peers.get(regionId);
    if (!peer) throw new RegionNotFoundError(regionId);
    const view = await this.ctx.engine.snapshot();
    try {
      let h = 0x811c9dc5;
      let pairs = 0;
      const mix = (b: Uint8Array) => {
        for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
        h = Math.imul(h ^ 0xff, 0x01000193) >>> 0;
      };
      const ranges = isPdGroup(peer) ? [{ start: Uint8Array.of(PD_PREFIX), end: Uint8Array.of(PD_PREFIX + 1) }] : regionRanges(peer.region);
      for (const range of ranges) {
        for (const kv of await view.scan(range)) {
          mix(kv.key);
          mix(kv.value);
          pairs++;
        }
      }
      return { applied: peer.storage.applyState.applied, pairs, digest: h };
    } finally {
      view.release();
    }
  }

  /** Raft status of every replica (for status pages, tests and the playground). */
  status(): Array<{ region: Region; peerId: number; raft: ReturnType<RawNode['status']>; applied: number }> {
    return [...this.ctx.peers.values()].map((p) => ({
      region: cloneRegion(p.region),
      peerId: p.peerId,
      raft: p.node.status(),
      applied: p.storage.applyState.applied,
    }));
  }

  /**
   * Read-only, for display (the playground): the terms of the last `maxEntries` entries of this
   * store's replica of a region, oldest first, and the index of the first one.
   * @param regionId - the region.
   * @param maxEntries - at most this many entries (default 64).
   */
  logTerms(regionId: number, maxEntries = 64): { firstIndex: number; terms: number[] } {
    const peer = this.ctx.peers.get(regionId);
    if (!peer) return { firstIndex: 1, terms: [] };
    const last = peer.storage.lastIndex();
    const first = Math.max(peer.storage.firstIndex(), last - maxEntries + 1);
    const terms: number[] = [];
    for (let i = first; i <= last; i++) terms.push(peer.storage.term(i));
    return { firstIndex: first, terms };
  }
}
