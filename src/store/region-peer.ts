/**
 * RegionPeer: one replica of one region on this store (RheaKV's RegionEngine, TiKV's Peer). It
 * owns the Raft node and its PeerStorage, remembers which client is waiting for which log index,
 * batches linearizable reads into one ReadIndex round, and applies committed entries.
 */
import { encodeUtf8 } from '../codec/utf8.ts';
import { EpochNotMatchError, FlotillaError, InvalidArgumentError, NotLeaderError, RegionNotFoundError, ServerBusyError } from '../errors.ts';
import type { KvCommand, KvReadOp, KvReadResult } from '../kv/commands.ts';
import { decodeKvCommand, encodeKvCommand } from '../kv/codec.ts';
import { executeRead } from '../kv/read.ts';
import { RegionClock } from '../kv/region-clock.ts';
import type { KvReader, WriteOverlay } from '../kv/overlay.ts';
import type { ApplyOutcome, KvStateMachine } from '../kv/state-machine.ts';
import { ctxKey } from '../raft/readonly.ts';
import { decodeConfChange, nextConfState } from '../raft/confchange.ts';
import { ConfChangePendingError, InvalidConfChangeError, ProposalDroppedError, RaftError } from '../raft/errors.ts';
import type { RawNode } from '../raft/rawnode.ts';
import type { ConfChange, Entry, ReadState } from '../raft/types.ts';
import { keysEqual } from '../region/keys.ts';
import { sessionRange } from '../kv/keys.ts';
import type { MergeState } from './records.ts';
import { epochEquals } from '../region/epoch.ts';
import { mergeRegions, type SplitResult, splitRegion } from '../region/split.ts';
import { copySessions } from '../kv/sessions.ts';
import { copyRevokedLeases, revokedLeaseRange } from '../kv/leases.ts';
import { inheritRevisionOnSplit, mergeRevisionState } from '../kv/history.ts';
import { type AdminCommand, type ComputeHashCommand, decodeAdminCommand, encodeAdminCommand } from './admin.ts';
import type { Region, RegionEpoch } from '../region/types.ts';
import { applyConfChangeToRegion } from './membership.ts';
import { TAG_ADMIN, TAG_KV, TAG_PD, tagEntryData, untagEntryData } from './entry-data.ts';
import { applyPdCommand, decodePdCommand, encodePdCommand, type PdCommand, type PdResult } from './pd-state.ts';
import type { PeerStorage } from './peer-storage.ts';

/** How a read is made linearizable, or not. */
export type ReadConsistency = 'linearizable' | 'lease' | 'follower' | 'stale';

interface PendingProposal {
  term: number;
  resolve: (outcome: ApplyOutcome | AdminOutcome | Region) => void;
  reject: (error: Error) => void;
}

/** What applying an admin command produced. */
export type AdminOutcome = { ok: true; regions: Region[] } | { ok: false; error: FlotillaError };

interface PendingRead {
  op: KvReadOp;
  epochVersion: number;
  resolve: (result: KvReadResult) => void;
  reject: (error: Error) => void;
}

interface ReadBatch {
  reads: PendingRead[];
  /** The read index, once the ReadState arrived. */
  index: number;
}

export class RegionPeer {
  readonly storeId: number;
  readonly peerId: number;
  region: Region;
  readonly node: RawNode;
  readonly storage: PeerStorage;
  /** Proposals waiting for their entry to apply, by log index. */
  private proposals = new Map<number, PendingProposal>();
  /** Reads not yet sent for a ReadIndex round, by mode. */
  private readQueue = new Map<'safe' | 'lease', PendingRead[]>();
  /** Reads whose ReadIndex round is under way or answered, by request context. */
  private readBatches = new Map<string, ReadBatch>();
  private readSeq = 0;
  /**
   * The applied index whose state is in the engine, where reads are served from. Applying moves
   * `storage.applyState.applied` before the apply batch is written; the store raises this once it
   * is. Invariant: readableApplied <= storage.applyState.applied.
   */
  readableApplied = 0;
  /** The largest region time (`nowMs`) of any applied command; region time never runs backwards. */
  lastNowMs = 0;
  /** Region time for proposals, anchored to the local clock when this replica last became leader. */
  private leaderClock = new RegionClock(0, 0);
  /** Set when the region state changed while applying and must be written with the apply batch. */
  regionDirty = false;
  /** Regions split off by entries applied this turn; the store creates their replicas once written. */
  splitChildren: Region[] = [];
  /** Set once this region's PrepareMerge applied: it refuses requests and waits to be absorbed. */
  merging: MergeState | undefined;
  /** Regions this one absorbed by merges, directly or through them (bounded). */
  absorbedIds: number[] = [];
  /** Whether a merge prepared for `targetId` may commit into this region (it is that region, or absorbed it). */
  absorbs(targetId: number): boolean {
    return targetId === this.regionId || this.absorbedIds.includes(targetId);
  }
  /** Merge sources absorbed by entries applied this turn; the store retires their replicas. */
  absorbed: RegionPeer[] = [];
  /** Looks up this store's replica of another region (set by the store, for merges). */
  localPeer: (regionId: number) => RegionPeer | undefined = () => undefined;
  /** Called when a `computeHash` entry applies (set by the store: `consistency.ts` hashes this replica at `index`). */
  onComputeHash: (cmd: ComputeHashCommand, index: number, overlay: WriteOverlay) => Promise<void> = async () => {};
  /** Peers removed by changes applied this turn; the store tells them. */
  removedPeers: Region['peers'] = [];
  /**
   * Set once a backup's fence applied here (`backup-fence.ts`): nothing after `index` applies
   * until the backup thaws it or its lease ran out. Invariant: while set,
   * storage.applyState.applied <= index. `startedMs`: the store clock when the store first saw it
   * (the lease counts from then, never from earlier). Not persisted: see docs/backup.md.
   */
  backupFence: { backupId: string; index: number; leaseMs: number; startedMs?: number } | undefined;
  /** Backups whose fence was thawed here (the last few): a retried fence of theirs must not fence again. */
  thawedBackups: string[] = [];
  /** Set while a split proposed by this replica is waiting to apply (one split at a time). */
  splitPending = false;
  /** Called when a proposal or read was queued on this replica: the store's loop must look at it. */
  onWork: () => void = () => {};
  /** Consecutive ticks this leader's group was idle and fully replicated (the store quiesces it after a few). */
  quietTicks = 0;

  constructor(storeId: number, peerId: number, region: Region, node: RawNode, storage: PeerStorage) {
    this.storeId = storeId;
    this.peerId = peerId;
    this.region = region;
    this.node = node;
    this.storage = storage;
    this.lastNowMs = storage.applyState.nowMs;
    this.readableApplied = storage.applyState.applied;
  }

  get regionId(): number {
    return this.region.id;
  }

  isLeader(): boolean {
    return !this.retired && this.node.raft.state === 'leader';
  }

  /** Set when the store dropped this replica (destroyed, merged away): it proposes and serves nothing more. */
  retired = false;

  /** Takes the replica out of service: everything waiting on it fails with `error`. */
  retire(error: Error): void {
    this.retired = true;
    this.failReads(error);
    this.failProposals(error);
  }

  /** The store of a peer of this region, or 0 if it is not a member. */
  storeOf(peerId: number): number {
    return this.region.peers.find((p) => p.id === peerId)?.storeId ?? 0;
  }

  /** The store of the leader this replica believes in, or 0. */
  leaderStoreId(): number {
    return this.storeOf(this.node.raft.lead);
  }

  notLeader(): NotLeaderError {
    return new NotLeaderError(this.regionId, this.leaderStoreId());
  }

  /** Called when the soft state changed: a new leader anchors region time to the local clock. */
  onRoleChange(clockMs: number): void {
    if (this.isLeader()) this.leaderClock = new RegionClock(this.lastNowMs, clockMs);
    // The error (and its stack) only when a read waits: thousands of replicas change role in an
    // election storm, and building one each was 8 % of a 3,000-region process's CPU.
    else if (this.readBatches.size > 0 || this.readQueue.size > 0) this.failReads(this.notLeader());
  }

  /** The region time a new proposal carries: never behind anything applied, advancing with the local clock. */
  regionTime(clockMs: number): number {
    return Math.max(this.leaderClock.now(clockMs), this.lastNowMs);
  }

  /** Number of proposals waiting to apply. */
  get pendingProposals(): number {
    return this.proposals.size;
  }

  /**
   * Proposes a KV command. Resolves with the outcome once its entry applies; rejects with
   * NotLeader if this replica cannot propose (nothing was appended: safe to retry anywhere), or
   * with StaleCommand if another entry took its place (it will never apply: safe to retry).
   */
  proposeKv(command: KvCommand): Promise<ApplyOutcome> {
    return this.propose(() => this.node.propose(tagEntryData(TAG_KV, encodeKvCommand(command)))) as Promise<ApplyOutcome>;
  }

  /** Proposes a command to PD's group (this replica must be of it); resolves with its result once applied. */
  proposePd(command: PdCommand): Promise<PdResult> {
    return this.propose(() => this.node.propose(tagEntryData(TAG_PD, encodePdCommand(command)))) as Promise<PdResult>;
  }

  /** Proposes an admin command (split, merge); resolves with the regions it produced once applied. */
  proposeAdmin(command: AdminCommand): Promise<AdminOutcome> {
    return this.propose(() => this.node.propose(tagEntryData(TAG_ADMIN, encodeAdminCommand(command)))) as Promise<AdminOutcome>;
  }

  /**
   * Proposes a membership change; resolves with the region once the change applied. A refusal by
   * the core (another change pending, an invalid change) is thrown as a typed error.
   */
  proposeConfChange(cc: ConfChange): Promise<Region> {
    return this.propose(() => this.node.proposeConfChange(cc)) as Promise<Region>;
  }

  private propose(append: () => void): Promise<unknown> {
    if (this.retired) return Promise.reject(new RegionNotFoundError(this.regionId));
    if (!this.isLeader()) return Promise.reject(this.notLeader());
    try {
      append();
    } catch (e) {
      if (e instanceof ConfChangePendingError) return Promise.reject(new ServerBusyError(`region ${this.regionId}: ${e.message}`));
      if (e instanceof InvalidConfChangeError) return Promise.reject(new InvalidArgumentError('changes', e.message));
      if (e instanceof RaftError) return Promise.reject(this.notLeader());
      throw e;
    }
    const index = this.node.raft.raftLog.lastIndex();
    const term = this.node.raft.term;
    // An older proposal still waiting at this index was truncated away by a later leader: it
    // can never apply, so its client may safely retry.
    this.proposals.get(index)?.reject(this.notLeader());
    const applied = new Promise((resolve, reject) => this.proposals.set(index, { term, resolve, reject }));
    this.onWork();
    return applied;
  }

  /** Queues a read; it is served once a ReadIndex round (or the lease) says the applied state is current. */
  read(op: KvReadOp, consistency: Exclude<ReadConsistency, 'stale'>): Promise<KvReadResult> {
    if (consistency !== 'follower' && !this.isLeader()) return Promise.reject(this.notLeader());
    const mode = consistency === 'lease' ? 'lease' : 'safe';
    return new Promise((resolve, reject) => {
      const queue = this.readQueue.get(mode) ?? [];
      queue.push({ op, epochVersion: this.region.epoch.version, resolve, reject });
      this.readQueue.set(mode, queue);
      // No onWork() here: the store kicks its loop after the current synchronous code
      // (StoreEngine.kickReads), so that reads queued together share one ReadIndex round.
    });
  }

  /**
   * Whether a lease read may be served at once from the engine, with no Raft round and no loop
   * turn: the lease holds (the same test the core makes for `readIndex(ctx, 'lease')`) and
   * everything committed is applied and written. Otherwise the read queues for a turn.
   */
  leaseReadable(): boolean {
    if (this.retired || this.merging) return false;
    const index = this.node.leaseReadIndex();
    return index !== undefined && index <= this.readableApplied;
  }

  /** Starts one ReadIndex round for every queued read of each mode (batched reads). */
  flushReads(): void {
    for (const [mode, reads] of this.readQueue) {
      if (reads.length === 0) continue;
      this.readQueue.set(mode, []);
      const ctx = encodeUtf8(`${this.peerId}:${++this.readSeq}`);
      try {
        this.node.readIndex(ctx, mode);
        this.readBatches.set(ctxKey(ctx), { reads, index: -1 });
      } catch (e) {
        const err = e instanceof ProposalDroppedError || e instanceof RaftError ? this.notLeader() : (e as Error);
        for (const r of reads) r.reject(err);
      }
    }
  }

  /** Records the read indexes a Ready delivered. */
  onReadStates(states: readonly ReadState[]): void {
    for (const rs of states) {
      const batch = this.readBatches.get(ctxKey(rs.requestCtx));
      if (batch) batch.index = rs.index;
    }
  }

  /** Serves every read whose index is applied, from `view`. */
  async serveReads(view: KvReader, sm: KvStateMachine): Promise<void> {
    // Called once the turn's apply batch is written: everything applied is readable.
    const applied = this.storage.applyState.applied;
    this.readableApplied = applied;
    for (const [key, batch] of this.readBatches) {
      if (batch.index < 0 || batch.index > applied) continue;
      this.readBatches.delete(key);
      for (const r of batch.reads) await this.serveOne(view, sm, r);
    }
  }

  /** Serves a read now from the local applied state (`stale`, or a batch that is ready). */
  async serveOne(view: KvReader, sm: KvStateMachine, r: PendingRead): Promise<void> {
    try {
      // A split or merge since the read was queued may have moved its keys elsewhere.
      if (r.epochVersion !== this.region.epoch.version) throw new EpochNotMatchError(this.regionId, [this.region]);
      // StoreEngine.read validated the op and checked it against the region at this epoch
      // version (unchanged, just tested): no second validation per read.
      r.resolve(await executeRead(view, r.op, sm.limits, this.regionId));
    } catch (e) {
      r.reject(e as Error);
    }
  }

  /** Fails every waiting read (leadership lost, replica closing). Reads are idempotent: the client retries. */
  failReads(error: FlotillaError | Error): void {
    for (const batch of this.readBatches.values()) for (const r of batch.reads) r.reject(error);
    this.readBatches.clear();
    for (const reads of this.readQueue.values()) for (const r of reads) r.reject(error);
    this.readQueue.clear();
  }

  /** Fails every waiting proposal with `error` (the store is closing: their outcome is unknown). */
  failProposals(error: Error): void {
    for (const p of this.proposals.values()) p.reject(error);
    this.proposals.clear();
  }

  /**
   * Applies committed entries into `overlay`. Returns the callbacks to run once the overlay is
   * durable in the engine (clients must not hear of a write before it is in the engine).
   */
  async applyEntries(overlay: WriteOverlay, sm: KvStateMachine, entries: readonly Entry[]): Promise<{ done: Array<() => void>; blockedAt: number }> {
    const done: Array<() => void> = [];
    for (const e of entries) {
      // A backup's fence holds everything after it until the thaw (the apply resumes from here).
      if (this.backupFence && e.index > this.backupFence.index) return { done, blockedAt: e.index };
      if (this.mustWaitForMergeSource(e)) return { done, blockedAt: e.index };
      const waiting = this.proposals.get(e.index);
      if (waiting) this.proposals.delete(e.index);
      if (waiting && waiting.term !== e.term) {
        // Another leader's entry took this index: ours was never committed and never will be,
        // so the client may retry it anywhere.
        const err = this.notLeader();
        done.push(() => waiting.reject(err));
      }
      const mine = waiting && waiting.term === e.term ? waiting : undefined;
      if (e.type === 'confChange') {
        this.applyConfChange(e);
        const region = this.region;
        if (mine) done.push(() => mine.resolve(region));
      } else if (e.data.length > 0) {
        const { tag, payload } = untagEntryData(e.data);
        if (tag === TAG_KV) {
          const command = decodeKvCommand(payload);
          this.observeNow(command.nowMs);
          // A merge source is frozen from its PrepareMerge on: later writes have no effect and
          // are refused alike on every replica, so the target absorbs exactly the prepared state.
          const outcome: ApplyOutcome = this.merging
            ? { ok: false, error: new ServerBusyError(`region ${this.regionId} is merging into region ${this.merging.targetId}; retry`) }
            : await sm.apply(overlay, this.region, command);
          if (mine) done.push(() => mine.resolve(outcome));
        } else if (tag === TAG_PD) {
          const result = await applyPdCommand(overlay, decodePdCommand(payload));
          if (mine) done.push(() => mine.resolve(result as never));
        } else {
          const outcome = await this.applyAdmin(overlay, decodeAdminCommand(payload), e.index, e.term);
          if (mine) done.push(() => mine.resolve(outcome));
        }
      }
      this.storage.applyState = { ...this.storage.applyState, applied: e.index, nowMs: this.lastNowMs };
    }
    // The fence applied in this batch (so it was its last entry): hold back what comes after it.
    return { done, blockedAt: this.backupFence ? this.backupFence.index + 1 : 0 };
  }

  /**
   * A CommitMerge may only apply once this store's replica of the source has applied everything up
   * to the source's PrepareMerge: the merged region takes the source's data as it lies here.
   */
  private mustWaitForMergeSource(e: Entry): boolean {
    if (e.type !== 'normal' || e.data[0] !== TAG_ADMIN) return false;
    const cmd = decodeAdminCommand(untagEntryData(e.data).payload);
    if (cmd.type !== 'commitMerge' || !epochEquals(cmd.epoch, this.region.epoch)) return false;
    const source = this.localPeer(cmd.sourceId);
    if (!source) return false; // gone already: applying reports the failure
    return source.storage.applyState.applied < cmd.sourcePrepareIndex;
  }

  /**
   * Applies an admin command under the epoch it was decided on; under any other epoch it is
   * skipped (the region changed since, so the decision no longer holds).
   */
  private async applyAdmin(overlay: WriteOverlay, cmd: AdminCommand, index: number, term: number): Promise<AdminOutcome> {
    if (cmd.type === 'computeHash') {
      // Under any epoch, merging or not: every replica hashes the state this index left, whatever it is.
      await this.onComputeHash(cmd, index, overlay);
      return { ok: true, regions: [this.region] };
    }
    if (!epochEquals(cmd.epoch, this.region.epoch)) return { ok: false, error: new EpochNotMatchError(this.regionId, [this.region]) };
    if (this.merging) return { ok: false, error: new ServerBusyError(`region ${this.regionId} is merging into region ${this.merging.targetId}`) };
    if (cmd.type === 'prepareMerge') return this.applyPrepareMerge(cmd.targetId, index, term);
    if (cmd.type === 'commitMerge') return this.applyCommitMerge(overlay, cmd.sourceId, cmd.sourceEpoch);
    if (cmd.type === 'backupFence') return this.applyBackupFence(cmd.backupId, cmd.leaseMs, index);
    if (this.storage.applyState.appliedConfState.votersOutgoing.length > 0) {
      return { ok: false, error: new ServerBusyError(`region ${this.regionId} is in a joint configuration; split it after the change completes`) };
    }
    let parts: SplitResult;
    try {
      parts = splitRegion(this.region, cmd.splitKey, cmd.newRegionId, cmd.newPeerIds);
    } catch (e) {
      if (e instanceof FlotillaError) return { ok: false, error: e };
      throw e;
    }
    // The child starts with the parent's client sessions, so a write retried after the split
    // reaches it already answered (at-most-once across the split).
    overlay.stage(await copySessions(overlay, this.regionId, parts.right.id));
    // ... and its revoked leases, so the child refuses them too (kv/leases.ts).
    overlay.stage(await copyRevokedLeases(overlay, this.regionId, parts.right.id));
    // The child's revisions continue the parent's, so a watch cursor holds across the split.
    overlay.stage(await inheritRevisionOnSplit(overlay, this.regionId, parts.right.id));
    this.region = parts.left;
    this.regionDirty = true;
    this.splitChildren.push(parts.right);
    return { ok: true, regions: [parts.left, parts.right] };
  }

  /** Fences this replica for a backup at `index` (unless that backup was thawed here already: a late retry). */
  private applyBackupFence(backupId: string, leaseMs: number, index: number): AdminOutcome {
    if (this.thawedBackups.includes(backupId)) return { ok: false, error: new ServerBusyError(`region ${this.regionId}: backup ${backupId} was already thawed here`) };
    // A second backup's fence applies only after the first thawed (it came after the first fence).
    this.backupFence = { backupId, index, leaseMs };
    return { ok: true, regions: [this.region] };
  }

  /**
   * Ends this replica's fence of `backupId` if it holds one (true then), and remembers the backup
   * as thawed either way: its fence, should it apply only now (a late retry, a backup that gave
   * up), is skipped.
   */
  thawBackup(backupId: string): boolean {
    if (!this.thawedBackups.includes(backupId)) this.thawedBackups = [...this.thawedBackups, backupId].slice(-8);
    if (this.backupFence?.backupId !== backupId) return false;
    this.backupFence = undefined;
    return true;
  }

  /** Freezes this region as the source of a merge into `targetId` (its epoch rises: routes by the old one fail). */
  private applyPrepareMerge(targetId: number, index: number, term: number): AdminOutcome {
    if (this.storage.applyState.appliedConfState.votersOutgoing.length > 0) {
      return { ok: false, error: new ServerBusyError(`region ${this.regionId} is in a joint configuration`) };
    }
    const e = this.region.epoch;
    this.region = { ...this.region, epoch: { confVer: e.confVer + 1, version: e.version + 1 } };
    this.merging = { targetId, prepareIndex: index, prepareTerm: term };
    this.regionDirty = true;
    this.failReads(new ServerBusyError(`region ${this.regionId} is merging into region ${targetId}; retry`));
    return { ok: true, regions: [this.region] };
  }

  /** Absorbs the prepared source (whose local replica has applied its PrepareMerge: see {@link mustWaitForMergeSource}). */
  private async applyCommitMerge(overlay: WriteOverlay, sourceId: number, sourceEpoch: RegionEpoch): Promise<AdminOutcome> {
    const source = this.localPeer(sourceId);
    if (!source || !source.merging || !this.absorbs(source.merging.targetId) || !epochEquals(source.region.epoch, sourceEpoch)) {
      return { ok: false, error: new EpochNotMatchError(sourceId, source ? [source.region] : []) };
    }
    let merged: Region;
    try {
      const sourceIsLeft = keysEqual(source.region.endKey, this.region.startKey) && source.region.endKey.length > 0;
      merged = sourceIsLeft ? mergeRegions(source.region, this.region, 'right') : mergeRegions(this.region, source.region, 'left');
    } catch (e) {
      if (e instanceof FlotillaError) return { ok: false, error: e };
      throw e;
    }
    // The target takes over the source's client sessions (keeping the newer seq per client).
    overlay.stage(await copySessions(overlay, sourceId, this.regionId));
    const gone = sessionRange(sourceId);
    overlay.deleteRange(gone.start, gone.end);
    // ... and the union of both regions' revoked leases (kv/leases.ts).
    overlay.stage(await copyRevokedLeases(overlay, sourceId, this.regionId));
    const revoked = revokedLeaseRange(sourceId);
    overlay.deleteRange(revoked.start, revoked.end);
    // Revisions continue from the larger of the two, so watch cursors of both hold (history.ts).
    overlay.stage(await mergeRevisionState(overlay, sourceId, this.regionId));
    this.region = merged;
    this.regionDirty = true;
    this.absorbed.push(source);
    // Remember what this region absorbed: a source prepared to merge into one of those regions may
    // merge into this one instead (its named target is gone into here). Bounded.
    this.absorbedIds = [...this.absorbedIds, sourceId, ...source.absorbedIds].slice(-32);
    return { ok: true, regions: [merged] };
  }

  /** Notes the region time of an applied command. */
  observeNow(nowMs: number): void {
    if (nowMs > this.lastNowMs) this.lastNowMs = nowMs;
  }

  private applyConfChange(e: Entry): void {
    const a = this.storage.applyState;
    this.storage.applyState = { ...a, appliedConfState: nextConfState(a.appliedConfState, e.data) };
    let cc: ReturnType<typeof decodeConfChange>;
    try {
      cc = decodeConfChange(e.data);
    } catch {
      return; // the core treats it as a no-op too
    }
    const next = applyConfChangeToRegion(this.region, cc);
    for (const p of this.region.peers) if (!next.peers.some((q) => q.id === p.id)) this.removedPeers.push(p);
    if (next !== this.region) {
      this.region = next;
      this.regionDirty = true;
    }
  }
}
