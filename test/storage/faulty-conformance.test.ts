import { createFaultyStorage } from '../../adapters/storage/faulty.ts';
import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import type { StorageEngine } from '../../src/ports.ts';
import { describeStorageConformance } from './conformance.ts';
import { seededRand } from './helpers.ts';

// With no crash the wrapper must behave exactly like an engine. Its medium is a memory engine that
// outlives the wrapper's close(), so reopening a location finds what was written.
describeStorageConformance('faulty(memory)', {
  persistent: true,
  async fresh() {
    let medium: StorageEngine | undefined;
    return {
      async open(options) {
        medium ??= createMemoryStorage(options);
        const m = medium;
        const survivesClose: StorageEngine = { ...m, close: async () => {} };
        return createFaultyStorage(survivesClose, { rand: seededRand(1), ...options });
      },
      async dispose() {
        await medium?.close();
      },
    };
  },
});
