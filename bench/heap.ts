/**
 * Heap in use after a forced collection (twice, so finalizers' garbage goes too). Needs
 * `node --expose-gc`; without it the figure includes garbage and only bounds the heap from above.
 */
import process from 'node:process';

const gc = (globalThis as { gc?: () => void }).gc;

/** `process.memoryUsage().heapUsed` after two forced GCs (when `--expose-gc` is on). */
export function heapAfterGc(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}
