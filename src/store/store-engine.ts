/**
 * StoreEngine: hosts the region replicas of one store over one storage engine and drives all of
 * their Raft groups from one loop (RheaKV's StoreEngine, TiKV's raftstore, TinyKV's raft worker).
 *
 * One loop turn, for every replica with something to do:
 * 1. collect each Ready; write every replica's hard state, entries and snapshots in ONE storage
 *    batch (group commit), synced if any needs it;
 * 2. send the messages, grouped into one call per destination store;
 * 3. apply the committed entries of every replica into one overlay, written as ONE batch together
 *    with the apply states; only then answer the clients;
 * 4. advance, and serve the reads whose index is now applied.
 * Requests are checked against the region's epoch and range before anything is proposed.
 */

import { AuthCache } from '../auth/cache.ts';
import { type AuthChange, type AuthTable, decodeAuthTable, encodeAuthTable } from '../auth/table.ts';
import type { RaftRegionMeta } from '../codec/schema.ts';
import { EpochNotMatchError, type FlotillaError, InvalidArgumentError, NotLeaderError, OutcomeUnknownError, RegionNotFoundError, ServerBusyError, TimeoutError, TooSmallToSplitError } from '../errors.ts';
import type { KvReadOp, KvReadResult, KvWriteOp } from '../kv/commands.ts';
import { DATA_PREFIX, decodeKey, prefixedRange, regionRanges } from '../kv/keys.ts';
import type { KvLimits } from '../kv/limits.ts';
import { WriteOverlay } from '../kv/overlay.ts';
import { DEFAULT_SESSION_IDLE_MS } from '../kv/sessions.ts';
import { restoreRegion } from '../kv/snapshot.ts';
import { type ApplyOutcome, KvStateMachine } from '../kv/state-machine.ts';
import { checkOpInRegion, validateReadOp, validateWriteOp } from '../kv/validate.ts';
import type { Instruction } from '../pd/instructions.ts';
import type { RegionHeartbeat } from '../pd/types.ts';
import type { Clock, Logger, Rand, StorageEngine, WriteOp } from '../ports.ts';
import { nullLogger } from '../ports.ts';
import { RawNode } from '../raft/rawnode.ts';
import type { ConfChange, ConfState, Message, Ready } from '../raft/types.ts';
import { makeMessage } from '../raft/types.ts';
import { keyInRegion, keysEqual, rangesOverlap, rangeWithin } from '../region/keys.ts';
import { DEFAULT_MIN_KEYS_TO_SPLIT, mergeRegions } from '../region/split.ts';
import type { Region, RegionEpoch } from '../region/types.ts';
import { cloneRegion } from '../region/types.ts';
import { decodeAdminCommand, randomId } from './admin.ts';
import { TAG_ADMIN, untagEntryData } from './entry-data.ts';
import { IncarnationGuard, type LostReplica } from './incarnation-guard.ts';
import { encodeMembershipContext } from './membership.ts';
import { decodePdMessage, encodePdMessage, type PdHost, PdService, type PdServiceOptions } from './pd-service.ts';
import { loadAuthTable, loadPdState, PD_GROUP_ID, PD_PREFIX, pdGroupRegion, restorePdState } from './pd-state.ts';
import { PeerStorage, RAFT_INIT_INDEX, RAFT_INIT_TERM } from './peer-storage.ts';
import { decodeHardState, hardStateKey, regionRaftRange, regionStateKey, regionStateRange } from './raft-keys.ts';
import { decodeRegionState, decodeSnapshotEnvelope, encodeRegionState, type RegionState } from './records.ts';
import { type ReadConsistency, RegionPeer } from './region-peer.ts';
import { buildRegionSnapshot, snapshotHead, stageSnapshotInstall, streamedSnapshot } from './snapshot.ts';
import { ALL_STAGING, decodeDescriptor, isReplyChunk, moveStaged, newSnapshotStreamStats, OutgoingStream, SNAPSHOT_STREAM_BASE, type SnapshotChunkLink, StreamReceiver } from './snapshot-stream.ts';
import { loadSeenIncarnations } from './store-ident.ts';

/** How many committed entries a learner may lack and still be promoted (it gets them as a voter). */
const PROMOTE_LAG_MAX = 64;

/** A Raft message of one region, as stores exchange them, with the sender's view of the region. */
export interface RaftItem {
  regionId: number;
  message: Message;
  region?: RaftRegionMeta;
}

/** Raft timing and limits of every replica on the store. */
export interface StoreRaftOptions {
  electionTick?: number;
  heartbeatTick?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /**
   * Ticks cut off the leader lease for clock rate differences and tick rounding; default 2. The
   * lease lasts electionTick - leaseDriftTicks ticks from the confirming heartbeat (docs/lease-reads.md).
   */
  leaseDriftTicks?: number;
  maxInflightMsgs?: number;
  maxSizePerMsg?: number;
}

export interface StoreEngineOptions {
  storeId: number;
  engine: StorageEngine;
  clock: Clock;
  rand: Rand;
  /** Delivers the messages of one loop turn to one store. */
  sendRaft: (toStoreId: number, items: RaftItem[]) => void;
  /** Milliseconds per Raft tick; default 50. */
  tickMs?: number;
  /**
   * Ticks a region must stay idle and fully replicated before its leader quiesces it (no
   * heartbeats, no election timers until something happens); 0 never quiesces. Default: the
   * election timeout in ticks.
   */
  quiesceTicks?: number;
  raft?: StoreRaftOptions;
  /** Proposals waiting to apply per region before new writes get ServerBusy; default 4096. */
  maxPendingProposals?: number;
  /** Log entries kept behind the applied index before the log is compacted; default 1000. */
  logGcThreshold?: number;
  /** Fewer data keys than this and a region refuses to split; default 2. */
  minKeysToSplit?: number;
  /** Split a region automatically once it holds this many keys (0: never); default 0 (the PD decides). */
  splitKeys?: number;
  /** Split a region automatically once its keys and values take this many bytes (0: never); default 0. */
  splitBytes?: number;
  /** How often leaders check their regions' size for an automatic split; default 1 000 ms. */
  splitCheckIntervalMs?: number;
  /** Allocates ids for new regions and peers (the PD's allocator); default 52 random bits. */
  allocId?: () => number;
  /** Runs the placement driver: the stores hosting its group, its rules' configuration, timing. */
  pd?: PdServiceOptions;
  /** Delivers a PD message to a store (required with `pd`). */
  sendPd?: (toStoreId: number, payload: Uint8Array) => void;
  /** How often a leader proposes forgetting idle client sessions; default 60 000 ms. */
  sessionGcIntervalMs?: number;
  /** Sessions idle this long are forgotten; default 10 minutes. Clients must give up on a write well before. */
  sessionIdleMs?: number;
  kvLimits?: Partial<KvLimits>;
  logger?: Logger;
  /**
   * This store's incarnation (`ensureStoreIdent`). Stamped on replicas this store adds to itself;
   * the incarnations of other stores come with their frames (`receiveRaft`).
   */
  incarnation?: string;
  /**
   * Streams region snapshots to other stores in bounded chunks (`snapshot-stream.ts`); chunks
   * from them come in through {@link StoreEngine.receiveSnapshotChunk}. Without it a snapshot
   * travels whole inside its `MsgSnap` (and is held whole in memory on both sides).
   */
  snapshotLink?: SnapshotChunkLink;
  /** Payload bytes per snapshot chunk, and per batch when installing one; default 256 KiB. */
  snapshotChunkBytes?: number;
  /** Give up a snapshot stream after this long without an acknowledgement; default 10 000 ms. */
  snapshotStallMs?: number;
  /**
   * Told once when the loop stops on a storage failure (disk full, EIO on flush). The store then
   * refuses every request; its owner must restart it (a server process exits non-zero).
   */
  onFailure?: (error: Error) => void;
}

/** A region as a client routes by it, with the leader this store believes in. */
export interface RegionInfo {
  region: Region;
  /** 0 when unknown. */
  leaderStoreId: number;
}

/** A listener of leadership changes of the store's replicas. */
export type RoleListener = (event: { regionId: number; storeId: number; role: string; leaderStoreId: number }) => void;

export class StoreEngine {
  readonly storeId: number;
  private readonly opts: Required<Omit<StoreEngineOptions, 'raft' | 'kvLimits' | 'pd' | 'sendPd' | 'incarnation' | 'onFailure' | 'snapshotLink'>> & Pick<StoreEngineOptions, 'raft' | 'kvLimits' | 'pd' | 'sendPd' | 'incarnation' | 'onFailure' | 'snapshotLink'>;
  private readonly engine: StorageEngine;
  private readonly peers = new Map<number, RegionPeer>();
  private readonly sm: KvStateMachine;
  private readonly listeners = new Set<RoleListener>();
  /** The placement driver's part on this store (heartbeats, instructions; scheduling when PD leader). */
  readonly pd: PdService | undefined;
  /** The auth table this store enforces (loaded by {@link StoreEngine.open}, kept current through PD). */
  auth: AuthCache = AuthCache.empty();
  /** When each peer (of regions led here) was last seen active, for PD's down-peer reports. */
  private readonly peerSeenMs = new Map<number, number>();
  private running = false;
  /** Set while a loop turn for newly queued reads is scheduled (see {@link kickReads}). */
  private readKickPending = false;
  /** Replicas that may have work for the loop: stepped, ticked while awake, proposed to, read from. */
  private readonly dirty = new Set<RegionPeer>();
  /** Set when anything may have touched any replica: the next turn looks at every one. */
  private scanAll = true;
  private closed = false;
  private cancelTick: () => void = () => {};
  /** Resolves when the loop goes idle (for close and tests). */
  private idle: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private lastSessionGcMs = 0;
  private lastSplitCheckMs = 0;
  /** Merge sources whose CommitMerge this store is proposing. */
  private readonly finishing = new Set<number>();
  private lastMergeCheckMs = 0;
  /**
   * Ticks since the store opened: the clock of store liveness. Owed by the store clock, not by
   * timer firings (see {@link catchUp}). Invariant: storeTicks <= (clock.now() - originMs) / tickMs.
   */
  private storeTicks = 0;
  /** The store clock's reading when the store opened: tick 0. */
  private readonly originMs: number;
  /** The tick at which each other store was last heard from (any frame, or its liveness ping). */
  private readonly lastHeard = new Map<number, number>();
  /** Stores not heard from for an election timeout: the followers of their leaders wake. */
  private readonly silentStores = new Set<number>();
  /** The other stores hosting replicas of regions here, recomputed now and then. */
  private linkedStores: number[] = [];
  /** Targets holding back a CommitMerge until this store's replica of the source caught up. */
  private readonly mergeWaiters = new Set<RegionPeer>();
  /** Regions whose replica is being created from a message. */
  private readonly creating = new Set<number>();
  /** Replicas destroyed here: messages to them (or older memberships) must not recreate them. */
  private readonly tombstones = new Map<number, Tombstone>();
  /** Refuses replicas whose store came back with other data (a wiped data directory). */
  private guard: IncarnationGuard;
  /** Sizes and counts of the snapshot streams, for tests (memory bounds) and metrics. */
  readonly snapshotStats = newSnapshotStreamStats();
  /** Snapshot streams this store sends, by `to:streamId`, and by `regionId:peerId` of their target. */
  private readonly outgoing = new Map<string, OutgoingStream>();
  private readonly outgoingByTarget = new Map<string, OutgoingStream>();
  private nextStreamId = SNAPSHOT_STREAM_BASE;
  /** Snapshot streams this store receives (with a snapshot link). */
  private readonly receiver: StreamReceiver | undefined;
  /** Regions whose streamed snapshot is being moved into place: no stream may open for them. */
  private readonly applying = new Set<number>();
  /** Regions whose withheld votes were logged (once each, so a stuck election is explained, not flooded). */
  private readonly withheldWarned = new Set<number>();
  /** Counters for metrics, status pages and tests. */
  readonly counters = { merges: 0, tombstonesSent: 0, peersCreated: 0, peersDestroyed: 0, splits: 0, badSnapshots: 0, turns: 0, raftBatches: 0, applyBatches: 0, entriesApplied: 0, snapshotsSent: 0, snapshotsInstalled: 0, messagesSent: 0, quiesces: 0, livenessWakes: 0, clockGaps: 0, votesWithheld: 0 };

  private constructor(opts: StoreEngineOptions) {
    this.storeId = opts.storeId;
    this.engine = opts.engine;
    this.opts = {
      tickMs: 50,
      quiesceTicks: opts.raft?.electionTick ?? 10,
      maxPendingProposals: 4096,
      logGcThreshold: 1000,
      sessionGcIntervalMs: 60_000,
      minKeysToSplit: DEFAULT_MIN_KEYS_TO_SPLIT,
      splitKeys: 0,
      splitBytes: 0,
      splitCheckIntervalMs: 1000,
      snapshotChunkBytes: 256 * 1024,
      snapshotStallMs: 10_000,
      allocId: undefined as unknown as () => number,
      sessionIdleMs: DEFAULT_SESSION_IDLE_MS,
      logger: nullLogger,
      ...opts,
    };
    this.sm = new KvStateMachine({ limits: opts.kvLimits });
    if (opts.snapshotLink) {
      this.receiver = new StreamReceiver({
        engine: opts.engine,
        link: opts.snapshotLink,
        pendingMax: 8,
        mayOpen: (regionId) => !this.applying.has(regionId) && !this.closed,
        stats: this.snapshotStats,
        warn: (message, fields) => this.opts.logger.warn(message, fields),
      });
    }
    this.originMs = opts.clock.now();
    this.guard = new IncarnationGuard(opts.engine, new Map(), this.opts.logger);
    if (opts.pd) {
      if (!opts.sendPd) throw new InvalidArgumentError('sendPd', 'is required with pd');
      this.pd = new PdService(this.pdHost(), opts.pd);
    }
  }

  /** Receives a PD message from another store (or this one). Malformed ones are dropped. */
  receivePd(fromStoreId: number, payload: Uint8Array): void {
    if (this.closed || !this.pd) return;
    this.catchUp();
    const m = decodePdMessage(payload);
    if (m) this.pd.receive(fromStoreId, m);
  }

  /** Asks PD to drain this or another store (`offline`: its replicas move away) or forget it (`tombstone`). */
  setStoreState(storeId: number, state: 'up' | 'offline' | 'tombstone'): void {
    if (!this.pd) throw new InvalidArgumentError('pd', 'this store runs without a placement driver');
    this.pd.setStoreState(storeId, state);
  }

  /**
   * Changes the users, roles or the auth switch through PD's group; only PD's leader does.
   * @throws NotLeaderError (with a hint) elsewhere; InvalidArgumentError when the change does not fit the table.
   */
  async proposeAuth(change: AuthChange): Promise<AuthTable> {
    const peer = this.peers.get(PD_GROUP_ID);
    if (!peer?.isLeader()) throw new NotLeaderError(PD_GROUP_ID, peer?.leaderStoreId() ?? 0);
    const result = await peer.proposePd({ type: 'auth', change });
    if (result && 'authRefused' in result) throw new InvalidArgumentError(result.argument, result.authRefused.replace(/^invalid [^:]*: /, ''));
    if (!result || !('auth' in result)) throw new InvalidArgumentError('auth', 'PD answered no table');
    await this.auth.adopt(result.auth);
    return result.auth;
  }

  private pdHost(): PdHost {
    return {
      authRevision: () => this.auth.table.revision,
      authAsked: (from, revision) => {
        if (this.auth.table.revision > revision) this.pdHost().send(from, { type: 'authTable', table: encodeAuthTable(this.auth.table) });
      },
      authTold: (bytes) => {
        let table: AuthTable;
        try {
          table = decodeAuthTable(bytes);
        } catch (e) {
          this.opts.logger.warn('auth table from PD refused', { error: String(e) });
          return;
        }
        void this.auth.adopt(table).catch((e) => this.opts.logger.warn('auth table not kept', { error: String(e) }));
      },
      refreshAuth: () => {
        if (!this.peers.has(PD_GROUP_ID)) return;
        void loadAuthTable(this.engine)
          .then((t) => this.auth.adopt(t))
          .catch((e) => this.opts.logger.warn('auth table not read', { error: String(e) }));
      },
      storeId: this.storeId,
      now: () => this.opts.clock.now(),
      send: (to, message) => {
        const bytes = encodePdMessage(message);
        if (to === this.storeId) this.receivePd(to, bytes);
        else this.opts.sendPd?.(to, bytes);
      },
      pdPeer: () => this.peers.get(PD_GROUP_ID),
      leaderHeartbeats: () => this.leaderHeartbeats(),
      storeHeartbeat: () => {
        const led = [...this.peers.values()].filter((p) => !isPdGroup(p) && p.storage.initialized);
        return {
          storeId: this.storeId,
          capacityBytes: 0,
          availableBytes: 0,
          regionCount: led.length,
          leaderCount: led.filter((p) => p.isLeader()).length,
          bytesWritten: 0,
          keysWritten: 0,
          bytesRead: 0,
          keysRead: 0,
          timestampMs: this.opts.clock.now(),
          state: 'up',
          ...(this.opts.incarnation === undefined ? {} : { incarnation: this.opts.incarnation }),
        };
      },
      loadState: () => loadPdState(this.engine),
      execute: (i) => this.executeInstruction(i),
      region: (id) => {
        const p = this.peers.get(id);
        return p?.storage.initialized ? p.region : undefined;
      },
      logger: this.opts.logger,
    };
  }

  /** Region heartbeats for every region this store leads: size, lagging and silent peers. */
  private async leaderHeartbeats(): Promise<RegionHeartbeat[]> {
    const out: RegionHeartbeat[] = [];
    const now = this.opts.clock.now();
    for (const peer of this.peers.values()) {
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
        let heardMs = pr && Number.isFinite(pr.ticksSinceHeard) ? pr.ticksSinceHeard * this.opts.tickMs : Number.POSITIVE_INFINITY;
        // A quiesced group exchanges no heartbeats: its members count as alive while their stores are.
        if (status.quiesced && !this.silentStores.has(p.storeId)) heardMs = 0;
        if (heardMs <= 2 * (this.opts.raft?.electionTick ?? 10) * this.opts.tickMs) this.peerSeenMs.set(p.id, now);
        if (!this.peerSeenMs.has(p.id)) this.peerSeenMs.set(p.id, now); // give a new peer its time
        const downMs = now - this.peerSeenMs.get(p.id)!;
        if (downMs > 2 * (this.opts.raft?.electionTick ?? 10) * this.opts.tickMs) downPeers.push({ peer: p, downSeconds: Math.floor(downMs / 1000) });
        // Pending: behind the commit index (a learner still catching up, a lagging voter).
        if (!pr || pr.match < status.commit) pendingPeers.push(p);
      }
      const size = await this.engine.approximateSize(prefixedRange(DATA_PREFIX, peer.region.startKey, peer.region.endKey));
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
    switch (i.type) {
      case 'splitRegion':
        await this.splitRegion(i.regionId, i.epoch, i.splitKey, { newRegionId: i.newRegionId, newPeerIds: i.newPeerIds });
        return;
      case 'transferLeader':
        await this.transferLeader(i.regionId, i.epoch, i.toStoreId);
        return;
      case 'addLearner':
        await this.changePeer(i.regionId, i.epoch, 'addLearner', i.storeId, i.peerId, i.incarnation);
        return;
      case 'promoteLearner':
      case 'removePeer': {
        const region = this.peers.get(i.regionId)?.region;
        const peer = region?.peers.find((p) => p.id === i.peerId);
        if (!peer) return;
        await this.changePeer(i.regionId, i.epoch, i.type === 'promoteLearner' ? 'promote' : 'remove', peer.storeId);
        return;
      }
      case 'mergeRegions': {
        const target = this.peers.get(i.targetId);
        const source = this.peers.get(i.sourceId);
        if (!target || !source) return;
        if (target.isLeader() && source.isLeader()) {
          await this.mergeRegions(i.targetId, i.sourceId);
        } else if (source.isLeader() && target.leaderStoreId() > 0) {
          // One store must lead both: hand the source's leadership to the target's leader; PD asks again.
          await this.transferLeader(i.sourceId, i.epochs.source, target.leaderStoreId());
        } else if (target.isLeader() && source.leaderStoreId() > 0) {
          // Ask the source's leader to hand its leadership here; PD sends the merge again.
          const mine = source.region.peers.find((p) => p.storeId === this.storeId);
          if (mine) {
            const transfer: Instruction = { type: 'transferLeader', regionId: i.sourceId, epoch: source.region.epoch, toStoreId: this.storeId, toPeerId: mine.id };
            this.opts.sendPd?.(source.leaderStoreId(), encodePdMessage({ type: 'instruction', instruction: transfer }));
          }
        }
        return;
      }
    }
  }

  /**
   * Writes the initial state of `regions` (those with a peer on this store) into an empty engine.
   * Every store of a new cluster bootstraps the same regions. Does nothing if the engine already
   * holds regions, so it is safe to call on every start.
   */
  static async bootstrap(engine: StorageEngine, storeId: number, regions: readonly Region[], pdStoreIds: readonly number[] = []): Promise<void> {
    const existing = await engine.scan({ ...regionStateRange(), limit: 1 });
    if (existing.length > 0) return;
    const ops: WriteOp[] = [];
    // PD's own group lives on the first stores, bootstrapped like a region that serves no keys.
    const all = pdStoreIds.length > 0 ? [...regions, pdGroupRegion(pdStoreIds)] : regions;
    for (const region of all) {
      const me = region.peers.find((p) => p.storeId === storeId);
      if (!me) continue;
      const storage = PeerStorage.initial(region.id, confStateOf(region));
      storage.stageApplyState(ops);
      storage.stageHardState(storage.hardState, ops);
      ops.push({ type: 'put', key: regionStateKey(region.id), value: encodeRegionState({ region, peerId: me.id, state: 'normal' }) });
    }
    await engine.write(ops, { sync: true });
  }

  /** Opens a store: restores every replica it hosts from the engine and starts ticking. */
  static async open(opts: StoreEngineOptions): Promise<StoreEngine> {
    const store = new StoreEngine(opts);
    store.guard = new IncarnationGuard(opts.engine, await loadSeenIncarnations(opts.engine), store.opts.logger);
    // Rules first: a restarted store enforces the newest table it kept, before it hears from PD.
    store.auth = await AuthCache.load(opts.engine);
    await store.auth.adopt(await loadAuthTable(opts.engine));
    for (const row of await opts.engine.scan(regionStateRange())) {
      const rs = decodeRegionState(row.value);
      if (rs.state === 'applying') {
        // Crashed while moving a streamed snapshot into place: finish it before anything serves.
        rs.state = 'normal';
        const moved = await moveStaged(opts.engine, rs.region.id, store.opts.snapshotChunkBytes, [{ type: 'put', key: regionStateKey(rs.region.id), value: encodeRegionState(rs) }], store.snapshotStats);
        store.opts.logger.info('finished installing a streamed snapshot after a restart', { regionId: rs.region.id, pairs: moved });
      }
      if (rs.state !== 'normal') {
        store.tombstones.set(rs.region.id, tombstoneOf(rs.region, rs.peerId));
        continue;
      }
      const storage = await PeerStorage.load(opts.engine, rs.region.id);
      const peer = store.addPeer(rs.region, rs.peerId, storage);
      peer.merging = rs.merging;
      peer.absorbedIds = rs.absorbed ?? [];
      if (soleVoter(peer)) {
        // The region's only voter campaigns at once (etcd does so for a one-member cluster): no
        // other replica can win an election or hold a lease, so waiting out an election timeout
        // only delays the first request after a restart by 0.5-1 s. The election itself is the
        // same one a timeout would start (same term rules, pre-vote); timing never makes Raft safe.
        peer.node.campaign();
      }
    }
    // Pairs of streams that never completed (or whose snapshot Raft never took) are garbage.
    await opts.engine.write([{ type: 'deleteRange', start: ALL_STAGING.start, end: ALL_STAGING.end }]);
    store.scheduleTick();
    return store;
  }

  private addPeer(region: Region, peerId: number, storage: PeerStorage): RegionPeer {
    const r = this.opts.raft ?? {};
    const node = new RawNode({
      id: peerId,
      storage,
      rand: this.opts.rand,
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
      logger: this.opts.logger,
    });
    const peer = new RegionPeer(this.storeId, peerId, cloneRegion(region), node, storage);
    peer.localPeer = (id) => this.peers.get(id);
    peer.onWork = () => this.kick(peer);
    this.peers.set(region.id, peer);
    this.dirty.add(peer);
    return peer;
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
    if (this.closed) return;
    // Time first: a store that was stopped judges what it receives by the time that really passed.
    this.catchUp();
    // Any frame proves the sender's store alive; an empty one is just that (its liveness ping).
    if (fromStoreId !== this.storeId) this.lastHeard.set(fromStoreId, this.storeTicks);
    const checked = incarnation !== undefined && fromStoreId !== this.storeId;
    if (checked && !this.guard.observe(fromStoreId, incarnation)) return;
    if (items.length === 0) return;
    for (const item of items) {
      const { regionId, message } = item;
      let peer = this.peers.get(regionId);
      if (peer && message.to !== peer.peerId && item.region && item.region.confVer > peer.region.epoch.confVer) {
        // A newer membership names another replica on this store: ours was removed (and maybe
        // never heard of it). Destroy it; the new replica is created from the next message.
        void this.destroyPeer(peer, 'replaced by a newer replica');
        peer = undefined;
      }
      if (!peer) {
        if (item.region?.tombstone) continue;
        const tomb = this.tombstones.get(regionId);
        // A replica of a region this store retired (merged away, or removed) that lagged behind
        // and still talks: tell it, so that its store destroys it.
        if (tomb && item.region && item.region.confVer < tomb.confVer) this.answerFromTombstone(tomb, fromStoreId, item);
        else this.maybeCreatePeer(fromStoreId, item);
        continue;
      }
      if (item.region?.tombstone) {
        // The sender's newer membership no longer has this replica: it was removed.
        if (message.to === peer.peerId && item.region.confVer > peer.region.epoch.confVer) void this.destroyPeer(peer, 'removed from the region');
        continue;
      }
      if (message.to !== peer.peerId || peer.storeOf(message.from) !== fromStoreId) {
        this.answerStalePeer(peer, fromStoreId, item);
        continue;
      }
      // A replica here still waiting for its first snapshot cannot vote: it takes what comes.
      if (checked && peer.storage.initialized && !this.guard.admits(peer.region, message.from, fromStoreId, incarnation)) continue;
      if (message.type === 'MsgSnap' && !this.snapshotAcceptable(peer, message, fromStoreId)) continue;
      if ((message.type === 'MsgVote' || message.type === 'MsgPreVote') && withholdsVote(peer, message)) {
        this.counters.votesWithheld++;
        if (!this.withheldWarned.has(regionId)) {
          this.withheldWarned.add(regionId);
          this.opts.logger.warn('withholding votes: this replica is as bootstrap left it and the candidate holds data (a leader must reach it first; docs/store-identity.md)', { regionId, candidateStore: fromStoreId });
        }
        continue;
      }
      this.dirty.add(peer);
      try {
        peer.node.step(message);
      } catch (e) {
        this.opts.logger.warn('dropped a message the replica refused', { regionId, type: message.type, error: String(e) });
      }
    }
    this.runLoop();
  }

  /**
   * A snapshot chunk from store `fromStoreId` (the `chunk` items of stream ids from
   * `SNAPSHOT_STREAM_BASE`): stream data for a replica here, or an acknowledgement of one this
   * store sends. Malformed ones are dropped.
   */
  receiveSnapshotChunk(fromStoreId: number, streamId: number, seq: number, payload: Uint8Array): void {
    if (this.closed) return;
    if (isReplyChunk(payload)) this.outgoing.get(`${fromStoreId}:${streamId}`)?.receive(payload);
    else this.receiver?.receive(fromStoreId, streamId, seq, payload);
  }

  /** Drops the snapshot streams from and to a store whose link went down. */
  snapshotLinkDown(storeId: number): void {
    this.receiver?.forget(storeId);
    for (const [key, stream] of this.outgoing) if (key.startsWith(`${storeId}:`)) stream.abort('the link went down');
  }

  /**
   * Whether a snapshot's data is intact and for this region. Checked before the core sees it: once
   * stepped, the core has already replaced its log, so a bad snapshot must never get that far.
   */
  private snapshotAcceptable(peer: RegionPeer, message: Message, fromStoreId: number): boolean {
    try {
      const envelope = decodeSnapshotEnvelope(message.snapshot?.data ?? new Uint8Array(0));
      if (envelope.region.id !== peer.regionId) throw new Error(`it is for region ${envelope.region.id}`);
      this.supersededBy(peer, envelope.region, envelope.absorbed); // throws if the range clashes with a live region here
      const streamed = isPdGroup(peer) ? undefined : decodeDescriptor(envelope.kv);
      if (streamed) {
        // Its pairs came first, staged and verified: only a stream that matches it may be installed.
        const s = this.receiver?.claim(peer.regionId, fromStoreId, streamed);
        if (!s) throw new Error(`no verified snapshot stream ${streamed.streamId} from store ${fromStoreId}`);
        if (!keysEqual(s.region.startKey, envelope.region.startKey) || !keysEqual(s.region.endKey, envelope.region.endKey)) {
          this.receiver?.release(peer.regionId);
          throw new Error('the stream was opened for another range');
        }
      } else if (isPdGroup(peer)) restorePdState(envelope.kv);
      else restoreRegion(envelope.kv); // checks magic, version, checksum and that every key is in range
      return true;
    } catch (e) {
      this.counters.badSnapshots++;
      this.opts.logger.warn('dropped a snapshot that failed its checks', { regionId: peer.regionId, error: String(e) });
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
    const { regionId, message, region } = item;
    if (!region || this.creating.has(regionId) || this.closed) return;
    if (message.type !== 'MsgApp' && message.type !== 'MsgHeartbeat' && message.type !== 'MsgSnap') return;
    const tomb = this.tombstones.get(regionId);
    if (tomb && (tomb.peerId === message.to || tomb.confVer >= region.confVer)) return;
    if (regionId !== PD_GROUP_ID) {
      for (const p of this.peers.values()) {
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
        const hsBytes = await this.engine.get(hardStateKey(regionId));
        const hs = hsBytes ? decodeHardState(hsBytes) : { term: 0, vote: 0, commit: 0 };
        if (this.closed || this.peers.has(regionId)) return;
        const known: Region = {
          id: regionId,
          startKey: region.startKey.slice(),
          endKey: region.endKey.slice(),
          epoch: { confVer: region.confVer, version: region.version },
          peers: [
            { id: message.from, storeId: fromStoreId, role: 'voter' },
            { id: message.to, storeId: this.storeId, role: 'learner' },
          ],
        };
        this.addPeer(known, message.to, PeerStorage.uninitialized(regionId, hs));
        this.counters.peersCreated++;
        this.receiveRaft(fromStoreId, [item]);
      } finally {
        this.creating.delete(regionId);
      }
    })().catch((e) => this.opts.logger.warn('could not create a replica', { regionId, error: String(e) }));
  }

  /**
   * A message from a replica that our (newer) membership no longer has, say a removed replica that
   * never applied its removal and now campaigns: tell it, so that its store destroys it.
   */
  private answerStalePeer(peer: RegionPeer, fromStoreId: number, item: RaftItem): void {
    const theirs = item.region;
    if (!theirs || !peer.storage.initialized || theirs.confVer >= peer.region.epoch.confVer) return;
    if (peer.region.peers.some((p) => p.id === item.message.from)) return;
    this.sendTombstone(peer, item.message.from, fromStoreId);
  }

  /** Answers a replica of a region this store retired with a tombstone notice. */
  private answerFromTombstone(tomb: Tombstone, fromStoreId: number, item: RaftItem): void {
    const r = tomb.region;
    const message = makeMessage({ type: 'MsgHeartbeat', from: tomb.peerId, to: item.message.from });
    const region = { startKey: r.startKey, endKey: r.endKey, confVer: tomb.confVer, version: r.epoch.version, tombstone: true };
    this.counters.tombstonesSent++;
    this.opts.sendRaft(fromStoreId, [{ regionId: r.id, message, region }]);
  }

  /** Tells the replica `peerId` on `storeId` that it is no longer a member of `peer`'s region. */
  private sendTombstone(peer: RegionPeer, peerId: number, storeId: number): void {
    const r = peer.region;
    const message = makeMessage({ type: 'MsgHeartbeat', from: peer.peerId, to: peerId });
    const region = { startKey: r.startKey, endKey: r.endKey, confVer: r.epoch.confVer, version: r.epoch.version, tombstone: true };
    this.counters.tombstonesSent++;
    if (storeId === this.storeId) this.receiveRaft(this.storeId, [{ regionId: r.id, message, region }]);
    else this.opts.sendRaft(storeId, [{ regionId: r.id, message, region }]);
  }

  /**
   * Removes a replica from this store: its Raft state goes, its key ranges are cleared (no other
   * replica here serves them), and a tombstone keeps stale messages from recreating it.
   */
  private async destroyPeer(peer: RegionPeer, why: string): Promise<void> {
    if (this.peers.get(peer.regionId) !== peer) return;
    this.peers.delete(peer.regionId);
    peer.retire(new NotLeaderError(peer.regionId, 0));
    this.tombstones.set(peer.regionId, tombstoneOf(peer.region, peer.peerId));
    const ops: WriteOp[] = [
      { type: 'deleteRange', ...regionRaftRange(peer.regionId) },
      { type: 'put', key: regionStateKey(peer.regionId), value: encodeRegionState({ region: peer.region, peerId: peer.peerId, state: 'tombstone' }) },
    ];
    if (peer.storage.initialized) for (const r of regionRanges(peer.region)) ops.push({ type: 'deleteRange', start: r.start, end: r.end });
    this.counters.peersDestroyed++;
    this.opts.logger.info('replica destroyed', { regionId: peer.regionId, peerId: peer.peerId, why });
    await this.engine.write(ops, { sync: true });
  }

  /**
   * Replicas of regions hosted here whose messages were refused because their store came back
   * with other data (and that were still members when last looked at): what `rejoin-store` replaces.
   */
  lostReplicas(): LostReplica[] {
    this.guard.prune((id) => this.peers.get(id)?.region);
    return this.guard.lostReplicas();
  }

  /** The first incarnation this store recorded of every store it heard from, by store id. */
  seenIncarnations(): Record<number, string> {
    return this.guard.seenIncarnations();
  }

  /** The first incarnation of `storeId` this store recorded (undefined: it never heard from it). */
  seenIncarnationOf(storeId: number): string | undefined {
    return this.guard.firstSeen(storeId);
  }

  /** The incarnation store `storeId` runs now, as its latest frame said (undefined: unknown). */
  incarnationOf(storeId: number): string | undefined {
    return storeId === this.storeId ? this.opts.incarnation : this.guard.currentOf(storeId);
  }

  /** This store's id and the incarnation of its data (what `rejoinStore` stamps its new replicas with). */
  ident(): { storeId: number; incarnation?: string } {
    return this.opts.incarnation === undefined ? { storeId: this.storeId } : { storeId: this.storeId, incarnation: this.opts.incarnation };
  }

  /** The regions this store hosts (initialized replicas only), with leader hints. */
  regions(): RegionInfo[] {
    // The leader hints below come from the replicas' roles: bring them up to date first.
    this.catchUp();
    return [...this.peers.values()].filter((p) => p.storage.initialized && !isPdGroup(p)).map((p) => ({ region: cloneRegion(p.region), leaderStoreId: p.leaderStoreId() }));
  }

  /** Subscribes to leadership changes of this store's replicas; returns the unsubscribe function. */
  onRoleChange(listener: RoleListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Throws EpochNotMatch (or RegionNotFound) unless this store's replica of the region is at `epoch`. */
  checkEpoch(regionId: number, epoch: RegionEpoch | undefined): void {
    this.peerFor(regionId, epoch);
  }

  private peerFor(regionId: number, epoch: RegionEpoch | undefined): RegionPeer {
    this.checkOpen();
    // Every request starts here: a lease that ran out while this process was stopped is void
    // before the fast path below (lease reads without a loop turn) can trust it.
    this.catchUp();
    const peer = this.peers.get(regionId);
    if (!peer?.storage.initialized || isPdGroup(peer)) throw new RegionNotFoundError(regionId);
    const cur = peer.region.epoch;
    if (epoch && (epoch.version !== cur.version || epoch.confVer !== cur.confVer)) {
      throw new EpochNotMatchError(regionId, this.regions().map((r) => r.region));
    }
    if (peer.merging) throw new ServerBusyError(`region ${regionId} is merging into region ${peer.merging.targetId}; retry`);
    return peer;
  }

  /**
   * Proposes a write to a region. Resolves with the outcome once applied (and written to the
   * engine); rejects with a typed error when it was not proposed (nothing changed).
   */
  async write(regionId: number, epoch: RegionEpoch | undefined, clientId: string, seq: number, op: KvWriteOp): Promise<ApplyOutcome> {
    const peer = this.peerFor(regionId, epoch);
    validateWriteOp(op, this.sm.limits);
    checkOpInRegion(op, peer.region);
    if (!peer.isLeader()) throw peer.notLeader();
    if (peer.pendingProposals >= this.opts.maxPendingProposals) {
      throw new ServerBusyError(`region ${regionId} has ${peer.pendingProposals} proposals waiting to apply`);
    }
    const result = peer.proposeKv({ clientId, seq, nowMs: peer.regionTime(this.opts.clock.now()), op });
    this.kick(peer);
    return result;
  }

  /** Serves a read with the given consistency; rejects with a typed error (retryable ones say so). */
  async read(regionId: number, epoch: RegionEpoch | undefined, op: KvReadOp, consistency: ReadConsistency = 'linearizable'): Promise<KvReadResult> {
    const peer = this.peerFor(regionId, epoch);
    validateReadOp(op, this.sm.limits);
    checkOpInRegion(op, peer.region);
    // A stale read, or a lease read while the lease holds and all that is committed is readable,
    // is served from the engine now: no Raft round, no loop turn.
    if (consistency === 'stale' || (consistency === 'lease' && peer.leaseReadable())) {
      return new Promise((resolve, reject) => {
        void peer.serveOne(this.engine, this.sm, { op, epochVersion: peer.region.epoch.version, resolve, reject });
      });
    }
    const result = peer.read(op, consistency);
    this.kickReads(peer);
    return result;
  }

  /**
   * Starts a loop turn once the current synchronous code is done, so that every read queued
   * meanwhile (from any client) shares one ReadIndex round per region. No tick or timer is
   * waited for: the round goes out in that turn.
   */
  private kickReads(peer: RegionPeer): void {
    this.dirty.add(peer);
    if (this.readKickPending) return;
    this.readKickPending = true;
    void Promise.resolve().then(() => {
      this.readKickPending = false;
      this.runLoop();
    });
  }

  // --- the loop --------------------------------------------------------------------------------

  /** Arms the timer for the next tick boundary of the store clock. */
  private scheduleTick(): void {
    if (this.closed) return;
    const delayMs = Math.max(0, this.originMs + (this.storeTicks + 1) * this.opts.tickMs - this.opts.clock.now());
    this.cancelTick = this.opts.clock.setTimer(delayMs, () => {
      this.catchUp();
      this.maybeExpireSessions();
      this.pd?.tick();
      this.maybeAutoSplit();
      this.finishMerges();
      // Now and then the loop looks at every replica, should anything have touched one unmarked.
      if (this.storeTicks % (this.opts.raft?.electionTick ?? 10) === 0) this.kick();
      else this.runLoop();
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
  private catchUp(): void {
    if (this.closed) return;
    const owed = Math.floor((this.opts.clock.now() - this.originMs) / this.opts.tickMs) - this.storeTicks;
    if (owed <= 0) return;
    if (owed > 1) this.elapseGap(owed - 1);
    this.storeTicks++;
    for (const peer of this.peers.values()) {
      // Before the tick: right after one that heartbeats, the acknowledgements are still on their way.
      this.maybeQuiesce(peer);
      peer.node.tick();
      // A quiesced replica's tick only counts time: the loop need not look at it.
      if (!peer.node.quiesced) this.dirty.add(peer);
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
    this.storeTicks += ticks;
    this.counters.clockGaps++;
    const gapMs = ticks * this.opts.tickMs;
    for (const [s, heard] of this.lastHeard) this.lastHeard.set(s, heard + ticks);
    for (const [p, seen] of this.peerSeenMs) this.peerSeenMs.set(p, seen + gapMs);
    this.pd?.clockJumped(gapMs);
    for (const peer of this.peers.values()) {
      peer.node.elapse(ticks);
      peer.quietTicks = 0;
      this.dirty.add(peer);
    }
  }

  /**
   * Quiesces a region led here once it stayed idle and fully replicated for `quiesceTicks` ticks
   * (and nothing of the store's is under way on it: proposals, a split, a merge). PD's own group
   * never sleeps.
   */
  private maybeQuiesce(peer: RegionPeer): void {
    const node = peer.node;
    if (node.quiesced || !peer.isLeader()) return;
    const after = this.opts.quiesceTicks;
    const busy = after <= 0 || isPdGroup(peer) || peer.merging !== undefined || peer.splitPending || peer.pendingProposals > 0 || this.mergeWaiters.has(peer) || this.finishing.has(peer.regionId);
    if (busy || !node.quiescable()) {
      peer.quietTicks = 0;
      return;
    }
    if (++peer.quietTicks < after) return;
    peer.quietTicks = 0;
    // Its MsgQuiesce to the followers goes out with the next turn.
    if (node.quiesce()) {
      this.counters.quiesces++;
      this.dirty.add(peer);
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
    const electionTick = this.opts.raft?.electionTick ?? 10;
    const heartbeatTick = this.opts.raft?.heartbeatTick ?? 2;
    if (this.storeTicks % electionTick === 1) {
      const linked = new Set<number>();
      for (const peer of this.peers.values()) for (const p of peer.region.peers) if (p.storeId !== this.storeId) linked.add(p.storeId);
      this.linkedStores = [...linked];
    }
    if (this.storeTicks % heartbeatTick === 0) for (const s of this.linkedStores) this.opts.sendRaft(s, []);
    const lost = new Set<number>();
    for (const s of this.linkedStores) {
      if (this.storeTicks - (this.lastHeard.get(s) ?? 0) < electionTick) {
        this.silentStores.delete(s);
      } else if (!this.silentStores.has(s)) {
        this.silentStores.add(s);
        lost.add(s);
      }
    }
    if (this.silentStores.size === 0) return;
    for (const peer of this.peers.values()) {
      const node = peer.node;
      if (node.raft.state !== 'follower' || node.raft.lead === 0) continue;
      const leaderStore = peer.leaderStoreId();
      // Once per loss for a follower awake already (its timer must not be reset each tick), and
      // whenever one is found asleep.
      if (this.silentStores.has(leaderStore) && (node.quiesced || lost.has(leaderStore))) {
        node.wake(true);
        this.counters.livenessWakes++;
        this.dirty.add(peer);
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
      if (p.id === peer.node.raft.lead || (p.storeId !== this.storeId && this.silentStores.has(p.storeId))) continue;
      live++;
      if (first === 0 || p.id < first) first = p.id;
    }
    return live > voters / 2 ? first : 0;
  }

  /** Runs loop turns until no replica has work: for `peer`, or for any replica when none is named. */
  kick(peer?: RegionPeer): void {
    if (peer) this.dirty.add(peer);
    else this.scanAll = true;
    this.runLoop();
  }

  /** Starts the loop unless it runs (it then takes what was marked before its next turn). */
  private runLoop(): void {
    if (this.closed && !this.running) return;
    if (this.running) return;
    this.running = true;
    this.idle = this.loop();
  }

  /** The replicas the next turn looks at: every one after a `kick()`, else those marked. */
  private takeBatch(): RegionPeer[] {
    if (this.scanAll) {
      this.scanAll = false;
      this.dirty.clear();
      return [...this.peers.values()];
    }
    const batch: RegionPeer[] = [];
    for (const peer of this.dirty) if (this.peers.get(peer.regionId) === peer) batch.push(peer);
    this.dirty.clear();
    return batch;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.catchUp();
        const batch = this.takeBatch();
        for (const peer of batch) peer.flushReads();
        await this.turn(batch);
        this.releaseMergeWaiters();
      } while (!this.closed && (this.scanAll || this.dirty.size > 0));
    } catch (e) {
      // A storage failure leaves the replicas' memory ahead of the disk: stop, as RheaKV does on a
      // critical state machine error. Clients see their requests fail; a restart recovers.
      this.failure = e as Error;
      this.opts.logger.error('store loop failed; stopping the store', { storeId: this.storeId, error: String(e) });
      // A proposal waiting here may have reached other replicas before the failure: its outcome is unknown.
      await this.shutdown(e as Error, new OutcomeUnknownError(`store ${this.storeId} stopped after a storage failure (${String(e)})`));
      try {
        this.opts.onFailure?.(e as Error);
      } catch (err) {
        this.opts.logger.warn('onFailure threw', { error: String(err) });
      }
    } finally {
      this.running = false;
    }
  }

  private async turn(batch: readonly RegionPeer[]): Promise<void> {
    const work: Array<{ peer: RegionPeer; rd: Ready }> = [];
    const ops: WriteOp[] = [];
    let sync = false;
    const installs = new Map<RegionPeer, ReturnType<typeof stageSnapshotInstall> & { superseded: RegionPeer[] }>();
    for (const peer of batch) {
      const claimed = this.receiver?.streams.get(peer.regionId)?.claimed === true;
      if (!peer.node.hasReady()) {
        if (claimed) this.receiver?.release(peer.regionId); // Raft did not take the snapshot
        continue;
      }
      const rd = peer.node.ready();
      if (claimed && !rd.snapshot) this.receiver?.release(peer.regionId);
      if (rd.snapshot) {
        const install = stageSnapshotInstall(peer, rd.snapshot, ops);
        if (install.streamed) this.applying.add(peer.regionId);
        // Regions merged into this one while this store lagged go with the install, atomically.
        const superseded = this.supersededBy(peer, install.regionState.region, install.regionState.absorbed);
        for (const old of superseded) this.stageRetire(old, ops);
        installs.set(peer, { ...install, superseded });
      }
      peer.storage.stageEntries(rd.entries, ops);
      if (rd.hardState) peer.storage.stageHardState(rd.hardState, ops);
      sync ||= rd.mustSync;
      work.push({ peer, rd });
    }
    if (work.length === 0) return;
    this.counters.turns++;
    this.counters.snapshotsInstalled += installs.size;
    // 1. Durable before anything that depends on it leaves. Log entries and hard states are
    // encoded for the batch: hand them over (not a snapshot's pairs, views into a received frame).
    if (ops.length > 0) {
      await this.engine.write(ops, { sync, handOver: installs.size === 0 });
      this.counters.raftBatches++;
    }
    // Streamed snapshots: the batch above made them Raft's (region `applying`); move the staged
    // pairs into place now, in bounded batches, before anything is applied or read. The last batch
    // marks the region `normal`; a crash before it is finished by the next start.
    for (const [peer, install] of installs) {
      if (!install.streamed) continue;
      install.regionState.state = 'normal';
      await moveStaged(this.engine, peer.regionId, this.opts.snapshotChunkBytes, [{ type: 'put', key: regionStateKey(peer.regionId), value: encodeRegionState(install.regionState) }], this.snapshotStats);
      this.receiver?.release(peer.regionId);
      this.applying.delete(peer.regionId);
    }
    for (const { peer, rd } of work) {
      const install = installs.get(peer);
      if (install) {
        peer.storage.installSnapshot(install.applyState);
        for (const old of install.superseded) this.dropRetired(old);
        // A snapshot supersedes whatever merge this replica was waiting to apply.
        peer.node.setApplyLimit(Number.POSITIVE_INFINITY);
        this.mergeWaiters.delete(peer);
        peer.region = install.regionState.region;
        peer.merging = install.regionState.merging;
        peer.absorbedIds = install.regionState.absorbed ?? [];
        peer.observeNow(install.applyState.nowMs);
      }
      peer.storage.appendEntries(rd.entries);
      if (rd.hardState) peer.storage.hardState = rd.hardState;
    }
    // 2. Send, one call per destination store.
    await this.send(work);
    // 3. Apply everything committed into one batch; answer clients only once it is written.
    const overlay = new WriteOverlay(this.engine);
    const answers: Array<() => void> = [];
    const applied = new Set<RegionPeer>();
    const blocked = new Map<RegionPeer, number>();
    for (const { peer, rd } of work) {
      if (rd.committedEntries.length === 0) continue;
      const { done, blockedAt } = await peer.applyEntries(overlay, this.sm, rd.committedEntries);
      for (const cb of done) answers.push(cb);
      applied.add(peer);
      if (blockedAt > 0) {
        // A CommitMerge waits for this store's replica of its source: hold back the rest.
        blocked.set(peer, blockedAt - 1);
        peer.node.setApplyLimit(blockedAt - 1);
        this.mergeWaiters.add(peer);
      }
      this.counters.entriesApplied += rd.committedEntries.length;
    }
    if (applied.size > 0) {
      const applyOps = overlay.toWriteOps();
      for (const peer of applied) {
        peer.storage.stageApplyState(applyOps);
        if (peer.regionDirty) {
          applyOps.push({ type: 'put', key: regionStateKey(peer.regionId), value: encodeRegionState(this.regionStateOf(peer)) });
          peer.regionDirty = false;
        }
        for (const source of peer.absorbed) this.stageRetire(source, applyOps);
        const gc = this.maybeCompact(peer);
        for (const op of gc) applyOps.push(op);
        for (const child of peer.splitChildren) this.stageNewRegion(child, applyOps);
      }
      // Every buffer here is built by the apply or is a view into a decoded command's own copy.
      await this.engine.write(applyOps, { sync: false, handOver: true });
      this.counters.applyBatches++;
      for (const peer of applied) this.startSplitChildren(peer);
      for (const peer of applied) this.finishAbsorbing(peer);
      for (const peer of applied) {
        // The leader tells replicas removed this turn (the core stopped replicating to them the
        // moment the change was appended, so they may never apply it themselves).
        for (const gone of peer.removedPeers) if (peer.isLeader() && gone.storeId !== this.storeId) this.sendTombstone(peer, gone.id, gone.storeId);
        peer.removedPeers = [];
        if (!peer.region.peers.some((p) => p.id === peer.peerId)) await this.destroyPeer(peer, 'removed from the region');
      }
    }
    for (const answer of answers) answer();
    // 4. Advance; serve reads that are now answerable.
    for (const { peer, rd } of work) {
      peer.node.advance(rd, blocked.get(peer));
      if (rd.softState) this.roleChanged(peer);
      peer.onReadStates(rd.readStates);
      await peer.serveReads(this.engine, this.sm);
      // More to hand out (committed entries beyond one Ready's size, messages stepped meanwhile).
      if (peer.node.hasReady()) this.dirty.add(peer);
    }
  }

  private async send(work: ReadonlyArray<{ peer: RegionPeer; rd: Ready }>): Promise<void> {
    const out = new Map<number, RaftItem[]>();
    for (const { peer, rd } of work) {
      for (const m of rd.messages) {
        const to = peer.storeOf(m.to);
        if (to === 0) continue;
        let message = m;
        // The core names the truncation point; what is sent is the region as applied right now.
        if (m.type === 'MsgSnap' && this.opts.snapshotLink && !isPdGroup(peer) && to !== this.storeId) {
          await this.streamSnapshot(peer, m, to);
          continue;
        }
        if (m.type === 'MsgSnap') {
          message = { ...m, snapshot: await buildRegionSnapshot(this.engine, peer) };
          this.counters.snapshotsSent++;
        }
        const list = out.get(to) ?? [];
        const r = peer.region;
        list.push({ regionId: peer.regionId, message, region: { startKey: r.startKey, endKey: r.endKey, confVer: r.epoch.confVer, version: r.epoch.version } });
        out.set(to, list);
      }
    }
    for (const [to, items] of out) {
      this.counters.messagesSent += items.length;
      if (to === this.storeId) this.receiveRaft(this.storeId, items);
      else this.opts.sendRaft(to, items);
    }
  }

  /**
   * Starts streaming a snapshot of `peer`'s region (as applied now) to replica `m.to` on store
   * `to`; its `MsgSnap` follows once the receiver verified every chunk. One stream per target at
   * a time; a stream that fails is reported to Raft, which sends another.
   */
  private async streamSnapshot(peer: RegionPeer, m: Message, to: number): Promise<void> {
    const link = this.opts.snapshotLink;
    const target = `${peer.regionId}:${m.to}`;
    if (!link || this.outgoingByTarget.has(target)) return;
    const view = await this.engine.snapshot();
    const head = snapshotHead(peer);
    const r = head.envelope.region;
    const meta = { startKey: r.startKey, endKey: r.endKey, confVer: r.epoch.confVer, version: r.epoch.version };
    const streamId = this.nextStreamId++;
    const stream = new OutgoingStream({
      link,
      clock: this.opts.clock,
      to,
      streamId,
      region: r,
      view,
      chunkBytes: this.opts.snapshotChunkBytes,
      window: 4,
      stallMs: this.opts.snapshotStallMs,
      pollMs: 5,
      resendMs: 1000,
      live: () => !this.closed && this.peers.get(peer.regionId) === peer && peer.isLeader(),
      stats: this.snapshotStats,
    });
    const key = `${to}:${streamId}`;
    this.outgoing.set(key, stream);
    this.outgoingByTarget.set(target, stream);
    this.counters.snapshotsSent++;
    void stream
      .run()
      .then(
        (d) => {
          if (this.closed) return;
          const message: Message = { ...m, snapshot: streamedSnapshot(head, d) };
          this.counters.messagesSent++;
          this.opts.sendRaft(to, [{ regionId: peer.regionId, message, region: meta }]);
        },
        (e) => {
          this.opts.logger.warn('a snapshot stream failed; Raft will send another', { regionId: peer.regionId, to, error: String(e) });
          if (this.closed || this.peers.get(peer.regionId) !== peer) return;
          peer.node.reportSnapshot(m.to, false);
          this.dirty.add(peer);
          this.runLoop();
        },
      )
      .finally(() => {
        try {
          view.release();
        } catch {
          // the engine closed first: nothing is held any more
        }
        this.outgoing.delete(key);
        if (this.outgoingByTarget.get(target) === stream) this.outgoingByTarget.delete(target);
      });
  }

  /** What to persist as a replica's region state. */
  private regionStateOf(peer: RegionPeer): RegionState {
    const rs: RegionState = { region: peer.region, peerId: peer.peerId, state: 'normal' };
    if (peer.merging) rs.merging = peer.merging;
    if (peer.absorbedIds.length > 0) rs.absorbed = peer.absorbedIds;
    return rs;
  }

  /** Lets targets waiting on a merge source apply again once this store's source replica caught up. */
  private releaseMergeWaiters(): void {
    for (const peer of this.mergeWaiters) {
      const log = peer.node.raft.raftLog;
      const limit = log.applyLimit;
      // Gone from the log (a snapshot replaced it) or already past: nothing to wait for.
      const next = limit + 1 >= log.firstIndex() && limit + 1 <= log.lastIndex() ? log.slice(limit + 1, limit + 2, Number.MAX_SAFE_INTEGER)[0] : undefined;
      let ready = true;
      if (next && next.type === 'normal' && next.data[0] === TAG_ADMIN) {
        const cmd = decodeAdminCommand(untagEntryData(next.data).payload);
        if (cmd.type === 'commitMerge') {
          const source = this.peers.get(cmd.sourceId);
          // The CommitMerge proves the source's PrepareMerge committed: if our source replica
          // holds that entry, it may apply up to it without hearing from its (retired) leader.
          if (source && source.node.commitTo(cmd.sourcePrepareIndex, cmd.sourcePrepareTerm)) this.scanAll = true;
          ready = !source || source.storage.applyState.applied >= cmd.sourcePrepareIndex;
        }
      }
      if (ready) {
        peer.node.setApplyLimit(Number.POSITIVE_INFINITY);
        this.mergeWaiters.delete(peer);
        this.scanAll = true;
      }
    }
  }

  /** Stages the retirement of a merge source's replica: its Raft state goes, its data now belongs to the target. */
  private stageRetire(source: RegionPeer, ops: WriteOp[]): void {
    ops.push({ type: 'deleteRange', ...regionRaftRange(source.regionId) });
    ops.push({ type: 'put', key: regionStateKey(source.regionId), value: encodeRegionState({ region: source.region, peerId: source.peerId, state: 'tombstone' }) });
  }

  /**
   * The replicas on this store that a snapshot of `region` (for `peer`) supersedes: regions merged
   * into it while this store lagged (older, and inside its range). Throws if the range overlaps a
   * region here that it does not supersede (say, an unsplit parent: the split will come).
   */
  private supersededBy(peer: RegionPeer, region: Region, absorbed: readonly number[] = []): RegionPeer[] {
    const stale: RegionPeer[] = [];
    if (isPdGroup(peer)) return stale;
    for (const other of this.peers.values()) {
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

  /** Takes a replica out of the store once a snapshot that supersedes it is installed (its retirement is written with the install). */
  private dropRetired(peer: RegionPeer): void {
    if (this.peers.get(peer.regionId) !== peer) return;
    this.peers.delete(peer.regionId);
    this.mergeWaiters.delete(peer);
    this.tombstones.set(peer.regionId, tombstoneOf(peer.region, peer.peerId));
    peer.retire(new RegionNotFoundError(peer.regionId));
    this.counters.merges++;
  }

  /** Drops the replicas of merge sources absorbed this turn (their retirement is written). */
  private finishAbsorbing(target: RegionPeer): void {
    for (const source of target.absorbed) {
      if (this.peers.get(source.regionId) !== source) continue;
      this.peers.delete(source.regionId);
      this.tombstones.set(source.regionId, tombstoneOf(source.region, source.peerId));
      source.retire(new RegionNotFoundError(source.regionId));
      this.counters.merges++;
    }
    target.absorbed = [];
  }

  /** Stages the initial state of a region this store now hosts (a split's child). */
  private stageNewRegion(region: Region, ops: WriteOp[]): void {
    const me = region.peers.find((p) => p.storeId === this.storeId);
    if (!me || this.peers.has(region.id)) return;
    const storage = PeerStorage.initial(region.id, confStateOf(region));
    storage.stageApplyState(ops);
    storage.stageHardState(storage.hardState, ops);
    ops.push({ type: 'put', key: regionStateKey(region.id), value: encodeRegionState({ region, peerId: me.id, state: 'normal' }) });
  }

  /** Starts the replicas of regions split off this turn; a child of a leader campaigns at once (TiKV does the same). */
  private startSplitChildren(parent: RegionPeer): void {
    for (const child of parent.splitChildren) {
      const me = child.peers.find((p) => p.storeId === this.storeId);
      if (!me || this.peers.has(child.id)) continue;
      const peer = this.addPeer(child, me.id, PeerStorage.initial(child.id, confStateOf(child), parent.lastNowMs));
      if (parent.isLeader()) peer.node.campaign();
      this.counters.splits++;
    }
    parent.splitChildren = [];
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
    const peer = this.peerFor(regionId, epoch);
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
      this.kick();
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
    this.checkOpen();
    const target = this.peers.get(targetId);
    const source = this.peers.get(sourceId);
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
      this.kick();
      if (!prepared.ok) throw prepared.error;
    }
    return this.commitMerge(target, source, 10 * (this.opts.raft?.electionTick ?? 10) * this.opts.tickMs);
  }

  /**
   * The second half of a merge. Every replica of the source must hold the PrepareMerge first: once
   * the source's replicas elsewhere retire, one without it could never catch up. There is no
   * rollback (it could race a commit), so a prepared source waits, frozen, until this succeeds; a
   * leader of both regions retries it on its own (see {@link finishMerges}).
   */
  private async commitMerge(named: RegionPeer, source: RegionPeer, waitMs: number): Promise<Region> {
    const merging = source.merging;
    if (!merging) throw new ServerBusyError(`region ${source.regionId} did not prepare its merge; retry`);
    if (this.finishing.has(source.regionId)) throw new ServerBusyError(`the merge of region ${source.regionId} is being committed; retry`);
    this.finishing.add(source.regionId);
    try {
      if (!(await this.sourceReplicasCaughtUp(source, merging.prepareIndex, waitMs))) {
        throw new ServerBusyError(`the merge of region ${source.regionId} is prepared and completes once every replica of it holds the prepare`);
      }
      // While we waited the target may have been merged into another region: commit into that one.
      const target = named.retired ? [...this.peers.values()].find((p) => p.absorbs(named.regionId)) : named;
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
      this.kick();
      if (!committed.ok) throw committed.error;
      return committed.regions[0];
    } finally {
      this.finishing.delete(source.regionId);
    }
  }

  /**
   * Completes merges left prepared (the admin call gave up, or leadership moved): a leader of a
   * prepared source whose target it also leads commits the merge; one whose target is led
   * elsewhere hands the source's leadership there.
   */
  private finishMerges(): void {
    const now = this.opts.clock.now();
    if (now - this.lastMergeCheckMs < 1000) return;
    this.lastMergeCheckMs = now;
    for (const source of this.peers.values()) {
      if (!source.merging || !source.isLeader() || this.finishing.has(source.regionId)) continue;
      // The target it was prepared for, or the region that has since absorbed that target.
      const named = source.merging.targetId;
      const target = this.peers.get(named) ?? [...this.peers.values()].find((p) => p.absorbs(named));
      if (!target) continue;
      if (target.isLeader()) {
        this.commitMerge(target, source, 0).catch(() => undefined);
        continue;
      }
      const leaderStore = target.leaderStoreId();
      const there = source.region.peers.find((p) => p.storeId === leaderStore && p.role === 'voter');
      if (there) {
        source.node.transferLeader(there.id);
        this.kick(source);
      }
    }
  }

  /** A region that a prepared source waits to merge into keeps its shape until the merge commits. */
  private refuseIfMergeTarget(peer: RegionPeer): void {
    for (const other of this.peers.values()) {
      if (other.merging?.targetId === peer.regionId) throw new ServerBusyError(`region ${other.regionId} is merging into region ${peer.regionId}; retry after it completes`);
    }
  }

  /** Waits (at most `waitMs`) until every member of the source's group holds its log up to `index`. */
  private async sourceReplicasCaughtUp(source: RegionPeer, index: number, waitMs: number): Promise<boolean> {
    const deadline = this.opts.clock.now() + waitMs;
    for (;;) {
      if (!source.isLeader() || this.closed) return false;
      const progress = source.node.status().progress;
      // A replica whose store lost its data never catches up: it is refused, and replaced in the
      // merged region (rejoin-store), so the merge need not wait for it.
      const lost = new Set(this.guard.lostReplicas().filter((l) => l.regionId === source.regionId).map((l) => l.peerId));
      if ([...progress].every(([id, p]) => p.match >= index || lost.has(id))) return true;
      if (this.opts.clock.now() > deadline) return false;
      await new Promise<void>((resolve) => this.opts.clock.setTimer(this.opts.tickMs, resolve));
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
    const range = prefixedRange(DATA_PREFIX, peer.region.startKey, peer.region.endKey);
    const { keys } = await this.engine.approximateSize(range);
    if (keys < this.opts.minKeysToSplit) throw new TooSmallToSplitError(keys, this.opts.minKeysToSplit);
    const half = await this.engine.scan({ ...range, limit: Math.floor(keys / 2) + 1 });
    return decodeKey(half[half.length - 1].key).slice();
  }

  /**
   * Hands a region's leadership to its replica on `toStoreId` (catch up, then TimeoutNow).
   * Resolves once that replica leads; rejects with `Timeout` if the transfer was abandoned.
   */
  async transferLeader(regionId: number, epoch: RegionEpoch | undefined, toStoreId: number): Promise<void> {
    const peer = this.peerFor(regionId, epoch);
    if (!peer.isLeader()) throw peer.notLeader();
    const target = peer.region.peers.find((p) => p.storeId === toStoreId);
    if (!target) throw new InvalidArgumentError('toStoreId', `store ${toStoreId} hosts no replica of region ${regionId}`);
    if (target.role !== 'voter') throw new InvalidArgumentError('toStoreId', `the replica on store ${toStoreId} is a learner and cannot lead`);
    if (toStoreId === this.storeId) return;
    peer.node.transferLeader(target.id);
    this.kick();
    const deadline = this.opts.clock.now() + 4 * (this.opts.raft?.electionTick ?? 10) * this.opts.tickMs;
    while (peer.node.raft.lead !== target.id || peer.isLeader()) {
      if (this.opts.clock.now() > deadline || this.closed) throw new TimeoutError(`leadership of region ${regionId} did not move to store ${toStoreId}`);
      await new Promise<void>((resolve) => this.opts.clock.setTimer(this.opts.tickMs, resolve));
    }
  }

  /**
   * Changes a region's membership by one step through its Raft log: add a learner on a store,
   * promote the learner on a store to voter, or remove the replica on a store. Resolves with the
   * region once applied. The leader's own replica cannot be removed: transfer leadership first.
   */
  async changePeer(regionId: number, epoch: RegionEpoch | undefined, change: 'addLearner' | 'promote' | 'remove', storeId: number, newPeerId?: number, stamp?: string): Promise<Region> {
    const peer = this.peerFor(regionId, epoch);
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
      const incarnation = stamp ?? (storeId === this.storeId ? this.opts.incarnation : this.guard.currentOf(storeId));
      if (incarnation === undefined && this.guard.firstSeen(storeId) !== undefined) throw new ServerBusyError(`store ${storeId} has not been heard from since this store started, so the incarnation of its data is unknown`);
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
    this.kick();
    return result;
  }

  /** Ids for new regions and peers: from the placement driver when there is one, else 52 random bits. */
  private allocId(): number {
    return this.opts.allocId ? this.opts.allocId() : randomId(this.opts.rand);
  }

  /**
   * A replica that has heard from no leader for many election timeouts may have been removed
   * without learning it (a learner never campaigns, so nobody would tell it): it says hello to its
   * region's other replicas, and a member with a newer membership answers with a tombstone.
   */
  private probeSilentReplicas(): void {
    const silentTicks = 10 * (this.opts.raft?.electionTick ?? 10);
    for (const peer of this.peers.values()) {
      if (peer.node.quiesced || isPdGroup(peer) || !peer.storage.initialized || peer.isLeader()) continue;
      const elapsed = peer.node.raft.electionElapsed;
      if (elapsed === 0 || elapsed % silentTicks !== 0) continue;
      const r = peer.region;
      const region = { startKey: r.startKey, endKey: r.endKey, confVer: r.epoch.confVer, version: r.epoch.version };
      for (const other of r.peers) {
        if (other.id === peer.peerId || other.storeId === this.storeId) continue;
        // Term 0: a member's core drops it; a store that no longer counts us a member answers.
        const message = makeMessage({ type: 'MsgHeartbeatResp', from: peer.peerId, to: other.id });
        this.opts.sendRaft(other.storeId, [{ regionId: r.id, message, region }]);
      }
    }
  }

  /** On leaders, now and then: split regions whose keys or bytes passed `splitKeys` / `splitBytes`. */
  private maybeAutoSplit(): void {
    const { splitKeys, splitBytes, splitCheckIntervalMs } = this.opts;
    if (splitKeys <= 0 && splitBytes <= 0) return;
    const now = this.opts.clock.now();
    if (now - this.lastSplitCheckMs < splitCheckIntervalMs) return;
    this.lastSplitCheckMs = now;
    for (const peer of this.peers.values()) {
      if (!peer.isLeader() || peer.splitPending || !peer.storage.initialized || isPdGroup(peer)) continue;
      const range = prefixedRange(DATA_PREFIX, peer.region.startKey, peer.region.endKey);
      void this.engine
        .approximateSize(range)
        .then((size) => {
          const over = (splitKeys > 0 && size.keys >= splitKeys) || (splitBytes > 0 && size.bytes >= splitBytes);
          if (over && peer.isLeader() && !this.closed) return this.splitRegion(peer.regionId, peer.region.epoch);
          return undefined;
        })
        .catch((e) => this.opts.logger.debug('automatic split did not happen', { regionId: peer.regionId, error: String(e) }));
    }
  }

  /** On leaders, now and then, proposes forgetting client sessions idle longer than `sessionIdleMs`. */
  private maybeExpireSessions(): void {
    const now = this.opts.clock.now();
    if (now - this.lastSessionGcMs < this.opts.sessionGcIntervalMs) return;
    this.lastSessionGcMs = now;
    for (const peer of this.peers.values()) {
      if (!peer.isLeader() || isPdGroup(peer) || peer.pendingProposals >= this.opts.maxPendingProposals) continue;
      const op = { type: 'expireSessions' as const, idleMs: this.opts.sessionIdleMs, limit: 1000 };
      peer.proposeKv({ clientId: '', seq: 0, nowMs: peer.regionTime(now), op }).catch(() => {
        // Lost leadership meanwhile: the next leader will do it.
      });
    }
  }

  /** Drops log entries far behind the applied index; returns the writes that delete them. */
  private maybeCompact(peer: RegionPeer): WriteOp[] {
    const a = peer.storage.applyState;
    if (a.applied - a.truncatedIndex <= this.opts.logGcThreshold) return [];
    return peer.storage.compact(a.applied, a.appliedConfState);
  }

  private roleChanged(peer: RegionPeer): void {
    peer.onRoleChange(this.opts.clock.now());
    const event = { regionId: peer.regionId, storeId: this.storeId, role: peer.node.raft.state as string, leaderStoreId: peer.leaderStoreId() };
    for (const l of this.listeners) l(event);
  }

  // --- shutdown ----------------------------------------------------------------------------------

  private checkOpen(): void {
    if (this.failure) throw new ServerBusyError(`store ${this.storeId} stopped after a storage failure: ${this.failure.message}`);
    if (this.closed) throw new ServerBusyError(`store ${this.storeId} is closed`);
  }

  private async shutdown(reason: FlotillaError | Error, proposalsReason: FlotillaError | Error = reason): Promise<void> {
    this.closed = true;
    this.cancelTick();
    for (const peer of this.peers.values()) {
      peer.failReads(reason);
      peer.failProposals(proposalsReason);
    }
  }

  /** The storage failure that stopped the store, or undefined while it serves (or after a clean close). */
  get stoppedBy(): Error | undefined {
    return this.failure;
  }

  /** Stops ticking, waits for the current turn, fails what is still waiting, and leaves the engine open for its owner to close. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelTick();
    await this.idle;
    await this.shutdown(new OutcomeUnknownError(`store ${this.storeId} closed while the write waited to apply`));
  }

  /**
   * A digest of a region's state on this replica (every pair of its KV ranges, FNV-1a), for
   * checking that replicas agree once quiet.
   */
  async regionDigest(regionId: number): Promise<{ applied: number; pairs: number; digest: number }> {
    const peer = this.peers.get(regionId);
    if (!peer) throw new RegionNotFoundError(regionId);
    const view = await this.engine.snapshot();
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
    return [...this.peers.values()].map((p) => ({
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
    const peer = this.peers.get(regionId);
    if (!peer) return { firstIndex: 1, terms: [] };
    const last = peer.storage.lastIndex();
    const first = Math.max(peer.storage.firstIndex(), last - maxEntries + 1);
    const terms: number[] = [];
    for (let i = first; i <= last; i++) terms.push(peer.storage.term(i));
    return { firstIndex: first, terms };
  }
}

/** The Raft membership a region's peer list describes. */
export function confStateOf(region: Region): ConfState {
  return {
    voters: region.peers.filter((p) => p.role === 'voter').map((p) => p.id),
    learners: region.peers.filter((p) => p.role === 'learner').map((p) => p.id),
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  };
}

/** Whether a replica belongs to PD's group (which serves no keys). */
function isPdGroup(peer: RegionPeer): boolean {
  return peer.regionId === PD_GROUP_ID;
}

/** What a store remembers of a replica it destroyed or retired. */
interface Tombstone {
  peerId: number;
  confVer: number;
  region: Region;
}

function tombstoneOf(region: Region, peerId: number): Tombstone {
  return { peerId, confVer: region.epoch.confVer, region };
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

