/**
 * Admission control of client requests at a store (issue 19): the store takes on only the work it
 * can finish in time and refuses the rest at once with `ServerBusy`, before anything is proposed,
 * so that a refused request is always safe to retry and memory stays bounded however many
 * clients push. (Connections before authentication have their own caps: `src/transport/admission.ts`.)
 *
 * Checked in this order when a request arrives:
 * - its deadline: a request whose caller has already given up is dropped (its `timeoutMs` is no
 *   longer than the process's arrival delay: it waited that long before being read);
 * - hard caps on what is admitted but not yet answered: `requestsMax` requests and `bytesMax`
 *   bytes of requests (memory);
 * - an adaptive concurrency limit (AIMD on the service time, as TCP's congestion window and
 *   Netflix's concurrency-limits): it grows while answers come within `latencyTargetMs` and
 *   shrinks when they do not, so it settles where this store, on this machine, now, answers in
 *   time. A store whose throughput grows with concurrency (group commit batches more writes into
 *   one fsync) is allowed more; one that falls behind is allowed less. Queueing beyond it is what
 *   TiKV and CockroachDB learned not to do: shed early, never queue without limit;
 * - fairness: once the store is more than half full, a link (one connection: a client or a
 *   store) holding an equal share of the limit already is refused, so one client pushing hard
 *   cannot shut out the others;
 * - the request's own deadline: refused when requests take longer now (arrival delay plus the
 *   mean service time of the last second) than half of the time it has.
 *
 * Pure: time comes from an injected `now`; the server adapter admits each call, holds its
 * {@link AdmissionTicket} while the store works on it, and releases it however the call ends.
 */
import { ServerBusyError } from '../errors.ts';

/** The limits of {@link createRequestAdmission}. */
export interface RequestAdmissionLimits {
  /** Requests admitted and not yet answered, at most (default 2048). */
  requestsMax: number;
  /** Bytes of requests admitted and not yet answered, at most (default 32 MiB). */
  bytesMax: number;
  /** The service time the adaptive concurrency limit aims for, from admission to answer (default 500 ms). */
  latencyTargetMs: number;
}

/** The defaults: a memory bound a small machine affords, and half the client's default attempt timeout (1 s). */
export const DEFAULT_REQUEST_ADMISSION: Readonly<RequestAdmissionLimits> = { requestsMax: 2048, bytesMax: 32 * 1024 * 1024, latencyTargetMs: 500 };

/** The adaptive limit never goes below this: a store with slow answers must still make progress. */
export const REQUESTS_ALWAYS_ADMITTED = 8;

/** Where the adaptive limit starts: a burst on a cold store learns the store's speed before it is all taken on. */
export const CONCURRENCY_INITIAL = 32;

/** Why a request was refused; each is counted. */
export type ShedReason =
  /** `requestsMax` requests are in flight. */
  | 'requests'
  /** `bytesMax` bytes of requests are in flight. */
  | 'bytes'
  /** The adaptive concurrency limit is reached: more in flight would answer slower than `latencyTargetMs`. */
  | 'concurrency'
  /** The store is more than half full and this request's link holds its equal share of the limit already. */
  | 'fairness'
  /** Requests take longer now (arrival delay plus service time) than half of what its deadline leaves. */
  | 'wait'
  /** Its deadline had passed when it was read. */
  | 'expired';

/** Held while the store works on an admitted request. */
export interface AdmissionTicket {
  /** Gives the slot back; idempotent (a second call does nothing). */
  release(): void;
}

/** Counters and gauges of {@link RequestAdmission}, for `/metrics` and `/status`. */
export interface RequestAdmissionStats {
  admitted: number;
  /** Admitted requests answered after the deadline their caller gave (the store took on more than it could do in time). */
  late: number;
  /** Of those, the ones during which the process stood still for half their deadline or more (a frozen or starved process). */
  lateAfterStall: number;
  shed: Record<ShedReason, number>;
  inFlight: number;
  inFlightBytes: number;
  /** Links (connections) with requests in flight. */
  busyLinks: number;
  /** The adaptive limit on requests in flight now. */
  concurrencyLimit: number;
  /** Mean service time (admission to answer) of the requests answered in the last second, ms. */
  latencyMs: number;
  /** Completions per second over the last second. */
  completionsPerSec: number;
  /** How late the process reads what arrives (its event loop's recent lag), in ms. */
  arrivalDelayMs: number;
  limits: RequestAdmissionLimits;
}

/** See the module comment. */
export interface RequestAdmission {
  /**
   * Admits a request of `bytes` bytes whose caller waits `timeoutMs` more (undefined: no deadline
   * given), arriving on link `link` (a connection: one client or store), or refuses it with a
   * {@link ServerBusyError} saying why. Never throws.
   */
  admit(bytes: number, timeoutMs?: number, link?: number): AdmissionTicket | ServerBusyError;
  stats(): RequestAdmissionStats;
}

/** Completions are counted in buckets this long, over the last {@link BUCKETS} of them; the limit shrinks at most once per bucket. */
const BUCKET_MS = 100;
const BUCKETS = 10;
/** What the limit is multiplied by after a completion slower than the target. */
const DECREASE = 0.9;

/**
 * Creates the admission control of store `storeId`.
 * @param storeId - named in refusals.
 * @param limits - caps (absent fields take {@link DEFAULT_REQUEST_ADMISSION}).
 * @param now - milliseconds on a monotonic clock.
 * @param arrivalDelayMs - how long a request waits before it even reaches admission (the event
 *   loop's lag, measured by the adapter): a process starved of CPU reads its sockets late, and a
 *   request that waited there has less of its deadline left than it says.
 * @param stalledSinceMs - the longest the process stood still (its event loop's worst lag) since
 *   time `t` of `now`: tells a late answer the store could not foresee (a frozen process) from one
 *   it should have refused.
 */
export function createRequestAdmission(storeId: number, limits: Partial<RequestAdmissionLimits>, now: () => number, arrivalDelayMs: () => number = () => 0, stalledSinceMs: (t: number) => number = () => 0): RequestAdmission {
  const l: RequestAdmissionLimits = { ...DEFAULT_REQUEST_ADMISSION, ...withoutUndefined(limits) };
  for (const [k, v] of Object.entries(l)) if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer, got ${v}`);
  const startedAt = now();
  const shed: Record<ShedReason, number> = { requests: 0, bytes: 0, concurrency: 0, fairness: 0, wait: 0, expired: 0 };
  // Requests in flight per link. Invariant: the values sum to inFlight (for requests given a link) and are all positive.
  const perLink = new Map<number, number>();
  let admitted = 0;
  let late = 0;
  let lateAfterStall = 0;
  // Invariant: inFlight and inFlightBytes are the sums over tickets not yet released.
  let inFlight = 0;
  let inFlightBytes = 0;
  // Invariant: REQUESTS_ALWAYS_ADMITTED <= limit <= requestsMax (unless requestsMax is below the floor).
  let limit = Math.min(l.requestsMax, CONCURRENCY_INITIAL);
  let decreasedAt = Number.NEGATIVE_INFINITY;
  // A ring of buckets: completions[i] answers, taking latencySumMs[i] in all, during bucket number bucketOf[i].
  const completions = new Array<number>(BUCKETS).fill(0);
  const latencySumMs = new Array<number>(BUCKETS).fill(0);
  const bucketOf = new Array<number>(BUCKETS).fill(-1);

  const bucket = (t: number): number => {
    const b = Math.floor(t / BUCKET_MS);
    const i = b % BUCKETS;
    if (bucketOf[i] !== b) {
      bucketOf[i] = b;
      completions[i] = 0;
      latencySumMs[i] = 0;
    }
    return i;
  };
  const window = (t: number): { done: number; latencyMs: number } => {
    const current = Math.floor(t / BUCKET_MS);
    let done = 0;
    let sum = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (bucketOf[i] <= current - BUCKETS) continue;
      done += completions[i];
      sum += latencySumMs[i];
    }
    return { done, latencyMs: done === 0 ? 0 : sum / done };
  };
  /**
   * AIMD on the service time (as TCP and Netflix's concurrency limits): an answer within the
   * target while the limit binds raises it by one (so it doubles every round when the store keeps
   * up, and group commit lets it keep up with more); an answer slower than the target cuts it by
   * a tenth, once per bucket, so a store falling behind soon admits only what it can answer in time.
   */
  const adapt = (t: number, latencyMs: number) => {
    if (latencyMs > l.latencyTargetMs) {
      if (t - decreasedAt < BUCKET_MS) return;
      decreasedAt = t;
      limit = Math.max(Math.min(REQUESTS_ALWAYS_ADMITTED, l.requestsMax), limit * DECREASE);
    } else if (inFlight + 1 >= limit / 2) {
      limit = Math.min(l.requestsMax, limit + 1);
    }
  };
  const refuse = (reason: ShedReason, detail: string) => {
    shed[reason]++;
    return new ServerBusyError(`store ${storeId} is overloaded: ${inFlight} requests / ${inFlightBytes} bytes in flight (${detail})`);
  };

  return {
    admit(bytes, timeoutMs, link) {
      // A request read this late (the arrival delay) with no more time than that had expired
      // before we saw it: drop it before any work.
      const delayMs = arrivalDelayMs();
      if (timeoutMs !== undefined && timeoutMs <= delayMs) return refuse('expired', `the request's deadline (${timeoutMs} ms) passed before it was read (${Math.round(delayMs)} ms late)`);
      if (inFlight + 1 > l.requestsMax) return refuse('requests', `requestsMax ${l.requestsMax}`);
      // One request larger than the whole byte cap is still admitted alone: it is bounded by the frame limit.
      if (inFlight > 0 && inFlightBytes + bytes > l.bytesMax) return refuse('bytes', `bytesMax ${l.bytesMax}`);
      if (inFlight + 1 > limit) return refuse('concurrency', `the store answers within ${l.latencyTargetMs} ms with at most ${Math.floor(limit)} in flight`);
      // Once the store is more than half full, no link gets more than an equal share of the limit:
      // one client pushing hard cannot shut the others out.
      const held = link === undefined ? 0 : (perLink.get(link) ?? 0);
      if (link !== undefined && inFlight + 1 > limit / 2) {
        const share = Math.max(1, Math.floor(limit / (perLink.size + (held === 0 ? 1 : 0))));
        if (held >= share) return refuse('fairness', `this connection holds ${held}, its share of ${Math.floor(limit)} among ${perLink.size} busy connections`);
      }
      const t = now();
      if (timeoutMs !== undefined && inFlight >= REQUESTS_ALWAYS_ADMITTED) {
        const waitMs = delayMs + window(t).latencyMs;
        if (waitMs > timeoutMs / 2) return refuse('wait', `requests take about ${Math.round(waitMs)} ms now, more than half of the ${timeoutMs} ms this one may take`);
      }
      admitted++;
      inFlight++;
      inFlightBytes += bytes;
      if (link !== undefined) perLink.set(link, held + 1);
      const deadlineAt = timeoutMs === undefined ? Number.POSITIVE_INFINITY : t + timeoutMs;
      let open = true;
      return {
        release() {
          if (!open) return;
          open = false;
          const at = now();
          inFlight--;
          inFlightBytes -= bytes;
          if (link !== undefined) {
            const n = (perLink.get(link) ?? 1) - 1;
            if (n === 0) perLink.delete(link);
            else perLink.set(link, n);
          }
          const i = bucket(at);
          completions[i]++;
          latencySumMs[i] += at - t;
          if (at > deadlineAt) {
            late++;
            // Frozen for half its deadline or more while it was in the store: no admission could have known.
            if (stalledSinceMs(t) >= (deadlineAt - t) / 2) lateAfterStall++;
          }
          adapt(at, at - t);
        },
      };
    },
    stats() {
      const t = now();
      const w = window(t);
      const windowMs = Math.max(BUCKET_MS, Math.min(BUCKETS * BUCKET_MS, t - startedAt));
      return {
        admitted,
        late,
        lateAfterStall,
        shed: { ...shed },
        inFlight,
        inFlightBytes,
        busyLinks: perLink.size,
        concurrencyLimit: Math.floor(limit),
        latencyMs: Math.round(w.latencyMs),
        completionsPerSec: Math.round((w.done * 1000) / windowMs),
        arrivalDelayMs: Math.round(arrivalDelayMs()),
        limits: { ...l },
      };
    },
  };
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
