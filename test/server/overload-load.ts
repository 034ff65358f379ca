/**
 * The load of the overload test (test/server/overload.test.ts): a closed loop that measures what
 * a cluster sustains, and an open loop that offers a multiple of it for a while. Each operation
 * ends once, within its client's deadline: served (with its latency), refused with `ServerBusy`
 * (the client retried within the deadline and was refused to the end), or late (`Timeout` /
 * `OutcomeUnknown`: no answer in time).
 */
import { readFileSync } from 'node:fs';
import type { RemoteKvClient } from '../../adapters/client/remote.ts';
import { FlotillaError } from '../../src/errors.ts';

/** What one load phase saw. */
export interface LoadReport {
  /** Requests issued. */
  sent: number;
  /** Answered with a value (writes: acknowledged). */
  served: number;
  /** Refused with the typed `ServerBusy` error. */
  busy: number;
  /** No answer within the deadline (admitted but late, or lost): `OutcomeUnknown` / `Timeout`. */
  late: number;
  /** Any other error, by code. */
  other: Record<string, number>;
  /** Not issued: the generator's own bound on outstanding requests was reached, or it stalled. */
  skipped: number;
  /** Latency of the served requests, ms: median, 99th percentile, worst. */
  p50: number;
  p99: number;
  max: number;
  /** Served requests per second. */
  servedPerSec: number;
  /** Requests issued per second. */
  sentPerSec: number;
  /** Keys whose put was acknowledged, with the value written. */
  acked: Map<string, string>;
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** The resident set size of process `pid`, in bytes (Linux `/proc/<pid>/status` VmRSS). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) * 1024;
}

/** CPU time (user + system) process `pid` used so far, in ms (Linux `/proc/<pid>/stat`). */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after the pid and the command.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Counts outcomes and latencies of requests as they settle. */
class Tally {
  readonly latencies: number[] = [];
  readonly acked = new Map<string, string>();
  readonly other: Record<string, number> = {};
  sent = 0;
  busy = 0;
  late = 0;
  skipped = 0;
  outstanding = 0;

  async run(kv: RemoteKvClient, n: number, value: string, putShare: number): Promise<void> {
    this.sent++;
    this.outstanding++;
    const t = performance.now();
    const key = `load/${n}`;
    try {
      if (n % 1000 < putShare * 1000) {
        await kv.put(key, value);
        this.acked.set(key, value);
      } else {
        await kv.get(`load/${Math.max(0, n - 7)}`);
      }
      this.latencies.push(performance.now() - t);
    } catch (e) {
      const code = e instanceof FlotillaError ? e.code : 'unexpected';
      if (code === 'ServerBusy') this.busy++;
      else if (code === 'OutcomeUnknown' || code === 'Timeout') this.late++;
      else this.other[code] = (this.other[code] ?? 0) + 1;
    } finally {
      this.outstanding--;
    }
  }

  report(ms: number): LoadReport {
    const sorted = this.latencies.slice().sort((a, b) => a - b);
    return {
      sent: this.sent,
      served: sorted.length,
      busy: this.busy,
      late: this.late,
      other: this.other,
      skipped: this.skipped,
      p50: Math.round(quantile(sorted, 0.5)),
      p99: Math.round(quantile(sorted, 0.99)),
      max: Math.round(sorted.at(-1) ?? 0),
      servedPerSec: Math.round((sorted.length * 1000) / ms),
      sentPerSec: Math.round((this.sent * 1000) / ms),
      acked: this.acked,
    };
  }
}

/** Options of a load phase. */
export interface LoadOptions {
  clients: RemoteKvClient[];
  /** How long to offer load, ms. */
  durationMs: number;
  /** Value written by each put. */
  value: string;
  /** Share of puts (the rest are gets of recent keys). */
  putShare: number;
  /** The first key number (phases use disjoint keys). */
  firstKey: number;
}

/**
 * Closed loop: `workers` callers, each issuing its next request once the last one settled (the
 * rate a cluster sustains for a few well-behaved clients).
 */
export async function closedLoop(o: LoadOptions & { workers: number }): Promise<LoadReport> {
  const tally = new Tally();
  const t0 = performance.now();
  let n = o.firstKey;
  await Promise.all(
    Array.from({ length: o.workers }, async (_, w) => {
      while (performance.now() - t0 < o.durationMs) await tally.run(o.clients[w % o.clients.length], n++, o.value, o.putShare);
    }),
  );
  return tally.report(performance.now() - t0);
}

/**
 * Open loop: issues `ratePerSec` requests per second (spread over the clients, in 10 ms ticks)
 * for `durationMs`, whatever the answers, up to `outstandingMax` requests unanswered at once (the
 * generator's own memory bound; what it could not issue counts as skipped). Then waits for every
 * request to settle.
 */
export async function openLoop(o: LoadOptions & { ratePerSec: number; outstandingMax: number }): Promise<LoadReport> {
  const tally = new Tally();
  const t0 = performance.now();
  const all: Promise<void>[] = [];
  let n = o.firstKey;
  let due = 0;
  while (performance.now() - t0 < o.durationMs) {
    await new Promise((r) => setTimeout(r, 10));
    // Requests owed by now: after a stall of this process (a loaded box) the ones it missed go out
    // at once, up to a second's worth (the rest are skipped: the offered rate stays the target).
    const owed = Math.floor(((performance.now() - t0) * o.ratePerSec) / 1000) - due;
    due += owed;
    for (let i = 0; i < owed; i++) {
      if (tally.outstanding >= o.outstandingMax || i >= o.ratePerSec) {
        tally.skipped++;
        continue;
      }
      const k = n++;
      all.push(tally.run(o.clients[k % o.clients.length], k, o.value, o.putShare));
    }
  }
  const ms = performance.now() - t0;
  await Promise.all(all);
  return tally.report(ms);
}
