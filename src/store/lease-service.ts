/**
 * LeaseService: TTL leases on PD's leader (docs/leases.md), in the manner of etcd's lessor.
 *
 * - grant and revoke go through PD's Raft log (`leaseGrant`, `leaseRevoke`, `leaseForget` in
 *   `pd-state.ts`); the lease id comes from PD's id allocator in the same entry.
 * - keepAlive is answered by PD's leader from memory (a {@link LeaseTable}), after a ReadIndex
 *   round on PD's group confirms it still leads and has applied everything committed (etcd's
 *   `ensureLeadership`): a deposed leader never answers one.
 * - expiry: each round, an active lease whose deadline passed is proposed `leaseRevoke`. A
 *   revoking lease is then carried out region by region: PD's leader asks the leader of every
 *   region whose range has not yet confirmed to propose `revokeLease` through its own log, which
 *   deletes the lease's keys there and refuses the lease from then on. Once confirmed ranges cover
 *   the whole key space, the lease is forgotten. Splits and merges in between are harmless:
 *   coverage is by key range, and regions pass their revoked marks to children and targets.
 * - a new PD leader starts with an empty table: every active lease gets `now + ttl`, every
 *   revoking one is carried out again from the start (revoking twice is harmless).
 */
import { InvalidArgumentError, LeaseNotFoundError, NotLeaderError } from '../errors.ts';
import { type KeyRange, LeaseTable, rangesOverlap } from '../pd/lease-table.ts';
import { LEASE_TTL_MS_MAX, type PdCommand, type PdLeaseRecord, type PdResult, PD_GROUP_ID } from './pd-state.ts';

/** What the lease service needs of its store. */
export interface LeaseHost {
  now(): number;
  /** Whether this store's replica leads PD's group. */
  isLeader(): boolean;
  /** The store this store believes leads PD's group; 0 when none. */
  leaderStoreId(): number;
  /** Resolves once a ReadIndex round confirms this replica leads PD's group and applied it; rejects otherwise. */
  confirmLeader(): Promise<void>;
  propose(command: PdCommand): Promise<PdResult>;
  loadLeases(): Promise<PdLeaseRecord[]>;
  loadLease(id: number): Promise<PdLeaseRecord | undefined>;
  /** The regions PD's view knows, with the store of each one's leader. */
  regions(): Array<KeyRange & { id: number; leaderStoreId: number }>;
  /** Asks the store leading `regionId` to revoke `leaseId` there; it answers with {@link LeaseService.regionRevoked}. */
  sendRevoke(toStoreId: number, leaseId: number, regionId: number): void;
}

/** A TTL lease call (docs/leases.md), served by PD's leader; other stores answer `NotLeader` with a hint. */
export type LeaseOp =
  | { kind: 'grant'; ttlMs: number }
  | { kind: 'keepAlive'; id: number }
  | { kind: 'timeToLive'; id: number }
  | { kind: 'revoke'; id: number }
  | { kind: 'list' };

/** A lease as the client sees it. */
export interface LeaseInfo {
  id: number;
  ttlMs: number;
  /** How long the lease has left on PD leader's clock (a grant or keepAlive answers `ttlMs`). */
  remainingMs: number;
}

/** Options of {@link LeaseService}. */
export interface LeaseServiceOptions {
  /** Milliseconds between expiry rounds; default 100. */
  roundMs?: number;
  /** Most revoke requests sent per round (a bound on the fan-out); default 256. */
  revokesPerRoundMax?: number;
}

/** PD leader's lease keeper; on other stores it only answers `NotLeader`. */
export class LeaseService {
  private readonly host: LeaseHost;
  private readonly table = new LeaseTable();
  private readonly roundMs: number;
  private readonly revokesPerRoundMax: number;
  private lastRoundMs = Number.NEGATIVE_INFINITY;
  private running = false;
  private leading = false;
  /** Callers of {@link revoke} waiting for the lease to be forgotten, by lease id. */
  private readonly waiters = new Map<number, Array<{ resolve: () => void; reject: (e: Error) => void }>>();
  /** Counters for status and tests. */
  readonly counters = { granted: 0, expired: 0, revokeRequests: 0, forgotten: 0 };

  constructor(host: LeaseHost, opts: LeaseServiceOptions = {}) {
    this.host = host;
    this.roundMs = opts.roundMs ?? 100;
    this.revokesPerRoundMax = opts.revokesPerRoundMax ?? 256;
  }

  /** Whether this store's replica leads PD's group (and so keeps the leases). */
  isLeader(): boolean {
    return this.host.isLeader();
  }

  private notLeader(): NotLeaderError {
    return new NotLeaderError(PD_GROUP_ID, this.host.leaderStoreId());
  }

  private requireLeader(): void {
    if (!this.host.isLeader()) throw this.notLeader();
  }

  /**
   * Grants a lease of `ttlMs` through PD's log.
   * @param ttlMs - a positive integer up to {@link LEASE_TTL_MS_MAX}.
   */
  async grant(ttlMs: number): Promise<LeaseInfo> {
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0 || ttlMs > LEASE_TTL_MS_MAX) {
      throw new InvalidArgumentError('ttlMs', `must be an integer in [1, ${LEASE_TTL_MS_MAX}], got ${String(ttlMs)}`);
    }
    this.requireLeader();
    const result = await this.host.propose({ type: 'leaseGrant', ttlMs });
    if (!result || !('lease' in result) || result.lease === null) throw new InvalidArgumentError('ttlMs', 'PD granted no lease');
    this.table.touch(result.lease.id, ttlMs, this.host.now());
    this.counters.granted++;
    return { id: result.lease.id, ttlMs, remainingMs: ttlMs };
  }

  /**
   * Restarts the lease's ttl, answered from memory once leadership is confirmed.
   * @param id - the lease.
   */
  async keepAlive(id: number): Promise<LeaseInfo> {
    this.requireLeader();
    // The clock is read on arrival: a keepAlive that came in time counts even if confirming
    // leadership takes longer than the lease had left.
    const arrivedMs = this.host.now();
    await this.host.confirmLeader();
    const lease = await this.host.loadLease(id);
    if (lease === undefined || lease.state !== 'active') throw new LeaseNotFoundError(id);
    this.table.touch(id, lease.ttlMs, arrivedMs);
    return { id, ttlMs: lease.ttlMs, remainingMs: this.table.remainingMs(id, this.host.now()) ?? lease.ttlMs };
  }

  /**
   * The lease's ttl and what it has left.
   * @param id - the lease.
   */
  async timeToLive(id: number): Promise<LeaseInfo> {
    this.requireLeader();
    await this.host.confirmLeader();
    const lease = await this.host.loadLease(id);
    if (lease === undefined || lease.state !== 'active') throw new LeaseNotFoundError(id);
    const now = this.host.now();
    const remainingMs = Math.max(0, this.table.deadline(id, lease.ttlMs, now) - now);
    return { id, ttlMs: lease.ttlMs, remainingMs };
  }

  /** The ids of the active leases. */
  async list(): Promise<number[]> {
    this.requireLeader();
    await this.host.confirmLeader();
    return (await this.host.loadLeases()).filter((l) => l.state === 'active').map((l) => l.id);
  }

  /**
   * Revokes a lease through PD's log and resolves once every region deleted its keys.
   * @param id - the lease.
   */
  async revoke(id: number): Promise<void> {
    this.requireLeader();
    const result = await this.host.propose({ type: 'leaseRevoke', id });
    if (!result || !('lease' in result) || result.lease === null) throw new LeaseNotFoundError(id);
    await new Promise<void>((resolve, reject) => {
      const list = this.waiters.get(id) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(id, list);
      this.lastRoundMs = Number.NEGATIVE_INFINITY; // start on it at the next tick
    });
  }

  /**
   * A region's leader reports that its revoke of `leaseId` applied over `range`.
   * @param leaseId - the lease.
   * @param range - the region's range when the revoke applied.
   */
  regionRevoked(leaseId: number, range: KeyRange): void {
    if (!this.leading) return;
    this.table.cover(leaseId, range);
    this.lastRoundMs = Number.NEGATIVE_INFINITY;
  }

  /**
   * The store's process was stopped for `gapMs`: nobody could keep a lease alive meanwhile, so
   * every deadline moves back by the gap (see `PdService.clockJumped`).
   * @param gapMs - the pause.
   */
  clockJumped(gapMs: number): void {
    if (gapMs > 0) this.table.shift(gapMs);
  }

  /** Called on every store tick: keeps leadership state and runs an expiry round now and then. */
  tick(): void {
    const leader = this.host.isLeader();
    if (!leader && this.leading) this.stepDown();
    this.leading = leader;
    if (!leader || this.running) return;
    const now = this.host.now();
    if (now - this.lastRoundMs < this.roundMs) return;
    this.lastRoundMs = now;
    this.running = true;
    void this.round()
      .catch(() => undefined) // lost leadership or a proposal dropped: the next round tries again
      .finally(() => {
        this.running = false;
      });
  }

  private stepDown(): void {
    this.table.clear();
    for (const list of this.waiters.values()) for (const w of list) w.reject(this.notLeader());
    this.waiters.clear();
  }

  private async round(): Promise<void> {
    // Only leases tracked before the read can be judged gone by it: one granted meanwhile is not in it yet.
    const tracked = this.table.ids();
    const leases = await this.host.loadLeases();
    const recorded = new Set(leases.map((l) => l.id));
    for (const id of tracked) if (!recorded.has(id)) this.forgotten(id);
    let sends = 0;
    for (const lease of leases) {
      if (!this.host.isLeader()) return;
      if (lease.state === 'active') {
        // Read the clock after the await above: a keepAlive that came in meanwhile has moved the deadline.
        if (this.host.now() < this.table.deadline(lease.id, lease.ttlMs, this.host.now())) continue;
        this.counters.expired++;
        await this.host.propose({ type: 'leaseRevoke', id: lease.id });
        continue;
      }
      const gaps = this.table.uncovered(lease.id);
      if (gaps.length === 0) {
        await this.host.propose({ type: 'leaseForget', id: lease.id });
        this.forgotten(lease.id);
        continue;
      }
      for (const r of this.host.regions()) {
        if (sends >= this.revokesPerRoundMax) break;
        if (r.leaderStoreId === 0 || !gaps.some((g) => rangesOverlap(g, r))) continue;
        this.host.sendRevoke(r.leaderStoreId, lease.id, r.id);
        this.counters.revokeRequests++;
        sends++;
      }
    }
  }

  private forgotten(id: number): void {
    this.table.forget(id);
    this.counters.forgotten++;
    for (const w of this.waiters.get(id) ?? []) w.resolve();
    this.waiters.delete(id);
  }
}
