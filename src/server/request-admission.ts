/**
 * Admission control of client requests at a store (issue 19): the store takes on only the work it
 * can finish in time and refuses the rest at once with `ServerBusy`, before anything is proposed,
 * so that a refused request is always safe to retry and memory stays bounded however many
 * clients push. (Connections before authentication have their own caps: `src/transport/admission.ts`.)
 *
 * Three limits, checked in this order when a request arrives:
 * - its deadline: a request whose caller has already given up is dropped (its `timeoutMs` is no
 *   longer than the process's arrival delay: it waited that long before being read);
 * - hard caps on what is admitted but not yet answered: `requestsMax` requests and `bytesMax`
 *   bytes of requests (memory);
 * - expected wait: by Little's law the work ahead of a new request takes about
 *   `inFlight / completionRate`; when that exceeds `queueWaitMaxMs`, or half of the request's own
 *   deadline, the request would most likely be answered after its caller stopped waiting, so it
 *   is refused now instead of costing work nobody reads (TiKV's and CockroachDB's lesson: shed
 *   early, never queue without limit). The rate is measured over the last second of completions,
 *   counting only time with work in flight, so the bound follows what the store really sustains
 *   on this machine, now, and a store coming out of idleness is not mistaken for a slow one.
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
  /** Longest expected wait behind the work in flight that a request is admitted into (default 1000 ms). */
  queueWaitMaxMs: number;
}

/** The defaults: a few seconds of work for a fast store, and a memory bound a small machine affords. */
export const DEFAULT_REQUEST_ADMISSION: Readonly<RequestAdmissionLimits> = { requestsMax: 2048, bytesMax: 32 * 1024 * 1024, queueWaitMaxMs: 1000 };

/** Requests always admitted (within the hard caps) whatever the estimate says: a store with no recent completions must still make progress. */
export const REQUESTS_ALWAYS_ADMITTED = 8;

/** Why a request was refused; each is counted. */
export type ShedReason =
  /** `requestsMax` requests are in flight. */
  | 'requests'
  /** `bytesMax` bytes of requests are in flight. */
  | 'bytes'
  /** The work ahead of it would take longer than its deadline allows. */
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
  shed: Record<ShedReason, number>;
  inFlight: number;
  inFlightBytes: number;
  /** Completions per second over the last second. */
  completionsPerSec: number;
  /** The wait a request arriving now is expected to have (its arrival delay and the work in flight ahead of it), in ms; -1: unbounded. */
  expectedWaitMs: number;
  /** How late the process reads what arrives (its event loop's recent lag), in ms. */
  arrivalDelayMs: number;
  limits: RequestAdmissionLimits;
}

/** See the module comment. */
export interface RequestAdmission {
  /**
   * Admits a request of `bytes` bytes whose caller waits `timeoutMs` more (undefined: no deadline
   * given), or refuses it with a {@link ServerBusyError} saying why. Never throws.
   */
  admit(bytes: number, timeoutMs?: number): AdmissionTicket | ServerBusyError;
  stats(): RequestAdmissionStats;
}

/** Completions are counted in buckets this long, over the last {@link BUCKETS} of them. */
const BUCKET_MS = 100;
const BUCKETS = 10;

/**
 * Creates the admission control of store `storeId`.
 * @param storeId - named in refusals.
 * @param limits - caps (absent fields take {@link DEFAULT_REQUEST_ADMISSION}).
 * @param now - milliseconds on a monotonic clock.
 * @param arrivalDelayMs - how long a request waits before it even reaches admission (the event
 *   loop's lag, measured by the adapter): a process starved of CPU reads its sockets late, and a
 *   request that waited there has less of its deadline left than it says.
 */
export function createRequestAdmission(storeId: number, limits: Partial<RequestAdmissionLimits>, now: () => number, arrivalDelayMs: () => number = () => 0): RequestAdmission {
  const l: RequestAdmissionLimits = { ...DEFAULT_REQUEST_ADMISSION, ...withoutUndefined(limits) };
  for (const [k, v] of Object.entries(l)) if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer, got ${v}`);
  const startedAt = now();
  const shed: Record<ShedReason, number> = { requests: 0, bytes: 0, wait: 0, expired: 0 };
  let admitted = 0;
  let late = 0;
  // Invariant: inFlight and inFlightBytes are the sums over tickets not yet released.
  let inFlight = 0;
  let inFlightBytes = 0;
  // A ring of buckets: completions[i] completions and busyMs[i] ms with work in flight during
  // bucket number bucketOf[i]. The rate is measured over busy time only, so that a store coming
  // out of idleness is judged by how fast it answers, not by how little it was asked.
  const completions = new Array<number>(BUCKETS).fill(0);
  const busyMs = new Array<number>(BUCKETS).fill(0);
  const bucketOf = new Array<number>(BUCKETS).fill(-1);
  let accountedAt = startedAt;

  const bucket = (t: number): number => {
    const b = Math.floor(t / BUCKET_MS);
    const i = b % BUCKETS;
    if (bucketOf[i] !== b) {
      bucketOf[i] = b;
      completions[i] = 0;
      busyMs[i] = 0;
    }
    return i;
  };
  /** Adds the time since the last event to the busy time, if work was in flight meanwhile. */
  const account = (t: number) => {
    if (inFlight > 0 && t > accountedAt) busyMs[bucket(t)] += t - accountedAt;
    accountedAt = Math.max(accountedAt, t);
  };
  const completionsPerSec = (t: number): number => {
    const current = Math.floor(t / BUCKET_MS);
    let done = 0;
    let busy = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (bucketOf[i] <= current - BUCKETS) continue;
      done += completions[i];
      busy += busyMs[i];
    }
    return busy === 0 ? 0 : (done * 1000) / busy;
  };
  const expectedWaitMs = (t: number): number => {
    const delay = arrivalDelayMs();
    if (inFlight === 0) return delay;
    const rate = completionsPerSec(t);
    return rate === 0 ? Number.POSITIVE_INFINITY : delay + (inFlight * 1000) / rate;
  };
  const refuse = (reason: ShedReason, detail: string) => {
    shed[reason]++;
    return new ServerBusyError(`store ${storeId} is overloaded: ${inFlight} requests / ${inFlightBytes} bytes in flight (${detail})`);
  };

  return {
    admit(bytes, timeoutMs) {
      // A request read this late (the arrival delay) with no more time than that had expired
      // before we saw it: drop it before any work.
      const delayMs = arrivalDelayMs();
      if (timeoutMs !== undefined && timeoutMs <= delayMs) return refuse('expired', `the request's deadline (${timeoutMs} ms) passed before it was read (${Math.round(delayMs)} ms late)`);
      if (inFlight + 1 > l.requestsMax) return refuse('requests', `requestsMax ${l.requestsMax}`);
      // One request larger than the whole byte cap is still admitted alone: it is bounded by the frame limit.
      if (inFlight > 0 && inFlightBytes + bytes > l.bytesMax) return refuse('bytes', `bytesMax ${l.bytesMax}`);
      const t = now();
      account(t);
      if (inFlight >= REQUESTS_ALWAYS_ADMITTED) {
        const waitMs = expectedWaitMs(t);
        const budgetMs = timeoutMs === undefined ? l.queueWaitMaxMs : Math.min(l.queueWaitMaxMs, timeoutMs / 2);
        if (waitMs > budgetMs) return refuse('wait', `about ${Number.isFinite(waitMs) ? Math.round(waitMs) : 'unbounded'} ms of work queued, more than the ${Math.round(budgetMs)} ms this request may wait`);
      }
      admitted++;
      inFlight++;
      inFlightBytes += bytes;
      const deadlineAt = timeoutMs === undefined ? Number.POSITIVE_INFINITY : t + timeoutMs;
      let held = true;
      return {
        release() {
          if (!held) return;
          held = false;
          const at = now();
          account(at);
          inFlight--;
          inFlightBytes -= bytes;
          completions[bucket(at)]++;
          if (at > deadlineAt) late++;
        },
      };
    },
    stats() {
      const t = now();
      account(t);
      const waitMs = expectedWaitMs(t);
      return { admitted, late, shed: { ...shed }, inFlight, inFlightBytes, completionsPerSec: Math.round(completionsPerSec(t)), expectedWaitMs: Number.isFinite(waitMs) ? Math.round(waitMs) : -1, arrivalDelayMs: Math.round(arrivalDelayMs()), limits: { ...l } };
    },
  };
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
