import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import type { StorageEngine } from '../../src/ports.ts';
import { describeStorageConformance } from './conformance.ts';

describeStorageConformance('memory', {
  persistent: false,
  async fresh() {
    return {
      async open(options): Promise<StorageEngine> {
        return createMemoryStorage(options);
      },
    };
  },
});
