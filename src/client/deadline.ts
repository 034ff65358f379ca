/** A promise bounded by a timer of the client's clock. */
import type { Clock } from '../ports.ts';

/**
 * Settles as `p` does, or rejects with `timedOut()` once `ms` pass on `clock` first; the timer
 * is cancelled when `p` settles.
 */
export function withDeadline<T>(clock: Clock, ms: number, p: Promise<T>, timedOut: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cancel = clock.setTimer(ms, () => reject(timedOut()));
    p.then(
      (v) => {
        cancel();
        resolve(v);
      },
      (e) => {
        cancel();
        reject(e);
      },
    );
  });
}
