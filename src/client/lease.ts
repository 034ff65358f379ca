/**
 * The client's side of TTL leases (docs/leases.md): grant, keepAlive, revoke and timeToLive go to
 * PD's leader (any store answers `NotLeader` with a hint), and {@link LeaseKeeper} keeps a lease
 * alive in the background until stopped, as etcd's `KeepAlive` stream does.
 */
import { FlotillaError, LeaseNotFoundError, NotLeaderError, OutcomeUnknownError, TimeoutError } from '../errors.ts';
import type { Clock, Rand } from '../ports.ts';
import type { LeaseInfo } from '../store/lease-service.ts';
import type { LeaseOp, StoreResponses } from '../store/requests.ts';
import { type StoreConnector, StoreUnreachableError } from './connector.ts';
import { withDeadline } from './deadline.ts';
import type { RetryOptions } from './executor.ts';

export type { LeaseInfo } from '../store/lease-service.ts';

class AttemptTimeout extends Error {}

/** Options of {@link LeaseClient.keepAliveInBackground}. */
export interface KeepAliveOptions {
  /** Milliseconds between keepAlives; default a third of the lease's ttl (etcd's choice). */
  intervalMs?: number;
  /** Called once when the lease is gone (expired or revoked): the keeper stops then. */
  onLost?: (error: FlotillaError) => void;
}

/** A lease kept alive in the background; {@link LeaseKeeper.stop} ends it (the lease then expires after its ttl). */
export interface LeaseKeeper {
  readonly id: number;
  /** The last answer PD gave, or undefined before the first. */
  readonly last: LeaseInfo | undefined;
  /** Stops sending keepAlives. */
  stop(): void;
}

/** Lease calls with retries across PD leader changes. */
export class LeaseClient {
  private readonly connector: StoreConnector;
  private readonly clock: Clock;
  private readonly rand: Rand;
  private readonly retry: RetryOptions;
  /** The store believed to lead PD; 0 when unknown. */
  private leaderHint = 0;
  /** Leases PD answered for lately: a put naming one of them needs no check first. Invariant: size <= KNOWN_MAX. */
  private readonly known = new Set<number>();

  constructor(connector: StoreConnector, clock: Clock, rand: Rand, retry: RetryOptions) {
    this.connector = connector;
    this.clock = clock;
    this.rand = rand;
    this.retry = retry;
  }

  /**
   * Sends a lease call to PD's leader, following `NotLeader` hints and retrying unreachable stores
   * until `timeoutMs` passes. Answers PD's typed errors (`LeaseNotFound`, `InvalidArgument`) as they come.
   */
  private async call<T extends StoreResponses['lease']>(op: LeaseOp, attemptMs = this.retry.attemptTimeoutMs): Promise<T> {
    const deadline = this.clock.now() + this.retry.timeoutMs;
    let mayHaveApplied = false;
    for (let attempt = 0; ; attempt++) {
      const ids = this.connector.storeIds();
      const remaining = deadline - this.clock.now();
      if (remaining <= 0 || ids.length === 0 || attempt >= this.retry.attemptsMax) break;
      const to = this.leaderHint > 0 && ids.includes(this.leaderHint) ? this.leaderHint : ids[(this.rand.int(ids.length) + attempt) % ids.length];
      const ms = Math.min(remaining, attemptMs);
      try {
        const answer = await withDeadline(this.clock, ms, this.connector.call(to, { type: 'lease', op }, ms), () => new AttemptTimeout());
        this.leaderHint = to;
        return answer as T;
      } catch (e) {
        if (e instanceof NotLeaderError) {
          this.leaderHint = e.leaderStoreId !== to ? e.leaderStoreId : 0;
          if (this.leaderHint !== 0) continue;
        } else if (e instanceof StoreUnreachableError || e instanceof AttemptTimeout) {
          mayHaveApplied ||= !(e instanceof StoreUnreachableError && !e.maybeSent);
          this.leaderHint = 0;
        } else if (e instanceof FlotillaError && (e.code === 'ServerBusy' || e.code === 'Timeout')) {
          this.leaderHint = 0;
        } else if (e instanceof LeaseNotFoundError && op.kind === 'revoke' && mayHaveApplied) {
          return undefined as T; // an earlier attempt revoked it and its answer was lost
        } else {
          throw e;
        }
        const cap = Math.min(this.retry.backoffMaxMs, this.retry.backoffMinMs * 2 ** Math.min(attempt, 16));
        const wait = Math.max(1, Math.floor(this.rand.next() * cap));
        await new Promise<void>((resolve) => this.clock.setTimer(Math.max(0, Math.min(wait, deadline - this.clock.now())), resolve));
      }
    }
    // A grant whose answer was lost may have granted a lease nobody holds: it expires after its ttl, unattached.
    if (mayHaveApplied && op.kind === 'grant') throw new OutcomeUnknownError('no answer from PD\'s leader to a lease grant; a lease may have been granted and will expire unused');
    // PD finishes a revoke it recorded on its own (every region, however long that takes).
    if (mayHaveApplied && op.kind === 'revoke') throw new OutcomeUnknownError(`the revoke of lease ${op.id} was not confirmed in time; if PD recorded it, it deletes the keys region by region on its own`);
    throw new TimeoutError(`lease ${op.kind}: PD's leader did not answer within ${this.retry.timeoutMs} ms`);
  }

  private remember(id: number): void {
    if (this.known.size >= 4096) this.known.clear();
    this.known.add(id);
  }

  /**
   * Grants a lease that expires `ttlMs` after the last keepAlive PD's leader received.
   * @param ttlMs - a positive integer (at most a day).
   */
  async grant(ttlMs: number): Promise<LeaseInfo> {
    const info = await this.call<LeaseInfo>({ kind: 'grant', ttlMs });
    this.remember(info.id);
    return info;
  }

  /**
   * Restarts the lease's ttl once; throws `LeaseNotFound` when it expired or was revoked.
   * @param id - the lease.
   */
  async keepAlive(id: number): Promise<LeaseInfo> {
    try {
      const info = await this.call<LeaseInfo>({ kind: 'keepAlive', id });
      this.remember(id);
      return info;
    } catch (e) {
      if (e instanceof LeaseNotFoundError) this.known.delete(id);
      throw e;
    }
  }

  /**
   * The lease's ttl and the time it has left; throws `LeaseNotFound` when it is gone.
   * @param id - the lease.
   */
  async timeToLive(id: number): Promise<LeaseInfo> {
    const info = await this.call<LeaseInfo>({ kind: 'timeToLive', id });
    this.remember(id);
    return info;
  }

  /**
   * Revokes the lease; resolves once every key attached to it is deleted. `LeaseNotFound` when it
   * was gone already.
   * @param id - the lease.
   */
  async revoke(id: number): Promise<void> {
    this.known.delete(id);
    // Deleting the keys takes a round through every region that may hold some: a longer attempt.
    await this.call<undefined>({ kind: 'revoke', id }, this.retry.timeoutMs);
  }

  /** The ids of the active leases. */
  list(): Promise<number[]> {
    return this.call<number[]>({ kind: 'list' });
  }

  /**
   * Throws `LeaseNotFound` unless PD knows the lease: a put naming a lease PD never granted would
   * otherwise attach keys nothing will ever delete. Leases seen lately are not asked about again.
   * @param id - the lease.
   */
  async ensureKnown(id: number): Promise<void> {
    if (!this.known.has(id)) await this.timeToLive(id);
  }

  /**
   * Keeps the lease alive until stopped or until it is gone (then `onLost`). A keepAlive that
   * fails for another reason (PD's leader changing) is tried again at the next interval.
   * @param info - the lease (as {@link grant} answered it).
   * @param opts - interval and loss callback.
   */
  keepAliveInBackground(info: { id: number; ttlMs: number }, opts: KeepAliveOptions = {}): LeaseKeeper {
    const intervalMs = opts.intervalMs ?? Math.max(1, Math.floor(info.ttlMs / 3));
    let stopped = false;
    let cancel: () => void = () => {};
    const keeper = {
      id: info.id,
      last: undefined as LeaseInfo | undefined,
      stop: () => {
        stopped = true;
        cancel();
      },
    };
    const beat = (): void => {
      if (stopped) return;
      this.keepAlive(info.id).then(
        (answer) => {
          keeper.last = answer;
          if (!stopped) cancel = this.clock.setTimer(intervalMs, beat);
        },
        (e) => {
          if (stopped) return;
          if (e instanceof LeaseNotFoundError) {
            stopped = true;
            opts.onLost?.(e);
            return;
          }
          cancel = this.clock.setTimer(intervalMs, beat);
        },
      );
    };
    cancel = this.clock.setTimer(intervalMs, beat);
    return keeper;
  }
}
