/**
 * A virtual clock: time moves only when told. With the simulated network and a seeded `Rand` it
 * makes a whole cluster deterministic in one thread, and lets the playground pause and step time.
 */
import type { Clock } from '../../src/ports.ts';

interface Timer {
  deadlineMs: number;
  /** Insertion order; breaks ties between equal deadlines so runs replay exactly. */
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A {@link Clock} driven by hand. */
export interface VirtualClock extends Clock {
  /** Moves time forward by `ms`, running every timer due on the way in deadline order (ties: creation order). */
  advance(ms: number): void;
  /** Runs the timers due at the current time, including ones they schedule for now. Returns how many ran. */
  runDue(): number;
  /** The deadline of the earliest pending timer, or undefined when none is pending. */
  nextDeadline(): number | undefined;
  /** Number of pending (uncancelled) timers. */
  pending(): number;
}

function before(a: Timer, b: Timer): boolean {
  return a.deadlineMs < b.deadlineMs || (a.deadlineMs === b.deadlineMs && a.seq < b.seq);
}

/**
 * Creates a virtual clock starting at `startMs`.
 * @param startMs - the initial time (default 0).
 */
export function createVirtualClock(startMs = 0): VirtualClock {
  let nowMs = startMs;
  let seq = 0;
  let live = 0;
  // A binary min-heap on (deadline, seq).
  const heap: Timer[] = [];

  const push = (t: Timer) => {
    heap.push(t);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(heap[i], heap[p])) break;
      [heap[i], heap[p]] = [heap[p], heap[i]];
      i = p;
    }
  };
  const pop = (): Timer => {
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l], heap[m])) m = l;
        if (r < heap.length && before(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
    return top;
  };
  const dropCancelled = () => {
    while (heap.length > 0 && heap[0].cancelled) pop();
  };
  /** Runs timers with deadline <= limit, moving time to each deadline. */
  const runUntil = (limitMs: number): number => {
    let ran = 0;
    for (;;) {
      dropCancelled();
      if (heap.length === 0 || heap[0].deadlineMs > limitMs) return ran;
      const t = pop();
      t.cancelled = true;
      live--;
      nowMs = Math.max(nowMs, t.deadlineMs);
      ran++;
      t.fn();
    }
  };

  return {
    now: () => nowMs,
    setTimer(delayMs, fn) {
      if (!(delayMs >= 0)) throw new RangeError(`setTimer needs a non-negative delay, got ${delayMs}`);
      const t: Timer = { deadlineMs: nowMs + delayMs, seq: seq++, fn, cancelled: false };
      push(t);
      live++;
      return () => {
        if (!t.cancelled) {
          t.cancelled = true;
          live--;
        }
      };
    },
    advance(ms) {
      if (!(ms >= 0)) throw new RangeError(`advance needs a non-negative duration, got ${ms}`);
      const target = nowMs + ms;
      runUntil(target);
      nowMs = target;
    },
    runDue: () => runUntil(nowMs),
    nextDeadline() {
      dropCancelled();
      return heap.length > 0 ? heap[0].deadlineMs : undefined;
    },
    pending: () => live,
  };
}
