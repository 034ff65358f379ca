/**
 * The running placement driver (DESIGN §6), one per store. Every store sends PD a store heartbeat
 * and, for each region it leads, a region heartbeat; it carries out the instructions PD sends
 * back. The store whose replica leads PD's Raft group is the PD leader: it keeps the cluster view
 * (the pure rules of `src/pd/`), schedules, allocates ids through its group, and records stores
 * and region metadata there, so a new PD leader starts from them.
 */
import { z } from 'zod';
import { packValue, unpackValue } from '../codec/msgpack.ts';
import type { PdConfig } from '../pd/config.ts';
import { resolvePdConfig } from '../pd/config.ts';
import type { Instruction } from '../pd/instructions.ts';
import { instructionRegions, isInstructionCurrent } from '../pd/instructions.ts';
import { advanceClock, recordOperators } from '../pd/operators.ts';
import { createClusterView, handleRegionHeartbeat, handleStoreHeartbeat, setStoreState } from '../pd/region-table.ts';
import { instructionLeaderStoreId, schedule } from '../pd/schedule.ts';
import { discountPause } from '../pd/health.ts';
import { NotLeaderError } from '../errors.ts';
import { checkPdMembers, type PdGroupState, type PdMemberStep } from '../pd/pd-member-checker.ts';
import type { ClusterView, RegionHeartbeat, StoreHeartbeat, StoreState } from '../pd/types.ts';
import type { Logger } from '../ports.ts';
import type { Region } from '../region/types.ts';
import { type loadPdState, PD_GROUP_ID } from './pd-state.ts';
import type { HashReport } from './consistency-types.ts';
import { type PdMembersInfo, pdMembersOf } from './pd-members.ts';
import type { LeaseService } from './lease-service.ts';
import type { RegionPeer } from './region-peer.ts';

/**
 * Between stores, a frame `request` item with this id carries a PD message (one way; PD answers
 * with messages of its own). Client requests use other ids.
 */
export const PD_REQUEST_ID = 0;

export type { PdMemberInfo, PdMembersInfo } from './pd-members.ts';

/** How long PD's leader waits for one step of its own membership before it reads the next one afresh. */
const MEMBER_STEP_TIMEOUT_MS = 30_000;

/** What stores and PD say to each other. */
export type PdMessage =
  | { type: 'storeHeartbeat'; heartbeat: StoreHeartbeat }
  | { type: 'regionHeartbeat'; heartbeat: RegionHeartbeat }
  | { type: 'instruction'; instruction: Instruction }
  | { type: 'setStoreState'; storeId: number; state: StoreState }
  /** A PD store that is not the leader tells a sender where the leader is. */
  | { type: 'pdLeader'; storeId: number }
  /** A store could not carry out an instruction: PD forgets the operator and may schedule again. */
  | { type: 'instructionFailed'; regionIds: number[] }
  /** A store says which auth revision it enforces (each heartbeat round); a PD store with a newer one answers `authTable`. */
  | { type: 'authRevision'; revision: number }
  /** The auth table (`encodeAuthTable`), for a store that is behind. */
  | { type: 'authTable'; table: Uint8Array }
  /** A replica's hash at a consistency check's index, for the store that proposed the check (`consistency.ts`); not PD's. */
  | { type: 'hashReport'; report: HashReport }
  /** PD's leader answers each store heartbeat with the stores hosting PD's group now (docs/pd-membership.md). */
  | { type: 'pdMembers'; storeIds: number[]; leaderStoreId: number }
  /** PD's leader asks a region's leader to delete the keys of a revoked lease (`lease-service.ts`). */
  | { type: 'leaseRevokeRegion'; leaseId: number; regionId: number }
  /** A region's leader tells PD's leader the revoke applied over this range. */
  | { type: 'leaseRegionRevoked'; leaseId: number; startKey: Uint8Array; endKey: Uint8Array };

/** Encodes a PD message for the wire. */
export function encodePdMessage(m: PdMessage): Uint8Array {
  return packValue(m).slice();
}

const pdMessageSchema = z.object({ type: z.enum(['storeHeartbeat', 'regionHeartbeat', 'instruction', 'setStoreState', 'pdLeader', 'instructionFailed', 'authRevision', 'authTable', 'hashReport', 'pdMembers', 'leaseRevokeRegion', 'leaseRegionRevoked']) }).passthrough();

/** Decodes a PD message; undefined for bytes that are not one (dropped by the caller). */
export function decodePdMessage(bytes: Uint8Array): PdMessage | undefined {
  try {
    const raw = unpackValue(bytes);
    return pdMessageSchema.safeParse(raw).success ? (raw as PdMessage) : undefined;
  } catch {
    return undefined;
  }
}

/** What the PD service needs of its store. */
export interface PdHost {
  readonly storeId: number;
  now(): number;
  send(toStoreId: number, message: PdMessage): void;
  /** This store's replica of PD's group, if it hosts one. */
  pdPeer(): RegionPeer | undefined;
  /** The regions this store leads, with their approximate size and peers' health. */
  leaderHeartbeats(): Promise<RegionHeartbeat[]>;
  storeHeartbeat(): StoreHeartbeat;
  /** Reads PD's recorded state from the engine. */
  loadState(): ReturnType<typeof loadPdState>;
  /** Carries out an instruction on a region this store leads. */
  execute(instruction: Instruction): Promise<void>;
  region(regionId: number): Region | undefined;
  /** The auth revision this store enforces. */
  authRevision(): number;
  /** Answers a store behind `revision` with this store's auth table, if newer. */
  authAsked(fromStoreId: number, revision: number): void;
  /** Takes an auth table another store sent, if newer. */
  authTold(table: Uint8Array): void;
  /** A PD replica takes the table its group applied, if newer. */
  refreshAuth(): void;
  /** PD's group as this store's replica sees it, while it leads the group. */
  pdGroup(): PdGroupState | undefined;
  /** Carries out one membership step of PD's group (this store leads it); resolves once applied. */
  changePdMembers(step: PdMemberStep): Promise<void>;
  /** Every other store this one has heard from (where to look for PD when its members are all silent). */
  knownStoreIds(): number[];
  logger: Logger;
}

export interface PdServiceOptions {
  /** The stores hosting PD's group as last known (at first, the first stores of the cluster). */
  pdStoreIds: number[];
  /** Called when the stores hosting PD's group change, to persist them (a restarted store finds PD there). */
  onPdMembers?: (storeIds: number[]) => void;
  config?: Partial<PdConfig>;
  /** Milliseconds between heartbeats; default 1 000. */
  heartbeatMs?: number;
  /** Milliseconds between scheduling rounds on the PD leader; default 1 000. */
  scheduleMs?: number;
}

export class PdService {
  private readonly host: PdHost;
  readonly config: PdConfig;
  /** The stores hosting PD's group, as last learned (from this store's replica, or PD's leader). Never empty. */
  pdStoreIds: number[];
  private readonly onPdMembers: ((storeIds: number[]) => void) | undefined;
  /** When PD's leader last answered this store (a `pdMembers`); its hint is trusted for a few rounds after. */
  private lastAnswerMs = Number.NEGATIVE_INFINITY;
  /** When the step of PD's own membership under way (one at a time) started; undefined when none is. */
  private memberStepSinceMs: number | undefined;
  /** Tells a late step's settlement from the current one's. */
  private memberStepSeq = 0;
  private readonly heartbeatMs: number;
  private readonly scheduleMs: number;
  /** The cluster view, while this store is PD leader. */
  view: ClusterView | undefined;
  private lastHeartbeatMs = Number.NEGATIVE_INFINITY;
  private lastScheduleMs = Number.NEGATIVE_INFINITY;
  private ids: number[] = [];
  private refilling = false;
  private leaderHint = 0;
  /** States PD decided for stores (draining, removed), applied to the view as stores report in. */
  private storeStates = new Map<number, StoreState>();
  /** Regions whose metadata PD recorded, by id and version (to record only changes). */
  private recorded = new Map<number, string>();
  /** TTL leases, kept by PD's leader (set by the store's PdWorker; `lease-service.ts`). */
  leases: LeaseService | undefined;
  /** Counters for status and tests. */
  readonly counters = { heartbeatsSent: 0, heartbeatsRefused: 0, instructionsSent: 0, instructionsRun: 0, schedulingRounds: 0, pdMemberSteps: 0 };

  constructor(host: PdHost, opts: PdServiceOptions) {
    this.host = host;
    this.config = resolvePdConfig(opts.config);
    this.pdStoreIds = [...opts.pdStoreIds];
    this.onPdMembers = opts.onPdMembers;
    this.heartbeatMs = opts.heartbeatMs ?? 1000;
    this.scheduleMs = opts.scheduleMs ?? 1000;
  }

  /** The store believed to lead PD (its group's leader), for heartbeats. */
  private pdLeaderStore(): number {
    const peer = this.host.pdPeer();
    const lead = peer?.leaderStoreId() ?? 0;
    if (lead > 0) return lead;
    const now = this.host.now();
    const silentMs = now - this.lastAnswerMs;
    if (this.leaderHint > 0 && silentMs <= 3 * this.heartbeatMs) return this.leaderHint;
    // No word from PD for a while: try its members in turn (any of them redirects), and after
    // ten silent rounds every store heard from too, since the list known here may be stale.
    const round = Math.floor(now / this.heartbeatMs);
    const pool = silentMs > 10 * this.heartbeatMs && round % 2 === 1 ? [...new Set([...this.pdStoreIds, ...this.host.knownStoreIds()])] : this.pdStoreIds;
    return pool[round % pool.length];
  }

  /** Takes a new list of PD's stores (sorted, never empty) and persists it when it changed. */
  private learnMembers(storeIds: readonly number[]): void {
    const next = [...new Set(storeIds)].filter((s) => Number.isSafeInteger(s) && s > 0).sort((a, b) => a - b);
    if (next.length === 0 || next.join() === this.pdStoreIds.join()) return;
    this.host.logger.info('PD members changed', { from: this.pdStoreIds, to: next });
    this.pdStoreIds = next;
    this.onPdMembers?.(next);
  }

  /**
   * Called when the store finds its clock `gapMs` ahead of its last tick (its process was stopped,
   * its loop blocked), before it handles anything else: the stores' silence meanwhile was this
   * one's, so it is struck out of the view (see {@link discountPause}).
   */
  clockJumped(gapMs: number): void {
    if (this.view) this.view = discountPause(this.view, gapMs);
    this.leases?.clockJumped(gapMs);
  }

  /** Called on every store tick. */
  tick(): void {
    const now = this.host.now();
    const peer = this.host.pdPeer();
    if (peer?.storage.initialized) this.learnMembers(peer.region.peers.map((p) => p.storeId));
    if (peer?.isLeader()) {
      if (!this.view) void this.becomeLeader();
    } else if (this.view) {
      this.view = undefined; // lost PD leadership: a new leader rebuilds its view
    }
    if (now - this.lastHeartbeatMs >= this.heartbeatMs) {
      this.lastHeartbeatMs = now;
      void this.sendHeartbeats();
    }
    this.leases?.tick();
    if (this.view && now - this.lastScheduleMs >= this.scheduleMs) {
      this.lastScheduleMs = now;
      this.scheduleRound();
    }
  }

  private async becomeLeader(): Promise<void> {
    this.view = createClusterView(this.config, this.host.now());
    this.recorded.clear();
    // Store states PD decided before (draining, removed) apply as each store reports in.
    const { stores } = await this.host.loadState();
    this.storeStates = new Map(stores.filter((s) => s.state !== 'up').map((s) => [s.id, s.state]));
  }

  /** Applies a store state to the view, once PD knows the store. */
  private applyStoreState(storeId: number, state: StoreState): void {
    if (!this.view?.stores.has(storeId)) return;
    try {
      this.view = setStoreState(this.view, storeId, state);
    } catch (e) {
      this.host.logger.warn('store state not applied', { storeId, state, error: String(e) });
    }
  }

  private async sendHeartbeats(): Promise<void> {
    const to = this.pdLeaderStore();
    this.host.send(to, { type: 'storeHeartbeat', heartbeat: this.host.storeHeartbeat() });
    // Accounts reach every store this way within a round (`src/auth/cache.ts`).
    this.host.refreshAuth();
    if (to !== this.host.storeId) this.host.send(to, { type: 'authRevision', revision: this.host.authRevision() });
    for (const hb of await this.host.leaderHeartbeats()) {
      this.host.send(to, { type: 'regionHeartbeat', heartbeat: hb });
      this.counters.heartbeatsSent++;
    }
  }

  /** Handles a message from another store (or this one). */
  receive(fromStoreId: number, m: PdMessage): void {
    const now = this.host.now();
    if (m.type === 'pdLeader') {
      this.leaderHint = m.storeId;
      this.lastAnswerMs = now;
      return;
    }
    if (m.type === 'pdMembers') {
      this.leaderHint = m.leaderStoreId;
      this.lastAnswerMs = now;
      // A store with its own replica of PD's group reads the members there (tick); others take the leader's word.
      if (!this.host.pdPeer()?.storage.initialized && Array.isArray(m.storeIds) && m.storeIds.length <= 64) this.learnMembers(m.storeIds);
      return;
    }
    // Any store answers from the table it holds: revisions only grow, so a newer one is never wrong.
    if (m.type === 'authRevision') {
      this.host.authAsked(fromStoreId, m.revision);
      return;
    }
    if (m.type === 'authTable') {
      this.host.authTold(m.table);
      return;
    }
    if (m.type !== 'instruction' && !this.view) {
      this.redirect(fromStoreId, m);
      return;
    }
    switch (m.type) {
      case 'instruction':
        void this.runInstruction(m.instruction);
        return;
      case 'storeHeartbeat': {
        if (!this.view) return;
        this.view = handleStoreHeartbeat(this.view, m.heartbeat, now);
        const decided = this.storeStates.get(m.heartbeat.storeId);
        if (decided) this.applyStoreState(m.heartbeat.storeId, decided);
        // To the store that sent it (a PD member may have passed it on): where PD is, and who hosts it.
        const sender = m.heartbeat.storeId;
        if (sender !== this.host.storeId) this.host.send(sender, { type: 'pdMembers', storeIds: this.pdStoreIds, leaderStoreId: this.host.storeId });
        return;
      }
      case 'regionHeartbeat': {
        if (!this.view) return;
        let result: ReturnType<typeof handleRegionHeartbeat>;
        try {
          result = handleRegionHeartbeat(this.view, m.heartbeat, now);
        } catch (e) {
          // A heartbeat PD cannot take (say from a leader that is no longer a voter): dropped, never thrown at the transport.
          this.counters.heartbeatsRefused++;
          this.host.logger.warn('region heartbeat refused', { from: fromStoreId, regionId: m.heartbeat.region.id, error: String(e) });
          return;
        }
        if (result.ok) {
          this.view = result.view;
          this.record(m.heartbeat.region, result.removedRegionIds);
        }
        return;
      }
      case 'instructionFailed': {
        if (!this.view) return;
        const operators = new Map(this.view.operators);
        for (const id of m.regionIds) operators.delete(id);
        this.view = { ...this.view, operators };
        return;
      }
      case 'setStoreState':
        if (!this.view) return;
        this.storeStates.set(m.storeId, m.state);
        this.applyStoreState(m.storeId, m.state);
        void this.host.pdPeer()?.proposePd({ type: 'putStore', store: { id: m.storeId, state: m.state } }).catch(() => undefined);
        return;
    }
  }

  /** Not the PD leader: pass the message on to the leader this store knows of, and tell the sender. */
  private redirect(fromStoreId: number, m: PdMessage): void {
    const lead = this.host.pdPeer()?.leaderStoreId() ?? 0;
    if (lead === 0 || lead === this.host.storeId) return;
    this.host.send(lead, m);
    if (fromStoreId !== this.host.storeId) this.host.send(fromStoreId, { type: 'pdLeader', storeId: lead });
  }

  /** Records region metadata in PD's group when it changed (epoch), so a new PD leader knows it. */
  private record(region: Region, removedRegionIds: readonly number[]): void {
    const peer = this.host.pdPeer();
    if (!peer?.isLeader()) return;
    const tag = `${region.epoch.confVer}.${region.epoch.version}`;
    if (this.recorded.get(region.id) !== tag) {
      this.recorded.set(region.id, tag);
      peer.proposePd({ type: 'putRegion', region }).catch(() => this.recorded.delete(region.id));
    }
    for (const id of removedRegionIds) {
      this.recorded.delete(id);
      peer.proposePd({ type: 'removeRegion', regionId: id }).catch(() => undefined);
    }
  }

  private allocId = (): number => {
    const id = this.ids.shift();
    if (id === undefined) throw new Error('no ids');
    return id;
  };

  private refillIds(): void {
    const peer = this.host.pdPeer();
    if (this.refilling || !peer?.isLeader()) return;
    this.refilling = true;
    peer
      .proposePd({ type: 'allocIds', count: 256 })
      .then((r) => {
        if (r && 'start' in r) for (let i = r.start; i < r.end; i++) this.ids.push(i);
      })
      .catch(() => undefined)
      .finally(() => {
        this.refilling = false;
      });
  }

  private scheduleRound(): void {
    if (!this.view) return;
    if (this.ids.length < 64) this.refillIds();
    if (this.ids.length < 16) return; // schedule once ids are at hand
    this.counters.schedulingRounds++;
    let view = advanceClock(this.view, this.host.now());
    let instructions: Instruction[];
    try {
      instructions = schedule(view, this.config, this.allocId);
    } catch (e) {
      this.host.logger.warn('scheduling round failed', { error: String(e) });
      return;
    }
    view = recordOperators(view, instructions, this.host.now());
    this.view = view;
    this.checkPdGroup();
    for (const instruction of instructions) {
      const to = instructionLeaderStoreId(view, instruction);
      if (to === undefined) continue;
      this.counters.instructionsSent++;
      this.host.logger.debug('pd instruction sent', { to, instruction: describeInstruction(instruction) });
      this.host.send(to, { type: 'instruction', instruction });
    }
  }

  /** One step of PD's own membership, when one is due and none is under way (`pd-member-checker.ts`). */
  private checkPdGroup(): void {
    const group = this.host.pdGroup();
    const now = this.host.now();
    // A step proposed by a leader that lost its term settles only once the log passes its index:
    // past this long, the next step is read off the configuration again (it is idempotent).
    if (this.memberStepSinceMs !== undefined && now - this.memberStepSinceMs > MEMBER_STEP_TIMEOUT_MS) this.memberStepSinceMs = undefined;
    if (!this.view || !group || this.memberStepSinceMs !== undefined) return;
    let step: PdMemberStep | undefined;
    try {
      step = checkPdMembers(this.view, this.config, group, this.allocId);
    } catch (e) {
      this.host.logger.warn('PD member check failed', { error: String(e) });
      return;
    }
    if (step === undefined) return;
    this.memberStepSinceMs = now;
    const seq = ++this.memberStepSeq;
    this.counters.pdMemberSteps++;
    this.host.logger.info('PD member step', { step });
    this.host
      .changePdMembers(step)
      .catch((e) => this.host.logger.info('PD member step not carried out', { step, error: String(e) }))
      .finally(() => {
        if (seq === this.memberStepSeq) this.memberStepSinceMs = undefined;
      });
  }

  private async runInstruction(instruction: Instruction): Promise<void> {
    const failed = () => this.host.send(this.pdLeaderStore(), { type: 'instructionFailed', regionIds: instructionRegions(instruction).map((r) => r.regionId) });
    if (!isInstructionCurrent(instruction, (id) => this.host.region(id))) {
      this.host.logger.debug('pd instruction skipped: its epoch is not current here', { instruction: describeInstruction(instruction) });
      failed();
      return;
    }
    try {
      await this.host.execute(instruction);
      this.counters.instructionsRun++;
    } catch (e) {
      this.host.logger.debug('instruction not carried out', { type: instruction.type, error: String(e) });
      failed();
    }
  }

  /**
   * PD's members as its leader sees them.
   * @throws NotLeaderError (with the leader this store knows of) on any other store.
   */
  members(): PdMembersInfo {
    const peer = this.host.pdPeer();
    if (!peer?.isLeader() || !peer.storage.initialized) {
      const hint = peer?.leaderStoreId() || (this.host.now() - this.lastAnswerMs <= 3 * this.heartbeatMs ? this.leaderHint : 0);
      throw new NotLeaderError(PD_GROUP_ID, hint);
    }
    return pdMembersOf(peer, this.host.storeId, this.view, this.config);
  }

  /** Asks PD to drain a store (its replicas move elsewhere) or to forget it. */
  setStoreState(storeId: number, state: StoreState): void {
    this.host.send(this.pdLeaderStore(), { type: 'setStoreState', storeId, state });
  }

  /** Whether PD's group id is `regionId` (PD's group serves no keys). */
  static isPdGroup(regionId: number): boolean {
    return regionId === PD_GROUP_ID;
  }
}

/** A short readable form of an instruction, for logs. */
export function describeInstruction(i: Instruction): string {
  switch (i.type) {
    case 'splitRegion':
      return `split ${i.regionId}`;
    case 'transferLeader':
      return `transfer-leader ${i.regionId} -> store ${i.toStoreId}`;
    case 'addLearner':
      return `add-learner ${i.regionId} on store ${i.storeId}`;
    case 'promoteLearner':
      return `promote ${i.regionId} peer ${i.peerId}`;
    case 'removePeer':
      return `remove ${i.regionId} peer ${i.peerId}`;
    case 'mergeRegions':
      return `merge ${i.sourceId} into ${i.targetId}`;
  }
}
