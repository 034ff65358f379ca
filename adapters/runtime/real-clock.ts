/**
 * The real clock: `performance.now()` and the runtime's timers. Present in Node, Deno, browsers
 * and Workers alike.
 */
import type { Clock } from '../../src/ports.ts';

/**
 * Creates a {@link Clock} backed by `performance.now()` and `setTimeout`. Timers do not keep a
 * Node process alive on their own (they are unref'd where the runtime allows it).
 */
export function createRealClock(): Clock {
  return {
    now: () => performance.now(),
    setTimer(delayMs, fn) {
      const handle = setTimeout(fn, delayMs) as unknown as { unref?: () => void };
      handle.unref?.();
      return () => clearTimeout(handle as unknown as ReturnType<typeof setTimeout>);
    },
  };
}
