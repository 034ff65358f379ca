/**
 * The client's retry loop for one region-scoped request: route by key, send to the believed
 * leader, and react to what comes back — follow `NotLeader` hints, refresh routes on
 * `EpochNotMatch` / `RegionNotFound` / `KeyNotInRegion`, back off on `ServerBusy` — with jittered
 * exponential back-off, a bounded number of attempts and an overall deadline.
 *
 * Writes keep their `(clientId, seq)` across attempts, so a retry of a write that did apply is
 * answered from the session table instead of applying twice. If the deadline passes after an
 * attempt whose fate is unknown, the write fails with `OutcomeUnknown`; a write that certainly did
 * not apply fails with `Timeout`, or with `ServerBusy` when busy stores refused it to the end.
 * Each attempt tells the store how long it waits (`timeoutMs`), so that an overloaded store sheds
 * it at once instead of answering after we gave up (docs/overload.md).
 */
import { EpochNotMatchError, FlotillaError, NotLeaderError, OutcomeUnknownError, ServerBusyError, type StaleCommandError, TimeoutError } from '../errors.ts';
import type { Clock, Rand } from '../ports.ts';
import type { Region } from '../region/types.ts';
import { type StoreConnector, StoreUnreachableError } from './connector.ts';
import type { StoreRequest, StoreResponses } from '../store/requests.ts';
import { withDeadline } from './deadline.ts';
import type { Router } from './router.ts';

/** Retry policy. */
export interface RetryOptions {
  /** Overall deadline of one operation; default 10 000 ms. */
  timeoutMs: number;
  /** Deadline of one attempt (one store call); default 1 000 ms. */
  attemptTimeoutMs: number;
  /** Most attempts per operation; default 64. */
  attemptsMax: number;
  /** Back-off between attempts: grows from `backoffMinMs` to `backoffMaxMs`, with full jitter. */
  backoffMinMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { timeoutMs: 10_000, attemptTimeoutMs: 1_000, attemptsMax: 64, backoffMinMs: 2, backoffMaxMs: 500 };

/** Errors that say the request reached no leader that would apply it: retrying is always safe. */
const ROUTING = new Set(['NotLeader', 'EpochNotMatch', 'RegionNotFound', 'KeyNotInRegion', 'ServerBusy']);

class AttemptTimeout extends Error {}

/**
 * Thrown by {@link Executor.run} when a multi-key request no longer fits one region (a split
 * moved some of its keys): the caller regroups the keys by region and sends new requests.
 * `maybeApplied` says whether an earlier attempt's fate is unknown.
 */
export class RegroupError extends Error {
  readonly maybeApplied: boolean;
  constructor(maybeApplied: boolean) {
    super('the keys of the request now span more than one region');
    this.maybeApplied = maybeApplied;
  }
}

export class Executor {
  private readonly connector: StoreConnector;
  private readonly router: Router;
  private readonly clock: Clock;
  private readonly rand: Rand;
  readonly retry: RetryOptions;

  constructor(connector: StoreConnector, router: Router, clock: Clock, rand: Rand, retry: RetryOptions) {
    this.connector = connector;
    this.router = router;
    this.clock = clock;
    this.rand = rand;
    this.retry = retry;
  }

  /** An executor like this one with some retry options changed (an operation that takes longer per attempt). */
  withRetry(overrides: Partial<RetryOptions>): Executor {
    return new Executor(this.connector, this.router, this.clock, this.rand, { ...this.retry, ...overrides });
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimer(ms, resolve));
  }

  /** Sleeps before the next attempt, never past `deadline` (the operation ends there). */
  private backoff(attempt: number, deadline: number): Promise<void> {
    const cap = Math.min(this.retry.backoffMaxMs, this.retry.backoffMinMs * 2 ** Math.min(attempt, 16));
    const ms = Math.max(1, Math.floor(this.rand.next() * cap));
    return this.sleep(Math.max(0, Math.min(ms, deadline - this.clock.now())));
  }

  private withAttemptTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
    return withDeadline(this.clock, ms, p, () => new AttemptTimeout());
  }

  /** Refreshes the routes, giving up (quietly: the next attempt looks again) at the attempt timeout or the deadline. */
  async boundedRefresh(deadline: number): Promise<void> {
    const ms = Math.min(deadline - this.clock.now(), this.retry.attemptTimeoutMs);
    if (ms <= 0) return;
    await this.withAttemptTimeout(this.router.refresh(), ms).catch(() => {});
  }

  /**
   * Runs `build(region)` against the region serving `routeKey` until it succeeds or fails for good.
   * `isWrite` decides what a lost answer means (possibly applied) and which error the deadline gives.
   * `fits` says whether the request still fits a region; when it does not, {@link RegroupError} is thrown.
   * `bumpSeq` moves a write's seq past a session the store already holds; `once` stops retrying
   * after an attempt whose fate is unknown (for requests that must not apply twice under a new identity).
   * `startedAtMs` is when the operation began (route lookups before it count against its deadline).
   */
  async run<R extends StoreRequest>(
    routeKey: Uint8Array,
    isWrite: boolean,
    build: (region: Region) => R,
    what: string,
    fits?: (region: Region) => boolean,
    bumpSeq?: (lastSeq: number) => void,
    once = false,
    startedAtMs = this.clock.now(),
  ): Promise<StoreResponses[R['type']]> {
    const deadline = startedAtMs + this.retry.timeoutMs;
    let maybeApplied = false;
    let avoid = 0;
    let lastError: unknown;
    for (let attempt = 0; attempt < this.retry.attemptsMax; attempt++) {
      const remaining = deadline - this.clock.now();
      if (remaining <= 0) break;
      // A request that is not idempotent (an admin change) is not sent again once its fate is unknown.
      if (once && maybeApplied) break;
      let region: Region;
      try {
        // Route lookups ask stores too: bounded like any attempt, so a store that hangs cannot hold the operation past its deadline.
        region = await this.withAttemptTimeout(this.router.regionFor(routeKey), Math.min(remaining, this.retry.attemptTimeoutMs));
      } catch (e) {
        lastError = e;
        await this.backoff(attempt, deadline);
        continue;
      }
      if (fits && !fits(region)) throw new RegroupError(maybeApplied);
      const request = build(region);
      const storeId = this.router.targetStore(region, avoid);
      avoid = 0;
      try {
        const attemptMs = Math.min(remaining, this.retry.attemptTimeoutMs);
        const answer = await this.withAttemptTimeout(this.connector.call(storeId, request, attemptMs), attemptMs);
        const failed = isWrite ? (answer as { ok: boolean; error?: FlotillaError }) : undefined;
        // Refused when applied because a split or merge moved the key meanwhile: the command had no
        // effect and was not remembered, so it is re-routed and sent again like a routing error.
        if (failed && !failed.ok && failed.error && ROUTING.has(failed.error.code)) throw failed.error;
        if (failed && !failed.ok && failed.error?.code === 'StaleCommand' && bumpSeq) {
          // The session table is ahead of our seq. If no attempt of this write can have applied,
          // our client id was used before (a restarted client): move past it and send again.
          if (!maybeApplied) {
            bumpSeq((failed.error as StaleCommandError).lastSeq);
            continue;
          }
          throw new OutcomeUnknownError(`${what}: ${failed.error.message}`);
        }
        return answer;
      } catch (e) {
        lastError = e;
        if (e instanceof AttemptTimeout || !(e instanceof FlotillaError)) {
          // No answer: the store may be down or slow, and a write may have been proposed (unless
          // the request certainly never left).
          if (isWrite && !(e instanceof StoreUnreachableError && !e.maybeSent)) maybeApplied = true;
          this.router.setLeader(region.id, 0);
          avoid = storeId;
        } else if (e.code === 'OutcomeUnknown') {
          maybeApplied = true;
          avoid = storeId;
        } else if (e.code === 'StaleCommand') {
          // Our seq was overtaken in the session table: an earlier attempt may or may not have applied.
          throw new OutcomeUnknownError(`${what}: ${e.message}`);
        } else if (!ROUTING.has(e.code)) {
          throw e; // a definite answer: a bad argument, a value over a limit, ...
        } else if (e instanceof NotLeaderError) {
          this.router.setLeader(region.id, e.leaderStoreId);
          if (e.leaderStoreId === 0 || e.leaderStoreId === storeId) avoid = storeId;
        } else if (e instanceof EpochNotMatchError) {
          this.router.learn(e.regions);
          if (!this.router.table.findRegionByKey(routeKey)) await this.boundedRefresh(deadline);
        } else if (e.code === 'RegionNotFound' || e.code === 'KeyNotInRegion') {
          this.router.table.remove(region.id);
          await this.boundedRefresh(deadline);
        }
        if (e instanceof FlotillaError && e.code === 'NotLeader' && attempt < 2 && !avoid) continue; // follow a fresh hint at once
        await this.backoff(attempt, deadline);
      }
    }
    const detail = lastError instanceof Error ? lastError.message : String(lastError);
    // Say which limit ended the retries: the deadline, or the attempts (quick refusals, say during
    // an election, can use up `attemptsMax` well before `timeoutMs`).
    const spent = this.retry.timeoutMs - (deadline - this.clock.now());
    const limit = deadline - this.clock.now() > 0 && !(once && maybeApplied) ? `after ${this.retry.attemptsMax} attempts in ${Math.round(spent)} ms` : `within ${this.retry.timeoutMs} ms`;
    if (isWrite && maybeApplied) throw new OutcomeUnknownError(`${what} may or may not have been applied: no definite answer ${limit} (last error: ${detail})`);
    // Refused by overloaded stores to the end, and never possibly applied: say so with the typed
    // error the stores gave (docs/overload.md), not as a vague timeout.
    if (lastError instanceof FlotillaError && lastError.code === 'ServerBusy') throw new ServerBusyError(`${what} was refused ${limit}: ${detail.replace(/^server busy: /, '').replace(/; back off and retry$/, '')}`);
    throw new TimeoutError(`${what} did not complete ${limit} (last error: ${detail})`);
  }
}
