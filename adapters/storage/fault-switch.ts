/**
 * A storage engine whose writes can be made to fail on demand, as a full disk (ENOSPC) or a failed
 * flush (EIO) would make them: for tests of what a store does when its medium fails, and of what
 * it does once the fault clears. While failing, `write` applies nothing and rejects with
 * `StorageIOError` whose cause carries the errno code; reads go on.
 */
import type { StorageEngine } from '../../src/ports.ts';
import { StorageIOError } from '../../src/storage/errors.ts';

/** A {@link StorageEngine} with a fault switch. */
export interface SwitchableStorage extends StorageEngine {
  /** From now on every write fails with `code` (until {@link heal}). */
  failWrites(code: 'ENOSPC' | 'EIO'): void;
  /** Writes succeed again. */
  heal(): void;
  /** Writes refused since the switch was last thrown. */
  readonly refusedWrites: number;
}

/**
 * Wraps `inner`; the wrapper owns it (closing the wrapper closes it).
 * @param inner - the engine that does the work while no fault is set
 */
export function createSwitchableStorage(inner: StorageEngine): SwitchableStorage {
  let fault: 'ENOSPC' | 'EIO' | undefined;
  let refused = 0;
  return {
    get: (key) => inner.get(key),
    scan: (options) => inner.scan(options),
    approximateSize: (range) => inner.approximateSize(range),
    snapshot: () => inner.snapshot(),
    close: () => inner.close(),
    async write(batch, options) {
      if (fault !== undefined) {
        refused++;
        const cause = Object.assign(new Error(`${fault}: injected`), { code: fault });
        throw new StorageIOError(`injected ${fault}${options?.sync ? ' on fsync' : ''}`, { cause });
      }
      return inner.write(batch, options);
    },
    failWrites(code) {
      fault = code;
      refused = 0;
    },
    heal() {
      fault = undefined;
    },
    get refusedWrites() {
      return refused;
    },
  };
}
